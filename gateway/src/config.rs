//! Gateway configuration, read from an environment map (tests never touch the process env).

use std::collections::HashMap;
use std::time::Duration;

/// Every environment variable the gateway reads.
pub const ENV_VARS: &[&str] = &[
    "PUBLIC_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_VALIDATE_SIGNATURE",
    "NATS_URL",
    "SUPPORTED_LANGUAGES",
    // and bus::settings::ENV_VARS (NATS credentials, TLS, replicas, ages), read by every service
    "LISTEN_ADDR",
    "API_TOKEN",
    "INBOUND_PLAYBOOK",
    "MEDIA_ASSIGN_TIMEOUT_MS",
    "MEDIA_ASSIGN_ATTEMPTS",
    "MEDIA_PING_INTERVAL_MS",
    "MEDIA_REPLAY_MS",
    "WS_MAX_FRAME_BYTES",
    "SHUTDOWN_GRACE_S",
    "HTTP_WORKERS",
    "HTTP_HEADER_TIMEOUT_S",
    "HTTP_BODY_TIMEOUT_S",
    "API_MAX_BODY_BYTES",
    "WEBHOOK_MAX_BODY_BYTES",
    "WS_START_TIMEOUT_S",
    "WS_IDLE_TIMEOUT_S",
];

/// Shortest `API_TOKEN` accepted: the token alone opens the whole REST API, so a short one could
/// be guessed.
pub const API_TOKEN_MIN_CHARS: usize = 16;

/// The caller's latest audio each stream keeps for the worker it may move to (media time):
/// covers a worker found gone at the next ping (2 s) plus an answer started before it died.
pub const DEFAULT_MEDIA_REPLAY_MS: u64 = 6_000;
/// The most `MEDIA_REPLAY_MS` may ask for.
pub const MAX_MEDIA_REPLAY_MS: u64 = 30_000;

pub use probes::ConfigError;
use probes::Env;

/// Everything the gateway needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The public base URL Twilio reaches us at (`https://gw.example.com`), used for the stream
    /// URL in TwiML and for signature checks (never the Host header).
    pub public_base_url: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
    pub twilio_from_number: String,
    /// Check `X-Twilio-Signature` on webhooks and the WebSocket upgrade (default true).
    pub validate_signature: bool,
    pub nats_url: String,
    /// Credentials, TLS, replicas and ages for NATS (`NATS_*`, see [`bus::settings`]).
    pub nats: bus::NatsOptions,
    pub listen_addr: String,
    /// Bearer token of the REST API (`API_TOKEN`); None disables the REST API's auth check.
    pub api_token: Option<String>,
    /// Playbook for inbound calls (`INBOUND_PLAYBOOK`, default `gym-dropin`).
    pub inbound_playbook: String,
    /// How long one `media.assign` request waits for a worker.
    pub media_assign_timeout: Duration,
    /// How many `media.assign` requests before giving up on a stream.
    pub media_assign_attempts: u32,
    /// How often the owning media worker is pinged on `media.ping.<streamSid>` (default 2 s); a
    /// worker that is gone, or misses two pings in a row, loses the stream to another worker.
    /// None (`MEDIA_PING_INTERVAL_MS=0`) = off.
    pub media_ping_interval: Option<Duration>,
    /// How much of the caller's latest audio (media time) each stream keeps to replay to the
    /// worker it moves to (default 6000 ms, 0: off, at most 30000).
    pub media_replay_ms: u64,
    /// Largest WebSocket frame accepted from Twilio.
    pub ws_max_frame_bytes: usize,
    /// How long a stop waits for live calls before closing them.
    pub shutdown_grace: Duration,
    /// HTTP worker threads (0 = actix default, one per core).
    pub http_workers: usize,
    /// How long a client may take to send a request's head (`HTTP_HEADER_TIMEOUT_S`, default 5 s).
    pub http_header_timeout: Duration,
    /// How long a client may take to send a request's body (`HTTP_BODY_TIMEOUT_S`, default 10 s).
    pub http_body_timeout: Duration,
    /// Largest REST request body, read only after the bearer token was checked
    /// (`API_MAX_BODY_BYTES`, default 64 KiB).
    pub api_max_body_bytes: usize,
    /// Largest Twilio webhook body, read before the signature can be checked
    /// (`WEBHOOK_MAX_BODY_BYTES`, default 32 KiB).
    pub webhook_max_body_bytes: usize,
    /// A Media Streams WebSocket that sends no `start` this long after the upgrade is closed
    /// (`WS_START_TIMEOUT_S`, default 10 s).
    pub ws_start_timeout: Duration,
    /// A started stream that sends nothing this long is closed (`WS_IDLE_TIMEOUT_S`, default 30 s;
    /// Twilio sends a frame every 20 ms).
    pub ws_idle_timeout: Duration,
    /// Languages (primary subtags: `en`, `es`) the deployment's speech providers and brain speak;
    /// a call request whose `preferred_language` is not one of them is refused (`SUPPORTED_LANGUAGES`,
    /// default `en`: the embedded recogniser, voice and scripted brain are English only).
    pub supported_languages: Vec<String>,
}

