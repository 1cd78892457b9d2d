//! The media worker's configuration, read from an environment map (tests never touch the process
//! environment).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use speech::{SpeechConfig, SpeechConfigError, VadMode};

/// Every environment variable [`Config::from_env`] reads itself. The speech providers' variables
/// are listed in [`speech::ENV_VARS`]; [`all_env_vars`] gives both.
pub const ENV_VARS: &[&str] = &[
    "NATS_URL",
    // and bus::settings::ENV_VARS (NATS credentials, TLS, replicas, ages), read by every service
    "METRICS_ADDR",
    "WORKER_ID",
    "MAX_CALLS",
    "VAD_MODE",
    "ENDPOINT_SILENCE_MS",
    "PAUSE_MS",
    "MIN_SPEECH_MS",
    "BARGE_IN_MIN_MS",
    "PLAYBACK_LEAD_MS",
    "GOODBYE_WAIT_MS",
    "HOLD_FILLER_MS",
    "HOLD_FILLER_TEXT",
    "RECORDINGS_DIR",
    "RECORDING_RETENTION_DAYS",
    "PLAYBOOKS_DIR",
    "MEDIA_ARBITERS",
    "BRAIN_ASSIGN_TIMEOUT_MS",
    "SHUTDOWN_GRACE_S",
    "HOSTNAME",
];

/// Longest `HOLD_FILLER_TEXT`: a filler is a word or two, not a message.
pub const MAX_HOLD_FILLER_CHARS: usize = 40;

/// [`ENV_VARS`] followed by the speech providers' variables.
pub fn all_env_vars() -> Vec<&'static str> {
    ENV_VARS.iter().chain(speech::ENV_VARS.iter()).copied().collect()
}

/// A variable that could not be used: one of the worker's own (named by [`probes::ConfigError`])
/// or a speech provider's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] probes::ConfigError),
    #[error(transparent)]
    Speech(#[from] SpeechConfigError),
}

impl ConfigError {
    fn out_of_range(name: &'static str, value: impl std::fmt::Display, expected: &str) -> ConfigError {
        ConfigError::Env(probes::ConfigError::invalid(name, format!("{value} is out of range ({expected})")))
    }
}

/// Everything one media worker process needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    /// Credentials, TLS, replicas and ages for NATS (`NATS_*`, see [`bus::settings`]).
    pub nats: bus::NatsOptions,
    /// Where `/healthz`, `/readyz` and `/metrics` listen; none when unset.
    pub metrics_addr: Option<SocketAddr>,
    /// Name this worker answers `media.assign` with (default `<hostname>-<pid>`).
    pub worker_id: String,
    /// Calls this worker takes at once; above it, it does not answer `media.assign`.
    pub max_calls: usize,
    pub vad_mode: VadMode,
    /// Silence that ends a callee utterance.
    pub endpoint_silence_ms: u64,
    /// Quiet after which the recogniser starts on the words so far (0, the default: only at the
    /// endpoint).
    pub pause_ms: u64,
    /// Speech that confirms a callee utterance (shorter bursts are noise).
    pub min_speech_ms: u64,
    /// Callee speech this long while agent audio is unplayed interrupts the agent.
    pub barge_in_min_ms: u64,
    /// How far ahead of real time agent audio may be queued at Twilio.
    pub playback_lead_ms: u64,
    /// After the agent's last words before a hang-up, how long the callee has to say goodbye.
    pub goodbye_wait_ms: u64,
    /// When the agent's reply has not started this long after the callee stopped talking, a
    /// short filler ([`Config::hold_filler_text`]) holds the line (0: never).
    pub hold_filler_ms: u64,
    /// What the filler says ("Okay."): synthesized once per worker.
    pub hold_filler_text: String,
    /// When set, a stereo WAV (callee left, agent right) and a transcript per call go here.
    pub recordings_dir: Option<PathBuf>,
    /// How long a finished recording stays in the bus's `recordings` object bucket, where the
    /// gateway serves it from (`RECORDING_RETENTION_DAYS`, default 30; 0 keeps them until deleted).
    pub recording_retention_days: u64,
    /// Playbooks to build STT vocabularies from; the built-in playbooks when unset.
    pub playbooks_dir: Option<PathBuf>,
    /// Threads (actix arbiters) the call actors are spread over.
    pub arbiters: usize,
    /// How long one `brain.assign` request waits for an answer.
    pub brain_assign_timeout_ms: u64,
    /// How long `stop` lets live calls finish before hanging them up (`SHUTDOWN_GRACE_S`).
    pub drain_grace_ms: u64,
    pub speech: SpeechConfig,
}

