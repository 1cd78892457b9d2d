//! Who is logged in: the console's session cookie, its CSRF token, and the Origin check of form
//! posts.
//!
//! The cookie is `gc_console=<nonce>.<expires_unix>.<mac>`, where `mac` is an HMAC-SHA256 of the
//! nonce and expiry under a key derived from `API_TOKEN`: any gateway replica can check it, no
//! store is needed, and changing the token logs everyone out. It is `HttpOnly` (no script reads
//! it), `Secure`, `SameSite=Strict` (no other site's page sends it) and scoped to `/`, because the
//! page's `<audio>` element fetches the recording from the REST API with it (GET only; see
//! [`crate::rest::authorize`]). Logging out forgets the nonce on this replica until it expires.
//! The CSRF token of a session is an HMAC of its nonce; every form post carries it and must come
//! from this gateway's own origin when the browser says where it comes from.

use super::SESSION_TTL;
use actix_web::HttpRequest;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "gc_console";
/// Most sessions remembered as logged out (older ones are dropped once expired).
const REVOKED_MAX: usize = 10_000;
/// Failed logins allowed per minute on one replica before logins answer 429.
pub const FAILED_LOGINS_PER_MINUTE: u32 = 20;

/// A logged-in browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub nonce: String,
    pub expires_unix: u64,
    /// The token every form post of this session carries.
    pub csrf_token: String,
}

/// Logged-out sessions and the failed-login count of this replica.
#[derive(Default)]
pub struct SessionBook {
    revoked: Mutex<HashMap<String, u64>>,
    failed_logins: Mutex<(u64, u32)>,
}

impl SessionBook {
    /// Remembers a logged-out session until it would have expired.
    pub fn revoke(&self, session: &Session) {
        let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now();
        revoked.retain(|_, expires| *expires > now);
        if revoked.len() < REVOKED_MAX {
            revoked.insert(session.nonce.clone(), session.expires_unix);
        }
    }

    fn is_revoked(&self, nonce: &str) -> bool {
        self.revoked.lock().unwrap_or_else(|p| p.into_inner()).contains_key(nonce)
    }

    /// Counts a failed login; false once more than [`FAILED_LOGINS_PER_MINUTE`] failed this minute.
    pub fn note_failed_login(&self) -> bool {
        let minute = unix_now() / 60;
        let mut failed = self.failed_logins.lock().unwrap_or_else(|p| p.into_inner());
        if failed.0 != minute {
            *failed = (minute, 0);
        }
        failed.1 += 1;
        failed.1 <= FAILED_LOGINS_PER_MINUTE
    }

    /// True while this minute's failed logins are under the limit.
    pub fn may_try_login(&self) -> bool {
        let minute = unix_now() / 60;
        let failed = self.failed_logins.lock().unwrap_or_else(|p| p.into_inner());
        failed.0 != minute || failed.1 < FAILED_LOGINS_PER_MINUTE
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The signing key of sessions: derived from the API token (None: the console is closed).
fn key(api_token: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"gym-call-agent console session v1\0");
    hasher.update(api_token.as_bytes());
    hasher.finalize().into()
}

fn mac_hex(api_token: &str, purpose: &str, parts: &[&str]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key(api_token)) else { return String::new() };
    mac.update(purpose.as_bytes());
    for part in parts {
        mac.update(b"|");
        mac.update(part.as_bytes());
    }
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// A new session for a browser that gave the right token.
    pub fn start(api_token: &str) -> Session {
        let nonce = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Session::with(api_token, nonce, unix_now() + SESSION_TTL.as_secs())
    }

    fn with(api_token: &str, nonce: String, expires_unix: u64) -> Session {
        let csrf_token = mac_hex(api_token, "csrf", &[&nonce]);
        Session { nonce, expires_unix, csrf_token }
    }

    /// The cookie value.
    pub fn cookie_value(&self, api_token: &str) -> String {
        let expires = self.expires_unix.to_string();
        format!("{}.{expires}.{}", self.nonce, mac_hex(api_token, "session", &[&self.nonce, &expires]))
    }

