//! A call's link to its brain: which brain takes the call (`brain.assign`), the brain's
//! commands (`media.say.<callId>`), and the `brain.heard.<callId>` events, held until a brain
//! has the call, then delivered in order and handed to another brain when the first is gone.
//!
//! [`BrainLink`] is the actor's handle; a delivery task beside the actor does the sending. Every
//! `brain.assign` (at call start and at each take-over) follows one policy, [`BrainRetry`].

use std::future::Future;
use std::time::Duration;

use bus::{Bus, BusError, BusErrorKind, Subscription};
use bytes::Bytes;
use protocol::brain::{BrainAssignReply, BrainAssignRequest, Heard, HeardEvent};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use tokio::sync::mpsc;
use tracing::Instrument;

/// How long the brain has to acknowledge a `brain.heard` event.
const HEARD_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `brain.ping` waits.
const BRAIN_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The one retry policy for `brain.assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrainRetry {
    /// `brain.assign` requests when a call starts; take-overs tried for one heard event.
    pub attempts: u32,
    /// How long one `brain.assign` waits for its reply.
    pub assign_timeout: Duration,
    /// The wait after a failed `brain.assign` before the next step, unless it timed out (the
    /// timeout was the wait).
    pub backoff: Duration,
}

impl BrainRetry {
    pub fn new(assign_timeout: Duration) -> BrainRetry {
        BrainRetry { attempts: 3, assign_timeout, backoff: Duration::from_millis(500) }
    }

    async fn wait_after(&self, failure: &AssignFailure) {
        if !failure.timed_out() {
            tokio::time::sleep(self.backoff).await;
        }
    }
}

/// Why one `brain.assign` got no usable answer.
#[derive(Debug, thiserror::Error)]
enum AssignFailure {
    #[error("{0}")]
    Bus(#[from] BusError),
    #[error("malformed brain.assign reply: {0}")]
    Malformed(String),
}

impl AssignFailure {
    fn timed_out(&self) -> bool {
        matches!(self, AssignFailure::Bus(error) if error.kind == BusErrorKind::TimedOut)
    }
}

/// Why the link could not be made; the call cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No brain took the call (or its `media.say` could not be subscribed to first).
    #[error("no brain: {0}")]
    NoBrain(String),
    /// A moved stream could not listen to its brain's `media.say`.
    #[error("media.say: {0}")]
    NoSay(String),
}

impl LinkError {
    /// The reason given to the gateway with the hang-up.
    pub fn hangup_reason(&self) -> &'static str {
        match self {
            LinkError::NoBrain(_) => "no brain available",
            LinkError::NoSay(_) => "media worker failed",
        }
    }
}

/// The link made: the brain's commands, and which brain took the call (`None` when the call
/// kept the brain it had before its stream moved here).
pub struct Linked {
    pub say: Subscription,
    pub new_brain_id: Option<String>,
}

/// One `brain.heard` event for the delivery task. `takeover`: when the brain is gone, have
/// another brain take the call and send it again (false for the call's last word).
struct Delivery {
    payload: Bytes,
    takeover: bool,
}

/// The actor's handle on its brain link.
pub struct BrainLink {
    bus: Bus,
    request: BrainAssignRequest,
    retry: BrainRetry,
    /// Heard events held until a brain has the call (`None` once linked).
    held: Option<Vec<Bytes>>,
    deliveries: Option<mpsc::UnboundedSender<Delivery>>,
    deliveries_rx: Option<mpsc::UnboundedReceiver<Delivery>>,
}

impl BrainLink {
    /// `request`: the call's `brain.assign` (a take-over sends it with `resume: true`).
    pub fn new(bus: Bus, request: BrainAssignRequest, retry: BrainRetry) -> BrainLink {
        let (deliveries, deliveries_rx) = mpsc::unbounded_channel();
        BrainLink {
            bus,
            request,
            retry,
            held: Some(Vec::new()),
            deliveries: Some(deliveries),
            deliveries_rx: Some(deliveries_rx),
        }
    }

    /// Starts the delivery task, in the current span.
    pub fn start(&mut self) {
        let Some(events) = self.deliveries_rx.take() else { return };
        let takeover_request = BrainAssignRequest { resume: true, ..self.request.clone() };
        let task = deliver_heard(self.bus.clone(), takeover_request, self.retry, events);
        actix::spawn(task.instrument(tracing::Span::current()));
    }

    /// Subscribes to `media.say` and, for a new call, asks for a brain (`resume`: the stream
    /// moved here from a worker that died, and the call's brain is still there). Hand the
    /// result to [`BrainLink::linked`].
    pub fn connect(&self, resume: bool) -> impl Future<Output = Result<Linked, LinkError>> + 'static {
        let bus = self.bus.clone();
        let say_subject = subjects::media_say(&self.request.call_id);
        let request = self.request.clone();
        let retry = self.retry;
        let no_say = move |error: String| if resume { LinkError::NoSay(error) } else { LinkError::NoBrain(error) };
        async move {
            let say_subject = say_subject.map_err(|e| no_say(e.to_string()))?;
            let say = bus.subscribe(say_subject).await.map_err(|e| no_say(e.to_string()))?;
            if resume {
                return Ok(Linked { say, new_brain_id: None });
            }
            let brain_id = assign_with_retries(&bus, &request, retry).await.map_err(LinkError::NoBrain)?;
            Ok(Linked { say, new_brain_id: Some(brain_id) })
        }
        .instrument(tracing::Span::current())
    }

    /// A brain has the call (at media time `now_ms`): a new brain hears `call_started` first,
    /// the brain of a stream moved here hears `stream_moved`, then every held event goes out.
    pub fn linked(&mut self, now_ms: u64, new_brain: bool) {
        let first = if new_brain { HeardEvent::CallStarted } else { HeardEvent::StreamMoved };
        self.deliver(self.encode(now_ms, first), true);
        for payload in self.held.take().unwrap_or_default() {
            self.deliver(payload, true);
        }
    }

    /// Tells the brain (or holds the event until a brain has the call).
    pub fn heard(&mut self, at_ms: u64, event: HeardEvent) {
        let payload = self.encode(at_ms, event);
        match &mut self.held {
            Some(held) => held.push(payload),
            None => self.deliver(payload, true),
        }
    }

    /// The call ended: a linked brain hears `call_ended` (no take-over for it); the delivery
    /// task sends what is queued, then ends.
    pub fn close(&mut self, at_ms: u64, reason: &str) {
        if self.held.is_none() {
            let payload = self.encode(at_ms, HeardEvent::CallEnded { reason: reason.to_owned() });
            self.deliver(payload, false);
        }
        self.deliveries = None;
    }

    fn encode(&self, at_ms: u64, event: HeardEvent) -> Bytes {
        let heard = Heard { v: protocol::BUS_VERSION, call_id: self.request.call_id.clone(), at_ms, event };
        Bytes::from(encode_json(&heard))
    }

    fn deliver(&self, payload: Bytes, takeover: bool) {
        if let Some(deliveries) = &self.deliveries {
            let _ = deliveries.send(Delivery { payload, takeover });
        }
    }
}

/// One `brain.assign`; the id of the brain that took the call.
async fn assign_once(bus: &Bus, payload: Bytes, timeout: Duration) -> Result<String, AssignFailure> {
    let reply = bus.request(subjects::BRAIN_ASSIGN, payload, timeout).await?;
    let reply: BrainAssignReply =
        decode_json(&reply.payload).map_err(|error| AssignFailure::Malformed(error.to_string()))?;
    Ok(reply.worker_id)
}

/// Up to `retry.attempts` `brain.assign` requests; the last failure when none was answered.
async fn assign_with_retries(bus: &Bus, request: &BrainAssignRequest, retry: BrainRetry) -> Result<String, String> {
    let payload = Bytes::from(encode_json(request));
    let mut last_error = String::new();
    for attempt in 1..=retry.attempts {
        match assign_once(bus, payload.clone(), retry.assign_timeout).await {
            Ok(brain_id) => return Ok(brain_id),
            Err(failure) => {
                tracing::debug!(attempt, error = %failure, "brain.assign failed");
                if attempt < retry.attempts {
                    retry.wait_after(&failure).await;
                }
                last_error = failure.to_string();
            }
        }
    }
    Err(last_error)
}

/// Delivers `brain.heard` events in order, each as a request the brain acknowledges. When the
/// brain is gone (no responders, or no ack and no answer to `brain.ping.<callId>`), another
/// brain is asked to take the call (`brain.assign` with `resume: true`; it loads the
/// conversation from KV `convo`) and the event is sent again.
async fn deliver_heard(
    bus: Bus,
    takeover_request: BrainAssignRequest,
    retry: BrainRetry,
    mut events: mpsc::UnboundedReceiver<Delivery>,
) {
    let call_id = &takeover_request.call_id;
    let subject = subjects::brain_heard(call_id).unwrap_or_default();
    let ping_subject = subjects::brain_ping(call_id).unwrap_or_default();
    let takeover_payload = Bytes::from(encode_json(&takeover_request));
    while let Some(event) = events.recv().await {
        let mut takeovers = 0;
        loop {
            let error = match bus.request(subject.clone(), event.payload.clone(), HEARD_ACK_TIMEOUT).await {
                Ok(_) => break,
                Err(error) => error,
            };
            let brain_gone = match error.kind {
                BusErrorKind::NoResponders => true,
                // no ack: gone unless it still answers its ping
                BusErrorKind::TimedOut => {
                    bus.request(ping_subject.clone(), Bytes::new(), BRAIN_PING_TIMEOUT).await.is_err()
                }
                _ => false,
            };
            if !brain_gone {
                tracing::debug!(%error, "brain.heard not acknowledged, brain still there");
                break;
            }
            if !event.takeover || takeovers >= retry.attempts {
                tracing::warn!("brain gone, event not delivered");
                break;
            }
            takeovers += 1;
            tracing::warn!(attempt = takeovers, "brain gone, asking another brain to take the call");
            match assign_once(&bus, takeover_payload.clone(), retry.assign_timeout).await {
                Ok(brain_id) => tracing::info!(%brain_id, "brain took over the call"),
                Err(failure) => {
                    tracing::warn!(error = %failure, "no brain took over yet");
                    retry.wait_after(&failure).await;
                }
            }
        }
    }
}