impl Config {
    /// Reads the configuration from `env` (a copy of the process environment, or a test's map).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let speech = SpeechConfig::from_env(env)?;
        let env = probes::Env(env);
        let get = |name: &str| env.get(name);
        let hostname = get("HOSTNAME")
            .map(str::to_owned)
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "media".to_owned());
        let vad_mode = match get("VAD_MODE") {
            None => VadMode::Aggressive,
            Some(value) => parse_vad_mode(value)?,
        };
        let metrics_addr = match get("METRICS_ADDR") {
            None => None,
            Some(value) => Some(
                value
                    .parse()
                    .map_err(|_| ConfigError::out_of_range("METRICS_ADDR", value, "host:port, e.g. 0.0.0.0:9090"))?,
            ),
        };
        let default_arbiters = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let config = Config {
            nats_url: get("NATS_URL").unwrap_or("nats://127.0.0.1:4222").to_owned(),
            nats: bus::NatsOptions::from_env(env)?,
            metrics_addr,
            worker_id: get("WORKER_ID")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{hostname}-{}", std::process::id())),
            max_calls: env.parse("MAX_CALLS", 200)?,
            vad_mode,
            endpoint_silence_ms: env.parse("ENDPOINT_SILENCE_MS", 500)?,
            // off by default: on two cores the decodes started at pauses the callee talks through
            // cost the conversation evaluation more dead air than they saved (README "Load
            // benchmark", 2026-12-05 evening)
            pause_ms: env.parse("PAUSE_MS", 0)?,
            min_speech_ms: env.parse("MIN_SPEECH_MS", 120)?,
            barge_in_min_ms: env.parse("BARGE_IN_MIN_MS", 200)?,
            playback_lead_ms: env.parse("PLAYBACK_LEAD_MS", 200)?,
            goodbye_wait_ms: env.parse("GOODBYE_WAIT_MS", 2000)?,
            // a reply that has not begun 2 s after the callee stopped gets an "Okay." first, so
            // the line is never silent for 3 s (issue 12's dead air)
            hold_filler_ms: env.parse("HOLD_FILLER_MS", 2000)?,
            hold_filler_text: get("HOLD_FILLER_TEXT").unwrap_or("Okay.").trim().to_owned(),
            recordings_dir: get("RECORDINGS_DIR").map(PathBuf::from),
            recording_retention_days: env.parse("RECORDING_RETENTION_DAYS", 30)?,
            playbooks_dir: get("PLAYBOOKS_DIR").map(PathBuf::from),
            arbiters: env.parse("MEDIA_ARBITERS", default_arbiters)?,
            brain_assign_timeout_ms: env.parse("BRAIN_ASSIGN_TIMEOUT_MS", 2000)?,
            drain_grace_ms: env.shutdown_grace(std::time::Duration::from_secs(30))?.as_millis() as u64,
            speech,
        };
        if config.max_calls == 0 {
            return Err(ConfigError::out_of_range("MAX_CALLS", 0, "at least 1"));
        }
        if config.arbiters == 0 || config.arbiters > 256 {
            return Err(ConfigError::out_of_range("MEDIA_ARBITERS", config.arbiters, "1 to 256"));
        }
        if config.recording_retention_days > 36_500 {
            return Err(ConfigError::out_of_range(
                "RECORDING_RETENTION_DAYS",
                config.recording_retention_days,
                "0 (forever) to 36500",
            ));
        }
        if config.endpoint_silence_ms < 20 {
            return Err(ConfigError::out_of_range("ENDPOINT_SILENCE_MS", config.endpoint_silence_ms, "at least 20"));
        }
        if config.pause_ms != 0 && !(40..config.endpoint_silence_ms).contains(&config.pause_ms) {
            let range = format!("0 (off) or 40 to ENDPOINT_SILENCE_MS - 1 ({})", config.endpoint_silence_ms - 1);
            return Err(ConfigError::out_of_range("PAUSE_MS", config.pause_ms, &range));
        }
        if config.hold_filler_ms != 0 && !(500..=10_000).contains(&config.hold_filler_ms) {
            return Err(ConfigError::out_of_range("HOLD_FILLER_MS", config.hold_filler_ms, "0 (off) or 500 to 10000"));
        }
        let filler_chars = config.hold_filler_text.chars().count();
        if config.hold_filler_ms != 0 && !(1..=MAX_HOLD_FILLER_CHARS).contains(&filler_chars) {
            let expected = format!("1 to {MAX_HOLD_FILLER_CHARS} characters, or HOLD_FILLER_MS=0");
            return Err(ConfigError::out_of_range("HOLD_FILLER_TEXT", format!("{filler_chars} characters"), &expected));
        }
        Ok(config)
    }

    /// A configuration for tests: local NATS, small limits, everything else default.
    pub fn for_tests(nats_url: &str, worker_id: &str) -> Config {
        let mut env = HashMap::new();
        env.insert("NATS_URL".to_owned(), nats_url.to_owned());
        env.insert("WORKER_ID".to_owned(), worker_id.to_owned());
        env.insert("MEDIA_ARBITERS".to_owned(), "1".to_owned());
        env.insert("SHUTDOWN_GRACE_S".to_owned(), "0.5".to_owned());
        env.insert("METRICS_ADDR".to_owned(), "127.0.0.1:0".to_owned());
        // Built from constants that always parse.
        Config::from_env(&env).unwrap_or_else(|_| unreachable!("default test configuration parses"))
    }

    /// The endpointer settings the call actors use.
    pub fn endpointer(&self) -> speech::EndpointerConfig {
        speech::EndpointerConfig {
            min_speech_ms: self.min_speech_ms,
            end_silence_ms: self.endpoint_silence_ms,
            pause_ms: self.pause_ms,
            barge_in_min_ms: self.barge_in_min_ms,
            ..speech::EndpointerConfig::default()
        }
    }
}

