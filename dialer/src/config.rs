//! The dialer's settings, read from environment variables given as a map.

use crate::scheduler::{RetryPolicy, SchedulerConfig};
use crate::twilio::TwilioConfig;
use crate::webhook::WebhookConfig;
use crate::window::CallingWindow;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::time::Duration;

/// Every environment variable [`Config::from_env`] reads.
pub const ENV_VARS: &[&str] = &[
    "NATS_URL",
    // and bus::settings::ENV_VARS (NATS credentials, TLS, replicas, ages), read by every service
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_API_BASE",
    "PUBLIC_BASE_URL",
    "MAX_CONCURRENT_CALLS",
    "MAX_CALLS_PER_NUMBER",
    "MAX_ATTEMPTS",
    "CALLING_WINDOW",
    "DEFAULT_TIMEZONE",
    "RETRY_BUSY_S",
    "RETRY_NO_ANSWER_S",
    "RETRY_FAILED_S",
    "RETRY_MACHINE_S",
    "RETRY_JITTER",
    "RETRY_BACKOFF_MS",
    "RING_TIMEOUT_S",
    "CALL_TIME_LIMIT_S",
    "MACHINE_DETECTION",
    "DIAL_HOLD_S",
    "DIAL_ACK_WAIT_S",
    "SHUTDOWN_GRACE_S",
    "METRICS_ADDR",
    "RESULT_WEBHOOK_URL",
    "RESULT_WEBHOOK_SECRET",
    "RESULT_WEBHOOK_MAX_ATTEMPTS",
    "RESULT_WEBHOOK_TIMEOUT_MS",
    "RESULT_WEBHOOK_RETRY_MS",
    "RESULT_WEBHOOK_MAX_RETRY_S",
    "RESULT_WEBHOOK_RESULT_WAIT_S",
];

pub use probes::ConfigError;
use probes::Env;

/// Everything the dialer needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub nats_url: String,
    /// Credentials, TLS, replicas and ages for NATS (`NATS_*`, see [`bus::settings`]).
    pub nats: bus::NatsOptions,
    pub twilio: TwilioConfig,
    /// Public base URL of the gateway (`https://calls.example.com`): webhooks point there.
    pub public_base_url: String,
    pub scheduler: SchedulerConfig,
    /// `CALLING_WINDOW` when set: the deployment's window, used for every call whose request names
    /// none, in place of its playbook's `calling_window`.
    pub window_override: Option<CallingWindow>,
    /// The `calling_window` of each built-in playbook, used when neither the request nor
    /// `CALLING_WINDOW` names one.
    pub playbook_windows: BTreeMap<String, CallingWindow>,
    /// For a playbook the dialer does not know: a gym's front-desk hours.
    pub default_window: CallingWindow,
    /// Timezone when the request names none.
    pub default_timezone: Tz,
    pub ring_timeout_s: u32,
    pub time_limit_s: u32,
    /// `Enable`, `DetectMessageEnd`, or `None` (off). Async AMD is used when on.
    pub machine_detection: Option<String>,
    /// A job waiting longer than this goes back to the queue (with a delay) instead of being held.
    pub hold: Duration,
    /// JetStream ack wait of the dial queue consumer.
    pub ack_wait: Duration,
    /// On shutdown, how long live calls may go on before the dialer lets go of them.
    pub drain: Duration,
    /// Where to serve `/healthz`, `/readyz`, `/metrics` (e.g. `0.0.0.0:9090`); `None`: not served.
    pub metrics_addr: Option<String>,
    /// Where and how call results are pushed when a call ends (`RESULT_WEBHOOK_*`).
    pub webhook: WebhookConfig,
}

