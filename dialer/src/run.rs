//! The dialer's run loop: drives the [`Scheduler`] and one [`CallTracker`] per held request with
//! jobs from the `DIAL` work queue, Twilio status events (`twilio.status.<callId>`), cancel
//! requests (`dial.control.<callId>`), Twilio's answers and the clock, and carries out what they
//! ask: revision-checked claims on the call record before each Twilio create (so a request is
//! never placed twice), record updates, acks and naks. Placing and following calls is in
//! [`calls`].

mod calls;

use crate::config::Config;
use crate::leases::NumberLeases;
use crate::metrics::Stats;
use crate::records::{RecordError, Records};
use crate::scheduler::{DialJob, Event, Finish, Input, Scheduler, WaitReason};
use crate::tracker::{self, CallTracker, TrackerConfig};
use crate::twilio::{CallResource, TwilioClient, TwilioError};
use crate::webhook::WebhookQueue;
use crate::window::CallingWindow;
use bus::queue::Job;
use bus::{Bus, Message};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use protocol::calls::{
    Attempt, CallEvent, CallEventKind, CallRecord, CallStatus, DialControl, DialControlAction, DialRequest,
};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::CallId;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use tracing::{debug, error, info, warn};

/// Everything the run loop works with, as `start` wired it.
pub(crate) struct Wiring {
    pub config: Config,
    pub bus: Bus,
    pub records: Records,
    /// Where a final call's result webhook is queued.
    pub webhooks: WebhookQueue,
    pub leases: NumberLeases,
    pub twilio: TwilioClient,
    pub stats: Arc<Stats>,
    /// One permit lets the queue reader take one more job.
    pub credits: Arc<Semaphore>,
    pub jobs: mpsc::Receiver<Job>,
    pub status: bus::Subscription,
    pub control: bus::Subscription,
    pub shutdown: watch::Receiver<bool>,
}

/// At most this many number leases are read at start to find the calls already live.
const LIVE_SCAN_LIMIT: usize = 10_000;

/// Runs the dialer until it is shut down and drained, or the bus closes.
pub(crate) async fn run(wiring: Wiring) {
    let Wiring { config, bus, records, webhooks, leases, twilio, stats, credits, jobs, status, control, shutdown } =
        wiring;
    let (op_sender, ops) = mpsc::unbounded_channel();
    let heartbeat_every = (config.ack_wait / 3).max(Duration::from_millis(200));
    let stuck_after = Duration::from_secs(u64::from(config.ring_timeout_s) + u64::from(config.time_limit_s) + 60);
    let mut scheduler = Scheduler::new(config.scheduler.clone());
    // Calls left live by a dialer that stopped (this one, before a restart): their requests come
    // back within one ack wait; count them before placing anything new.
    match leases.live_holders(LIVE_SCAN_LIMIT).await {
        Ok(live) if !live.is_empty() => {
            let wait = config.ack_wait + Duration::from_secs(5);
            info!(
                live_calls = live.len(),
                wait_s = wait.as_secs(),
                "calls live from before the start; waiting for them before placing new ones"
            );
            scheduler.await_live_calls(live, Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default());
        }
        Ok(_) => {}
        Err(error) => {
            warn!(%error, "cannot read the number leases; new calls are placed without waiting for live ones")
        }
    }
    let dialer = Dialer {
        scheduler,
        tracker_config: TrackerConfig { stuck_after, refetch_after: heartbeat_every },
        heartbeat_every,
        config,
        bus,
        records,
        webhooks,
        leases,
        twilio,
        held: HashMap::new(),
        stats,
        op_sender,
        credits,
        credit_outstanding: false,
        shutting_down: false,
    };
    dialer.run(jobs, status, control, ops, shutdown).await;
}

/// The result of a Twilio request made off the main loop.
enum TwilioOp {
    Created { call_id: CallId, attempt: u32, result: Result<CallResource, TwilioError> },
    Fetched { call_id: CallId, result: Result<CallResource, TwilioError> },
    HungUp { call_id: CallId, result: Result<CallResource, TwilioError> },
}

/// A request this dialer holds (its queue message is un-acked).
struct Held {
    job: Job,
    phone_number: String,
    /// Its Twilio call, when one is being placed or is live.
    call: CallTracker,
}

impl Held {
    fn new(job: Job, record: &CallRecord, tracker_config: TrackerConfig) -> Self {
        Held {
            job,
            phone_number: record.request.phone_number.clone(),
            call: CallTracker::new(tracker_config, Instant::now(), record.attempts.len() as u32),
        }
    }
}

