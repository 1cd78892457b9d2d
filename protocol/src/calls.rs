//! Call records (KV `calls`), dial requests (stream `DIAL`), Twilio status events
//! (`twilio.status.<callId>`) and lifecycle events (`calls.events.<callId>`).

use crate::ids::{CallId, CallSid};
use crate::results::CallResult;
use crate::version::current_version;
use serde::{Deserialize, Serialize};

/// Where a call request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Accepted, waiting for its calling window or a free slot.
    Queued,
    /// Twilio is placing it.
    Dialing,
    Ringing,
    InProgress,
    /// Waiting for a retry after busy / no-answer / failed / voicemail.
    RetryScheduled,
    /// Ended with a conversation.
    Completed,
    /// Given up after the last attempt, or a permanent error.
    Failed,
    Canceled,
}

impl CallStatus {
    /// True when nothing more will happen to the call.
    pub fn is_final(self) -> bool {
        matches!(self, CallStatus::Completed | CallStatus::Failed | CallStatus::Canceled)
    }
}

/// A call request as the user made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRequest {
    /// E.164.
    pub phone_number: String,
    pub gym_name: String,
    #[serde(default)]
    pub country: Option<String>,
    /// IANA timezone name of the callee.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    pub playbook: String,
    /// RFC 3339: do not call before.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Calling window override in the callee's timezone, e.g. `"Mon-Fri 09:00-17:00"`
    /// (the dialer's default window when absent).
    #[serde(default)]
    pub calling_window: Option<String>,
    /// Where to POST the call's record when it ends (overrides the dialer's `RESULT_WEBHOOK_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_webhook: Option<String>,
}

impl CallRequest {
    /// The names a user may give a call request by (REST body keys, campaign file columns).
    pub const FIELDS: &'static [&'static str] = &[
        "phone_number",
        "gym_name",
        "country",
        "timezone",
        "preferred_language",
        "playbook",
        "not_before",
        "calling_window",
        "result_webhook",
    ];
}

/// One dialing attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    /// RFC 3339.
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// Twilio's final CallStatus or our reason (`busy`, `no-answer`, `machine`, `error:21211`).
    #[serde(default)]
    pub outcome: Option<String>,
}

/// The record kept in KV `calls`, key = call id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub request: CallRequest,
    pub status: CallStatus,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    #[serde(default)]
    pub result: Option<CallResult>,
    /// RFC 3339: when the next attempt may start (queued / retry_scheduled).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The `Idempotency-Key` the request came with.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The result webhook's delivery, once the call ended with a webhook to send to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::WebhookStatus>,
    pub created_at: String,
    pub updated_at: String,
}

/// A message on the `DIAL` work queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DialRequest {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
}

/// A Twilio status or AMD callback, forwarded by the gateway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwilioStatusEvent {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub call_sid: CallSid,
    /// `CallStatus` (absent on an async AMD callback).
    #[serde(default)]
    pub call_status: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
    #[serde(default)]
    pub sequence_number: Option<u32>,
    #[serde(default)]
    pub call_duration_s: Option<u32>,
    #[serde(default)]
    pub sip_response_code: Option<u32>,
}

/// What a `dial.control.<callId>` message asks the dialer holding the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialControlAction {
    /// Hang up the live call, or drop the queued request.
    Cancel,
}

/// A message on `dial.control.<callId>` (gateway -> dialers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DialControl {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub action: DialControlAction,
}

/// What a [`CallEvent`] reports. Serialized in snake_case (`"agent_said"`); decoding is strict,
/// like every bus message: an unknown kind is an error, counted and logged by the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEventKind {
    /// The request was accepted (gateway).
    Queued,
    /// A cancel was asked for (gateway).
    CancelRequested,
    /// An inbound call's voice webhook arrived (gateway).
    InboundCall,
    /// Twilio is placing the call (dialer).
    Dialing,
    /// Twilio reports the callee's phone ringing (dialer).
    Ringing,
    /// Twilio reports the call answered (dialer).
    InProgress,
    /// Another attempt is scheduled (dialer).
    RetryScheduled,
    /// The dialer stopped dialing: Twilio refused its credentials.
    DialerHalted,
    /// The request was canceled (dialer).
    Canceled,
    /// The request was given up (dialer) or its stream found no media worker (gateway).
    Failed,
    /// The gateway is closing the stream (shutdown).
    StreamClosed,
    /// The stream moved to another media worker.
    MediaReassigned,
    /// The agent said something (brain).
    AgentSaid,
    /// The callee said something (brain).
    CalleeSaid,
    /// A result field changed (brain; the detail is the field as JSON).
    Field,
    /// The agent pressed a key in an IVR menu (brain).
    Ivr,
    /// The conversation policy changed, e.g. the LLM failed and the scripted policy took over (brain).
    Policy,
    /// The conversation ended (brain; the detail says how).
    Ended,
}

impl CallEventKind {
    /// The wire name (`"agent_said"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallEventKind::Queued => "queued",
            CallEventKind::CancelRequested => "cancel_requested",
            CallEventKind::InboundCall => "inbound_call",
            CallEventKind::Dialing => "dialing",
            CallEventKind::Ringing => "ringing",
            CallEventKind::InProgress => "in_progress",
            CallEventKind::RetryScheduled => "retry_scheduled",
            CallEventKind::DialerHalted => "dialer_halted",
            CallEventKind::Canceled => "canceled",
            CallEventKind::Failed => "failed",
            CallEventKind::StreamClosed => "stream_closed",
            CallEventKind::MediaReassigned => "media_reassigned",
            CallEventKind::AgentSaid => "agent_said",
            CallEventKind::CalleeSaid => "callee_said",
            CallEventKind::Field => "field",
            CallEventKind::Ivr => "ivr",
            CallEventKind::Policy => "policy",
            CallEventKind::Ended => "ended",
        }
    }
}

impl std::fmt::Display for CallEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The current time in RFC 3339 (UTC), as records and events carry it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// A lifecycle event on `calls.events.<callId>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    /// RFC 3339.
    pub at: String,
    pub kind: CallEventKind,
    /// Human-readable detail (never a phone number).
    #[serde(default)]
    pub detail: String,
}

impl CallEvent {
    /// An event of `kind` about `call_id`, stamped now.
    pub fn now(call_id: &CallId, kind: CallEventKind, detail: impl Into<String>) -> CallEvent {
        CallEvent { v: crate::BUS_VERSION, call_id: call_id.clone(), at: now_rfc3339(), kind, detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::{CallEventKind, CallRequest};

    #[test]
    fn event_kinds_have_one_wire_name() {
        for kind in [CallEventKind::Queued, CallEventKind::InProgress, CallEventKind::AgentSaid, CallEventKind::Ended] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<CallEventKind>(&json).unwrap(), kind);
        }
        assert!(serde_json::from_str::<CallEventKind>("\"teleported\"").is_err());
    }

    #[test]
    fn field_names_are_the_request_keys() {
        let request = CallRequest {
            phone_number: "+15005550006".into(),
            gym_name: "Atlas".into(),
            country: Some("US".into()),
            timezone: Some("America/Denver".into()),
            preferred_language: Some("en".into()),
            playbook: "gym-dropin".into(),
            not_before: Some("2026-11-22T10:00:00Z".into()),
            calling_window: Some("Mon-Fri 09:00-17:00".into()),
            result_webhook: Some("https://hooks.example.com/gymcall".into()),
        };
        let value = serde_json::to_value(&request).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = CallRequest::FIELDS.to_vec();
        keys.sort_unstable();
        fields.sort_unstable();
        assert_eq!(keys, fields);
    }
}