fn parse_vad_mode(value: &str) -> Result<VadMode, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "0" | "quality" => Ok(VadMode::Quality),
        "1" | "low_bitrate" | "low-bitrate" => Ok(VadMode::LowBitrate),
        "2" | "aggressive" => Ok(VadMode::Aggressive),
        "3" | "very_aggressive" | "very-aggressive" => Ok(VadMode::VeryAggressive),
        _ => Err(ConfigError::out_of_range(
            "VAD_MODE",
            format!("{value:?}"),
            "0-3 or quality / low_bitrate / aggressive / very_aggressive",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fill_everything_but_the_optional_dirs() {
        let config = Config::from_env(&env(&[("HOSTNAME", "node-a")])).unwrap();
        assert_eq!(config.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(config.worker_id, format!("node-a-{}", std::process::id()));
        assert_eq!(config.endpoint_silence_ms, 500);
        assert_eq!(config.pause_ms, 0);
        assert_eq!((config.hold_filler_ms, config.hold_filler_text.as_str()), (2000, "Okay."));
        assert_eq!(config.vad_mode, VadMode::Aggressive);
        assert!(config.recordings_dir.is_none());
        assert!(config.playbooks_dir.is_none());
    }

    #[test]
    fn reads_every_setting() {
        let config = Config::from_env(&env(&[
            ("NATS_URL", "nats://nats:4222"),
            ("WORKER_ID", "w1"),
            ("MAX_CALLS", "3"),
            ("VAD_MODE", "very_aggressive"),
            ("ENDPOINT_SILENCE_MS", "700"),
            ("PAUSE_MS", "200"),
            ("BARGE_IN_MIN_MS", "150"),
            ("RECORDINGS_DIR", "/tmp/rec"),
            ("RECORDING_RETENTION_DAYS", "7"),
            ("PLAYBOOKS_DIR", "/etc/playbooks"),
            ("MEDIA_ARBITERS", "4"),
            ("METRICS_ADDR", "0.0.0.0:9090"),
            ("HOLD_FILLER_MS", "1500"),
            ("HOLD_FILLER_TEXT", " Mm-hm. "),
        ]))
        .unwrap();
        assert_eq!((config.hold_filler_ms, config.hold_filler_text.as_str()), (1500, "Mm-hm."));
        assert_eq!(config.worker_id, "w1");
        assert_eq!(config.max_calls, 3);
        assert_eq!(config.vad_mode, VadMode::VeryAggressive);
        assert_eq!(config.endpoint_silence_ms, 700);
        assert_eq!(config.pause_ms, 200);
        assert_eq!(config.barge_in_min_ms, 150);
        assert_eq!(config.recordings_dir, Some(PathBuf::from("/tmp/rec")));
        assert_eq!(config.recording_retention_days, 7);
        assert_eq!(config.arbiters, 4);
        assert_eq!(config.metrics_addr, Some("0.0.0.0:9090".parse().unwrap()));
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            Config::from_env(&env(&[("MAX_CALLS", "lots")])).unwrap_err(),
            ConfigError::Env(probes::ConfigError::Invalid {
                name: "MAX_CALLS",
                reason: "\"lots\": invalid digit found in string".into()
            })
        );
        assert!(matches!(
            Config::from_env(&env(&[("VAD_MODE", "7")])).unwrap_err(),
            ConfigError::Env(probes::ConfigError::Invalid { name: "VAD_MODE", .. })
        ));
        assert!(matches!(
            Config::from_env(&env(&[("MAX_CALLS", "0")])).unwrap_err(),
            ConfigError::Env(probes::ConfigError::Invalid { name: "MAX_CALLS", .. })
        ));
        // a pause as long as the endpoint silence would never come before it
        for pause in ["10", "500", "900"] {
            assert!(matches!(
                Config::from_env(&env(&[("PAUSE_MS", pause)])).unwrap_err(),
                ConfigError::Env(probes::ConfigError::Invalid { name: "PAUSE_MS", .. })
            ));
        }
        assert_eq!(Config::from_env(&env(&[("PAUSE_MS", "0")])).unwrap().pause_ms, 0);
        // a filler after 100 ms would talk over every answer; a long one is no filler (a blank one
        // is unset: the default)
        let long = "x".repeat(MAX_HOLD_FILLER_CHARS + 1);
        for bad in [&[("HOLD_FILLER_MS", "100")][..], &[("HOLD_FILLER_TEXT", &long)]] {
            let error = Config::from_env(&env(bad)).unwrap_err().to_string();
            assert!(error.contains("HOLD_FILLER"), "{error}");
        }
        let off = Config::from_env(&env(&[("HOLD_FILLER_MS", "0"), ("HOLD_FILLER_TEXT", "")])).unwrap();
        assert_eq!(off.hold_filler_ms, 0);
    }

    #[test]
    fn env_var_list_covers_speech_variables() {
        let all = all_env_vars();
        assert!(all.contains(&"MAX_CALLS"));
        assert!(all.contains(&"STT_PROVIDER"));
    }
}
