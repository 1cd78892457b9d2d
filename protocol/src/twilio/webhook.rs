//! Twilio's form-encoded webhooks (REFERENCE.md §4): the voice webhook (TwiML request) and the
//! status / async AMD callbacks. Every received parameter is kept, in order, for the signature.

use crate::ids::{AccountSid, CallSid};

/// All parameters of a form body, decoded, in the order received (names may repeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormParams(pub Vec<(String, String)>);

impl FormParams {
    /// Parses an `application/x-www-form-urlencoded` body (never fails: bad escapes stay literal).
    pub fn parse(body: &[u8]) -> Self {
        FormParams(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The pairs, for [`super::signature::SignedBody::Form`].
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Encodes the pairs as a form body (for the simulator).
    pub fn encode(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }

    fn require(&self, name: &'static str) -> Result<&str, WebhookError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or(WebhookError::MissingParam(name))
    }
}

/// A webhook lacks something we need.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("missing form parameter {0}")]
    MissingParam(&'static str),
    #[error("parameter {name} is not a number: {value:?}")]
    BadNumber { name: &'static str, value: String },
}

/// Which way Twilio says the call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallDirection {
    Inbound,
    OutboundApi,
    OutboundDial,
    Other,
}

impl CallDirection {
    fn parse(value: Option<&str>) -> Self {
        match value {
            Some("inbound") => CallDirection::Inbound,
            Some("outbound-api") => CallDirection::OutboundApi,
            Some("outbound-dial") => CallDirection::OutboundDial,
            _ => CallDirection::Other,
        }
    }
}

/// The voice webhook: Twilio asks what to do with a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceWebhook {
    pub call_sid: CallSid,
    pub account_sid: AccountSid,
    pub from: Option<String>,
    pub to: Option<String>,
    pub call_status: Option<String>,
    pub direction: CallDirection,
    /// Synchronous AMD result.
    pub answered_by: Option<String>,
}

impl VoiceWebhook {
    pub fn from_params(params: &FormParams) -> Result<Self, WebhookError> {
        Ok(VoiceWebhook {
            call_sid: CallSid::from(params.require("CallSid")?),
            account_sid: AccountSid::from(params.require("AccountSid")?),
            from: params.get("From").map(str::to_owned),
            to: params.get("To").map(str::to_owned),
            call_status: params.get("CallStatus").map(str::to_owned),
            direction: CallDirection::parse(params.get("Direction")),
            answered_by: params.get("AnsweredBy").map(str::to_owned),
        })
    }
}

/// A status callback or an async AMD callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCallback {
    pub call_sid: CallSid,
    pub account_sid: Option<AccountSid>,
    /// Absent on async AMD callbacks.
    pub call_status: Option<String>,
    pub answered_by: Option<String>,
    pub sequence_number: Option<u32>,
    pub call_duration_s: Option<u32>,
    pub sip_response_code: Option<u32>,
    pub machine_detection_duration_ms: Option<u32>,
}

fn optional_number(params: &FormParams, name: &'static str) -> Result<Option<u32>, WebhookError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|_| WebhookError::BadNumber { name, value: value.chars().take(40).collect() }),
    }
}

impl StatusCallback {
    pub fn from_params(params: &FormParams) -> Result<Self, WebhookError> {
        Ok(StatusCallback {
            call_sid: CallSid::from(params.require("CallSid")?),
            account_sid: params.get("AccountSid").map(AccountSid::from),
            call_status: params.get("CallStatus").map(str::to_owned),
            answered_by: params.get("AnsweredBy").map(str::to_owned),
            sequence_number: optional_number(params, "SequenceNumber")?,
            call_duration_s: optional_number(params, "CallDuration")?,
            sip_response_code: optional_number(params, "SipResponseCode")?,
            machine_detection_duration_ms: optional_number(params, "MachineDetectionDuration")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_voice_webhook_and_keeps_every_param() {
        let body = b"CallSid=CA1&AccountSid=AC1&From=%2B15551234567&To=%2B15557654321&Direction=inbound&CallStatus=ringing&FromCity=NEW+YORK&Extra=1&Extra=2";
        let params = FormParams::parse(body);
        assert_eq!(params.pairs().len(), 9);
        let hook = VoiceWebhook::from_params(&params).unwrap();
        assert_eq!(hook.call_sid.as_str(), "CA1");
        assert_eq!(hook.from.as_deref(), Some("+15551234567"));
        assert_eq!(hook.direction, CallDirection::Inbound);
        assert_eq!(FormParams::parse(params.encode().as_bytes()), params);
        assert_eq!(
            VoiceWebhook::from_params(&FormParams::parse(b"AccountSid=AC1")),
            Err(WebhookError::MissingParam("CallSid"))
        );
    }

    #[test]
    fn parses_status_and_amd_callbacks() {
        let status = StatusCallback::from_params(&FormParams::parse(
            b"CallSid=CA1&AccountSid=AC1&CallStatus=completed&CallDuration=42&SequenceNumber=3&SipResponseCode=200",
        ))
        .unwrap();
        assert_eq!(status.call_status.as_deref(), Some("completed"));
        assert_eq!(
            (status.call_duration_s, status.sequence_number, status.sip_response_code),
            (Some(42), Some(3), Some(200))
        );
        let amd = StatusCallback::from_params(&FormParams::parse(
            b"CallSid=CA1&AccountSid=AC1&AnsweredBy=machine_start&MachineDetectionDuration=2500",
        ))
        .unwrap();
        assert_eq!(amd.answered_by.as_deref(), Some("machine_start"));
        assert_eq!(amd.call_status, None);
        assert!(matches!(
            StatusCallback::from_params(&FormParams::parse(b"CallSid=CA1&CallDuration=abc")),
            Err(WebhookError::BadNumber { name: "CallDuration", .. })
        ));
    }
}
