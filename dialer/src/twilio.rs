//! A small client for Twilio's Voice REST API (2010-04-01): create a call, hang it up, fetch it.
//!
//! Requests are form-encoded with HTTP Basic auth (AccountSid / AuthToken) against a
//! configurable base URL (`https://api.twilio.com` in production, the simulator's fake in
//! tests). Twilio's JSON error bodies `{code, message, more_info, status}` become a
//! [`TwilioError`] whose [`TwilioErrorKind`] tells the caller what to do.

use serde::Deserialize;
use std::time::Duration;

/// Where and as whom to call Twilio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The caller id calls are placed from (a Twilio number, E.164).
    pub from_number: String,
    /// `https://api.twilio.com` unless pointed at a fake.
    pub api_base: String,
}

/// What the caller should do about a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwilioErrorKind {
    /// The `To` number is invalid or unreachable (21211, 21214, 21217, 13224): give up.
    InvalidNumber,
    /// Credentials refused (20003 / HTTP 401): stop dialing and alert.
    Auth,
    /// Too many requests (20429 / HTTP 429): back off and retry; nothing was done.
    RateLimited,
    /// Twilio failed (HTTP 5xx): back off and retry.
    Server,
    /// The request never got an answer (connect error, timeout): back off and retry.
    Network,
    /// Any other refusal (4xx): retrying the same request will not help.
    Rejected,
    /// The answer was not the JSON we expected.
    Decode,
}

impl TwilioErrorKind {
    /// True when the same request may succeed later.
    pub fn is_transient(self) -> bool {
        matches!(self, TwilioErrorKind::RateLimited | TwilioErrorKind::Server | TwilioErrorKind::Network)
    }
}

/// A failed Twilio request.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("twilio {kind:?} (http {http_status}, code {code:?}): {message}")]
pub struct TwilioError {
    pub kind: TwilioErrorKind,
    /// Twilio's error code (21211 ...), when the body had one.
    pub code: Option<u32>,
    /// HTTP status, 0 when there was no response.
    pub http_status: u16,
    pub message: String,
}

impl TwilioError {
    /// The request or its response body did not get through (`http_status` 0: no response).
    fn network(http_status: u16, error: &reqwest::Error) -> TwilioError {
        TwilioError { kind: TwilioErrorKind::Network, code: None, http_status, message: error.to_string() }
    }
}

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// The parts of Twilio's Call resource the dialer uses.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CallResource {
    pub sid: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
}

impl CallResource {
    /// True when Twilio's `status` says the call is over.
    pub fn is_over(&self) -> bool {
        matches!(self.status.as_deref(), Some("completed" | "busy" | "no-answer" | "failed" | "canceled"))
    }
}

/// The parameters of one outbound call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCall {
    pub to: String,
    /// TwiML URL fetched when the call connects (the gateway's voice webhook).
    pub url: String,
    /// Status callbacks for initiated, ringing, answered, completed.
    pub status_callback: String,
    /// `Enable` or `DetectMessageEnd`; `None` turns answering-machine detection off.
    pub machine_detection: Option<String>,
    /// Async AMD callback URL (with `machine_detection`); `None` means synchronous AMD.
    pub async_amd_status_callback: Option<String>,
    /// Seconds to let it ring.
    pub timeout_s: u32,
    /// Longest call, seconds.
    pub time_limit_s: u32,
}

/// Twilio Voice REST client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TwilioClient {
    http: reqwest::Client,
    config: TwilioConfig,
}