impl Config {
    /// Reads the configuration from `env` (the process environment in `main`, a map in tests).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let env = Env(env);
        let get = |name: &str| env.get(name).map(str::to_owned);
        let public_base_url = env.required("PUBLIC_BASE_URL")?.trim_end_matches('/').to_owned();
        if url::Url::parse(&public_base_url).is_err() {
            return Err(ConfigError::invalid("PUBLIC_BASE_URL", format!("{public_base_url:?} is not an absolute URL")));
        }
        let window_override = match get("CALLING_WINDOW") {
            None => None,
            Some(text) => Some(
                CallingWindow::parse(&text)
                    .map_err(|e| ConfigError::invalid("CALLING_WINDOW", format!("{text:?}: {}", e.reason)))?,
            ),
        };
        let default_timezone = match get("DEFAULT_TIMEZONE") {
            None => chrono_tz::UTC,
            Some(text) => text.parse::<Tz>().map_err(|_| {
                ConfigError::invalid("DEFAULT_TIMEZONE", format!("{text:?} is not an IANA timezone name"))
            })?,
        };
        let machine_detection = match get("MACHINE_DETECTION").as_deref() {
            None | Some("Enable") => Some("Enable".to_owned()),
            Some("DetectMessageEnd") => Some("DetectMessageEnd".to_owned()),
            Some("off" | "false" | "None" | "none") => None,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "MACHINE_DETECTION",
                    format!("{other:?}: expected Enable, DetectMessageEnd or off"),
                ))
            }
        };
        let seconds = |name: &'static str, default: u64| env.parse(name, default).map(Duration::from_secs);
        let chrono_seconds = |name: &'static str, default: i64| env.parse(name, default).map(chrono::Duration::seconds);
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: env.parse("MAX_ATTEMPTS", defaults.max_attempts)?,
            after_busy: chrono_seconds("RETRY_BUSY_S", defaults.after_busy.num_seconds())?,
            after_no_answer: chrono_seconds("RETRY_NO_ANSWER_S", defaults.after_no_answer.num_seconds())?,
            after_failed: chrono_seconds("RETRY_FAILED_S", defaults.after_failed.num_seconds())?,
            after_machine: chrono_seconds("RETRY_MACHINE_S", defaults.after_machine.num_seconds())?,
            jitter_fraction: env.parse("RETRY_JITTER", defaults.jitter_fraction)?,
            transient_backoff: chrono::Duration::milliseconds(
                env.parse("RETRY_BACKOFF_MS", defaults.transient_backoff.num_milliseconds())?,
            ),
            ..defaults
        };
        if retry.max_attempts == 0 {
            return Err(ConfigError::invalid("MAX_ATTEMPTS", "must be at least 1"));
        }
        let max_concurrent_calls: usize = env.parse("MAX_CONCURRENT_CALLS", 10)?;
        if max_concurrent_calls == 0 {
            return Err(ConfigError::invalid("MAX_CONCURRENT_CALLS", "must be at least 1"));
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(Config {
            nats_url: get("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            nats: bus::NatsOptions::from_env(env)?,
            twilio: TwilioConfig {
                account_sid: env.required("TWILIO_ACCOUNT_SID")?,
                auth_token: env.required("TWILIO_AUTH_TOKEN")?,
                from_number: env.required("TWILIO_FROM_NUMBER")?,
                api_base: get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
            },
            public_base_url,
            scheduler: SchedulerConfig {
                max_concurrent_calls,
                max_concurrent_per_number: env.parse("MAX_CALLS_PER_NUMBER", 1)?,
                retry,
                seed,
            },
            window_override,
            playbook_windows: built_in_playbook_windows(),
            default_window: CallingWindow::front_desk(),
            default_timezone,
            ring_timeout_s: env.parse("RING_TIMEOUT_S", 30)?,
            time_limit_s: env.parse("CALL_TIME_LIMIT_S", 600)?,
            machine_detection,
            hold: seconds("DIAL_HOLD_S", 60)?,
            ack_wait: seconds("DIAL_ACK_WAIT_S", 30)?,
            drain: env.shutdown_grace(Duration::from_secs(30))?,
            metrics_addr: get("METRICS_ADDR"),
            webhook: webhook_config(env)?,
        })
    }
}

/// Shortest `RESULT_WEBHOOK_SECRET` accepted.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

