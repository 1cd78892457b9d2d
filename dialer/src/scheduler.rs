//! When to place which call: a sans-I/O state machine told the time.
//!
//! The runtime feeds it jobs and outcomes with [`Scheduler::handle`], wakes it at
//! [`Scheduler::poll_timeout`] with [`Scheduler::handle_timeout`], and carries out what
//! [`Scheduler::poll_event`] asks (place a call, release a job until later, record a final state).
//! It enforces calling windows in the callee's timezone, a global and a per-number concurrency
//! cap, retries by outcome with jitter from a seeded RNG, and a maximum number of attempts.

use crate::window::CallingWindow;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use protocol::CallId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet, VecDeque};

/// How long to wait before the next attempt, by outcome, and how many attempts to make.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Calls placed at most, per request.
    pub max_attempts: u32,
    pub after_busy: Duration,
    pub after_no_answer: Duration,
    pub after_failed: Duration,
    pub after_machine: Duration,
    /// First back-off after a transient Twilio error (20429, 5xx); doubles each time.
    pub transient_backoff: Duration,
    pub transient_backoff_max: Duration,
    /// Transient errors in a row after which the request is given up.
    pub max_transient_errors: u32,
    /// Each retry delay is stretched by a random 0..=`jitter_fraction` of itself.
    pub jitter_fraction: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            after_busy: Duration::minutes(10),
            after_no_answer: Duration::minutes(30),
            after_failed: Duration::hours(1),
            after_machine: Duration::hours(2),
            transient_backoff: Duration::seconds(5),
            transient_backoff_max: Duration::minutes(5),
            max_transient_errors: 8,
            jitter_fraction: 0.2,
        }
    }
}

/// Limits of one dialer.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Live calls at most, all numbers together.
    pub max_concurrent_calls: usize,
    /// Live calls at most to one phone number.
    pub max_concurrent_per_number: usize,
    pub retry: RetryPolicy,
    /// Seed of the jitter RNG (tests fix it; the service seeds it from the clock).
    pub seed: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { max_concurrent_calls: 10, max_concurrent_per_number: 1, retry: RetryPolicy::default(), seed: 0 }
    }
}

/// One call request as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct DialJob {
    pub call_id: CallId,
    pub phone_number: String,
    pub timezone: Tz,
    pub window: CallingWindow,
    /// Earliest start (the request's `not_before`, or a retry time recorded earlier).
    pub not_before: Option<DateTime<Utc>>,
    /// Calls already placed for this request (from the call record).
    pub attempts_made: u32,
}

/// How a placed call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Answered by a person and ended.
    Completed,
    Busy,
    NoAnswer,
    Failed,
    /// Voicemail, answering machine or fax.
    Machine,
    /// The callee asked to be called back at this time.
    CallBackAt(DateTime<Utc>),
    /// Hung up or canceled on request.
    Canceled,
}

impl CallOutcome {
    /// The short name recorded on the attempt (`busy`, `no-answer` ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            CallOutcome::Completed => "completed",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no-answer",
            CallOutcome::Failed => "failed",
            CallOutcome::Machine => "machine",
            CallOutcome::CallBackAt(_) => "call-back-later",
            CallOutcome::Canceled => "canceled",
        }
    }
}

/// Why Twilio did not place a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialFailure {
    /// Retrying cannot help (invalid number, blocked destination ...).
    Permanent(String),
    /// Rate limit or server error: back off and retry; the call was not placed.
    Transient(String),
    /// Our credentials were refused: stop dialing altogether.
    Auth(String),
    /// Another dialer has a live call to this number: try again shortly; nothing was placed.
    NumberBusy,
}

/// What the runtime tells the scheduler.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A new (or redelivered) request.
    Submit(DialJob),
    /// A request whose call is already live (placed by a dialer that let go of it): it counts
    /// against the caps until its end is reported.
    Adopt(DialJob),
    /// A placed call ended.
    CallEnded { call_id: CallId, outcome: CallOutcome },
    /// Twilio refused to place the call asked for by the last `Dial`.
    DialFailed { call_id: CallId, failure: DialFailure },
    /// Cancel a request: a live call is reported `Hangup`, a waiting one is dropped.
    Cancel { call_id: CallId },
    /// The runtime handed the job back to the queue, or acked a request it will not run (its
    /// call is already over): forget it, and stop awaiting it after a restart.
    Release { call_id: CallId },
}