impl TwilioClient {
    pub fn new(config: TwilioConfig) -> Result<Self, TwilioError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| TwilioError::network(0, &e))?;
        Ok(Self { http, config })
    }

    pub fn config(&self) -> &TwilioConfig {
        &self.config
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid
        )
    }

    fn call_url(&self, call_sid: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls/{}.json",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid,
            call_sid
        )
    }

    /// `POST Calls.json`: places a call. Twilio answers 201 with the call resource.
    pub async fn create_call(&self, call: &NewCall) -> Result<CallResource, TwilioError> {
        let mut form: Vec<(&str, String)> = vec![
            ("To", call.to.clone()),
            ("From", self.config.from_number.clone()),
            ("Url", call.url.clone()),
            ("Method", "POST".into()),
            ("StatusCallback", call.status_callback.clone()),
            ("StatusCallbackMethod", "POST".into()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        if let Some(mode) = &call.machine_detection {
            form.push(("MachineDetection", mode.clone()));
            if let Some(callback) = &call.async_amd_status_callback {
                form.push(("AsyncAmd", "true".into()));
                form.push(("AsyncAmdStatusCallback", callback.clone()));
                form.push(("AsyncAmdStatusCallbackMethod", "POST".into()));
            }
        }
        form.push(("Timeout", call.timeout_s.to_string()));
        form.push(("TimeLimit", call.time_limit_s.to_string()));
        self.send(self.http.post(self.calls_url()).form(&form)).await
    }

    /// `POST Calls/{Sid}.json Status=completed`: hangs up a call, live or ringing.
    pub async fn hang_up(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        self.send(self.http.post(self.call_url(call_sid)).form(&[("Status", "completed")])).await
    }

    /// `GET Calls/{Sid}.json`: the call's current state.
    pub async fn fetch_call(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        self.send(self.http.get(self.call_url(call_sid))).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<CallResource, TwilioError> {
        let response = request
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| TwilioError::network(0, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| TwilioError::network(status.as_u16(), &e))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| TwilioError {
                kind: TwilioErrorKind::Decode,
                code: None,
                http_status: status.as_u16(),
                message: format!("call resource: {e}"),
            });
        }
        Err(error_from_response(status.as_u16(), &body))
    }
}

/// Maps an error response (status + body) to a typed error, as Twilio's helper libraries do:
/// the body's `code` when present, the HTTP status otherwise.
pub fn error_from_response(http_status: u16, body: &[u8]) -> TwilioError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let message = parsed
        .as_ref()
        .and_then(|b| b.message.clone().or_else(|| b.detail.clone()))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let kind = match (code, http_status) {
        (Some(20003), _) | (_, 401) => TwilioErrorKind::Auth,
        (Some(20429), _) | (_, 429) => TwilioErrorKind::RateLimited,
        (Some(21211 | 21214 | 21217 | 13224), _) => TwilioErrorKind::InvalidNumber,
        (_, 500..=599) => TwilioErrorKind::Server,
        _ => TwilioErrorKind::Rejected,
    };
    TwilioError { kind, code, http_status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_twilio_error_bodies_to_kinds() {
        let body = br#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let error = error_from_response(400, body);
        assert_eq!(error.kind, TwilioErrorKind::InvalidNumber);
        assert_eq!(error.code, Some(21211));
        assert!(error.message.contains("not a valid phone number"));
        assert_eq!(
            error_from_response(401, br#"{"code":20003,"message":"Authenticate","status":401}"#).kind,
            TwilioErrorKind::Auth
        );
        assert_eq!(
            error_from_response(429, br#"{"code":20429,"message":"Too Many Requests","status":429}"#).kind,
            TwilioErrorKind::RateLimited
        );
        assert_eq!(error_from_response(500, b"oops").kind, TwilioErrorKind::Server);
        assert_eq!(error_from_response(503, b"").kind, TwilioErrorKind::Server);
        assert_eq!(
            error_from_response(400, br#"{"code":21210,"message":"From not verified","status":400}"#).kind,
            TwilioErrorKind::Rejected
        );
        // RFC 9457 problem details from newer APIs.
        let problem =
            error_from_response(400, br#"{"type":"x","title":"t","status":400,"code":21217,"detail":"bad number"}"#);
        assert_eq!((problem.kind, problem.message.as_str()), (TwilioErrorKind::InvalidNumber, "bad number"));
        assert!(TwilioErrorKind::RateLimited.is_transient() && !TwilioErrorKind::Auth.is_transient());
    }
}
