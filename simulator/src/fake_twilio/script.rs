//! Scripted callees: how a created call progresses, and the signed callbacks it sends.

use super::{AnsweredCall, Shared};
use protocol::twilio::signature::compute_signature;
use std::sync::Arc;
use std::time::Instant;

/// What happens when a number is dialed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A person answers; the call completes (after the media hook, if any).
    Answer,
    /// Busy signal.
    Busy,
    /// Rings until the timeout.
    NoAnswer,
    /// The call cannot be completed.
    Failed,
    /// An answering machine picks up (`AnsweredBy=machine_end_beep`).
    Machine,
    /// `Calls.json` is refused with this Twilio error code (21211, 20003, 20429 ...).
    Error(u32),
    /// `Calls.json` answers HTTP 500.
    ServerError,
}

/// HTTP status Twilio answers with for an error code.
pub(crate) fn http_status_for(code: u32) -> u16 {
    match code {
        20003 => 401,
        20404 => 404,
        20429 => 429,
        20500 => 500,
        _ => 400,
    }
}

/// Twilio's error body.
pub(crate) fn error_body(code: u32, message: &str) -> serde_json::Value {
    serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": http_status_for(code),
    })
}

pub(crate) fn error_message(code: u32) -> &'static str {
    match code {
        20003 => "Authenticate",
        20429 => "Too Many Requests",
        20500 => "An internal server error has occurred",
        21211 => "The 'To' number is not a valid phone number.",
        21201 => "No 'To' number is specified",
        21603 => "A 'From' phone number is required.",
        21205 => "Url parameter is required.",
        _ => "Request refused",
    }
}

struct Progress {
    shared: Arc<Shared>,
    call_sid: String,
    sequence: u32,
    started: Instant,
    hangup: Arc<tokio::sync::Notify>,
}

impl Progress {
    fn hung_up(&self) -> bool {
        self.shared.lock().by_sid.get(&self.call_sid).is_some_and(|c| c.hangup_requested)
    }

    fn set_status(&self, status: &str, answered_by: Option<&str>) {
        if let Some(call) = self.shared.lock().by_sid.get_mut(&self.call_sid) {
            call.status = status.to_owned();
            if let Some(answered_by) = answered_by {
                call.answered_by = Some(answered_by.to_owned());
            }
        }
    }

    /// Waits `step_delay`; returns false when the call was hung up meanwhile.
    async fn step(&self) -> bool {
        if self.hung_up() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.shared.config.step_delay) => !self.hung_up(),
            _ = self.hangup.notified() => false,
        }
    }

    fn base_params(&self, call_status: &str) -> Vec<(String, String)> {
        let record = self.shared.lock();
        let Some(call) = record.by_sid.get(&self.call_sid) else { return Vec::new() };
        let mut params = vec![
            ("AccountSid".to_owned(), self.shared.config.account_sid.clone()),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ("CallSid".to_owned(), self.call_sid.clone()),
            ("CallStatus".to_owned(), call_status.to_owned()),
            ("Called".to_owned(), call.created.to.clone()),
            ("Caller".to_owned(), call.created.from.clone()),
            ("Direction".to_owned(), "outbound-api".to_owned()),
            ("From".to_owned(), call.created.from.clone()),
            ("To".to_owned(), call.created.to.clone()),
        ];
        if let Some(answered_by) = &call.answered_by {
            params.push(("AnsweredBy".to_owned(), answered_by.clone()));
        }
        params
    }

    /// Sends one status callback (if the call asked for that event) with the next sequence number.
    async fn status_callback(&mut self, event: &str, call_status: &str, terminal: bool) {
        let (url, subscribed) = {
            let record = self.shared.lock();
            let Some(call) = record.by_sid.get(&self.call_sid) else { return };
            let events: Vec<&str> = call
                .created
                .params
                .iter()
                .filter(|(k, _)| k == "StatusCallbackEvent")
                .flat_map(|(_, v)| v.split([' ', ',']))
                .filter(|v| !v.is_empty())
                .collect();
            // Without a subscription only `completed` is sent.
            let subscribed = if events.is_empty() { event == "completed" } else { events.contains(&event) };
            (call.created.status_callback.clone(), subscribed)
        };
        let Some(url) = url else { return };
        if !subscribed {
            return;
        }
        let mut params = self.base_params(call_status);
        params.push(("CallbackSource".to_owned(), "call-progress-events".to_owned()));
        params.push(("SequenceNumber".to_owned(), self.sequence.to_string()));
        params.push(("Timestamp".to_owned(), chrono::Utc::now().to_rfc2822()));
        if terminal {
            let seconds = if call_status == "completed" { self.started.elapsed().as_secs().max(1) } else { 0 };
            params.push(("CallDuration".to_owned(), seconds.to_string()));
            let sip = match call_status {
                "completed" => 200,
                "busy" => 486,
                "no-answer" | "canceled" => 487,
                _ => 404,
            };
            params.push(("SipResponseCode".to_owned(), sip.to_string()));
        }
        self.sequence += 1;
        post_signed(&self.shared, &url, params).await;
    }
}