/// Why a job is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// Outside the callee's calling window, or before `not_before`.
    Window,
    /// A retry after this outcome.
    Retry(CallOutcome),
    /// Backing off after a transient Twilio error.
    Backoff,
}

/// How a request ended for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Completed,
    Canceled,
    /// Given up: max attempts reached or a permanent error; the reason says which.
    GaveUp(String),
}

/// What the scheduler asks the runtime to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Place call attempt number `attempt` (1-based) now.
    Dial { call_id: CallId, attempt: u32 },
    /// Hang up the live call (after a cancel).
    Hangup { call_id: CallId },
    /// Nothing to do for this job before `until`.
    Waiting { call_id: CallId, until: DateTime<Utc>, reason: WaitReason },
    /// The request is over; ack it.
    Finished { call_id: CallId, finish: Finish },
    /// Credentials were refused: no call is placed any more until restart.
    Halted { reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    /// Not before `until`; then it needs its window and a slot.
    Waiting(DateTime<Utc>),
    /// Window open, waiting for a free slot (FIFO by `since`).
    Ready { since: DateTime<Utc> },
    /// Dial asked for; the call is being placed or is live.
    Live,
}

#[derive(Clone, Debug)]
struct Job {
    spec: DialJob,
    state: State,
    transient_errors: u32,
    cancel_requested: bool,
}