impl Config {
    /// Loads the configuration from an environment map.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let env = Env(env);
        let public_base_url = env.required("PUBLIC_BASE_URL")?.trim_end_matches('/').to_owned();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::invalid("PUBLIC_BASE_URL", "must start with https:// or http://"));
        }
        let validate_signature = env.boolean("TWILIO_VALIDATE_SIGNATURE", true)?;
        let twilio_auth_token = env.get("TWILIO_AUTH_TOKEN").unwrap_or_default().to_owned();
        if validate_signature && twilio_auth_token.is_empty() {
            return Err(ConfigError::Missing("TWILIO_AUTH_TOKEN"));
        }
        let api_token = env.get("API_TOKEN").map(str::to_owned);
        if let Some(token) = &api_token {
            if token.chars().count() < API_TOKEN_MIN_CHARS {
                return Err(ConfigError::invalid(
                    "API_TOKEN",
                    format!(
                        "it has {} characters, at least {API_TOKEN_MIN_CHARS} are needed: it alone opens the whole \
                         REST API, so a short one can be guessed (make one with `openssl rand -hex 32`)",
                        token.chars().count()
                    ),
                ));
            }
        }
        Ok(Config {
            public_base_url,
            twilio_account_sid: env.get("TWILIO_ACCOUNT_SID").unwrap_or_default().to_owned(),
            twilio_auth_token,
            twilio_from_number: env.get("TWILIO_FROM_NUMBER").unwrap_or_default().to_owned(),
            validate_signature,
            nats_url: env.parse("NATS_URL", "nats://127.0.0.1:4222".to_owned())?,
            nats: bus::NatsOptions::from_env(env)?,
            listen_addr: env.parse("LISTEN_ADDR", "0.0.0.0:8000".to_owned())?,
            api_token,
            inbound_playbook: env.parse("INBOUND_PLAYBOOK", "gym-dropin".to_owned())?,
            media_assign_timeout: Duration::from_millis(env.parse("MEDIA_ASSIGN_TIMEOUT_MS", 1000u64)?),
            media_assign_attempts: env.parse("MEDIA_ASSIGN_ATTEMPTS", 3u32)?.max(1),
            media_ping_interval: match env.parse("MEDIA_PING_INTERVAL_MS", 2000u64)? {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            media_replay_ms: match env.parse("MEDIA_REPLAY_MS", DEFAULT_MEDIA_REPLAY_MS)? {
                ms if ms <= MAX_MEDIA_REPLAY_MS => ms,
                _ => {
                    return Err(ConfigError::invalid(
                        "MEDIA_REPLAY_MS",
                        format!("at most {MAX_MEDIA_REPLAY_MS} (each stream holds that much audio)"),
                    ))
                }
            },
            ws_max_frame_bytes: env.parse("WS_MAX_FRAME_BYTES", 64 * 1024usize)?,
            shutdown_grace: env.shutdown_grace(Duration::from_secs(30))?,
            http_workers: env.parse("HTTP_WORKERS", 0usize)?,
            http_header_timeout: env.seconds("HTTP_HEADER_TIMEOUT_S", Duration::from_secs(5))?,
            http_body_timeout: env.seconds("HTTP_BODY_TIMEOUT_S", Duration::from_secs(10))?,
            api_max_body_bytes: env.parse("API_MAX_BODY_BYTES", 64 * 1024usize)?,
            webhook_max_body_bytes: env.parse("WEBHOOK_MAX_BODY_BYTES", 32 * 1024usize)?,
            ws_start_timeout: env.seconds("WS_START_TIMEOUT_S", Duration::from_secs(10))?,
            ws_idle_timeout: env.seconds("WS_IDLE_TIMEOUT_S", Duration::from_secs(30))?,
            supported_languages: supported_languages(env.get("SUPPORTED_LANGUAGES").unwrap_or("en"))?,
        })
    }

    /// A configuration for tests: the given public URL and auth token, signatures checked,
    /// listening on 127.0.0.1:0 with two HTTP workers and a 2 s grace period.
    pub fn for_tests(public_base_url: &str, auth_token: &str, nats_url: &str) -> Config {
        Config {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            twilio_account_sid: "AC00000000000000000000000000000000".to_owned(),
            twilio_auth_token: auth_token.to_owned(),
            twilio_from_number: "+15005550006".to_owned(),
            validate_signature: true,
            nats_url: nats_url.to_owned(),
            nats: bus::NatsOptions::default(),
            listen_addr: "127.0.0.1:0".to_owned(),
            api_token: None,
            inbound_playbook: "gym-dropin".to_owned(),
            media_assign_timeout: Duration::from_millis(1000),
            media_assign_attempts: 3,
            media_ping_interval: None,
            media_replay_ms: DEFAULT_MEDIA_REPLAY_MS,
            ws_max_frame_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(2),
            http_workers: 2,
            http_header_timeout: Duration::from_secs(5),
            http_body_timeout: Duration::from_secs(10),
            supported_languages: vec!["en".to_owned()],
            api_max_body_bytes: 64 * 1024,
            webhook_max_body_bytes: 32 * 1024,
            ws_start_timeout: Duration::from_secs(10),
            ws_idle_timeout: Duration::from_secs(30),
        }
    }

    /// How REST request bodies are read (after the bearer token was checked).
    pub fn api_body_limits(&self) -> crate::body::BodyLimits {
        crate::body::BodyLimits { max_bytes: self.api_max_body_bytes, timeout: self.http_body_timeout }
    }

    /// How Twilio webhook bodies are read (before the signature can be checked).
    pub fn webhook_body_limits(&self) -> crate::body::BodyLimits {
        crate::body::BodyLimits { max_bytes: self.webhook_max_body_bytes, timeout: self.http_body_timeout }
    }

    /// `wss://PUBLIC/v1/twilio/stream` (`ws://` when the public URL is plain http).
    pub fn stream_url(&self) -> String {
        let rest = self
            .public_base_url
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| self.public_base_url.strip_prefix("http://").map(|r| format!("ws://{r}")))
            .unwrap_or_else(|| self.public_base_url.clone());
        format!("{rest}{}", crate::paths::STREAM_PATH)
    }

    /// The public URL of a request path with its query string (what Twilio signed).
    pub fn public_url(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}{path}", self.public_base_url)
        } else {
            format!("{}{path}?{query}", self.public_base_url)
        }
    }
}

