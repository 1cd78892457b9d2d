//! One request's Twilio call, from "dial asked for" to "call over": a sans-I/O state machine told
//! the time.
//!
//! The runtime keeps one [`CallTracker`] per request it holds and feeds it what happens with
//! [`CallTracker::handle`]: the create request going out, Twilio's answer to it, status and async
//! AMD callbacks, a cancel, the answer to a fetch. It wakes it at [`CallTracker::poll_timeout`]
//! with [`CallTracker::handle_timeout`] and carries out what [`CallTracker::poll_event`] asks
//! (hang up, fetch the call, record progress, settle the attempt). The tracker buffers callbacks
//! that overtake Twilio's answer to the create, drops progress arriving out of order and
//! callbacks of other calls, tells an answering machine from a person, and asks Twilio directly
//! about a call whose final status callback never came.

use crate::scheduler::CallOutcome;
use crate::twilio::CallResource;
use protocol::calls::{CallEventKind, CallStatus, TwilioStatusEvent};
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// When to ask Twilio about a call whose final status callback has not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// A live call with no final status this long after it was placed is fetched from Twilio.
    pub stuck_after: Duration,
    /// After a fetch that did not settle the call, the next one no sooner than this.
    pub refetch_after: Duration,
}

/// What Twilio says about a call: a status or AMD callback, or the fetched call resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusReport {
    pub call_sid: String,
    /// Twilio's `CallStatus` (`ringing`, `completed` ...); absent on an async AMD callback.
    pub call_status: Option<String>,
    /// `human`, `machine_start`, `fax` ... when answering-machine detection ran.
    pub answered_by: Option<String>,
    /// Twilio's `SequenceNumber` of a callback: orders progress callbacks.
    pub sequence_number: Option<u32>,
}

impl From<&TwilioStatusEvent> for StatusReport {
    fn from(event: &TwilioStatusEvent) -> Self {
        StatusReport {
            call_sid: event.call_sid.to_string(),
            call_status: event.call_status.clone(),
            answered_by: event.answered_by.clone(),
            sequence_number: event.sequence_number,
        }
    }
}

/// What the runtime tells the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The call record is claimed for attempt `attempt` and the create request is on its way.
    Dialing { attempt: u32 },
    /// A call another dialer placed and let go of: follow it (it is fetched at once).
    Adopted { attempt: u32, call_sid: String },
    /// Twilio accepted the create.
    Created { call_sid: String },
    /// Twilio refused the create, or never answered: nothing is live.
    CreateFailed,
    /// A status or async AMD callback.
    Status(StatusReport),
    /// The answer to an [`Event::Fetch`].
    Fetched(CallResource),
    /// An [`Event::Fetch`] got no usable answer.
    FetchFailed,
    /// Cancel: hang the call up, now or as soon as Twilio answers the create.
    HangUp,
}

/// What the tracker asks the runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// End the call at Twilio.
    HangUp { call_sid: String },
    /// Ask Twilio how the call stands; answer with [`Input::Fetched`] or [`Input::FetchFailed`].
    Fetch { call_sid: String },
    /// The call moved forward: record `status`, publish `event_kind`.
    Progress { status: CallStatus, event_kind: CallEventKind },
    /// The call is over: settle attempt `attempt` with `outcome` (before refining a `completed`
    /// with the conversation's result), give the number and the slot back.
    Ended { attempt: u32, outcome: CallOutcome },
}

/// True when Twilio's `AnsweredBy` says no person answered.
pub fn is_machine(answered_by: Option<&str>) -> bool {
    answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax")
}

/// The Twilio call of one request held by this dialer.
#[derive(Debug)]
pub struct CallTracker {
    config: TrackerConfig,
    /// The attempt the live call belongs to.
    attempt: u32,
    /// Dial asked for and the call not over.
    live: bool,
    /// The live call's sid, once Twilio answered the create.
    call_sid: Option<String>,
    /// Sids of this request's calls that are over: their late callbacks are dropped.
    ended_sids: HashSet<String>,
    /// Callbacks that arrived before Twilio's answer to the create.
    early_reports: Vec<StatusReport>,
    last_sequence: Option<u32>,
    answered_by: Option<String>,
    hangup_requested: bool,
    live_since: Instant,
    fetch_pending: bool,
    /// No fetch before this (after one that did not settle the call).
    next_fetch_not_before: Option<Instant>,
    events: VecDeque<Event>,
}

