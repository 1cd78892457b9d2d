//! One actix actor per call: drives the call's [`Policy`] with what the media worker reports on
//! `brain.heard.<callId>`, publishes the policy's commands on `media.say.<callId>` and live
//! events on `calls.events.<callId>`, runs LLM streams, saves the conversation to KV `convo`
//! after every turn, and publishes the result on `results.<callId>` and onto the call record.
//!
//! # Takeover when a brain dies
//!
//! The brain acknowledges every `brain.heard.<callId>` message that carries a reply subject
//! (an empty-bodied NATS request) once it has handled it, and answers `brain.ping.<callId>`
//! with its worker id. A media worker that sends heard events as requests learns at once that
//! the brain is gone (NATS answers *no responders*, or the ack times out); it then asks
//! `brain.assign` again with `resume: true` and re-sends the unacknowledged event. The brain
//! that takes the call loads the conversation from KV `convo` (also without `resume`, if state
//! is there), ignores a repeated `call_started`, drops transcripts it already handled (by
//! `utterance_seq`), and carries on from the saved phase: the same question, the same fields.

use crate::conversation::{Action, Input};
use crate::llm::{LlmClient, LlmEvent};
use crate::policy::Policy;
use actix::prelude::*;
use bus::{Bus, Kv};
use bytes::Bytes;
use futures_util::StreamExt;
use protocol::brain::{BrainAssignReply, Heard, HeardEvent, Say};
use protocol::calls::{CallEvent, CallRecord};
use protocol::ids::CallId;
use protocol::results::CallResult;
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Counters shared by a worker's call actors.
#[derive(Debug, Default)]
pub struct Stats {
    /// Call actors running now.
    pub active_calls: AtomicU64,
    pub calls_started: AtomicU64,
    pub calls_resumed: AtomicU64,
    pub calls_finished: AtomicU64,
    pub malformed_messages: AtomicU64,
    pub results_published: AtomicU64,
    pub publish_failures: AtomicU64,
}

/// What every call actor of a worker shares.
pub struct Shared {
    pub bus: Bus,
    pub worker_id: String,
    pub llm: Option<LlmClient>,
    pub convo: Kv,
    pub calls: Kv,
    pub stats: Stats,
}

/// How long a finished call's actor stays to answer late messages (a hang-up's `call_ended`).
const LINGER_AFTER_FINISH: Duration = Duration::from_secs(30);

/// Bus work of one call, done in order by one task.
enum Outbound {
    Publish { subject: String, payload: Bytes },
    Reply { subject: String, payload: Bytes },
    SaveState { payload: Bytes },
    Result { result: Box<CallResult> },
}

/// The actor of one call.
pub struct CallActor {
    call_id: CallId,
    policy: Box<dyn Policy>,
    shared: Arc<Shared>,
    heard: Option<bus::Subscription>,
    ping: Option<bus::Subscription>,
    outbound: Option<mpsc::UnboundedSender<Outbound>>,
    say_subject: String,
    events_subject: String,
    timer: Option<SpawnHandle>,
    /// The conversation was loaded from KV (another brain ran it before).
    resumed: bool,
    finished: bool,
    /// Told when the actor stops.
    on_stop: Option<Recipient<CallStopped>>,
}

/// Sent to the worker when a call actor stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallStopped {
    pub call_id: CallId,
}

/// Stops the actor at once without publishing anything (a crash, for tests and shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kill;

struct HeardMessage(bus::Message);
struct PingMessage(bus::Message);
struct LlmMessage {
    request_id: u64,
    event: LlmEvent,
}