    /// The `Set-Cookie` value that logs this browser in.
    pub fn set_cookie(&self, api_token: &str) -> String {
        format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            self.cookie_value(api_token),
            SESSION_TTL.as_secs()
        )
    }

    /// Reads and checks a cookie value (signature, expiry).
    pub fn from_cookie_value(api_token: &str, value: &str, now_unix: u64) -> Option<Session> {
        let mut parts = value.split('.');
        let (nonce, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || nonce.len() != 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if !same(mac, &mac_hex(api_token, "session", &[nonce, expires])) {
            return None;
        }
        let expires_unix: u64 = expires.parse().ok()?;
        if expires_unix <= now_unix {
            return None;
        }
        Some(Session::with(api_token, nonce.to_owned(), expires_unix))
    }

    /// True when a form's CSRF token is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        same(given, &self.csrf_token)
    }
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn removal_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The value of the session cookie in a request's `Cookie` headers.
fn cookie_in(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all("Cookie")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// The session of a request, if its cookie is valid, not expired and not logged out.
pub fn from_request(api_token_opt: Option<&str>, book: Option<&SessionBook>, request: &HttpRequest) -> Option<Session> {
    let api_token = api_token_opt?;
    let cookie = cookie_in(request)?;
    let session = Session::from_cookie_value(api_token, &cookie, unix_now())?;
    if book.is_some_and(|b| b.is_revoked(&session.nonce)) {
        return None;
    }
    Some(session)
}

/// True when a form post comes from this gateway's own pages: its `Origin` (or, without one, its
/// `Referer`) names the host the request was sent to, or the public base URL. A post with
/// neither is let through (old browsers); the CSRF token still has to match.
pub fn same_origin(request: &HttpRequest, public_base_url: &str) -> bool {
    let headers = request.headers();
    let claimed = headers
        .get("Origin")
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v != "null")
        .or_else(|| headers.get("Referer").and_then(|v| v.to_str().ok()));
    let Some(claimed) = claimed else {
        return !headers.contains_key("Origin");
    };
    let Ok(url) = url::Url::parse(claimed) else { return false };
    let Some(host) = url.host_str() else { return false };
    let claimed_authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let request_host = headers.get("Host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !request_host.is_empty() && claimed_authority.eq_ignore_ascii_case(request_host) {
        return true;
    }
    url::Url::parse(public_base_url).is_ok_and(|public| public.origin() == url.origin())
}

/// Seconds left in a session (for the page footer).
pub fn remaining(session: &Session) -> Duration {
    Duration::from_secs(session.expires_unix.saturating_sub(unix_now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const TOKEN: &str = "console-test-token-0123";

    #[test]
    fn a_cookie_checks_out_only_with_its_token_and_before_it_expires() {
        let session = Session::start(TOKEN);
        let value = session.cookie_value(TOKEN);
        assert_eq!(Session::from_cookie_value(TOKEN, &value, unix_now()), Some(session.clone()));
        assert_eq!(Session::from_cookie_value("another-token-0123456", &value, unix_now()), None);
        assert_eq!(Session::from_cookie_value(TOKEN, &value, session.expires_unix), None, "expired");
        let forged = value.replacen(&session.expires_unix.to_string(), &(session.expires_unix + 999).to_string(), 1);
        assert_eq!(Session::from_cookie_value(TOKEN, &forged, unix_now()), None, "longer life, same mac");
        assert_eq!(Session::from_cookie_value(TOKEN, "x.y.z", unix_now()), None);
        assert!(session.csrf_ok(&session.csrf_token));
        assert!(!session.csrf_ok(&Session::start(TOKEN).csrf_token), "another session's token");
    }

    #[test]
    fn a_logged_out_session_is_refused_on_this_replica() {
        let book = SessionBook::default();
        let session = Session::start(TOKEN);
        let cookie = format!("theme=dark; {COOKIE_NAME}={}", session.cookie_value(TOKEN));
        let request = TestRequest::default().insert_header(("Cookie", cookie)).to_http_request();
        assert!(from_request(Some(TOKEN), Some(&book), &request).is_some());
        book.revoke(&session);
        assert!(from_request(Some(TOKEN), Some(&book), &request).is_none());
        assert!(from_request(None, None, &request).is_none(), "no API_TOKEN: the console is closed");
    }

    #[test]
    fn posts_from_another_origin_are_refused() {
        let base = "https://gw.example.com";
        let post = |origin: Option<&str>, referer: Option<&str>| {
            let mut request = TestRequest::post().insert_header(("Host", "127.0.0.1:8000"));
            if let Some(origin) = origin {
                request = request.insert_header(("Origin", origin));
            }
            if let Some(referer) = referer {
                request = request.insert_header(("Referer", referer));
            }
            same_origin(&request.to_http_request(), base)
        };
        assert!(post(Some("http://127.0.0.1:8000"), None));
        assert!(post(Some("https://gw.example.com"), None));
        assert!(!post(Some("https://evil.example"), None));
        assert!(!post(Some("null"), None), "an opaque origin");
        assert!(post(None, Some("http://127.0.0.1:8000/console/calls/new")));
        assert!(!post(None, Some("https://evil.example/page")));
        assert!(post(None, None));
    }

    #[test]
    fn failed_logins_are_limited_per_minute() {
        let book = SessionBook::default();
        for _ in 0..FAILED_LOGINS_PER_MINUTE {
            assert!(book.note_failed_login());
        }
        assert!(!book.may_try_login());
        assert!(!book.note_failed_login());
    }
}
