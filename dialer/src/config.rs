//! The dialer's settings, read from environment variables given as a map.

use crate::scheduler::{RetryPolicy, SchedulerConfig};
use crate::twilio::TwilioConfig;
use crate::window::CallingWindow;
use chrono_tz::Tz;
use std::collections::HashMap;
use std::time::Duration;

/// Every environment variable [`Config::from_env`] reads.
pub const ENV_VARS: &[&str] = &[
    "NATS_URL",
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
    "DRAIN_S",
    "METRICS_ADDR",
];

/// A setting that could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{name} = {value:?} is invalid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

/// Everything the dialer needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub nats_url: String,
    pub twilio: TwilioConfig,
    /// Public base URL of the gateway (`https://calls.example.com`): webhooks point there.
    pub public_base_url: String,
    pub scheduler: SchedulerConfig,
    /// Calling window when the request names none (a gym's front-desk hours).
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
}

fn number<T: std::str::FromStr>(env: &HashMap<String, String>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn required(env: &HashMap<String, String>, name: &'static str) -> Result<String, ConfigError> {
    env.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
}

impl Config {
    /// Reads the configuration from `env` (the process environment in `main`, a map in tests).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |name: &str| env.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let public_base_url = required(env, "PUBLIC_BASE_URL")?.trim_end_matches('/').to_owned();
        if url::Url::parse(&public_base_url).is_err() {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                value: public_base_url,
                reason: "not an absolute URL".into(),
            });
        }
        let default_window = match get("CALLING_WINDOW") {
            None => CallingWindow::front_desk(),
            Some(text) => CallingWindow::parse(&text).map_err(|e| ConfigError::Invalid {
                name: "CALLING_WINDOW",
                value: text,
                reason: e.reason,
            })?,
        };
        let default_timezone = match get("DEFAULT_TIMEZONE") {
            None => chrono_tz::UTC,
            Some(text) => text.parse::<Tz>().map_err(|_| ConfigError::Invalid {
                name: "DEFAULT_TIMEZONE",
                value: text,
                reason: "not an IANA timezone name".into(),
            })?,
        };
        let machine_detection = match get("MACHINE_DETECTION").as_deref() {
            None | Some("Enable") => Some("Enable".to_owned()),
            Some("DetectMessageEnd") => Some("DetectMessageEnd".to_owned()),
            Some("off" | "false" | "None" | "none") => None,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "MACHINE_DETECTION",
                    value: other.to_owned(),
                    reason: "expected Enable, DetectMessageEnd or off".into(),
                })
            }
        };
        let seconds = |name: &'static str, default: u64| number(env, name, default).map(Duration::from_secs);
        let chrono_seconds =
            |name: &'static str, default: i64| number(env, name, default).map(chrono::Duration::seconds);
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: number(env, "MAX_ATTEMPTS", defaults.max_attempts)?,
            after_busy: chrono_seconds("RETRY_BUSY_S", defaults.after_busy.num_seconds())?,
            after_no_answer: chrono_seconds("RETRY_NO_ANSWER_S", defaults.after_no_answer.num_seconds())?,
            after_failed: chrono_seconds("RETRY_FAILED_S", defaults.after_failed.num_seconds())?,
            after_machine: chrono_seconds("RETRY_MACHINE_S", defaults.after_machine.num_seconds())?,
            jitter_fraction: number(env, "RETRY_JITTER", defaults.jitter_fraction)?,
            transient_backoff: chrono::Duration::milliseconds(number(
                env,
                "RETRY_BACKOFF_MS",
                defaults.transient_backoff.num_milliseconds(),
            )?),
            ..defaults
        };
        if retry.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                name: "MAX_ATTEMPTS",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let max_concurrent_calls: usize = number(env, "MAX_CONCURRENT_CALLS", 10)?;
        if max_concurrent_calls == 0 {
            return Err(ConfigError::Invalid {
                name: "MAX_CONCURRENT_CALLS",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(Config {
            nats_url: get("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            twilio: TwilioConfig {
                account_sid: required(env, "TWILIO_ACCOUNT_SID")?,
                auth_token: required(env, "TWILIO_AUTH_TOKEN")?,
                from_number: required(env, "TWILIO_FROM_NUMBER")?,
                api_base: get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
            },
            public_base_url,
            scheduler: SchedulerConfig {
                max_concurrent_calls,
                max_concurrent_per_number: number(env, "MAX_CALLS_PER_NUMBER", 1)?,
                retry,
                seed,
            },
            default_window,
            default_timezone,
            ring_timeout_s: number(env, "RING_TIMEOUT_S", 30)?,
            time_limit_s: number(env, "CALL_TIME_LIMIT_S", 600)?,
            machine_detection,
            hold: seconds("DIAL_HOLD_S", 60)?,
            ack_wait: seconds("DIAL_ACK_WAIT_S", 30)?,
            drain: seconds("DRAIN_S", 30)?,
            metrics_addr: get("METRICS_ADDR"),
        })
    }
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
        assert_eq!(config.default_window, CallingWindow::front_desk());
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
    }

    #[test]
    fn names_the_bad_variable() {
        assert_eq!(Config::from_env(&env(&[])).unwrap_err(), ConfigError::Missing("PUBLIC_BASE_URL"));
        for (name, value) in [
            ("MAX_CONCURRENT_CALLS", "lots"),
            ("DEFAULT_TIMEZONE", "Mars/Base"),
            ("CALLING_WINDOW", "always"),
            ("MAX_ATTEMPTS", "0"),
        ] {
            let mut pairs = minimal();
            pairs.push((name, value));
            match Config::from_env(&env(&pairs)) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