impl CallTracker {
    /// A tracker with nothing live yet; `attempts_made` is the attempt count on the call record.
    pub fn new(config: TrackerConfig, now: Instant, attempts_made: u32) -> Self {
        Self {
            config,
            attempt: attempts_made,
            live: false,
            call_sid: None,
            ended_sids: HashSet::new(),
            early_reports: Vec::new(),
            last_sequence: None,
            answered_by: None,
            hangup_requested: false,
            live_since: now,
            fetch_pending: false,
            next_fetch_not_before: None,
            events: VecDeque::new(),
        }
    }

    /// True from [`Input::Dialing`] (or [`Input::Adopted`]) until the call is over or was never
    /// placed.
    pub fn is_live(&self) -> bool {
        self.live
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Dialing { attempt } => {
                self.attempt = attempt;
                self.live = true;
                self.call_sid = None;
                self.last_sequence = None;
                self.answered_by = None;
                self.live_since = now;
                self.fetch_pending = false;
                self.next_fetch_not_before = None;
            }
            Input::Adopted { attempt, call_sid } => {
                self.attempt = attempt;
                self.live = true;
                self.live_since = now;
                self.call_sid = Some(call_sid.clone());
                self.fetch_pending = true;
                self.events.push_back(Event::Fetch { call_sid });
            }
            Input::Created { call_sid } => {
                self.call_sid = Some(call_sid.clone());
                if self.hangup_requested {
                    self.events.push_back(Event::HangUp { call_sid });
                }
                for report in std::mem::take(&mut self.early_reports) {
                    self.status(report);
                }
            }
            Input::CreateFailed => self.live = false,
            Input::Status(report) => self.status(report),
            Input::Fetched(resource) => {
                self.fetched(now);
                if resource.is_over() && self.call_sid.as_deref() == Some(resource.sid.as_str()) {
                    self.status(StatusReport {
                        call_sid: resource.sid,
                        call_status: resource.status,
                        answered_by: resource.answered_by,
                        sequence_number: None,
                    });
                }
            }
            Input::FetchFailed => self.fetched(now),
            Input::HangUp => {
                self.hangup_requested = true;
                // Without a sid yet, the hang-up goes out once Twilio answers the create.
                if let Some(call_sid) = self.call_sid.clone() {
                    self.events.push_back(Event::HangUp { call_sid });
                }
            }
        }
    }

    /// Fetches a call whose final status is overdue. Call it at [`Self::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(due) = self.poll_timeout() else { return };
        if due > now {
            return;
        }
        if let Some(call_sid) = self.call_sid.clone() {
            self.fetch_pending = true;
            self.events.push_back(Event::Fetch { call_sid });
        }
    }

    /// The next thing for the runtime to do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called: when a live, placed call's final
    /// status is overdue and no fetch is under way.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.live || self.fetch_pending || self.call_sid.is_none() {
            return None;
        }
        let due = self.live_since + self.config.stuck_after;
        Some(self.next_fetch_not_before.map_or(due, |not_before| due.max(not_before)))
    }

    fn fetched(&mut self, now: Instant) {
        self.fetch_pending = false;
        self.next_fetch_not_before = Some(now + self.config.refetch_after);
    }

    fn status(&mut self, report: StatusReport) {
        if self.ended_sids.contains(&report.call_sid) || !self.live {
            return;
        }
        match &self.call_sid {
            None => {
                self.early_reports.push(report);
                return;
            }
            Some(current) if *current != report.call_sid => return,
            Some(_) => {}
        }
        if report.answered_by.is_some() {
            self.answered_by = report.answered_by;
        }
        let Some(call_status) = report.call_status.as_deref() else { return };
        let terminal = matches!(call_status, "completed" | "busy" | "no-answer" | "failed" | "canceled");
        if !terminal {
            // Progress callbacks may arrive out of order: only move forward.
            if let (Some(sequence), Some(last)) = (report.sequence_number, self.last_sequence) {
                if sequence <= last {
                    return;
                }
            }
            self.last_sequence = report.sequence_number.or(self.last_sequence);
            let (status, event_kind) = match call_status {
                "ringing" => (CallStatus::Ringing, CallEventKind::Ringing),
                "in-progress" => (CallStatus::InProgress, CallEventKind::InProgress),
                _ => return,
            };
            self.events.push_back(Event::Progress { status, event_kind });
            return;
        }
        self.ended_sids.insert(report.call_sid);
        self.live = false;
        let outcome = match call_status {
            _ if self.hangup_requested => CallOutcome::Canceled,
            "completed" if is_machine(self.answered_by.as_deref()) => CallOutcome::Machine,
            "completed" => CallOutcome::Completed,
            "busy" => CallOutcome::Busy,
            "no-answer" => CallOutcome::NoAnswer,
            _ => CallOutcome::Failed,
        };
        self.events.push_back(Event::Ended { attempt: self.attempt, outcome });
    }
}

#[cfg(test)]
mod tests;