struct Dialer {
    config: Config,
    tracker_config: TrackerConfig,
    heartbeat_every: Duration,
    bus: Bus,
    records: Records,
    webhooks: WebhookQueue,
    leases: NumberLeases,
    twilio: TwilioClient,
    scheduler: Scheduler,
    held: HashMap<CallId, Held>,
    stats: Arc<Stats>,
    op_sender: mpsc::UnboundedSender<TwilioOp>,
    credits: Arc<Semaphore>,
    credit_outstanding: bool,
    shutting_down: bool,
}

fn to_instant(at: DateTime<Utc>) -> tokio::time::Instant {
    let delta = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + delta
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

impl Dialer {
    async fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        mut status: bus::Subscription,
        mut control: bus::Subscription,
        mut ops: mpsc::UnboundedReceiver<TwilioOp>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut next_heartbeat = tokio::time::Instant::now() + self.heartbeat_every;
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        info!(max_concurrent_calls = self.config.scheduler.max_concurrent_calls, "dialer started");
        loop {
            if self.shutting_down && self.scheduler.live_calls() == 0 {
                break;
            }
            if drain_deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                warn!(
                    live_calls = self.scheduler.live_calls(),
                    "drain time over; leaving live calls to another dialer"
                );
                break;
            }
            if !self.credit_outstanding && !self.shutting_down && self.scheduler.wants_more_jobs() {
                self.credits.add_permits(1);
                self.credit_outstanding = true;
            }
            let calls_wake = self
                .held
                .values()
                .filter_map(|held| held.call.poll_timeout())
                .min()
                .map(tokio::time::Instant::from_std);
            let wake = self.scheduler.poll_timeout().map(to_instant).unwrap_or(next_heartbeat).min(next_heartbeat);
            let wake = calls_wake.map_or(wake, |at| wake.min(at));
            let wake = drain_deadline.map_or(wake, |d| wake.min(d));
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => {
                        self.credit_outstanding = false;
                        self.on_job(job).await;
                    }
                    None => break,
                },
                message = status.next() => match message {
                    Some(message) => self.on_status_message(message).await,
                    None => break,
                },
                message = control.next() => match message {
                    Some(message) => self.on_control(message),
                    None => break,
                },
                Some(op) = ops.recv() => self.on_twilio(op).await,
                _ = tokio::time::sleep_until(wake) => {
                    self.scheduler.handle_timeout(Utc::now());
                    self.call_timeouts().await;
                    if tokio::time::Instant::now() >= next_heartbeat {
                        next_heartbeat = tokio::time::Instant::now() + self.heartbeat_every;
                        self.heartbeat().await;
                    }
                }
                changed = shutdown.changed(), if !self.shutting_down => {
                    let _ = changed;
                    self.begin_shutdown().await;
                    drain_deadline = Some(tokio::time::Instant::now() + self.config.drain);
                }
            }
            self.drain_events().await;
            self.stats.live_calls.store(self.scheduler.live_calls() as u64, Ordering::Relaxed);
            self.stats.held_requests.store(self.held.len() as u64, Ordering::Relaxed);
        }
        info!("dialer stopped");
    }

    fn job_spec(&self, record: &CallRecord) -> Result<DialJob, String> {
        let timezone = match record.request.timezone.as_deref() {
            None => self.config.default_timezone,
            Some(name) => name.parse::<Tz>().map_err(|_| format!("unknown timezone {name:?}"))?,
        };
        // The request's own window, else the deployment's CALLING_WINDOW, else the playbook's.
        let window = match record.request.calling_window.as_deref() {
            Some(text) => CallingWindow::parse(text).map_err(|e| e.to_string())?,
            None => self
                .config
                .window_override
                .or_else(|| self.config.playbook_windows.get(&record.request.playbook).copied())
                .unwrap_or(self.config.default_window),
        };
        let not_before =
            [parse_time(record.request.not_before.as_deref()), parse_time(record.next_attempt_at.as_deref())]
                .into_iter()
                .flatten()
                .max();
        Ok(DialJob {
            call_id: record.call_id.clone(),
            phone_number: record.request.phone_number.clone(),
            timezone,
            window,
            not_before,
            attempts_made: record.attempts.len() as u32,
        })
    }

    async fn on_job(&mut self, job: Job) {
        if self.shutting_down {
            let _ = job.nak(Duration::ZERO).await;
            return;
        }
        let request: DialRequest = match decode_json(&job.payload) {
            Ok(request) => request,
            Err(error) => {
                self.stats.bad_messages.fetch_add(1, Ordering::Relaxed);
                warn!(%error, "dropping malformed dial request");
                let _ = job.ack().await;
                return;
            }
        };
        let call_id = request.call_id;
        if let Some(held) = self.held.get_mut(&call_id) {
            // A redelivery of a request we hold: keep the newest delivery for ack / nak.
            held.job = job;
            return;
        }
        let record = match self.records.get(&call_id).await {
            Ok(Some((record, _))) => record,
            Ok(None) => {
                warn!(call_id = %call_id, "dial request without a call record; dropping it");
                let _ = job.ack().await;
                return;
            }
            Err(RecordError::Malformed { reason, .. }) => {
                self.stats.bad_messages.fetch_add(1, Ordering::Relaxed);
                warn!(call_id = %call_id, reason, "malformed call record; dropping the request");
                let _ = job.ack().await;
                return;
            }
            Err(error) => {
                warn!(call_id = %call_id, %error, "cannot read call record; retrying later");
                let _ = job.nak(Duration::from_secs(5)).await;
                return;
            }
        };
        if record.status.is_final() {
            // e.g. canceled through the API while it waited in the queue, or a call awaited
            // since a restart that ended meanwhile: its slot is free
            self.webhooks.call_ended(&call_id).await;
            let _ = job.ack().await;
            self.scheduler.handle(Utc::now(), Input::Release { call_id });
            return;
        }
        let held = Held::new(job, &record, self.tracker_config);
        let spec = match self.job_spec(&record) {
            Ok(spec) => spec,
            Err(reason) => {
                self.held.insert(call_id.clone(), held);
                self.finished(call_id, Finish::GaveUp(reason)).await;
                return;
            }
        };
        let now = Utc::now();
        let in_flight = matches!(record.status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress);
        let open_attempt = record.attempts.last().filter(|a| a.ended_at.is_none()).cloned();
        let mut held = held;
        match (in_flight, open_attempt) {
            (true, Some(Attempt { call_sid: Some(sid), number, .. })) => {
                // Another dialer placed this call and let go of it: follow it, never place it again.
                info!(call_id = %call_id, call_sid = %sid, "adopting a live call");
                held.call
                    .handle(Instant::now(), tracker::Input::Adopted { attempt: number, call_sid: sid.to_string() });
                self.held.insert(call_id.clone(), held);
                self.scheduler.handle(now, Input::Adopt(spec));
                self.drive_call(&call_id).await;
            }
            (true, Some(attempt)) => {
                // Claimed but never confirmed by Twilio: the dialer stopped in between.
                let _ = self.records.end_attempt(&call_id, attempt.number, "lost").await;
                self.held.insert(call_id, held);
                self.scheduler.handle(now, Input::Submit(spec));
            }
            _ => {
                self.held.insert(call_id, held);
                self.scheduler.handle(now, Input::Submit(spec));
            }
        }
    }

    async fn drain_events(&mut self) {
        while let Some(event) = self.scheduler.poll_event() {
            match event {
                Event::Dial { call_id, attempt } => self.dial(call_id, attempt).await,
                Event::Hangup { call_id } => self.hang_up(call_id).await,
                Event::Waiting { call_id, until, reason } => self.waiting(call_id, until, reason).await,
                Event::Finished { call_id, finish } => self.finished(call_id, finish).await,
                Event::Halted { reason } => self.halted(reason).await,
            }
        }
    }

    fn on_control(&mut self, message: Message) {
        match decode_json::<DialControl>(&message.payload) {
            Ok(DialControl { call_id, action: DialControlAction::Cancel, .. }) => {
                if self.held.contains_key(&call_id) {
                    info!(call_id = %call_id, "cancel requested");
                    self.scheduler.handle(Utc::now(), Input::Cancel { call_id });
                }
            }
            Err(error) => {
                self.stats.bad_messages.fetch_add(1, Ordering::Relaxed);
                warn!(%error, subject = %message.subject, "dropping malformed dial control message");
            }
        }
    }

    async fn waiting(&mut self, call_id: CallId, until: DateTime<Utc>, reason: WaitReason) {
        let next_attempt_at = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let status = match reason {
            WaitReason::Window => CallStatus::Queued,
            WaitReason::Retry(_) | WaitReason::Backoff => CallStatus::RetryScheduled,
        };
        let written = self
            .records
            .update(&call_id, |record| {
                if record.status.is_final() {
                    return false;
                }
                // A request never dialed stays `queued`; one waiting after an attempt is a retry.
                record.status = if status == CallStatus::Queued && record.attempts.is_empty() {
                    CallStatus::Queued
                } else {
                    CallStatus::RetryScheduled
                };
                record.next_attempt_at = Some(next_attempt_at.clone());
                true
            })
            .await;
        if let Err(error) = written {
            warn!(call_id = %call_id, %error, "cannot record the next attempt time");
        }
        if let WaitReason::Retry(outcome) = reason {
            self.publish_event(
                &call_id,
                CallEventKind::RetryScheduled,
                format!("after {} at {next_attempt_at}", outcome.as_str()),
            )
            .await;
        }
        let wait = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if wait > self.config.hold {
            // Hand it back; the queue delivers it again (to any dialer) when it is due.
            if let Some(held) = self.held.remove(&call_id) {
                debug!(call_id = %call_id, wait_s = wait.as_secs(), "releasing a waiting request to the queue");
                if let Err(error) = held.job.nak(wait).await {
                    warn!(call_id = %call_id, %error, "nak failed; the request comes back after the ack wait");
                }
            }
            self.scheduler.handle(Utc::now(), Input::Release { call_id });
        }
    }

    async fn finished(&mut self, call_id: CallId, finish: Finish) {
        let (status, error_opt, kind) = match &finish {
            Finish::Completed => (CallStatus::Completed, None, CallEventKind::Ended),
            Finish::Canceled => (CallStatus::Canceled, None, CallEventKind::Canceled),
            Finish::GaveUp(reason) => (CallStatus::Failed, Some(reason.clone()), CallEventKind::Failed),
        };
        let written = self
            .records
            .update(&call_id, |record| {
                if record.status.is_final() {
                    return false;
                }
                record.status = status;
                record.next_attempt_at = None;
                if let Some(reason) = &error_opt {
                    record.last_error = Some(reason.clone());
                }
                true
            })
            .await;
        if let Err(error) = written {
            warn!(call_id = %call_id, %error, "cannot record the final state");
        }
        self.stats.finished.fetch_add(1, Ordering::Relaxed);
        info!(call_id = %call_id, status = ?status, "request finished");
        self.publish_event(&call_id, kind, error_opt.unwrap_or_default()).await;
        self.webhooks.call_ended(&call_id).await;
        if let Some(held) = self.held.remove(&call_id) {
            if let Err(error) = held.job.ack().await {
                warn!(call_id = %call_id, %error, "ack failed");
            }
        }
    }

    /// The requests held without a live call (waiting for their window, a slot or a retry).
    fn waiting_requests(&self) -> Vec<CallId> {
        self.held.iter().filter(|(_, held)| !held.call.is_live()).map(|(id, _)| id.clone()).collect()
    }

    async fn halted(&mut self, reason: String) {
        self.stats.halted.store(true, Ordering::Relaxed);
        error!(
            reason,
            "dialing halted: twilio credentials refused; fix TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN and restart"
        );
        for call_id in self.waiting_requests() {
            self.publish_event(&call_id, CallEventKind::DialerHalted, "twilio authentication failed".into()).await;
            let _ = self
                .records
                .update(&call_id, |record| {
                    if record.status.is_final() {
                        return false;
                    }
                    record.status =
                        if record.attempts.is_empty() { CallStatus::Queued } else { CallStatus::RetryScheduled };
                    true
                })
                .await;
            if let Some(held) = self.held.remove(&call_id) {
                let _ = held.job.nak(Duration::from_secs(60)).await;
            }
            self.scheduler.handle(Utc::now(), Input::Release { call_id });
        }
    }

    /// Keeps every held request's queue message from being redelivered.
    async fn heartbeat(&mut self) {
        for (call_id, held) in &self.held {
            if let Err(error) = held.job.in_progress().await {
                debug!(call_id = %call_id, %error, "in-progress ack failed");
            }
        }
    }

    async fn begin_shutdown(&mut self) {
        info!(live_calls = self.scheduler.live_calls(), "dialer draining");
        self.shutting_down = true;
        for call_id in self.waiting_requests() {
            if let Some(held) = self.held.remove(&call_id) {
                let _ = held.job.nak(Duration::ZERO).await;
            }
            self.scheduler.handle(Utc::now(), Input::Release { call_id });
        }
    }

    async fn publish_event(&self, call_id: &CallId, kind: CallEventKind, detail: String) {
        let Ok(subject) = subjects::call_events(call_id) else { return };
        let event = CallEvent::now(call_id, kind, detail);
        if let Err(error) = self.bus.publish(subject, encode_json(&event)).await {
            debug!(%error, "publishing a call event failed");
        }
    }
}
