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
use std::collections::{HashMap, VecDeque};

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
    /// The runtime handed the job back to the queue; forget it.
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
            halted: false,
            events: VecDeque::new(),
        }
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
        !self.halted && self.live_total + not_live < self.config.max_concurrent_calls
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn handle(&mut self, now: DateTime<Utc>, input: Input) {
        match input {
            Input::Submit(spec) => {
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
            .min()
    }

    fn fill_slots(&mut self, now: DateTime<Utc>) {
        if self.halted {
            return;
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
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn always_open() -> CallingWindow {
        CallingWindow::daily(NaiveTime::from_hms_opt(0, 0, 0).unwrap(), NaiveTime::from_hms_opt(23, 59, 0).unwrap())
    }

    fn job(id: &str, number: &str, timezone: Tz, window: CallingWindow) -> DialJob {
        DialJob {
            call_id: CallId::from(id),
            phone_number: number.to_owned(),
            timezone,
            window,
            not_before: None,
            attempts_made: 0,
        }
    }

    fn drain(scheduler: &mut Scheduler) -> Vec<Event> {
        std::iter::from_fn(|| scheduler.poll_event()).collect()
    }

    fn no_jitter() -> SchedulerConfig {
        SchedulerConfig {
            retry: RetryPolicy { jitter_fraction: 0.0, ..RetryPolicy::default() },
            ..SchedulerConfig::default()
        }
    }

    #[test]
    fn dials_only_inside_the_callees_window_in_several_timezones() {
        let mut scheduler = Scheduler::new(no_jitter());
        let window = CallingWindow::parse("Mon-Fri 09:00-17:00").unwrap();
        // Monday 2026-06-01 14:00 UTC: 10:00 in New York (open), 07:00 in Los Angeles (closed),
        // 23:00 in Tokyo (closed), 15:00 in London (open).
        let now = utc("2026-06-01T14:00:00Z");
        scheduler.handle(now, Input::Submit(job("ny", "+12125550100", chrono_tz::America::New_York, window)));
        scheduler.handle(now, Input::Submit(job("la", "+13105550100", chrono_tz::America::Los_Angeles, window)));
        scheduler.handle(now, Input::Submit(job("tokyo", "+81355550100", chrono_tz::Asia::Tokyo, window)));
        scheduler.handle(now, Input::Submit(job("london", "+442075550100", chrono_tz::Europe::London, window)));
        let events = drain(&mut scheduler);
        assert!(events.contains(&Event::Dial { call_id: "ny".into(), attempt: 1 }));
        assert!(events.contains(&Event::Dial { call_id: "london".into(), attempt: 1 }));
        assert!(events.contains(&Event::Waiting {
            call_id: "la".into(),
            until: utc("2026-06-01T16:00:00Z"),
            reason: WaitReason::Window
        }));
        assert!(events.contains(&Event::Waiting {
            call_id: "tokyo".into(),
            until: utc("2026-06-02T00:00:00Z"),
            reason: WaitReason::Window
        }));
        assert_eq!(scheduler.poll_timeout(), Some(utc("2026-06-01T16:00:00Z")));
        // Nothing happens before the window opens ...
        scheduler.handle_timeout(utc("2026-06-01T15:59:00Z"));
        assert!(drain(&mut scheduler).is_empty());
        // ... and Los Angeles is dialed when it does.
        scheduler.handle_timeout(utc("2026-06-01T16:00:00Z"));
        assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "la".into(), attempt: 1 }]);
        scheduler.handle_timeout(utc("2026-06-02T00:00:00Z"));
        assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "tokyo".into(), attempt: 1 }]);
    }

    #[test]
    fn a_retry_across_the_spring_forward_lands_on_local_opening_time() {
        let mut scheduler = Scheduler::new(no_jitter());
        let window =
            CallingWindow::daily(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        // Saturday 2026-03-07 16:55 EST = 21:55 UTC; New York springs forward on Sunday 03-08.
        let now = utc("2026-03-07T21:55:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::America::New_York, window)));
        assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 1 }]);
        // Busy: retry in 10 min = 17:05 local, after closing -> Sunday 09:00 EDT = 13:00 UTC.
        scheduler.handle(
            utc("2026-03-07T21:56:00Z"),
            Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Busy },
        );
        assert_eq!(
            drain(&mut scheduler),
            vec![Event::Waiting {
                call_id: "gym".into(),
                until: utc("2026-03-08T13:00:00Z"),
                reason: WaitReason::Retry(CallOutcome::Busy)
            }]
        );
        scheduler.handle_timeout(utc("2026-03-08T12:59:59Z"));
        assert!(drain(&mut scheduler).is_empty(), "08:59:59 EDT is still closed");
        scheduler.handle_timeout(utc("2026-03-08T13:00:00Z"));
        assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 2 }]);
    }

    #[test]
    fn a_retry_across_the_fall_back_lands_on_local_opening_time() {
        let mut scheduler = Scheduler::new(no_jitter());
        let window =
            CallingWindow::daily(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        // Saturday 2026-10-24 16:50 BST = 15:50 UTC; London falls back on Sunday 10-25.
        let now = utc("2026-10-24T15:50:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+442075550100", chrono_tz::Europe::London, window)));
        drain(&mut scheduler);
        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::NoAnswer });
        // Sunday 09:00 GMT = 09:00 UTC (it was 08:00 UTC the day before).
        assert_eq!(scheduler.poll_timeout(), Some(utc("2026-10-25T09:00:00Z")));
    }

    #[test]
    fn retries_by_outcome_until_max_attempts() {
        let config = no_jitter();
        let retry = config.retry.clone();
        let mut scheduler = Scheduler::new(config);
        let mut now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
        assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 1 }]);

        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Busy });
        assert_eq!(scheduler.poll_timeout(), Some(now + retry.after_busy));
        now += retry.after_busy;
        scheduler.handle_timeout(now);
        assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 2 }));

        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::NoAnswer });
        assert_eq!(scheduler.poll_timeout(), Some(now + retry.after_no_answer));
        now += retry.after_no_answer;
        scheduler.handle_timeout(now);
        assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 3 }));

        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Machine });
        let events = drain(&mut scheduler);
        assert!(
            matches!(&events[..], [Event::Finished { finish: Finish::GaveUp(reason), .. }] if reason.contains("3 attempts") && reason.contains("machine")),
            "{events:?}"
        );
        assert_eq!(scheduler.held_jobs(), 0);
    }

    #[test]
    fn each_outcome_has_its_own_delay_and_completed_finishes() {
        let config = no_jitter();
        let retry = config.retry.clone();
        for (outcome, delay) in [
            (CallOutcome::Busy, retry.after_busy),
            (CallOutcome::NoAnswer, retry.after_no_answer),
            (CallOutcome::Failed, retry.after_failed),
            (CallOutcome::Machine, retry.after_machine),
        ] {
            let mut scheduler = Scheduler::new(config.clone());
            let now = utc("2026-06-01T12:00:00Z");
            scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
            scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome });
            assert_eq!(
                drain(&mut scheduler).last(),
                Some(&Event::Waiting { call_id: "gym".into(), until: now + delay, reason: WaitReason::Retry(outcome) })
            );
        }
        let mut scheduler = Scheduler::new(config);
        let now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Completed });
        assert_eq!(
            drain(&mut scheduler).last(),
            Some(&Event::Finished { call_id: "gym".into(), finish: Finish::Completed })
        );
    }

    #[test]
    fn call_back_after_six_is_retried_at_six_local() {
        let mut scheduler = Scheduler::new(SchedulerConfig::default());
        let chicago = chrono_tz::America::Chicago;
        let now = utc("2026-07-01T19:00:00Z"); // 14:00 CDT
        scheduler.handle(now, Input::Submit(job("gym", "+13125550100", chicago, CallingWindow::front_desk())));
        drain(&mut scheduler);
        let six = crate::window::next_local_time(chicago, now, NaiveTime::from_hms_opt(18, 0, 0).unwrap()).unwrap();
        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::CallBackAt(six) });
        assert_eq!(scheduler.poll_timeout(), Some(utc("2026-07-01T23:00:00Z")));
    }

    #[test]
    fn jitter_is_bounded_and_deterministic_for_a_seed() {
        let run = |seed: u64| {
            let mut scheduler = Scheduler::new(SchedulerConfig { seed, ..SchedulerConfig::default() });
            let now = utc("2026-06-01T12:00:00Z");
            let mut times = Vec::new();
            for i in 0..20 {
                let id = format!("gym{i}");
                scheduler
                    .handle(now, Input::Submit(job(&id, &format!("+1212555{i:04}"), chrono_tz::UTC, always_open())));
                scheduler.handle(now, Input::CallEnded { call_id: id.as_str().into(), outcome: CallOutcome::Busy });
            }
            for event in drain(&mut scheduler) {
                if let Event::Waiting { until, .. } = event {
                    times.push(until);
                }
            }
            times
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        let now = utc("2026-06-01T12:00:00Z");
        let base = RetryPolicy::default().after_busy;
        assert!(first.iter().all(|t| *t >= now + base && *t <= now + base + base / 5));
        assert!(first.iter().any(|t| *t > now + base), "some jitter applied");
    }

    #[test]
    fn caps_are_never_exceeded() {
        let config = SchedulerConfig {
            max_concurrent_calls: 4,
            max_concurrent_per_number: 1,
            seed: 3,
            ..SchedulerConfig::default()
        };
        let mut scheduler = Scheduler::new(config);
        let mut rng = StdRng::seed_from_u64(99);
        let mut now = utc("2026-06-01T12:00:00Z");
        let mut live: HashMap<CallId, String> = HashMap::new();
        let numbers = ["+12125550001", "+12125550002", "+12125550003"];
        let mut max_seen = 0;
        let mut dials = 0;
        for i in 0..60 {
            let number = numbers[i % numbers.len()];
            scheduler.handle(now, Input::Submit(job(&format!("c{i}"), number, chrono_tz::UTC, always_open())));
        }
        // Also many distinct numbers so the global cap binds.
        for i in 0..30 {
            scheduler.handle(
                now,
                Input::Submit(job(&format!("d{i}"), &format!("+1312555{i:04}"), chrono_tz::UTC, always_open())),
            );
        }
        for _ in 0..2000 {
            while let Some(event) = scheduler.poll_event() {
                if let Event::Dial { call_id, .. } = event {
                    let number = scheduler.jobs[&call_id].spec.phone_number.clone();
                    assert!(!live.values().any(|n| *n == number), "two live calls to {number}");
                    live.insert(call_id, number);
                    dials += 1;
                }
            }
            assert!(live.len() <= 4, "{} live calls", live.len());
            assert_eq!(scheduler.live_calls(), live.len());
            max_seen = max_seen.max(live.len());
            // End a random live call with a random outcome, or advance time.
            if !live.is_empty() && rng.gen_bool(0.7) {
                let mut ids: Vec<_> = live.keys().cloned().collect();
                ids.sort();
                let id = ids[rng.gen_range(0..ids.len())].clone();
                live.remove(&id);
                let outcome = [CallOutcome::Completed, CallOutcome::Busy, CallOutcome::NoAnswer][rng.gen_range(0..3)];
                scheduler.handle(now, Input::CallEnded { call_id: id, outcome });
            } else if let Some(next) = scheduler.poll_timeout() {
                now = next.max(now);
                scheduler.handle_timeout(now);
            }
        }
        assert_eq!(max_seen, 4, "the cap was reached");
        assert!(dials >= 90, "every request dialed at least once ({dials})");
    }

    #[test]
    fn twilio_failures_give_up_back_off_or_halt() {
        let mut scheduler = Scheduler::new(no_jitter());
        let now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("bad", "+10000000000", chrono_tz::UTC, always_open())));
        scheduler.handle(
            now,
            Input::DialFailed { call_id: "bad".into(), failure: DialFailure::Permanent("error 21211".into()) },
        );
        assert_eq!(
            drain(&mut scheduler).last(),
            Some(&Event::Finished { call_id: "bad".into(), finish: Finish::GaveUp("error 21211".into()) })
        );

        scheduler.handle(now, Input::Submit(job("slow", "+12125550100", chrono_tz::UTC, always_open())));
        scheduler
            .handle(now, Input::DialFailed { call_id: "slow".into(), failure: DialFailure::Transient("20429".into()) });
        assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(5)));
        scheduler.handle_timeout(now + Duration::seconds(5));
        // The failed dial did not count as an attempt.
        assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "slow".into(), attempt: 1 }));
        scheduler
            .handle(now, Input::DialFailed { call_id: "slow".into(), failure: DialFailure::Transient("500".into()) });
        assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(10)), "back-off doubles");

        scheduler.handle(now, Input::Submit(job("auth", "+12125550101", chrono_tz::UTC, always_open())));
        drain(&mut scheduler);
        scheduler.handle(now, Input::DialFailed { call_id: "auth".into(), failure: DialFailure::Auth("20003".into()) });
        assert!(drain(&mut scheduler).contains(&Event::Halted { reason: "20003".into() }));
        scheduler.handle_timeout(now + Duration::hours(1));
        assert!(drain(&mut scheduler).iter().all(|e| !matches!(e, Event::Dial { .. })), "no dial after halt");
        assert!(!scheduler.wants_more_jobs());
    }

    #[test]
    fn a_number_busy_elsewhere_waits_without_counting_or_giving_up() {
        let mut scheduler = Scheduler::new(no_jitter());
        let mut now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
        for _ in 0..20 {
            assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 1 }));
            scheduler.handle(now, Input::DialFailed { call_id: "gym".into(), failure: DialFailure::NumberBusy });
            assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(5)), "a fixed short wait");
            now += Duration::seconds(5);
            scheduler.handle_timeout(now);
        }
    }

    #[test]
    fn cancel_hangs_up_a_live_call_and_drops_a_waiting_one() {
        let mut scheduler = Scheduler::new(no_jitter());
        let now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("live", "+12125550100", chrono_tz::UTC, always_open())));
        let later = DialJob {
            not_before: Some(now + Duration::hours(1)),
            ..job("later", "+12125550101", chrono_tz::UTC, always_open())
        };
        scheduler.handle(now, Input::Submit(later));
        drain(&mut scheduler);
        scheduler.handle(now, Input::Cancel { call_id: "live".into() });
        scheduler.handle(now, Input::Cancel { call_id: "later".into() });
        assert_eq!(
            drain(&mut scheduler),
            vec![
                Event::Hangup { call_id: "live".into() },
                Event::Finished { call_id: "later".into(), finish: Finish::Canceled }
            ]
        );
        scheduler.handle(now, Input::CallEnded { call_id: "live".into(), outcome: CallOutcome::Completed });
        assert_eq!(drain(&mut scheduler), vec![Event::Finished { call_id: "live".into(), finish: Finish::Canceled }]);
    }
}
