//! Secrets kept out of log lines: [`redact_url`] hides the credentials of a URL (or a
//! comma-separated list of them, as `NATS_URL` may be) before it is printed.

/// What stands in for hidden credentials.
pub const REDACTED: &str = "***";

/// `nats://user:pass@host:4222` -> `nats://***@host:4222`; a token (`nats://tok@host`) and a
/// user alone are hidden the same way. URLs without credentials and text that is not a URL come
/// back unchanged. Each entry of a comma-separated list is redacted on its own.
pub fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}{REDACTED}{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_hidden_and_the_rest_is_kept() {
        assert_eq!(redact_url("nats://user:s3cret@nats:4222"), "nats://***@nats:4222");
        assert_eq!(redact_url("nats://t0ken@10.0.0.1:4222/x?y=1"), "nats://***@10.0.0.1:4222/x?y=1");
        assert_eq!(redact_url("tls://a:b@n1:4222,tls://c:d@n2:4222"), "tls://***@n1:4222,tls://***@n2:4222");
        assert_eq!(redact_url("user:p@ss@host:4222"), "***@host:4222", "the last '@' ends the credentials");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact_url("nats://host/path@not-credentials"), "nats://host/path@not-credentials");
        assert_eq!(redact_url(""), "");
    }
}
