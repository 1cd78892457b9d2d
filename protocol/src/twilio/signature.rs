//! `X-Twilio-Signature` computation and validation (REFERENCE.md §5).
//!
//! signature = base64(HMAC-SHA1(auth token, URL + for each param name in byte order, for each
//! distinct value in byte order: name + value)). JSON bodies sign the URL alone and carry
//! `bodySHA256=<hex sha256 of the body>` in its query. A signature is accepted when it matches
//! any URL variant Twilio's own libraries accept: the URL as given or with its port toggled
//! (removed if present, the scheme's default added if absent), each with `'` and `%27` both ways.
//! Comparisons are constant-time.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the request carried besides the URL.
#[derive(Clone, Copy, Debug)]
pub enum SignedBody<'a> {
    /// Form-encoded parameters (decoded), in any order, names may repeat.
    Form(&'a [(String, String)]),
    /// A raw non-form body (JSON): covered by the `bodySHA256` query parameter.
    Raw(&'a [u8]),
    /// No body (GET, WebSocket upgrade).
    None,
}

/// The signature Twilio computes for `url` and these form parameters.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(url.as_bytes());
    mac.update(sorted_params_string(params).as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// Lowercase hex SHA-256 of a raw body, as Twilio puts it in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xF)]));
    }
    out
}

/// True when `expected_hex` is the SHA-256 of `body` (constant-time, case-insensitive hex).
pub fn body_hash_matches(body: &[u8], expected_hex: &str) -> bool {
    let actual = body_sha256_hex(body);
    let expected = expected_hex.to_ascii_lowercase();
    actual.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn sorted_params_string(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (name, value) in pairs {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

/// Validates a webhook request: `url` is the full URL Twilio requested (scheme through query),
/// `header` the `X-Twilio-Signature` value (None when absent -> false).
pub fn validate_request(auth_token: &str, url: &str, body: SignedBody<'_>, header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let params: &[(String, String)] = match body {
        SignedBody::Form(params) => params,
        SignedBody::None => &[],
        SignedBody::Raw(raw) => {
            let Some(expected) = query_param(url, "bodySHA256") else { return false };
            if !body_hash_matches(raw, &expected) {
                return false;
            }
            &[]
        }
    };
    url_candidates(url).iter().any(|candidate| signature_matches(auth_token, candidate, params, header))
}

/// Validates the signature of a Media Streams WebSocket upgrade. `stream_url` is the `wss://` URL
/// as written in the TwiML; the variants tried also include it with a trailing `/`.
pub fn validate_websocket_upgrade(auth_token: &str, stream_url: &str, header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let mut candidates = url_candidates(stream_url);
    let (base, query) = split_query(stream_url);
    if !base.ends_with('/') {
        candidates.extend(url_candidates(&format!("{base}/{query}")));
    }
    candidates.iter().any(|candidate| signature_matches(auth_token, candidate, &[], header))
}

fn signature_matches(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let expected = compute_signature(auth_token, url, params);
    expected.as_bytes().ct_eq(header.as_bytes()).into()
}

fn split_query(url: &str) -> (&str, &str) {
    match url.find('?') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = split_query(url);
    let query = query.strip_prefix('?')?;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// Every URL variant a signature may have been computed over (deduplicated, as-given first).
pub fn url_candidates(url: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(6);
    for port_variant in [Some(url.to_owned()), toggle_port(url)].into_iter().flatten() {
        for quoted in [port_variant.clone(), port_variant.replace('\'', "%27"), port_variant.replace("%27", "'")] {
            if !out.contains(&quoted) {
                out.push(quoted);
            }
        }
    }
    out
}

/// The URL with its port removed if it has one, or with the scheme's default port added.
fn toggle_port(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let tail = &rest[authority_len..];
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let host_end = if hostport.starts_with('[') {
        hostport.find(']').map(|i| i + 1)?
    } else {
        hostport.find(':').unwrap_or(hostport.len())
    };
    let host = &hostport[..host_end];
    let port = hostport[host_end..].strip_prefix(':');
    let head = &url[..authority_start];
    match port {
        Some(_) => Some(format!("{head}{userinfo}{host}{tail}")),
        None => {
            let default_port = match scheme.to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                "http" | "ws" => 80,
                _ => return None,
            };
            Some(format!("{head}{userinfo}{host}:{default_port}{tail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_toggles() {
        assert_eq!(toggle_port("https://a.com:1234/x?y=1").as_deref(), Some("https://a.com/x?y=1"));
        assert_eq!(toggle_port("https://a.com/x").as_deref(), Some("https://a.com:443/x"));
        assert_eq!(toggle_port("http://u:p@a.com?q").as_deref(), Some("http://u:p@a.com:80?q"));
        assert_eq!(toggle_port("wss://a.com/s").as_deref(), Some("wss://a.com:443/s"));
        assert_eq!(toggle_port("https://[::1]:8443/").as_deref(), Some("https://[::1]/"));
        assert_eq!(toggle_port("nonsense"), None);
    }

    #[test]
    fn websocket_upgrade_accepts_trailing_slash_and_port_variants() {
        let url = "wss://gw.example.com/v1/twilio/stream";
        for signed in [url, "wss://gw.example.com/v1/twilio/stream/", "wss://gw.example.com:443/v1/twilio/stream"] {
            let signature = compute_signature("tok", signed, &[]);
            assert!(validate_websocket_upgrade("tok", url, Some(&signature)), "{signed}");
        }
        let https = compute_signature("tok", "https://gw.example.com/v1/twilio/stream", &[]);
        assert!(!validate_websocket_upgrade("tok", url, Some(&https)));
        assert!(!validate_websocket_upgrade("tok", url, None));
        let other_token = compute_signature("other", url, &[]);
        assert!(!validate_websocket_upgrade("tok", url, Some(&other_token)));
    }
}