impl CallActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: CallId,
        policy: Box<dyn Policy>,
        shared: Arc<Shared>,
        heard: bus::Subscription,
        ping: bus::Subscription,
        resumed: bool,
        on_stop: Recipient<CallStopped>,
    ) -> Result<CallActor, subjects::SubjectError> {
        Ok(CallActor {
            say_subject: subjects::media_say(&call_id)?,
            events_subject: subjects::call_events(&call_id)?,
            call_id,
            policy,
            shared,
            heard: Some(heard),
            ping: Some(ping),
            outbound: None,
            timer: None,
            resumed,
            finished: false,
            on_stop: Some(on_stop),
        })
    }

    fn send(&self, item: Outbound) {
        if let Some(outbound) = &self.outbound {
            let _ = outbound.send(item);
        }
    }

    /// Feeds one input to the policy and carries out what it asks.
    fn drive(&mut self, ctx: &mut Context<Self>, input: Input) {
        let saves_state = !matches!(input, Input::SpeechStarted { .. } | Input::LlmDelta { .. });
        let actions = self.policy.handle(Instant::now(), input);
        // state first: whatever the callee hears next is already in KV for a successor brain
        if saves_state || !actions.is_empty() {
            self.save_state();
        }
        self.execute(ctx, actions);
        self.schedule_timer(ctx);
    }

    fn execute(&mut self, ctx: &mut Context<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Say(command) => {
                    let say = Say { v: protocol::BUS_VERSION, call_id: self.call_id.clone(), command };
                    self.send(Outbound::Publish {
                        subject: self.say_subject.clone(),
                        payload: Bytes::from(encode_json(&say)),
                    });
                }
                Action::Event { kind, detail } => {
                    let event = CallEvent::now(&self.call_id, kind, detail);
                    self.send(Outbound::Publish {
                        subject: self.events_subject.clone(),
                        payload: Bytes::from(encode_json(&event)),
                    });
                }
                Action::LlmRequest { request_id, body } => match &self.shared.llm {
                    Some(client) => {
                        let mut events = client.stream(body);
                        let stream = futures_util::stream::poll_fn(move |cx| events.poll_recv(cx))
                            .map(move |event| LlmMessage { request_id, event });
                        ctx.add_stream(stream);
                    }
                    None => {
                        // an LLM policy without a client: fail the request so the fallback runs
                        let input = Input::LlmFailed { request_id, error: "no llm client configured".into() };
                        let more = self.policy.handle(Instant::now(), input);
                        self.execute(ctx, more);
                    }
                },
                Action::Finished => {
                    if !self.finished {
                        self.finished = true;
                        let result = self.policy.state().result();
                        tracing::info!(call_id = %self.call_id, outcome = ?result.outcome, "call finished");
                        self.shared.stats.calls_finished.fetch_add(1, Ordering::Relaxed);
                        self.send(Outbound::Result { result: Box::new(result) });
                        ctx.run_later(LINGER_AFTER_FINISH, |_, ctx| ctx.stop());
                    }
                }
            }
        }
    }

    fn save_state(&self) {
        let payload = Bytes::from(encode_json(self.policy.state()));
        self.send(Outbound::SaveState { payload });
    }

    fn schedule_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if let Some(deadline) = self.policy.poll_timeout() {
            let delay = deadline.saturating_duration_since(Instant::now());
            self.timer = Some(ctx.run_later(delay, |actor, ctx| {
                actor.timer = None;
                actor.drive(ctx, Input::Tick);
            }));
        }
    }

    fn on_heard(&mut self, ctx: &mut Context<Self>, message: bus::Message) {
        let heard: Heard = match decode_json(&message.payload) {
            Ok(heard) => heard,
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(call_id = %self.call_id, %error, "malformed brain.heard message");
                self.ack(&message);
                return;
            }
        };
        let input = match heard.event {
            HeardEvent::CallStarted if self.resumed || !self.policy.state().transcript.is_empty() => None,
            HeardEvent::CallStarted => Some(Input::CallStarted { at_ms: heard.at_ms }),
            HeardEvent::SpeechStarted => Some(Input::SpeechStarted { at_ms: heard.at_ms }),
            HeardEvent::Transcript { is_final: false, .. } => None,
            HeardEvent::Transcript { utterance_seq, text, start_ms, end_ms, confidence, .. } => {
                tracing::debug!(call_id = %self.call_id, utterance_seq, confidence = ?confidence, text = %text, "heard");
                Some(Input::Heard { text, utterance_seq, start_ms, end_ms, at_ms: heard.at_ms, confidence })
            }
            HeardEvent::Played { utterance_id } => Some(Input::Played { utterance_id, at_ms: heard.at_ms }),
            HeardEvent::Replied { reply_ms, tts_ms, stages } => Some(Input::Replied { reply_ms, tts_ms, stages }),
            HeardEvent::BargeIn { utterance_id, heard_text, .. } => {
                Some(Input::BargeIn { utterance_id, heard_text, at_ms: heard.at_ms })
            }
            HeardEvent::Dtmf { digit } => Some(Input::Dtmf { digit, at_ms: heard.at_ms }),
            HeardEvent::Amd { answered_by } => Some(Input::Amd { answered_by, at_ms: heard.at_ms }),
            HeardEvent::ProviderFailure { stage, message } => {
                Some(Input::ProviderFailure { stage, message, at_ms: heard.at_ms })
            }
            HeardEvent::StreamMoved => Some(Input::StreamMoved { at_ms: heard.at_ms }),
            HeardEvent::CallEnded { reason } => Some(Input::CallEnded { reason, at_ms: heard.at_ms }),
        };
        let ended = matches!(input, Some(Input::CallEnded { .. }));
        if let Some(input) = input {
            self.drive(ctx, input);
        }
        self.ack(&message);
        if ended {
            ctx.stop();
        }
    }

    /// Acknowledges a heard message sent as a request (see the module docs).
    fn ack(&self, message: &bus::Message) {
        if let Some(reply) = &message.reply {
            let payload =
                encode_json(&BrainAssignReply { v: protocol::BUS_VERSION, worker_id: self.shared.worker_id.clone() });
            self.send(Outbound::Reply { subject: reply.clone(), payload: Bytes::from(payload) });
        }
    }
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared.stats.active_calls.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::unbounded_channel();
        self.outbound = Some(sender);
        actix::spawn(publisher(self.shared.clone(), self.call_id.clone(), receiver));
        if let Some(heard) = self.heard.take() {
            ctx.add_stream(heard.map(HeardMessage));
        }
        if let Some(ping) = self.ping.take() {
            ctx.add_stream(ping.map(PingMessage));
        }
        if self.resumed {
            self.shared.stats.calls_resumed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(call_id = %self.call_id, worker_id = %self.shared.worker_id, "continuing a call from kv");
            let at_ms = self.policy.state().media_ms;
            self.drive(ctx, Input::Resumed { at_ms });
        } else {
            self.shared.stats.calls_started.fetch_add(1, Ordering::Relaxed);
            tracing::info!(call_id = %self.call_id, worker_id = %self.shared.worker_id, playbook = %self.policy.playbook().id, "call taken");
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.outbound = None; // the publisher finishes what is queued, then ends
        self.shared.stats.active_calls.fetch_sub(1, Ordering::Relaxed);
        if let Some(on_stop) = self.on_stop.take() {
            on_stop.do_send(CallStopped { call_id: self.call_id.clone() });
        }
        tracing::info!(call_id = %self.call_id, finished = self.finished, "call actor stopped");
    }
}