/// Reads `SUPPORTED_LANGUAGES`: comma-separated primary language subtags (`en,es`).
fn supported_languages(text: &str) -> Result<Vec<String>, ConfigError> {
    let languages: Vec<String> =
        text.split(',').map(|part| part.trim().to_ascii_lowercase()).filter(|part| !part.is_empty()).collect();
    let valid = |code: &String| (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase());
    if languages.is_empty() || !languages.iter().all(valid) || languages.len() > 50 {
        return Err(ConfigError::invalid(
            "SUPPORTED_LANGUAGES",
            format!("{text:?} is not a comma-separated list of language codes such as en,es"),
        ));
    }
    Ok(languages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_and_required_values() {
        let config =
            Config::from_env(&env(&[("PUBLIC_BASE_URL", "https://gw.example.com/"), ("TWILIO_AUTH_TOKEN", "t")]))
                .unwrap();
        assert!(config.validate_signature);
        assert_eq!(config.listen_addr, "0.0.0.0:8000");
        assert_eq!(config.inbound_playbook, "gym-dropin");
        assert_eq!(config.media_ping_interval, Some(Duration::from_secs(2)), "worker liveness pings on by default");
        assert_eq!(config.stream_url(), "wss://gw.example.com/v1/twilio/stream");
        assert_eq!(Config::from_env(&env(&[])).unwrap_err(), ConfigError::Missing("PUBLIC_BASE_URL"));
        assert_eq!(
            Config::from_env(&env(&[("PUBLIC_BASE_URL", "https://x")])).unwrap_err(),
            ConfigError::Missing("TWILIO_AUTH_TOKEN")
        );
        let unsigned =
            Config::from_env(&env(&[("PUBLIC_BASE_URL", "http://x:8000"), ("TWILIO_VALIDATE_SIGNATURE", "false")]))
                .unwrap();
        assert!(!unsigned.validate_signature);
        assert_eq!(unsigned.stream_url(), "ws://x:8000/v1/twilio/stream");
        assert!(matches!(
            Config::from_env(&env(&[
                ("PUBLIC_BASE_URL", "https://x"),
                ("TWILIO_AUTH_TOKEN", "t"),
                ("MEDIA_ASSIGN_TIMEOUT_MS", "soon")
            ])),
            Err(ConfigError::Invalid { name: "MEDIA_ASSIGN_TIMEOUT_MS", .. })
        ));
    }

    #[test]
    fn a_short_api_token_is_refused_and_says_why() {
        let base = [("PUBLIC_BASE_URL", "https://x"), ("TWILIO_AUTH_TOKEN", "t")];
        let with_token = |token: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("API_TOKEN", token));
            Config::from_env(&env(&pairs))
        };
        let error = with_token("x").unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { name: "API_TOKEN", .. }), "{error}");
        assert!(error.to_string().contains("at least 16"), "{error}");
        assert!(with_token("0123456789abcde").is_err(), "15 characters");
        assert_eq!(with_token("0123456789abcdef").unwrap().api_token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(Config::from_env(&env(&base)).unwrap().api_token, None, "unset: the REST API refuses everything");
    }

    #[test]
    fn edge_limits_have_defaults_and_read_their_variables() {
        let config = Config::from_env(&env(&[("PUBLIC_BASE_URL", "https://x"), ("TWILIO_AUTH_TOKEN", "t")])).unwrap();
        assert_eq!(config.http_body_timeout, Duration::from_secs(10));
        assert_eq!(config.ws_start_timeout, Duration::from_secs(10));
        assert_eq!(config.webhook_max_body_bytes, 32 * 1024);
        let config = Config::from_env(&env(&[
            ("PUBLIC_BASE_URL", "https://x"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("HTTP_BODY_TIMEOUT_S", "1.5"),
            ("WS_START_TIMEOUT_S", "2"),
            ("API_MAX_BODY_BYTES", "1000"),
        ]))
        .unwrap();
        assert_eq!(config.http_body_timeout, Duration::from_millis(1500));
        assert_eq!(config.ws_start_timeout, Duration::from_secs(2));
        assert_eq!(config.api_max_body_bytes, 1000);
    }
}
