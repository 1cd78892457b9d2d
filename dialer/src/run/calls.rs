//! Placing and following calls for the run loop: the number lease and the claim on the call
//! record before each Twilio create, Twilio's answers, status callbacks, and what each request's
//! [`CallTracker`](crate::tracker::CallTracker) asks in return (hang up, fetch, record progress,
//! settle the attempt).

use super::{Dialer, TwilioOp};
use crate::records::now_rfc3339;
use crate::scheduler::{CallOutcome, DialFailure, Input};
use crate::tracker::{self, StatusReport};
use crate::twilio::{CallResource, NewCall, TwilioError, TwilioErrorKind};
use bus::Message;
use chrono::Utc;
use chrono_tz::Tz;
use protocol::calls::CallEventKind;
use protocol::calls::{Attempt, CallStatus, TwilioStatusEvent};
use protocol::version::decode_json;
use protocol::CallId;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tracing::{debug, error, info, warn};

impl Dialer {
    pub(super) async fn dial(&mut self, call_id: CallId, attempt: u32) {
        let phone_number = self.held.get(&call_id).map(|h| h.phone_number.clone()).unwrap_or_default();
        match self.leases.take(&phone_number, &call_id).await {
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
                self.leases.release(&phone_number, &call_id).await;
                self.scheduler.handle(Utc::now(), Input::CallEnded { call_id, outcome: CallOutcome::Canceled });
                return;
            }
            Err(error) => {
                self.leases.release(&phone_number, &call_id).await;
                warn!(call_id = %call_id, %error, "cannot claim the call record");
                let failure = DialFailure::Transient(error.to_string());
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure });
                return;
            }
        };
        let Some(held) = self.held.get_mut(&call_id) else { return };
        held.call.handle(Instant::now(), tracker::Input::Dialing { attempt });
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
        self.publish_event(&call_id, CallEventKind::Dialing, format!("attempt {attempt}")).await;
        let twilio = self.twilio.clone();
        let sender = self.op_sender.clone();
        tokio::spawn(async move {
            let result = twilio.create_call(&call).await;
            let _ = sender.send(TwilioOp::Created { call_id, attempt, result });
        });
    }

    /// Cancel of a live call: hung up now, or once Twilio answers the create.
    pub(super) async fn hang_up(&mut self, call_id: CallId) {
        self.tell_call(&call_id, tracker::Input::HangUp).await;
    }

    /// Feeds `input` to the tracker of `call_id` (if held) and carries out what it asks.
    async fn tell_call(&mut self, call_id: &CallId, input: tracker::Input) {
        let Some(held) = self.held.get_mut(call_id) else { return };
        held.call.handle(Instant::now(), input);
        self.drive_call(call_id).await;
    }

    /// Wakes the trackers whose timeout is due (calls whose final status is overdue).
    pub(super) async fn call_timeouts(&mut self) {
        let now = Instant::now();
        let due: Vec<CallId> = self
            .held
            .iter()
            .filter(|(_, held)| held.call.poll_timeout().is_some_and(|at| at <= now))
            .map(|(call_id, _)| call_id.clone())
            .collect();
        for call_id in due {
            if let Some(held) = self.held.get_mut(&call_id) {
                held.call.handle_timeout(now);
            }
            self.drive_call(&call_id).await;
        }
    }

    /// Carries out what the tracker of `call_id` asks.
    pub(super) async fn drive_call(&mut self, call_id: &CallId) {
        while let Some(event) = self.held.get_mut(call_id).and_then(|held| held.call.poll_event()) {
            match event {
                tracker::Event::HangUp { call_sid } => self.spawn_hangup(call_id.clone(), call_sid),
                tracker::Event::Fetch { call_sid } => self.spawn_fetch(call_id.clone(), call_sid),
                tracker::Event::Progress { status, event_kind } => {
                    let _ = self
                        .records
                        .update(call_id, |record| {
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
                    self.publish_event(call_id, event_kind, String::new()).await;
                }
                tracker::Event::Ended { attempt, outcome } => self.call_ended(call_id.clone(), attempt, outcome).await,
            }
        }
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

    pub(super) async fn on_twilio(&mut self, op: TwilioOp) {
        match op {
            TwilioOp::Created { call_id, attempt, result } => self.created(call_id, attempt, result).await,
            TwilioOp::Fetched { call_id, result } => {
                let input = match result {
                    Ok(resource) => tracker::Input::Fetched(resource),
                    Err(error) => {
                        if self.held.contains_key(&call_id) {
                            warn!(call_id = %call_id, %error, "fetching the call from twilio failed");
                        }
                        tracker::Input::FetchFailed
                    }
                };
                self.tell_call(&call_id, input).await;
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
                self.tell_call(&call_id, tracker::Input::Created { call_sid: sid }).await;
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
                let phone_number = match self.held.get_mut(&call_id) {
                    Some(held) => {
                        held.call.handle(Instant::now(), tracker::Input::CreateFailed);
                        held.phone_number.clone()
                    }
                    None => String::new(),
                };
                self.leases.release(&phone_number, &call_id).await;
                self.scheduler.handle(Utc::now(), Input::DialFailed { call_id, failure });
            }
        }
    }

    pub(super) async fn on_status_message(&mut self, message: Message) {
        match decode_json::<TwilioStatusEvent>(&message.payload) {
            Ok(event) => {
                // the async AMD callback (no call status) carries the verdict; a status callback
                // may repeat it, and the brain needs it once
                if let (Some(answered_by), None) = (&event.answered_by, &event.call_status) {
                    self.tell_brain_amd(&event.call_id, answered_by).await;
                }
                self.tell_call(&event.call_id, tracker::Input::Status(StatusReport::from(&event))).await
            }
            Err(error) => {
                self.stats.bad_messages.fetch_add(1, Ordering::Relaxed);
                warn!(%error, subject = %message.subject, "dropping malformed twilio status event");
            }
        }
    }

    /// Twilio's answering-machine verdict goes to the call's brain on `brain.heard.<callId>` (a
    /// machine gets the voicemail message). Twilio sends it a few seconds after the answer, when
    /// the stream has started and a brain holds the call; one sent before that reaches no one,
    /// and the dialer's own verdict (a `completed` machine call is a voicemail) still stands.
    async fn tell_brain_amd(&self, call_id: &CallId, answered_by: &str) {
        let Ok(subject) = protocol::subjects::brain_heard(call_id) else { return };
        let heard = protocol::brain::Heard {
            v: protocol::BUS_VERSION,
            call_id: call_id.clone(),
            at_ms: 0,
            event: protocol::brain::HeardEvent::Amd { answered_by: answered_by.to_owned() },
        };
        match self.bus.publish(subject, protocol::version::encode_json(&heard)).await {
            Ok(()) => info!(call_id = %call_id, answered_by, "answering-machine verdict told to the brain"),
            Err(error) => warn!(call_id = %call_id, %error, "could not tell the brain the answering-machine verdict"),
        }
    }

    /// The call of attempt `attempt` is over: give the number back, tell a voicemail or a "call
    /// back later" from a completed conversation, settle the attempt and tell the scheduler.
    async fn call_ended(&mut self, call_id: CallId, attempt: u32, outcome: CallOutcome) {
        let phone_number = self.held.get(&call_id).map(|h| h.phone_number.clone()).unwrap_or_default();
        self.leases.release(&phone_number, &call_id).await;
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
        let _ = self.records.end_attempt(&call_id, attempt, outcome.as_str()).await;
        self.scheduler.handle(Utc::now(), Input::CallEnded { call_id, outcome });
    }
}