impl StreamHandler<HeardMessage> for CallActor {
    fn handle(&mut self, HeardMessage(message): HeardMessage, ctx: &mut Context<Self>) {
        self.on_heard(ctx, message);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!(call_id = %self.call_id, "brain.heard subscription closed");
        ctx.stop();
    }
}

impl StreamHandler<PingMessage> for CallActor {
    fn handle(&mut self, PingMessage(message): PingMessage, _ctx: &mut Context<Self>) {
        self.ack(&message);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<LlmMessage> for CallActor {
    fn handle(&mut self, message: LlmMessage, ctx: &mut Context<Self>) {
        let request_id = message.request_id;
        let input = match message.event {
            LlmEvent::Delta(delta) => Input::LlmDelta { request_id, delta },
            LlmEvent::Done => Input::LlmDone { request_id },
            LlmEvent::Failed(error) => Input::LlmFailed { request_id, error },
        };
        self.drive(ctx, input);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl Handler<Kill> for CallActor {
    type Result = ();

    fn handle(&mut self, _: Kill, ctx: &mut Context<Self>) {
        self.outbound = None;
        ctx.stop();
    }
}

/// Does one call's bus work in order: commands, events, state saves, the result.
async fn publisher(shared: Arc<Shared>, call_id: CallId, mut receiver: mpsc::UnboundedReceiver<Outbound>) {
    while let Some(item) = receiver.recv().await {
        let outcome = match item {
            Outbound::Publish { subject, payload } => shared.bus.publish(subject, payload).await,
            Outbound::Reply { subject, payload } => shared.bus.publish(subject, payload).await,
            Outbound::SaveState { payload } => shared.convo.put(call_id.as_str(), payload).await.map(|_| ()),
            Outbound::Result { result } => publish_result(&shared, &call_id, &result).await,
        };
        if let Err(error) = outcome {
            shared.stats.publish_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(call_id = %call_id, %error, "bus work failed");
        }
    }
    let _ = shared.bus.flush().await;
}

/// Publishes the result on `results.<callId>` (stream `RESULTS`) and stores it on the call
/// record in KV `calls` when there is one (revision-checked, retried on a concurrent update).
async fn publish_result(shared: &Shared, call_id: &CallId, result: &CallResult) -> Result<(), bus::BusError> {
    let subject =
        subjects::results(call_id).map_err(|e| bus::BusError::new(bus::BusErrorKind::Invalid, e.to_string()))?;
    shared.bus.publish_persistent(subject, Bytes::from(encode_json(result))).await?;
    shared.stats.results_published.fetch_add(1, Ordering::Relaxed);
    for _ in 0..10 {
        let Some(entry) = shared.calls.get(call_id.as_str()).await? else { return Ok(()) };
        let mut record: CallRecord = match decode_json(&entry.value) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(call_id = %call_id, %error, "call record unreadable, result not stored on it");
                return Ok(());
            }
        };
        record.result = Some(result.clone());
        record.updated_at = chrono::Utc::now().to_rfc3339();
        match shared.calls.update(call_id.as_str(), Bytes::from(encode_json(&record)), entry.revision).await {
            Ok(_) => return Ok(()),
            Err(error) if error.kind == bus::BusErrorKind::WrongRevision => continue,
            Err(error) => return Err(error),
        }
    }
    Err(bus::BusError::new(bus::BusErrorKind::WrongRevision, "call record kept changing"))
}