/// The dial scheduler of one dialer instance.
pub struct Scheduler {
    config: SchedulerConfig,
    rng: StdRng,
    jobs: HashMap<CallId, Job>,
    live_per_number: HashMap<String, usize>,
    live_total: usize,
    /// Calls found live at start (placed before a restart) whose requests have not come back yet;
    /// no new call is placed until they are adopted or `awaited_until` passes.
    awaited: HashSet<CallId>,
    awaited_until: Option<DateTime<Utc>>,
    halted: bool,
    events: VecDeque<Event>,
}

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            jobs: HashMap::new(),
            live_per_number: HashMap::new(),
            live_total: 0,
            awaited: HashSet::new(),
            awaited_until: None,
            halted: false,
            events: VecDeque::new(),
        }
    }

    /// Holds back new dials until the requests of `call_ids` (calls live before a restart) come
    /// back and are adopted, or until `until`: a restarted dialer does not exceed its cap by
    /// placing new calls beside the ones it left live.
    pub fn await_live_calls(&mut self, call_ids: impl IntoIterator<Item = CallId>, until: DateTime<Utc>) {
        self.awaited.extend(call_ids);
        if !self.awaited.is_empty() {
            self.awaited_until = Some(until);
        }
    }

    /// Calls found live at start that have not come back yet.
    pub fn awaited_calls(&self) -> usize {
        self.awaited.len()
    }

    /// Live calls now.
    pub fn live_calls(&self) -> usize {
        self.live_total
    }

    /// Jobs held (waiting, ready or live).
    pub fn held_jobs(&self) -> usize {
        self.jobs.len()
    }

    /// True when another job could be taken on without exceeding the global cap.
    pub fn wants_more_jobs(&self) -> bool {
        let not_live = self.jobs.values().filter(|j| !matches!(j.state, State::Live)).count();
        // while calls from before a restart are awaited, room is kept to take their requests back
        !self.halted && self.live_total + not_live < self.config.max_concurrent_calls + self.awaited.len()
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn handle(&mut self, now: DateTime<Utc>, input: Input) {
        match input {
            Input::Submit(spec) => {
                self.awaited.remove(&spec.call_id);
                if self.jobs.contains_key(&spec.call_id) {
                    return;
                }
                let until = spec.not_before.map_or(now, |t| t.max(now));
                let call_id = spec.call_id.clone();
                self.jobs.insert(
                    call_id.clone(),
                    Job { spec, state: State::Waiting(until), transient_errors: 0, cancel_requested: false },
                );
                if until > now {
                    self.wait(&call_id, until, WaitReason::Window, now);
                }
            }
            Input::Adopt(spec) => {
                self.awaited.remove(&spec.call_id);
                if self.jobs.contains_key(&spec.call_id) {
                    return;
                }
                *self.live_per_number.entry(spec.phone_number.clone()).or_insert(0) += 1;
                self.live_total += 1;
                let call_id = spec.call_id.clone();
                self.jobs
                    .insert(call_id, Job { spec, state: State::Live, transient_errors: 0, cancel_requested: false });
            }
            Input::CallEnded { call_id, outcome } => self.call_ended(now, call_id, outcome),
            Input::DialFailed { call_id, failure } => self.dial_failed(now, call_id, failure),
            Input::Cancel { call_id } => {
                if let Some(job) = self.jobs.get_mut(&call_id) {
                    if job.state == State::Live {
                        if !job.cancel_requested {
                            job.cancel_requested = true;
                            self.events.push_back(Event::Hangup { call_id });
                        }
                    } else {
                        self.jobs.remove(&call_id);
                        self.events.push_back(Event::Finished { call_id, finish: Finish::Canceled });
                    }
                }
            }
            Input::Release { call_id } => {
                // a call awaited since a restart whose request came back settled: nothing to wait for
                self.awaited.remove(&call_id);
                if let Some(job) = self.jobs.get(&call_id) {
                    if job.state != State::Live {
                        self.jobs.remove(&call_id);
                    }
                }
            }
        }
        self.handle_timeout(now);
    }

    /// Moves due jobs forward and fills free slots. Call it at [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<CallId> = self
            .jobs
            .iter()
            .filter(|(_, j)| matches!(j.state, State::Waiting(t) if t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        due.sort();
        for call_id in due {
            let Some(job) = self.jobs.get(&call_id) else { continue };
            match job.spec.window.next_open(job.spec.timezone, now) {
                Some(open) if open <= now => {
                    if let Some(job) = self.jobs.get_mut(&call_id) {
                        job.state = State::Ready { since: now };
                    }
                }
                Some(open) => self.wait(&call_id, open, WaitReason::Window, now),
                None => self.finish(call_id, Finish::GaveUp("calling window has no open day".into())),
            }
        }
        self.fill_slots(now);
    }

    /// The next thing for the runtime to do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.jobs
            .values()
            .filter_map(|j| match j.state {
                State::Waiting(t) => Some(t),
                _ => None,
            })
            .chain(self.awaited_until.filter(|_| !self.awaited.is_empty()))
            .min()
    }

    fn fill_slots(&mut self, now: DateTime<Utc>) {
        if self.halted {
            return;
        }
        if !self.awaited.is_empty() {
            if self.awaited_until.is_some_and(|until| now < until) {
                return;
            }
            // they did not come back: another dialer holds them, or they ended meanwhile
            self.awaited.clear();
            self.awaited_until = None;
        }
        let mut ready: Vec<(DateTime<Utc>, CallId)> = self
            .jobs
            .iter()
            .filter_map(|(id, j)| match j.state {
                State::Ready { since } => Some((since, id.clone())),
                _ => None,
            })
            .collect();
        ready.sort();
        for (_, call_id) in ready {
            if self.live_total >= self.config.max_concurrent_calls {
                break;
            }
            let Some(job) = self.jobs.get_mut(&call_id) else { continue };
            // The window may have closed while the job waited for a slot.
            if !job.spec.window.is_open(job.spec.timezone, now) {
                job.state = State::Waiting(now);
                continue;
            }
            let number_live = self.live_per_number.get(&job.spec.phone_number).copied().unwrap_or(0);
            if number_live >= self.config.max_concurrent_per_number {
                continue;
            }
            job.state = State::Live;
            job.spec.attempts_made += 1;
            let attempt = job.spec.attempts_made;
            *self.live_per_number.entry(job.spec.phone_number.clone()).or_insert(0) += 1;
            self.live_total += 1;
            self.events.push_back(Event::Dial { call_id, attempt });
        }
        // Jobs pushed back to Waiting(now) above become Ready again at the next window opening.
        let reopen: Vec<CallId> =
            self.jobs.iter().filter(|(_, j)| j.state == State::Waiting(now)).map(|(id, _)| id.clone()).collect();
        for call_id in reopen {
            if let Some(job) = self.jobs.get(&call_id) {
                if let Some(open) = job.spec.window.next_open(job.spec.timezone, now) {
                    if open > now {
                        self.wait(&call_id, open, WaitReason::Window, now);
                    }
                }
            }
        }
    }

    fn end_live(&mut self, call_id: &CallId) -> bool {
        let Some(job) = self.jobs.get(call_id) else { return false };
        if job.state != State::Live {
            return false;
        }
        self.live_total = self.live_total.saturating_sub(1);
        if let Some(count) = self.live_per_number.get_mut(&job.spec.phone_number) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.live_per_number.remove(&job.spec.phone_number);
            }
        }
        true
    }

    fn call_ended(&mut self, now: DateTime<Utc>, call_id: CallId, outcome: CallOutcome) {
        if !self.end_live(&call_id) {
            return;
        }
        let Some(job) = self.jobs.get_mut(&call_id) else { return };
        job.transient_errors = 0;
        if job.cancel_requested {
            self.finish(call_id, Finish::Canceled);
            return;
        }
        let retry = &self.config.retry;
        let delay = match outcome {
            CallOutcome::Completed => return self.finish(call_id, Finish::Completed),
            CallOutcome::Canceled => return self.finish(call_id, Finish::Canceled),
            CallOutcome::Busy => retry.after_busy,
            CallOutcome::NoAnswer => retry.after_no_answer,
            CallOutcome::Failed => retry.after_failed,
            CallOutcome::Machine => retry.after_machine,
            CallOutcome::CallBackAt(at) => (at - now).max(Duration::zero()),
        };
        if job.spec.attempts_made >= retry.max_attempts {
            let reason = format!("{} attempts made, last outcome {}", job.spec.attempts_made, outcome.as_str());
            return self.finish(call_id, Finish::GaveUp(reason));
        }
        let delay = match outcome {
            // The callee named the time: no jitter.
            CallOutcome::CallBackAt(_) => delay,
            _ => self.jittered(delay),
        };
        let earliest = now + delay;
        let job = &self.jobs[&call_id];
        match job.spec.window.next_open(job.spec.timezone, earliest) {
            Some(until) => self.wait(&call_id, until, WaitReason::Retry(outcome), now),
            None => self.finish(call_id, Finish::GaveUp("calling window has no open day".into())),
        }
    }

    fn dial_failed(&mut self, now: DateTime<Utc>, call_id: CallId, failure: DialFailure) {
        if !self.end_live(&call_id) {
            return;
        }
        let Some(job) = self.jobs.get_mut(&call_id) else { return };
        // Nothing was placed: the attempt does not count.
        job.spec.attempts_made = job.spec.attempts_made.saturating_sub(1);
        match failure {
            DialFailure::Permanent(reason) => {
                // It was a real attempt at Twilio, recorded as such.
                job.spec.attempts_made += 1;
                self.finish(call_id, Finish::GaveUp(reason));
            }
            DialFailure::Auth(reason) => {
                job.state = State::Waiting(now);
                if !self.halted {
                    self.halted = true;
                    self.events.push_back(Event::Halted { reason });
                }
            }
            DialFailure::NumberBusy => {
                let delay = self.jittered(self.config.retry.transient_backoff);
                self.wait(&call_id, now + delay, WaitReason::Backoff, now);
            }
            DialFailure::Transient(reason) => {
                job.transient_errors += 1;
                let errors = job.transient_errors;
                if errors > self.config.retry.max_transient_errors {
                    return self.finish(
                        call_id,
                        Finish::GaveUp(format!("{errors} transient errors in a row, last: {reason}")),
                    );
                }
                let base = self.config.retry.transient_backoff;
                let doubled = base * 2i32.saturating_pow(errors.saturating_sub(1).min(20));
                let delay = self.jittered(doubled.min(self.config.retry.transient_backoff_max));
                self.wait(&call_id, now + delay, WaitReason::Backoff, now);
            }
        }
    }

    fn jittered(&mut self, delay: Duration) -> Duration {
        let fraction = self.config.retry.jitter_fraction.max(0.0);
        if fraction == 0.0 {
            return delay;
        }
        let extra_ms = (delay.num_milliseconds() as f64 * self.rng.gen_range(0.0..=fraction)) as i64;
        delay + Duration::milliseconds(extra_ms)
    }

    fn wait(&mut self, call_id: &CallId, until: DateTime<Utc>, reason: WaitReason, now: DateTime<Utc>) {
        if let Some(job) = self.jobs.get_mut(call_id) {
            job.state = State::Waiting(until.max(now));
            self.events.push_back(Event::Waiting { call_id: call_id.clone(), until: until.max(now), reason });
        }
    }

    fn finish(&mut self, call_id: CallId, finish: Finish) {
        self.jobs.remove(&call_id);
        self.events.push_back(Event::Finished { call_id, finish });
    }
}

#[cfg(test)]
mod tests;
