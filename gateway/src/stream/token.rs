//! Per-call stream tokens: what binds a Media Streams WebSocket to the call it claims to be.
//!
//! The upgrade's `X-Twilio-Signature` covers only the fixed stream URL, so it is the same value for
//! every call: whoever saw one could open a stream for any `call_id` and write onto that call's
//! record. So the voice webhook (signed by Twilio, answered only to Twilio) puts a token in the
//! TwiML's `<Parameter name="stream_token">`: `v1.<issued unix s>.<hex HMAC-SHA256>` over the call
//! id and Twilio's CallSid, keyed by the gateway's secrets (every gateway replica derives the same
//! key). At `start` the gateway checks the token against the `call_id` and `callSid` the stream
//! claims and its age ([`TOKEN_TTL`]), then spends it once in the KV bucket [`KV_STREAM_TOKENS`]
//! (a create, so two gateways cannot both accept it). A stream without a valid unspent token
//! closes with 1008 before any worker is asked for.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long after the voice webhook a token may open its stream (Twilio connects within seconds).
pub const TOKEN_TTL: Duration = Duration::from_secs(600);

/// The bucket of spent tokens (its `NATS_MAX_AGE_STREAM_TOKENS` defaults to an hour, past
/// [`TOKEN_TTL`], so a spent token is remembered as long as it could be replayed).
pub const KV_STREAM_TOKENS: &str = "stream_tokens";

/// The `<Parameter>` that carries the token.
pub const TOKEN_PARAMETER: &str = "stream_token";

/// Why a token was refused (the label of `gateway_stream_tokens_refused_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Malformed,
    /// The MAC does not match this call id and CallSid.
    WrongCall,
    Expired,
    /// Already used by another stream.
    Spent,
    /// The spent-token store could not be reached: refused rather than accepted unchecked.
    StoreUnavailable,
}

impl TokenError {
    pub fn label(self) -> &'static str {
        match self {
            TokenError::Missing => "missing",
            TokenError::Malformed => "malformed",
            TokenError::WrongCall => "wrong_call",
            TokenError::Expired => "expired",
            TokenError::Spent => "spent",
            TokenError::StoreUnavailable => "store_unavailable",
        }
    }
}

/// Issues and checks tokens with one key.
#[derive(Clone)]
pub struct StreamTokens {
    key: [u8; 32],
}

impl StreamTokens {
    /// The key is SHA-256 over a label and the given secrets (the Twilio auth token and the API
    /// token), so every replica configured alike agrees and nothing outside knows it.
    pub fn from_secrets(secrets: &[&str]) -> StreamTokens {
        let mut hasher = Sha256::new();
        hasher.update(b"gym-call-agent stream token v1");
        for secret in secrets {
            hasher.update((secret.len() as u64).to_be_bytes());
            hasher.update(secret.as_bytes());
        }
        StreamTokens { key: hasher.finalize().into() }
    }

    fn mac(&self, issued: u64, call_id: &str, call_sid: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{issued}\n{call_id}\n{call_sid}").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A token for `call_id` / `call_sid`, issued at `now_unix` (seconds).
    pub fn issue(&self, call_id: &str, call_sid: &str, now_unix: u64) -> String {
        format!("v1.{now_unix}.{}", self.mac(now_unix, call_id, call_sid))
    }

    /// Checks `token` for `call_id` / `call_sid` at `now_unix`; on success returns the key under
    /// which it is spent in [`KV_STREAM_TOKENS`].
    pub fn check(
        &self,
        token: Option<&str>,
        call_id: &str,
        call_sid: &str,
        now_unix: u64,
    ) -> Result<String, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        if token.len() > 128 {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some("v1"), Some(issued), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let issued: u64 = issued.parse().map_err(|_| TokenError::Malformed)?;
        if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed);
        }
        let mac = mac.to_ascii_lowercase();
        if !constant_time_eq(self.mac(issued, call_id, call_sid).as_bytes(), mac.as_bytes()) {
            return Err(TokenError::WrongCall);
        }
        // a token from the future (clock skew between replicas) is allowed a minute
        if now_unix.saturating_add(60) < issued || now_unix.saturating_sub(issued) > TOKEN_TTL.as_secs() {
            return Err(TokenError::Expired);
        }
        Ok(mac)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_opens_only_its_own_call_within_its_lifetime() {
        let tokens = StreamTokens::from_secrets(&["twilio-secret", "api-secret-0123456789"]);
        let token = tokens.issue("c_1", "CA1", NOW);
        assert!(tokens.check(Some(&token), "c_1", "CA1", NOW + 5).is_ok());
        assert_eq!(tokens.check(Some(&token), "c_2", "CA1", NOW + 5), Err(TokenError::WrongCall));
        assert_eq!(tokens.check(Some(&token), "c_1", "CA2", NOW + 5), Err(TokenError::WrongCall));
        assert_eq!(tokens.check(Some(&token), "c_1", "CA1", NOW + 601), Err(TokenError::Expired));
        assert_eq!(tokens.check(Some(&token), "c_1", "CA1", NOW - 120), Err(TokenError::Expired));
        assert_eq!(tokens.check(None, "c_1", "CA1", NOW), Err(TokenError::Missing));
    }

    #[test]
    fn another_key_or_a_changed_token_is_refused() {
        let tokens = StreamTokens::from_secrets(&["twilio-secret", "api-secret-0123456789"]);
        let other = StreamTokens::from_secrets(&["twilio-secret", "another-api-secret-99"]);
        let token = tokens.issue("c_1", "CA1", NOW);
        assert_eq!(other.check(Some(&token), "c_1", "CA1", NOW), Err(TokenError::WrongCall));
        // moving the issue time forward breaks the MAC
        let forged = token.replacen(&NOW.to_string(), &(NOW + 500).to_string(), 1);
        assert_eq!(tokens.check(Some(&forged), "c_1", "CA1", NOW + 700), Err(TokenError::WrongCall));
        let too_long = "a".repeat(500);
        let extra = format!("{token}.x");
        for bad in ["", "v1", "v1.x.y", "v2.1.00", "v1.1.zz", extra.as_str(), too_long.as_str()] {
            assert_eq!(tokens.check(Some(bad), "c_1", "CA1", NOW), Err(TokenError::Malformed), "{bad:?}");
        }
    }
}