fn webhook_config(env: Env<'_>) -> Result<WebhookConfig, ConfigError> {
    let defaults = WebhookConfig::default();
    let default_url = env.get("RESULT_WEBHOOK_URL").map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned);
    if let Some(url) = &default_url {
        protocol::webhook::check_url(url).map_err(|problem| ConfigError::invalid("RESULT_WEBHOOK_URL", problem))?;
    }
    let secret = env.get("RESULT_WEBHOOK_SECRET").filter(|s| !s.is_empty()).map(str::to_owned);
    match &secret {
        Some(secret) if secret.len() < MIN_WEBHOOK_SECRET_LEN => {
            return Err(ConfigError::invalid(
                "RESULT_WEBHOOK_SECRET",
                format!("must be at least {MIN_WEBHOOK_SECRET_LEN} characters"),
            ))
        }
        None if default_url.is_some() => {
            return Err(ConfigError::invalid("RESULT_WEBHOOK_SECRET", "must be set when RESULT_WEBHOOK_URL is"))
        }
        _ => {}
    }
    let config = WebhookConfig {
        default_url,
        secret,
        max_attempts: env.parse("RESULT_WEBHOOK_MAX_ATTEMPTS", defaults.max_attempts)?,
        timeout: Duration::from_millis(env.parse("RESULT_WEBHOOK_TIMEOUT_MS", defaults.timeout.as_millis() as u64)?),
        first_retry: Duration::from_millis(
            env.parse("RESULT_WEBHOOK_RETRY_MS", defaults.first_retry.as_millis() as u64)?,
        ),
        max_retry: Duration::from_secs(env.parse("RESULT_WEBHOOK_MAX_RETRY_S", defaults.max_retry.as_secs())?),
        result_wait: Duration::from_secs(env.parse("RESULT_WEBHOOK_RESULT_WAIT_S", defaults.result_wait.as_secs())?),
    };
    if !(1..=100).contains(&config.max_attempts) {
        return Err(ConfigError::invalid("RESULT_WEBHOOK_MAX_ATTEMPTS", "must be from 1 to 100"));
    }
    if !(Duration::from_millis(100)..=Duration::from_secs(120)).contains(&config.timeout) {
        return Err(ConfigError::invalid("RESULT_WEBHOOK_TIMEOUT_MS", "must be from 100 to 120000"));
    }
    if config.first_retry.is_zero() || config.first_retry > config.max_retry.max(Duration::from_millis(1)) {
        return Err(ConfigError::invalid(
            "RESULT_WEBHOOK_RETRY_MS",
            "must be at least 1 and not more than RESULT_WEBHOOK_MAX_RETRY_S",
        ));
    }
    if config.max_retry > Duration::from_secs(86_400) || config.result_wait > Duration::from_secs(600) {
        return Err(ConfigError::invalid(
            "RESULT_WEBHOOK_MAX_RETRY_S",
            "RESULT_WEBHOOK_MAX_RETRY_S is at most 86400 and RESULT_WEBHOOK_RESULT_WAIT_S at most 600",
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "secret"),
            ("TWILIO_FROM_NUMBER", "+15005550006"),
            ("PUBLIC_BASE_URL", "https://calls.example.com/"),
        ]
    }

    #[test]
    fn reads_defaults_and_overrides() {
        let config = Config::from_env(&env(&minimal())).unwrap();
        assert_eq!(config.public_base_url, "https://calls.example.com");
        assert_eq!(config.twilio.api_base, "https://api.twilio.com");
        assert_eq!(config.window_override, None);
        let gym = config.playbook_windows.get("gym-dropin").expect("the gym playbook's window");
        assert_eq!(*gym, CallingWindow::parse("Mon-Sat 10:00-19:00").unwrap());
        assert_eq!(config.machine_detection.as_deref(), Some("Enable"));
        let mut pairs = minimal();
        pairs.extend([
            ("MAX_CONCURRENT_CALLS", "3"),
            ("MAX_ATTEMPTS", "5"),
            ("CALLING_WINDOW", "Mon-Fri 09:00-17:00"),
            ("DEFAULT_TIMEZONE", "Europe/Berlin"),
            ("MACHINE_DETECTION", "off"),
        ]);
        let config = Config::from_env(&env(&pairs)).unwrap();
        assert_eq!(config.scheduler.max_concurrent_calls, 3);
        assert_eq!(config.scheduler.retry.max_attempts, 5);
        assert_eq!(config.default_timezone, chrono_tz::Europe::Berlin);
        assert_eq!(config.machine_detection, None);
        assert_eq!(config.webhook, crate::webhook::WebhookConfig::default());
        pairs.extend([
            ("RESULT_WEBHOOK_URL", "https://hooks.example.com/gymcall"),
            ("RESULT_WEBHOOK_SECRET", "0123456789abcdef"),
            ("RESULT_WEBHOOK_MAX_ATTEMPTS", "4"),
            ("RESULT_WEBHOOK_RETRY_MS", "250"),
        ]);
        let webhook = Config::from_env(&env(&pairs)).unwrap().webhook;
        assert_eq!(webhook.default_url.as_deref(), Some("https://hooks.example.com/gymcall"));
        assert_eq!((webhook.max_attempts, webhook.first_retry), (4, Duration::from_millis(250)));
    }

    #[test]
    fn names_the_bad_variable() {
        assert_eq!(Config::from_env(&env(&[])).unwrap_err(), ConfigError::Missing("PUBLIC_BASE_URL"));
        for (name, value) in [
            ("MAX_CONCURRENT_CALLS", "lots"),
            ("DEFAULT_TIMEZONE", "Mars/Base"),
            ("CALLING_WINDOW", "always"),
            ("MAX_ATTEMPTS", "0"),
            ("RESULT_WEBHOOK_URL", "ftp://hooks.example.com/x"),
            ("RESULT_WEBHOOK_SECRET", "short"),
            ("RESULT_WEBHOOK_MAX_ATTEMPTS", "0"),
            ("RESULT_WEBHOOK_TIMEOUT_MS", "5"),
        ] {
            let mut pairs = minimal();
            pairs.push((name, value));
            match Config::from_env(&env(&pairs)) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        let mut pairs = minimal();
        pairs.push(("RESULT_WEBHOOK_URL", "https://hooks.example.com/x"));
        match Config::from_env(&env(&pairs)) {
            Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, "RESULT_WEBHOOK_SECRET", "a URL needs a secret"),
            other => panic!("{other:?}"),
        }
    }
}

/// The `calling_window` of every built-in playbook (the playbooks the gateway accepts).
fn built_in_playbook_windows() -> BTreeMap<String, CallingWindow> {
    let set = match playbook::PlaybookSet::built_in() {
        Ok(set) => set,
        Err(error) => {
            tracing::error!(%error, "built-in playbooks do not load; their calling windows are not applied");
            return BTreeMap::new();
        }
    };
    set.ids()
        .into_iter()
        .filter_map(|id| {
            let window = CallingWindow::from_playbook(&set.get(&id).ok()?.calling_window)?;
            Some((id, window))
        })
        .collect()
}
