//! The dialer's runtime: drives the [`Scheduler`] with jobs from the `DIAL` work queue, Twilio
//! status events (`twilio.status.<callId>`), cancel requests (`dial.control.<callId>`) and the
//! clock, and carries out what it asks: revision-checked claims on the call record before each
//! Twilio create (so a request is never placed twice), record updates, acks and naks.

use crate::config::Config;
use crate::records::{now_rfc3339, RecordError, Records};
use crate::scheduler::{CallOutcome, DialFailure, DialJob, Event, Finish, Input, Scheduler, WaitReason};
use crate::twilio::{CallResource, NewCall, TwilioClient, TwilioError, TwilioErrorKind};
use crate::window::CallingWindow;
use bus::queue::Job;
use bus::{Bus, BusError, Message};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use protocol::calls::{
    Attempt, CallEvent, CallRecord, CallStatus, DialControl, DialControlAction, DialRequest, TwilioStatusEvent,
};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, BUS_VERSION};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use tracing::{debug, error, info, warn};

/// Durable consumer name shared by every dialer, so each dial request goes to one of them.
pub const DIAL_CONSUMER: &str = "dialer";
/// KV bucket of per-number leases: at most one live call per phone number across all dialers.
pub const KV_NUMBER_LEASES: &str = "dial_numbers";
/// A lease whose call never got past `queued` for this long is taken over.
const STALE_LEASE_MS: i64 = 60_000;

/// Why the dialer could not start.
#[derive(Debug, thiserror::Error)]
pub enum DialerError {
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("twilio client: {0}")]
    Twilio(#[from] TwilioError),
    #[error("dialer task failed: {0}")]
    Task(String),
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics { addr: String, source: std::io::Error },
}

/// Counters of one dialer, for tests and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls Twilio accepted (201).
    pub calls_placed: AtomicU64,
    /// `Calls.json` requests Twilio refused or that got no answer.
    pub dial_errors: AtomicU64,
    /// 20003: credentials refused.
    pub auth_failures: AtomicU64,
    /// True once dialing stopped because of an auth failure.
    pub halted: AtomicBool,
    /// Requests that reached a final state here.
    pub finished: AtomicU64,
    /// Messages that could not be decoded.
    pub bad_messages: AtomicU64,
    /// Calls being placed or live now.
    pub live_calls: AtomicU64,
    /// Requests held now (waiting or live).
    pub held_requests: AtomicU64,
}

/// A dialer running in the background.
pub struct RunningDialer {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stats: Arc<Stats>,
    metrics: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
}

impl RunningDialer {
    /// Where `/healthz`, `/readyz` and `/metrics` are served (when `METRICS_ADDR` is set).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Stops taking requests, hands waiting ones back to the queue, lets live calls finish
    /// within the drain time, and returns.
    pub async fn stop(self) -> Result<(), DialerError> {
        let _ = self.shutdown.send(true);
        let result = self.task.await.map_err(|e| DialerError::Task(e.to_string()));
        if let Some((_, server)) = self.metrics {
            server.abort();
        }
        result
    }

    /// Waits until the dialer stops by itself (the bus closed).
    pub async fn wait(self) -> Result<(), DialerError> {
        self.task.await.map_err(|e| DialerError::Task(e.to_string()))
    }
}

