//! The result webhook: what is queued when a call ends ([`WebhookDelivery`], on the `WEBHOOKS`
//! work queue), the delivery's state kept on the call record ([`WebhookStatus`]), the URL check
//! shared by `POST /v1/calls` and the dialer's `RESULT_WEBHOOK_URL` ([`check_url`]), and the
//! signature scheme ([`signature_header`]).
//!
//! Signature: `X-Gymcall-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is the lowercase
//! HMAC-SHA256, keyed with `RESULT_WEBHOOK_SECRET`, of `<t>.<body>` (the decimal timestamp, a
//! `.`, then the raw request body bytes). A receiver recomputes it, compares in constant time and
//! refuses a `t` too far from its clock (replays).

use crate::ids::CallId;
use crate::version::current_version;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Gymcall-Signature";
/// Longest webhook URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// A message on the `WEBHOOKS` work queue: deliver this call's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Queued, or waiting for a retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: attempts exhausted, or an answer that retrying cannot change (4xx).
    Failed,
}

/// A delivery's state, kept on the call record (`GET /v1/calls/{id}` shows it as `webhook`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    pub state: WebhookState,
    /// Where it goes (the call's `result_webhook`, else the dialer's `RESULT_WEBHOOK_URL`).
    pub url: String,
    /// POSTs made so far.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub last_attempt_at: Option<String>,
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<String>,
}

impl WebhookStatus {
    pub fn pending(url: &str) -> WebhookStatus {
        WebhookStatus {
            state: WebhookState::Pending,
            url: url.to_owned(),
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: None,
            delivered_at: None,
        }
    }
}

/// Checks a webhook URL: absolute `http` or `https`, a host, no credentials, no fragment, at
/// most [`MAX_URL_LEN`] bytes. The error says what is wrong.
pub fn check_url(text: &str) -> Result<(), String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must be http or https, not {}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (the body is signed instead)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(())
}

/// The hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`.
pub fn signature(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never reached.
        Err(_) => return String::new(),
    };
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The [`SIGNATURE_HEADER`] value for `body` sent at `timestamp_s`: `t=<unix>,v1=<hex>`.
pub fn signature_header(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    format!("t={timestamp_s},v1={}", signature(secret, timestamp_s, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_bounded() {
        assert!(check_url("https://hooks.example.com/gymcall?team=7").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("ftp://example.com/x").unwrap_err().contains("http or https"));
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("/relative/path").unwrap_err().contains("absolute"));
        assert!(check_url("https://user:pw@example.com/").unwrap_err().contains("credentials"));
        assert!(check_url("https://example.com/a b").is_err());
        assert!(check_url("https://example.com/#x").is_err());
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long).unwrap_err().contains("at most"));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value from Python: hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature_header(b"s3cret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }
}