/// POSTs a form signed with `X-Twilio-Signature`; returns the response body when it was 2xx.
pub(crate) async fn post_signed(shared: &Shared, url: &str, params: Vec<(String, String)>) -> Option<String> {
    let signature = compute_signature(&shared.config.auth_token, url, &params);
    let result = shared
        .http
        .post(url)
        .header("X-Twilio-Signature", signature)
        .header("User-Agent", "TwilioProxy/1.1")
        .form(&params)
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => response.text().await.ok(),
        Ok(response) => {
            tracing::debug!(status = %response.status(), url, "fake twilio callback refused");
            shared.lock().callback_failures += 1;
            None
        }
        Err(error) => {
            tracing::debug!(%error, url, "fake twilio callback failed");
            shared.lock().callback_failures += 1;
            None
        }
    }
}

/// Plays one created call to its end.
pub(crate) async fn run_call(shared: Arc<Shared>, call_sid: String, outcome: Outcome) {
    let hangup = match shared.lock().by_sid.get(&call_sid) {
        Some(call) => call.hangup.clone(),
        None => return,
    };
    let mut progress =
        Progress { shared: shared.clone(), call_sid: call_sid.clone(), sequence: 0, started: Instant::now(), hangup };
    progress.set_status("queued", None);
    progress.status_callback("initiated", "initiated", false).await;
    if !progress.step().await {
        return finish(&mut progress, "canceled").await;
    }
    match outcome {
        Outcome::Busy => return finish(&mut progress, "busy").await,
        Outcome::Failed => return finish(&mut progress, "failed").await,
        _ => {}
    }
    progress.set_status("ringing", None);
    progress.status_callback("ringing", "ringing", false).await;
    if !progress.step().await {
        return finish(&mut progress, "canceled").await;
    }
    if outcome == Outcome::NoAnswer {
        return finish(&mut progress, "no-answer").await;
    }
    // Answered.
    let machine = outcome == Outcome::Machine;
    let (amd, async_amd_callback) = {
        let record = shared.lock();
        let params = record.by_sid.get(&call_sid).map(|c| c.created.params.clone()).unwrap_or_default();
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let amd = get("MachineDetection").is_some();
        let async_amd = get("AsyncAmd").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        (amd, if async_amd { get("AsyncAmdStatusCallback") } else { None })
    };
    let answered_by = if machine { "machine_end_beep" } else { "human" };
    let sync_answered_by = (amd && async_amd_callback.is_none()).then_some(answered_by);
    progress.set_status("in-progress", sync_answered_by);
    // The voice webhook (TwiML request).
    let voice_url = shared.lock().by_sid.get(&call_sid).map(|c| c.created.url.clone()).unwrap_or_default();
    let twiml = post_signed(&shared, &voice_url, progress.base_params("in-progress")).await.unwrap_or_default();
    progress.status_callback("answered", "in-progress", false).await;
    if let Some(url) = async_amd_callback {
        let params = vec![
            ("AccountSid".to_owned(), shared.config.account_sid.clone()),
            ("AnsweredBy".to_owned(), answered_by.to_owned()),
            ("CallSid".to_owned(), call_sid.clone()),
            ("MachineDetectionDuration".to_owned(), "2400".to_owned()),
        ];
        progress.set_status("in-progress", Some(answered_by));
        post_signed(&shared, &url, params).await;
    }
    let hook = shared.lock().media_hook.clone();
    let conversation = async {
        match hook {
            Some(hook) if !machine => {
                let (account_sid, to, from) = {
                    let record = shared.lock();
                    let call = record.by_sid.get(&call_sid);
                    (
                        shared.config.account_sid.clone(),
                        call.map(|c| c.created.to.clone()).unwrap_or_default(),
                        call.map(|c| c.created.from.clone()).unwrap_or_default(),
                    )
                };
                hook(AnsweredCall { call_sid: call_sid.clone(), account_sid, to, from, twiml }).await
            }
            _ => tokio::time::sleep(shared.config.answered_call_duration).await,
        }
    };
    if !progress.hung_up() {
        tokio::select! {
            _ = conversation => {}
            _ = progress.hangup.notified() => {}
        }
    }
    finish(&mut progress, "completed").await;
}

async fn finish(progress: &mut Progress, call_status: &str) {
    progress.set_status(call_status, None);
    {
        let mut record = progress.shared.lock();
        record.live = record.live.saturating_sub(1);
        let to_number = record.by_sid.get(&progress.call_sid).map(|c| c.created.to.clone()).unwrap_or_default();
        if let Some(count) = record.live_per_number.get_mut(&to_number) {
            *count = count.saturating_sub(1);
        }
    }
    progress.status_callback("completed", call_status, true).await;
}