/// Starts a dialer on `bus`. Returns once it is subscribed and consuming.
pub async fn start(config: Config, bus: Bus) -> Result<RunningDialer, DialerError> {
    let twilio = TwilioClient::new(config.twilio.clone())?;
    let records = Records::new(bus.kv(subjects::KV_CALLS).await?);
    let leases = bus.kv(KV_NUMBER_LEASES).await?;
    let mut queue = bus
        .work_queue(subjects::DIAL_STREAM, subjects::DIAL_REQUESTS, DIAL_CONSUMER)
        .await?
        .with_ack_wait(config.ack_wait);
    let status = bus.subscribe(subjects::TWILIO_STATUS_ALL).await?;
    let control = bus.subscribe(format!("{}.>", subjects::DIAL_CONTROL_PREFIX)).await?;
    bus.flush().await?;

    // The queue is read by its own task, one job per credit, so the main loop never cancels a
    // pull half-way and never takes a job it has no room for.
    let credits = Arc::new(Semaphore::new(0));
    let (job_sender, jobs) = mpsc::channel::<Job>(1);
    let consumer_credits = credits.clone();
    let consumer = tokio::spawn(async move {
        loop {
            let Ok(permit) = consumer_credits.acquire().await else { return };
            permit.forget();
            match queue.next().await {
                Ok(job) => {
                    if job_sender.send(job).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    warn!(%error, "dial queue pull failed");
                    consumer_credits.add_permits(1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let stats = Arc::new(Stats::default());
    let metrics = match &config.metrics_addr {
        Some(addr) => Some(
            crate::metrics::serve(addr, stats.clone(), bus.clone())
                .await
                .map_err(|source| DialerError::Metrics { addr: addr.clone(), source })?,
        ),
        None => None,
    };
    let (shutdown, shutdown_signal) = watch::channel(false);
    let (op_sender, ops) = mpsc::unbounded_channel();
    let dialer = Dialer {
        scheduler: Scheduler::new(config.scheduler.clone()),
        config,
        bus,
        records,
        leases,
        twilio,
        held: HashMap::new(),
        stats: stats.clone(),
        op_sender,
        credits,
        credit_outstanding: false,
        shutting_down: false,
    };
    let task = tokio::spawn(async move {
        dialer.run(jobs, status, control, ops, shutdown_signal).await;
        consumer.abort();
    });
    Ok(RunningDialer { shutdown, task, stats, metrics })
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
    attempt: u32,
    live: bool,
    call_sid: Option<String>,
    ended_sids: HashSet<String>,
    /// Events that arrived before Twilio's answer to the create.
    early_events: Vec<TwilioStatusEvent>,
    last_sequence: Option<u32>,
    answered_by: Option<String>,
    hangup_requested: bool,
    live_since: Instant,
    fetch_pending: bool,
}

struct Dialer {
    config: Config,
    bus: Bus,
    records: Records,
    leases: bus::Kv,
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

/// The lease key of a number: its digits (E.164 without the `+`).
fn lease_key(phone_number: &str) -> String {
    let digits: String = phone_number.chars().filter(char::is_ascii_digit).collect();
    format!("n{digits}")
}

fn is_machine(answered_by: Option<&str>) -> bool {
    answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax")
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
        let heartbeat_every = (self.config.ack_wait / 3).max(Duration::from_millis(200));
        let mut next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
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
            let wake = self.scheduler.poll_timeout().map(to_instant).unwrap_or(next_heartbeat).min(next_heartbeat);
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
                    if tokio::time::Instant::now() >= next_heartbeat {
                        next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
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
        let window = match record.request.calling_window.as_deref() {
            None => self.config.default_window,
            Some(text) => CallingWindow::parse(text).map_err(|e| e.to_string())?,
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
            let _ = job.ack().await;
            return;
        }
        let spec = match self.job_spec(&record) {
            Ok(spec) => spec,
            Err(reason) => {
                self.held.insert(call_id.clone(), Held::new(job, &record));
                self.finished(call_id, Finish::GaveUp(reason)).await;
                return;
            }
        };
        let now = Utc::now();
        let in_flight = matches!(record.status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress);
        let open_attempt = record.attempts.last().filter(|a| a.ended_at.is_none()).cloned();
        let mut held = Held::new(job, &record);
        match (in_flight, open_attempt) {
            (true, Some(Attempt { call_sid: Some(sid), number, .. })) => {
                // Another dialer placed this call and let go of it: follow it, never place it again.
                info!(call_id = %call_id, call_sid = %sid, "adopting a live call");
                held.live = true;
                held.attempt = number;
                held.call_sid = Some(sid.to_string());
                held.fetch_pending = true;
                self.held.insert(call_id.clone(), held);
                self.scheduler.handle(now, Input::Adopt(spec));
                self.spawn_fetch(call_id, sid.to_string());
            }
            (true, Some(attempt)) => {
                // Claimed but never confirmed by Twilio: the dialer stopped in between.
                let number = attempt.number;
                let _ = self
                    .records
                    .update(&call_id, |r| match r.attempts.last_mut() {
                        Some(last) if last.number == number && last.ended_at.is_none() => {
                            last.ended_at = Some(now_rfc3339());
                            last.outcome = Some("lost".into());
                            true
                        }
                        _ => false,
                    })
                    .await;
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
                Event::Hangup { call_id } => self.hang_up(call_id),
                Event::Waiting { call_id, until, reason } => self.waiting(call_id, until, reason).await,
                Event::Finished { call_id, finish } => self.finished(call_id, finish).await,
                Event::Halted { reason } => self.halted(reason).await,
            }
        }
    }

    async fn dial(&mut self, call_id: CallId, attempt: u32) {
        let phone_number = self.held.get(&call_id).map(|h| h.phone_number.clone()).unwrap_or_default();
        match self.take_number(&phone_number, &call_id).await {
            Ok(true) => {}
            Ok(false) => {
                debug!(call_id = %call_id, "another call to this number is live; waiting");
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure: DialFailure::NumberBusy });
                return;
            }
            Err(error) => {
                warn!(call_id = %call_id, %error, "cannot take the number lease");
                let failure = DialFailure::Transient(error.to_string());
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure });
                return;
            }
        }
        let started_at = now_rfc3339();
        let claim = self
            .records
            .update(&call_id, |record| {
                if record.status.is_final() {
                    return false;
                }
                record.status = CallStatus::Dialing;
                record.next_attempt_at = None;
                record.attempts.push(Attempt {
                    number: attempt,
                    call_sid: None,
                    started_at: started_at.clone(),
                    ended_at: None,
                    outcome: None,
                });
                true
            })
            .await;
        let record = match claim {
            Ok(Some(record)) if record.status == CallStatus::Dialing => record,
            Ok(_) => {
                // Canceled (or deleted) while waiting.
                self.release_number(&phone_number, &call_id).await;
                self.scheduler.handle(Utc::now(), Input::CallEnded { call_id, outcome: CallOutcome::Canceled });
                return;
            }
            Err(error) => {
                self.release_number(&phone_number, &call_id).await;
                warn!(call_id = %call_id, %error, "cannot claim the call record");
                let failure = DialFailure::Transient(error.to_string());
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure });
                return;
            }
        };
        let Some(held) = self.held.get_mut(&call_id) else { return };
        held.attempt = attempt;
        held.live = true;
        held.call_sid = None;
        held.last_sequence = None;
        held.answered_by = None;
        held.live_since = Instant::now();
        held.fetch_pending = false;
        let base = &self.config.public_base_url;
        let call = NewCall {
            to: record.request.phone_number.clone(),
            url: format!("{base}/v1/twilio/voice?call_id={call_id}"),
            status_callback: format!("{base}/v1/twilio/status?call_id={call_id}"),
            machine_detection: self.config.machine_detection.clone(),
            async_amd_status_callback: self
                .config
                .machine_detection
                .as_ref()
                .map(|_| format!("{base}/v1/twilio/amd?call_id={call_id}")),
            timeout_s: self.config.ring_timeout_s,
            time_limit_s: self.config.time_limit_s,
        };
        info!(call_id = %call_id, attempt, "placing call");
        self.publish_event(&call_id, "dialing", format!("attempt {attempt}")).await;
        let twilio = self.twilio.clone();
        let sender = self.op_sender.clone();
        tokio::spawn(async move {
            let result = twilio.create_call(&call).await;
            let _ = sender.send(TwilioOp::Created { call_id, attempt, result });
        });
    }

    fn hang_up(&mut self, call_id: CallId) {
        let Some(held) = self.held.get_mut(&call_id) else { return };
        held.hangup_requested = true;
        if let Some(sid) = held.call_sid.clone() {
            self.spawn_hangup(call_id, sid);
        }
        // Otherwise the hang-up goes out once Twilio answers the create.
    }

    fn spawn_hangup(&self, call_id: CallId, call_sid: String) {
        let twilio = self.twilio.clone();
        let sender = self.op_sender.clone();
        tokio::spawn(async move {
            let result = twilio.hang_up(&call_sid).await;
            let _ = sender.send(TwilioOp::HungUp { call_id, result });
        });
    }

    fn spawn_fetch(&self, call_id: CallId, call_sid: String) {
        let twilio = self.twilio.clone();
        let sender = self.op_sender.clone();
        tokio::spawn(async move {
            let result = twilio.fetch_call(&call_sid).await;
            let _ = sender.send(TwilioOp::Fetched { call_id, result });
        });
    }

    async fn on_twilio(&mut self, op: TwilioOp) {
        match op {
            TwilioOp::Created { call_id, attempt, result } => self.created(call_id, attempt, result).await,
            TwilioOp::Fetched { call_id, result } => {
                let Some(held) = self.held.get_mut(&call_id) else { return };
                held.fetch_pending = false;
                match result {
                    Ok(resource) if resource.is_over() && held.call_sid.as_deref() == Some(resource.sid.as_str()) => {
                        let event = TwilioStatusEvent {
                            v: BUS_VERSION,
                            call_id: call_id.clone(),
                            call_sid: resource.sid.clone().into(),
                            call_status: resource.status.clone(),
                            answered_by: resource.answered_by.clone(),
                            sequence_number: None,
                            call_duration_s: resource.duration.as_deref().and_then(|d| d.parse().ok()),
                            sip_response_code: None,
                        };
                        self.on_status(event).await;
                    }
                    Ok(_) => {}
                    Err(error) => warn!(call_id = %call_id, %error, "fetching the call from twilio failed"),
                }
            }
            TwilioOp::HungUp { call_id, result } => match result {
                Ok(_) => info!(call_id = %call_id, "hung up"),
                // 21220: the call had already ended; its final status callback settles it.
                Err(error) => warn!(call_id = %call_id, %error, "hang-up refused"),
            },
        }
    }

    async fn created(&mut self, call_id: CallId, attempt: u32, result: Result<CallResource, TwilioError>) {
        match result {
            Ok(resource) => {
                self.stats.calls_placed.fetch_add(1, Ordering::Relaxed);
                let sid = resource.sid.clone();
                info!(call_id = %call_id, call_sid = %sid, attempt, "twilio accepted the call");
                let written = self
                    .records
                    .update(&call_id, |record| {
                        record.call_sid = Some(sid.clone().into());
                        match record.attempts.last_mut() {
                            Some(last) if last.number == attempt => last.call_sid = Some(sid.clone().into()),
                            _ => {}
                        }
                        true
                    })
                    .await;
                if let Err(error) = written {
                    warn!(call_id = %call_id, %error, "cannot record the call sid");
                }
                let Some(held) = self.held.get_mut(&call_id) else { return };
                held.call_sid = Some(sid.clone());
                let early = std::mem::take(&mut held.early_events);
                let hangup = held.hangup_requested;
                if hangup {
                    self.spawn_hangup(call_id.clone(), sid);
                }
                for event in early {
                    self.on_status(event).await;
                }
            }
            Err(error) => {
                self.stats.dial_errors.fetch_add(1, Ordering::Relaxed);
                let code = error.code.map_or_else(|| format!("http {}", error.http_status), |c| c.to_string());
                let reason = format!("twilio error {code}: {}", error.message);
                let failure = match error.kind {
                    TwilioErrorKind::Auth => {
                        self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
                        error!(call_id = %call_id, code = ?error.code, "twilio refused our credentials; dialing stops");
                        DialFailure::Auth(reason.clone())
                    }
                    kind if kind.is_transient() => {
                        warn!(call_id = %call_id, code = ?error.code, http_status = error.http_status, "twilio busy or failing; backing off");
                        DialFailure::Transient(reason.clone())
                    }
                    _ => {
                        warn!(call_id = %call_id, code = ?error.code, "twilio refused the call; giving up");
                        DialFailure::Permanent(reason.clone())
                    }
                };
                let permanent = matches!(failure, DialFailure::Permanent(_));
                let outcome = format!("error:{code}");
                let _ = self
                    .records
                    .update(&call_id, |record| {
                        record.last_error = Some(reason.clone());
                        match record.attempts.last_mut() {
                            Some(last) if last.number == attempt && last.call_sid.is_none() => {
                                if permanent {
                                    last.ended_at = Some(now_rfc3339());
                                    last.outcome = Some(outcome.clone());
                                } else {
                                    // Never placed: it does not count as an attempt.
                                    record.attempts.pop();
                                }
                            }
                            _ => {}
                        }
                        true
                    })
                    .await;
                if let Some(held) = self.held.get_mut(&call_id) {
                    held.live = false;
                }
                let phone_number = self.held.get(&call_id).map(|h| h.phone_number.clone()).unwrap_or_default();
                self.release_number(&phone_number, &call_id).await;
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure });
            }
        }
    }

    async fn on_status_message(&mut self, message: Message) {
        match decode_json::<TwilioStatusEvent>(&message.payload) {
            Ok(event) => self.on_status(event).await,
            Err(error) => {
                self.stats.bad_messages.fetch_add(1, Ordering::Relaxed);
                warn!(%error, subject = %message.subject, "dropping malformed twilio status event");
            }
        }
    }

    async fn on_status(&mut self, event: TwilioStatusEvent) {
        let call_id = event.call_id.clone();
        let Some(held) = self.held.get_mut(&call_id) else { return };
        let sid = event.call_sid.to_string();
        if held.ended_sids.contains(&sid) || !held.live {
            return;
        }
        match &held.call_sid {
            None => {
                held.early_events.push(event);
                return;
            }
            Some(current) if *current != sid => return,
            Some(_) => {}
        }
        if event.answered_by.is_some() {
            held.answered_by = event.answered_by.clone();
        }
        let Some(call_status) = event.call_status.as_deref() else { return };
        let terminal = matches!(call_status, "completed" | "busy" | "no-answer" | "failed" | "canceled");
        if !terminal {
            // Progress events may arrive out of order: only move forward.
            if let (Some(sequence), Some(last)) = (event.sequence_number, held.last_sequence) {
                if sequence <= last {
                    return;
                }
            }
            held.last_sequence = event.sequence_number.or(held.last_sequence);
            let status = match call_status {
                "ringing" => CallStatus::Ringing,
                "in-progress" => CallStatus::InProgress,
                _ => return,
            };
            let _ = self
                .records
                .update(&call_id, |record| {
                    let forward = matches!(
                        (record.status, status),
                        (CallStatus::Dialing, _) | (CallStatus::Ringing, CallStatus::InProgress)
                    );
                    if forward {
                        record.status = status;
                    }
                    forward
                })
                .await;
            self.publish_event(&call_id, call_status, String::new()).await;
            return;
        }
        held.ended_sids.insert(sid);
        held.live = false;
        let outcome = match call_status {
            "completed" if is_machine(held.answered_by.as_deref()) => CallOutcome::Machine,
            "completed" => CallOutcome::Completed,
            "busy" => CallOutcome::Busy,
            "no-answer" => CallOutcome::NoAnswer,
            "canceled" if held.hangup_requested => CallOutcome::Canceled,
            _ => CallOutcome::Failed,
        };
        let outcome = if held.hangup_requested { CallOutcome::Canceled } else { outcome };
        let attempt = held.attempt;
        let phone_number = held.phone_number.clone();
        self.release_number(&phone_number, &call_id).await;
        // A `completed` call may have been a voicemail, or a request to call back later.
        let outcome = match self.records.get(&call_id).await {
            Ok(Some((record, _))) if outcome == CallOutcome::Completed => {
                let timezone = record
                    .request
                    .timezone
                    .as_deref()
                    .and_then(|name| name.parse::<Tz>().ok())
                    .unwrap_or(self.config.default_timezone);
                crate::outcome::refine(outcome, record.result.as_ref(), timezone, Utc::now())
            }
            _ => outcome,
        };
        info!(call_id = %call_id, attempt, outcome = outcome.as_str(), "call ended");
        let _ = self
            .records
            .update(&call_id, |record| match record.attempts.last_mut() {
                Some(last) if last.number == attempt && last.ended_at.is_none() => {
                    last.ended_at = Some(now_rfc3339());
                    last.outcome = Some(outcome.as_str().to_owned());
                    true
                }
                _ => false,
            })
            .await;
        self.scheduler.handle(Utc::now(), Input::CallEnded { call_id, outcome });
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
            self.publish_event(&call_id, "retry_scheduled", format!("after {} at {next_attempt_at}", outcome.as_str()))
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
            Finish::Completed => (CallStatus::Completed, None, "ended"),
            Finish::Canceled => (CallStatus::Canceled, None, "canceled"),
            Finish::GaveUp(reason) => (CallStatus::Failed, Some(reason.clone()), "failed"),
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
        if let Some(held) = self.held.remove(&call_id) {
            if let Err(error) = held.job.ack().await {
                warn!(call_id = %call_id, %error, "ack failed");
            }
        }
    }

    async fn halted(&mut self, reason: String) {
        self.stats.halted.store(true, Ordering::Relaxed);
        error!(
            reason,
            "dialing halted: twilio credentials refused; fix TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN and restart"
        );
        let waiting: Vec<CallId> = self.held.iter().filter(|(_, h)| !h.live).map(|(id, _)| id.clone()).collect();
        for call_id in waiting {
            self.publish_event(&call_id, "dialer_halted", "twilio authentication failed".into()).await;
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

    async fn heartbeat(&mut self) {
        let now = Instant::now();
        let stuck_after =
            Duration::from_secs(u64::from(self.config.ring_timeout_s) + u64::from(self.config.time_limit_s) + 60);
        let mut fetches = Vec::new();
        for (call_id, held) in &mut self.held {
            if let Err(error) = held.job.in_progress().await {
                debug!(call_id = %call_id, %error, "in-progress ack failed");
            }
            if held.live && !held.fetch_pending && now.duration_since(held.live_since) > stuck_after {
                if let Some(sid) = &held.call_sid {
                    held.fetch_pending = true;
                    fetches.push((call_id.clone(), sid.clone()));
                }
            }
        }
        for (call_id, sid) in fetches {
            self.spawn_fetch(call_id, sid);
        }
    }

    async fn begin_shutdown(&mut self) {
        info!(live_calls = self.scheduler.live_calls(), "dialer draining");
        self.shutting_down = true;
        let waiting: Vec<CallId> = self.held.iter().filter(|(_, h)| !h.live).map(|(id, _)| id.clone()).collect();
        for call_id in waiting {
            if let Some(held) = self.held.remove(&call_id) {
                let _ = held.job.nak(Duration::ZERO).await;
            }
            self.scheduler.handle(Utc::now(), Input::Release { call_id });
        }
    }

    /// Takes the lease on `phone_number` for `call_id`; false when another live call holds it.
    async fn take_number(&self, phone_number: &str, call_id: &CallId) -> Result<bool, BusError> {
        let key = lease_key(phone_number);
        let value = format!("{call_id} {}", Utc::now().timestamp_millis());
        for _ in 0..5 {
            let error = match self.leases.create(&key, value.clone().into()).await {
                Ok(_) => return Ok(true),
                Err(error) => error,
            };
            if error.kind != bus::BusErrorKind::AlreadyExists {
                return Err(error);
            }
            let Some(entry) = self.leases.get(&key).await? else { continue };
            let text = String::from_utf8_lossy(&entry.value).into_owned();
            let mut parts = text.split(' ');
            let holder = CallId::from(parts.next().unwrap_or_default());
            let taken_ms: i64 = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            if holder == *call_id {
                return Ok(true);
            }
            let stale = match self.records.get(&holder).await {
                Ok(None) => true,
                Ok(Some((record, _))) => {
                    let in_flight =
                        matches!(record.status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress);
                    record.status.is_final()
                        || (!in_flight && Utc::now().timestamp_millis() - taken_ms > STALE_LEASE_MS)
                }
                Err(_) => false,
            };
            if !stale {
                return Ok(false);
            }
            match self.leases.update(&key, value.clone().into(), entry.revision).await {
                Ok(_) => return Ok(true),
                Err(error) if error.kind == bus::BusErrorKind::WrongRevision => continue,
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }

    /// Gives the lease on `phone_number` back, if `call_id` holds it.
    async fn release_number(&self, phone_number: &str, call_id: &CallId) {
        let key = lease_key(phone_number);
        let Ok(Some(entry)) = self.leases.get(&key).await else { return };
        if String::from_utf8_lossy(&entry.value).split(' ').next() == Some(call_id.as_str()) {
            if let Err(error) = self.leases.delete(&key).await {
                debug!(call_id = %call_id, %error, "releasing the number lease failed");
            }
        }
    }

    async fn publish_event(&self, call_id: &CallId, kind: &str, detail: String) {
        let Ok(subject) = subjects::call_events(call_id) else { return };
        let event =
            CallEvent { v: BUS_VERSION, call_id: call_id.clone(), at: now_rfc3339(), kind: kind.to_owned(), detail };
        if let Err(error) = self.bus.publish(subject, encode_json(&event)).await {
            debug!(%error, "publishing a call event failed");
        }
    }
}

impl Held {
    fn new(job: Job, record: &CallRecord) -> Self {
        Held {
            job,
            phone_number: record.request.phone_number.clone(),
            attempt: record.attempts.len() as u32,
            live: false,
            call_sid: None,
            ended_sids: HashSet::new(),
            early_events: Vec::new(),
            last_sequence: None,
            answered_by: None,
            hangup_requested: false,
            live_since: Instant::now(),
            fetch_pending: false,
        }
    }
}
