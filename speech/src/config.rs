//! Which STT and TTS providers to use, read from the environment, and the wiring that builds them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::stt::{
    DeepgramConfig, DeepgramStt, OpenAiStt, OpenAiSttConfig, PocketsphinxConfig, PocketsphinxStt, SttProvider,
};
use crate::tts::{ElevenLabsConfig, ElevenLabsTts, FliteTts, OpenAiTts, OpenAiTtsConfig, TtsProvider};

/// Every environment variable [`SpeechConfig::from_env`] reads.
pub const ENV_VARS: &[&str] = &[
    "STT_PROVIDER",
    "TTS_PROVIDER",
    "DEEPGRAM_API_KEY",
    "DEEPGRAM_BASE_URL",
    "DEEPGRAM_MODEL",
    "DEEPGRAM_ENDPOINTING_MS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_STT_MODEL",
    "OPENAI_STT_LANGUAGE",
    "OPENAI_TTS_MODEL",
    "OPENAI_TTS_VOICE",
    "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL",
    "ELEVENLABS_VOICE_ID",
    "ELEVENLABS_MODEL",
    "POCKETSPHINX_MODEL_DIR",
    "WHISPER_MODEL_DIR",
    "WHISPER_DECODERS",
    "WHISPER_THREADS",
    "WHISPER_BEAM",
    "WHISPER_WINDOW_S",
    "WHISPER_QUEUE_MAX",
    "PIPER_MODEL_DIR",
    "PIPER_WORKERS",
    "PIPER_THREADS",
    "PIPER_QUEUE_MAX",
    "PIPER_CACHE_MB",
    "PIPER_VOICE_BIN",
    "ESPEAK_NG_BIN",
    "SPEECH_RETRY_DEADLINE_MS",
];

/// Where the embedded Whisper model is looked for when `WHISPER_MODEL_DIR` is unset (relative to
/// the working directory: `scripts/install-models.sh` puts it there in a checkout).
pub const DEFAULT_WHISPER_MODEL_DIR: &str = "models/whisper-tiny-en";

/// Where the embedded Piper voice is looked for when `PIPER_MODEL_DIR` is unset (relative to the
/// working directory: `scripts/install-models.sh` puts it there in a checkout).
pub const DEFAULT_PIPER_MODEL_DIR: &str = "models/piper-joe";

pub const DEFAULT_DEEPGRAM_BASE_URL: &str = "wss://api.deepgram.com";
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com";
pub const DEFAULT_ELEVENLABS_BASE_URL: &str = "https://api.elevenlabs.io";

/// Which speech-to-text engine; `Whisper` is built by the `whisper-stt` crate (it needs a native
/// library this crate keeps out of its build), the others by [`from_config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SttProviderKind {
    /// `STT_PROVIDER` unset: Whisper when its model directory exists (and the binary was built
    /// with it), PocketSphinx otherwise. [`from_config`] alone always picks PocketSphinx.
    #[default]
    Auto,
    Pocketsphinx,
    Deepgram,
    Openai,
    Whisper,
}

/// Which text-to-speech engine; `Piper` is built by the `piper-tts` crate (it needs a native
/// library this crate keeps out of its build): [`from_config`] builds flite for it, the fallback
/// `piper_tts::with_piper_voice` keeps when the voice cannot load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtsProviderKind {
    /// The default (`TTS_PROVIDER` unset or `auto`): Piper when its model directory holds a
    /// voice (and the `piper-voice` program is installed), flite otherwise.
    #[default]
    Auto,
    Flite,
    Piper,
    Elevenlabs,
    Openai,
}

/// Provider choice, credentials, base URLs and model / voice names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechConfig {
    pub stt_provider: SttProviderKind,
    pub tts_provider: TtsProviderKind,
    pub deepgram_api_key: Option<String>,
    pub deepgram_base_url: String,
    pub deepgram_model: String,
    pub deepgram_endpointing_ms: u64,
    pub openai_api_key: Option<String>,
    pub openai_base_url: String,
    pub openai_stt_model: String,
    pub openai_stt_language: Option<String>,
    pub openai_tts_model: String,
    pub openai_tts_voice: String,
    pub elevenlabs_api_key: Option<String>,
    pub elevenlabs_base_url: String,
    pub elevenlabs_voice_id: String,
    pub elevenlabs_model: String,
    pub pocketsphinx_model_dir: Option<String>,
    /// The embedded Whisper model (CTranslate2 format, with `preprocessor_config.json`).
    pub whisper_model_dir: String,
    /// Decoder threads sharing the one Whisper model (each is a CTranslate2 replica).
    pub whisper_decoders: u64,
    /// CPU threads one Whisper decode uses.
    pub whisper_threads: u64,
    /// Beam width of a Whisper decode (1: greedy).
    pub whisper_beam: u64,
    /// Shortest Whisper encoder window in seconds (30: Whisper's fixed window for every utterance;
    /// less: a window fitted to the utterance, at least this long).
    pub whisper_window_s: u64,
    /// Utterances that may wait for a Whisper decoder; one more is refused with an error.
    pub whisper_queue_max: u64,
    /// The embedded Piper voice (`model.onnx` with sherpa-onnx metadata, `tokens.txt`).
    pub piper_model_dir: String,
    /// Sentences synthesized at once by the one Piper model (threads sharing it).
    pub piper_workers: u64,
    /// CPU threads one Piper synthesis uses.
    pub piper_threads: u64,
    /// Sentences that may wait for a Piper worker; one more is refused with an error.
    pub piper_queue_max: u64,
    /// MiB of sentences the Piper voice keeps, said again from memory (0: none).
    pub piper_cache_mb: u64,
    /// The espeak-ng program that turns text into the phonemes Piper reads (run as a process).
    pub espeak_ng_bin: String,
    /// The `piper-voice` program that synthesizes them (run as child processes); empty: the one
    /// beside the running executable, else PATH.
    pub piper_voice_bin: String,
    pub retry_deadline_ms: u64,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            stt_provider: SttProviderKind::default(),
            tts_provider: TtsProviderKind::default(),
            deepgram_api_key: None,
            deepgram_base_url: DEFAULT_DEEPGRAM_BASE_URL.into(),
            deepgram_model: "nova-2-phonecall".into(),
            deepgram_endpointing_ms: 300,
            openai_api_key: None,
            openai_base_url: DEFAULT_OPENAI_BASE_URL.into(),
            openai_stt_model: "whisper-1".into(),
            openai_stt_language: Some("en".into()),
            openai_tts_model: "tts-1".into(),
            openai_tts_voice: "alloy".into(),
            elevenlabs_api_key: None,
            elevenlabs_base_url: DEFAULT_ELEVENLABS_BASE_URL.into(),
            elevenlabs_voice_id: "21m00Tcm4TlvDq8ikWAM".into(),
            elevenlabs_model: "eleven_flash_v2_5".into(),
            pocketsphinx_model_dir: None,
            whisper_model_dir: DEFAULT_WHISPER_MODEL_DIR.into(),
            whisper_decoders: 1,
            whisper_threads: 2,
            whisper_beam: 5,
            whisper_window_s: 10,
            whisper_queue_max: 16,
            piper_model_dir: DEFAULT_PIPER_MODEL_DIR.into(),
            piper_workers: 1,
            piper_threads: 1,
            piper_queue_max: 32,
            piper_cache_mb: 8,
            espeak_ng_bin: "espeak-ng".into(),
            piper_voice_bin: String::new(),
            retry_deadline_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechConfigError {
    #[error("{name}: unknown value {value:?} (expected one of {expected})")]
    UnknownValue { name: &'static str, value: String, expected: &'static str },
    #[error("{name} is required when {because}")]
    Missing { name: &'static str, because: &'static str },
    #[error(transparent)]
    Env(#[from] probes::ConfigError),
    #[error("embedded speech engine unavailable: {0}")]
    Engine(String),
}

/// `value` when it is 1..=`max`, else an `Invalid` error naming the variable.
fn bounded(name: &'static str, value: u64, max: u64) -> Result<u64, SpeechConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(SpeechConfigError::Env(probes::ConfigError::invalid(name, format!("{value}: must be 1 to {max}"))))
    }
}

impl SpeechConfig {
    /// Read the variables in [`ENV_VARS`]; unset or empty ones take their defaults.
    pub fn from_env(env: &HashMap<String, String>) -> Result<SpeechConfig, SpeechConfigError> {
        let env = probes::Env(env);
        let get = |name: &str| env.get(name).map(str::to_owned);
        let defaults = SpeechConfig::default();
        let number = |name: &'static str, default: u64| env.parse(name, default);
        let stt_provider = match get("STT_PROVIDER").map(|value| value.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => SttProviderKind::Auto,
            Some("pocketsphinx") => SttProviderKind::Pocketsphinx,
            Some("deepgram") => SttProviderKind::Deepgram,
            Some("openai") => SttProviderKind::Openai,
            Some("whisper") => SttProviderKind::Whisper,
            Some(other) => {
                return Err(SpeechConfigError::UnknownValue {
                    name: "STT_PROVIDER",
                    value: other.to_string(),
                    expected: "auto, whisper, pocketsphinx, deepgram, openai",
                })
            }
        };
        let tts_provider = match get("TTS_PROVIDER").map(|value| value.to_ascii_lowercase()).as_deref() {
            // Piper runs in child processes (`piper-voice`): a crash in its native libraries
            // costs one sentence, which flite says, so it is the default where installed.
            None | Some("auto") => TtsProviderKind::Auto,
            Some("flite") => TtsProviderKind::Flite,
            Some("piper") => TtsProviderKind::Piper,
            Some("elevenlabs") => TtsProviderKind::Elevenlabs,
            Some("openai") => TtsProviderKind::Openai,
            Some(other) => {
                return Err(SpeechConfigError::UnknownValue {
                    name: "TTS_PROVIDER",
                    value: other.to_string(),
                    expected: "auto, piper, flite, elevenlabs, openai",
                })
            }
        };
        let config = SpeechConfig {
            stt_provider,
            tts_provider,
            deepgram_api_key: get("DEEPGRAM_API_KEY"),
            deepgram_base_url: get("DEEPGRAM_BASE_URL").unwrap_or(defaults.deepgram_base_url),
            deepgram_model: get("DEEPGRAM_MODEL").unwrap_or(defaults.deepgram_model),
            deepgram_endpointing_ms: number("DEEPGRAM_ENDPOINTING_MS", defaults.deepgram_endpointing_ms)?,
            openai_api_key: get("OPENAI_API_KEY"),
            openai_base_url: get("OPENAI_BASE_URL").unwrap_or(defaults.openai_base_url),
            openai_stt_model: get("OPENAI_STT_MODEL").unwrap_or(defaults.openai_stt_model),
            openai_stt_language: match get("OPENAI_STT_LANGUAGE").as_deref() {
                None => defaults.openai_stt_language,
                Some("auto") => None,
                Some(language) => Some(language.to_string()),
            },
            openai_tts_model: get("OPENAI_TTS_MODEL").unwrap_or(defaults.openai_tts_model),
            openai_tts_voice: get("OPENAI_TTS_VOICE").unwrap_or(defaults.openai_tts_voice),
            elevenlabs_api_key: get("ELEVENLABS_API_KEY"),
            elevenlabs_base_url: get("ELEVENLABS_BASE_URL").unwrap_or(defaults.elevenlabs_base_url),
            elevenlabs_voice_id: get("ELEVENLABS_VOICE_ID").unwrap_or(defaults.elevenlabs_voice_id),
            elevenlabs_model: get("ELEVENLABS_MODEL").unwrap_or(defaults.elevenlabs_model),
            pocketsphinx_model_dir: get("POCKETSPHINX_MODEL_DIR"),
            whisper_model_dir: get("WHISPER_MODEL_DIR").unwrap_or(defaults.whisper_model_dir),
            whisper_decoders: bounded("WHISPER_DECODERS", number("WHISPER_DECODERS", defaults.whisper_decoders)?, 8)?,
            whisper_threads: bounded("WHISPER_THREADS", number("WHISPER_THREADS", defaults.whisper_threads)?, 64)?,
            whisper_beam: bounded("WHISPER_BEAM", number("WHISPER_BEAM", defaults.whisper_beam)?, 10)?,
            whisper_window_s: bounded("WHISPER_WINDOW_S", number("WHISPER_WINDOW_S", defaults.whisper_window_s)?, 30)?,
            whisper_queue_max: bounded(
                "WHISPER_QUEUE_MAX",
                number("WHISPER_QUEUE_MAX", defaults.whisper_queue_max)?,
                10_000,
            )?,
            piper_model_dir: get("PIPER_MODEL_DIR").unwrap_or(defaults.piper_model_dir),
            piper_workers: bounded("PIPER_WORKERS", number("PIPER_WORKERS", defaults.piper_workers)?, 16)?,
            piper_threads: bounded("PIPER_THREADS", number("PIPER_THREADS", defaults.piper_threads)?, 64)?,
            piper_queue_max: bounded("PIPER_QUEUE_MAX", number("PIPER_QUEUE_MAX", defaults.piper_queue_max)?, 10_000)?,
            piper_cache_mb: match number("PIPER_CACHE_MB", defaults.piper_cache_mb)? {
                mb @ 0..=1_024 => mb,
                mb => {
                    let problem = format!("{mb}: must be 0 (keep nothing) to 1024");
                    return Err(SpeechConfigError::Env(probes::ConfigError::invalid("PIPER_CACHE_MB", problem)));
                }
            },
            espeak_ng_bin: get("ESPEAK_NG_BIN").unwrap_or(defaults.espeak_ng_bin),
            piper_voice_bin: get("PIPER_VOICE_BIN").unwrap_or(defaults.piper_voice_bin),
            retry_deadline_ms: number("SPEECH_RETRY_DEADLINE_MS", defaults.retry_deadline_ms)?,
        };
        config.check_credentials()?;
        Ok(config)
    }

    /// The STT engine to build when Whisper can be built: `Auto` becomes `Whisper` when
    /// `whisper_model_dir` holds a model (`model.bin`), `Pocketsphinx` otherwise.
    pub fn resolved_stt_provider(&self) -> SttProviderKind {
        match self.stt_provider {
            SttProviderKind::Auto if std::path::Path::new(&self.whisper_model_dir).join("model.bin").is_file() => {
                SttProviderKind::Whisper
            }
            SttProviderKind::Auto => SttProviderKind::Pocketsphinx,
            chosen => chosen,
        }
    }

    /// The TTS engine to build when Piper can be built: `Auto` becomes `Piper` when
    /// `piper_model_dir` holds a voice (`model.onnx` and `tokens.txt`), `Flite` otherwise.
    pub fn resolved_tts_provider(&self) -> TtsProviderKind {
        let dir = std::path::Path::new(&self.piper_model_dir);
        match self.tts_provider {
            TtsProviderKind::Auto if dir.join("model.onnx").is_file() && dir.join("tokens.txt").is_file() => {
                TtsProviderKind::Piper
            }
            TtsProviderKind::Auto => TtsProviderKind::Flite,
            chosen => chosen,
        }
    }

    fn check_credentials(&self) -> Result<(), SpeechConfigError> {
        let openai_needs_key = self.openai_base_url.trim_end_matches('/') == DEFAULT_OPENAI_BASE_URL;
        if self.stt_provider == SttProviderKind::Deepgram && self.deepgram_api_key.is_none() {
            return Err(SpeechConfigError::Missing { name: "DEEPGRAM_API_KEY", because: "STT_PROVIDER=deepgram" });
        }
        if self.stt_provider == SttProviderKind::Openai && openai_needs_key && self.openai_api_key.is_none() {
            return Err(SpeechConfigError::Missing {
                name: "OPENAI_API_KEY",
                because: "STT_PROVIDER=openai with the default OPENAI_BASE_URL",
            });
        }
        if self.tts_provider == TtsProviderKind::Openai && openai_needs_key && self.openai_api_key.is_none() {
            return Err(SpeechConfigError::Missing {
                name: "OPENAI_API_KEY",
                because: "TTS_PROVIDER=openai with the default OPENAI_BASE_URL",
            });
        }
        if self.tts_provider == TtsProviderKind::Elevenlabs && self.elevenlabs_api_key.is_none() {
            return Err(SpeechConfigError::Missing { name: "ELEVENLABS_API_KEY", because: "TTS_PROVIDER=elevenlabs" });
        }
        Ok(())
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { deadline: Duration::from_millis(self.retry_deadline_ms), ..RetryPolicy::default() }
    }
}

/// The providers one media worker uses for all its calls.
#[derive(Clone)]
pub struct Providers {
    pub stt: Arc<dyn SttProvider>,
    pub tts: Arc<dyn TtsProvider>,
}

/// Build the configured providers. Needs no runtime; the providers spawn tasks when used.
pub fn from_config(config: &SpeechConfig) -> Result<Providers, SpeechConfigError> {
    config.check_credentials()?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|error| SpeechConfigError::Engine(format!("http client: {error}")))?;
    let retry = config.retry_policy();
    let stt: Arc<dyn SttProvider> = match config.stt_provider {
        SttProviderKind::Whisper => {
            return Err(SpeechConfigError::Engine(
                "STT_PROVIDER=whisper is built by the whisper-stt crate (whisper_stt::providers_from_config)".into(),
            ))
        }
        // Without the whisper-stt crate, `auto` is the embedded engine this crate has.
        SttProviderKind::Auto | SttProviderKind::Pocketsphinx => {
            let mut sphinx = PocketsphinxConfig::default();
            if let Some(dir) = &config.pocketsphinx_model_dir {
                sphinx.model_dir = dir.into();
            }
            Arc::new(PocketsphinxStt::new(sphinx).map_err(|error| SpeechConfigError::Engine(error.to_string()))?)
        }
        SttProviderKind::Deepgram => Arc::new(DeepgramStt::new(DeepgramConfig {
            api_key: config.deepgram_api_key.clone().unwrap_or_default(),
            base_url: config.deepgram_base_url.clone(),
            model: config.deepgram_model.clone(),
            endpointing_ms: config.deepgram_endpointing_ms,
            keep_alive: crate::stt::deepgram::DEFAULT_KEEP_ALIVE,
            retry,
        })),
        SttProviderKind::Openai => Arc::new(OpenAiStt::new(
            OpenAiSttConfig {
                api_key: config.openai_api_key.clone(),
                base_url: config.openai_base_url.clone(),
                model: config.openai_stt_model.clone(),
                language: config.openai_stt_language.clone(),
                retry,
            },
            http.clone(),
        )),
    };
    let tts: Arc<dyn TtsProvider> = match config.tts_provider {
        // Piper is swapped in by the piper-tts crate; flite is what it falls back to.
        TtsProviderKind::Auto | TtsProviderKind::Flite | TtsProviderKind::Piper => {
            Arc::new(FliteTts::new().map_err(|error| SpeechConfigError::Engine(error.to_string()))?)
        }
        TtsProviderKind::Elevenlabs => Arc::new(ElevenLabsTts::new(
            ElevenLabsConfig {
                api_key: config.elevenlabs_api_key.clone().unwrap_or_default(),
                base_url: config.elevenlabs_base_url.clone(),
                voice_id: config.elevenlabs_voice_id.clone(),
                model_id: config.elevenlabs_model.clone(),
                retry,
            },
            http,
        )),
        TtsProviderKind::Openai => Arc::new(OpenAiTts::new(
            OpenAiTtsConfig {
                api_key: config.openai_api_key.clone(),
                base_url: config.openai_base_url.clone(),
                model: config.openai_tts_model.clone(),
                voice: config.openai_tts_voice.clone(),
                retry,
            },
            http,
        )),
    };
    Ok(Providers { stt, tts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_embedded_engines() {
        let config = SpeechConfig::from_env(&env(&[])).expect("defaults parse");
        assert_eq!(config, SpeechConfig::default());
        let providers = from_config(&config).expect("embedded providers build");
        assert_eq!(providers.stt.name(), "pocketsphinx");
        assert_eq!(providers.tts.name(), "flite");
    }

    #[test]
    fn cloud_providers_are_chosen_and_configured() {
        let config = SpeechConfig::from_env(&env(&[
            ("STT_PROVIDER", "Deepgram"),
            ("TTS_PROVIDER", "elevenlabs"),
            ("DEEPGRAM_API_KEY", "dg"),
            ("ELEVENLABS_API_KEY", "el"),
            ("ELEVENLABS_VOICE_ID", "voice-1"),
            ("SPEECH_RETRY_DEADLINE_MS", "1500"),
        ]))
        .expect("parses");
        assert_eq!(config.stt_provider, SttProviderKind::Deepgram);
        assert_eq!(config.elevenlabs_voice_id, "voice-1");
        assert_eq!(config.retry_deadline_ms, 1500);
        let providers = from_config(&config).expect("builds");
        assert_eq!((providers.stt.name(), providers.tts.name()), ("deepgram", "elevenlabs"));
    }

    #[test]
    fn missing_keys_and_bad_values_are_reported() {
        assert_eq!(
            SpeechConfig::from_env(&env(&[("STT_PROVIDER", "deepgram")])).unwrap_err(),
            SpeechConfigError::Missing { name: "DEEPGRAM_API_KEY", because: "STT_PROVIDER=deepgram" }
        );
        assert!(matches!(
            SpeechConfig::from_env(&env(&[("TTS_PROVIDER", "espeak")])).unwrap_err(),
            SpeechConfigError::UnknownValue { name: "TTS_PROVIDER", .. }
        ));
        assert!(matches!(
            SpeechConfig::from_env(&env(&[("SPEECH_RETRY_DEADLINE_MS", "soon")])).unwrap_err(),
            SpeechConfigError::Env(probes::ConfigError::Invalid { name: "SPEECH_RETRY_DEADLINE_MS", .. })
        ));
    }

    #[test]
    fn whisper_is_the_default_only_where_its_model_is() {
        let config = SpeechConfig::from_env(&env(&[("WHISPER_MODEL_DIR", "/nonexistent/whisper")])).expect("parses");
        assert_eq!(config.stt_provider, SttProviderKind::Auto);
        assert_eq!(config.resolved_stt_provider(), SttProviderKind::Pocketsphinx);
        let model_dir = std::env::temp_dir().join(format!("speech-config-whisper-{}", std::process::id()));
        std::fs::create_dir_all(&model_dir).expect("temp dir");
        std::fs::write(model_dir.join("model.bin"), b"x").expect("write");
        let dir = model_dir.display().to_string();
        let config = SpeechConfig::from_env(&env(&[("WHISPER_MODEL_DIR", &dir)])).expect("parses");
        assert_eq!(config.resolved_stt_provider(), SttProviderKind::Whisper);
        let chosen = SpeechConfig::from_env(&env(&[("WHISPER_MODEL_DIR", &dir), ("STT_PROVIDER", "pocketsphinx")]));
        assert_eq!(chosen.expect("parses").resolved_stt_provider(), SttProviderKind::Pocketsphinx);
        let _ = std::fs::remove_dir_all(&model_dir);
        // This crate cannot build Whisper and says who can.
        let whisper = SpeechConfig::from_env(&env(&[("STT_PROVIDER", "whisper")])).expect("parses");
        assert!(
            matches!(from_config(&whisper), Err(SpeechConfigError::Engine(message)) if message.contains("whisper-stt"))
        );
        assert!(matches!(
            SpeechConfig::from_env(&env(&[("WHISPER_THREADS", "0")])).unwrap_err(),
            SpeechConfigError::Env(probes::ConfigError::Invalid { name: "WHISPER_THREADS", .. })
        ));
        // a beam of 5 unless told (greedy is 1); 0 and more than 10 are refused
        assert_eq!(SpeechConfig::from_env(&env(&[])).expect("parses").whisper_beam, 5);
        // an encoder window fitted to the utterance, at least 10 s, unless told (30: always 30 s)
        assert_eq!(SpeechConfig::from_env(&env(&[])).expect("parses").whisper_window_s, 10);
        assert_eq!(SpeechConfig::from_env(&env(&[("WHISPER_WINDOW_S", "30")])).expect("parses").whisper_window_s, 30);
        assert!(SpeechConfig::from_env(&env(&[("WHISPER_WINDOW_S", "31")])).is_err());
        assert!(SpeechConfig::from_env(&env(&[("WHISPER_WINDOW_S", "0")])).is_err());
        assert_eq!(SpeechConfig::from_env(&env(&[("WHISPER_BEAM", "1")])).expect("parses").whisper_beam, 1);
        for bad in ["0", "11", "five"] {
            assert!(matches!(
                SpeechConfig::from_env(&env(&[("WHISPER_BEAM", bad)])).unwrap_err(),
                SpeechConfigError::Env(probes::ConfigError::Invalid { name: "WHISPER_BEAM", .. })
            ));
        }
    }

    #[test]
    fn auto_picks_piper_only_where_its_model_is() {
        let unset = SpeechConfig::from_env(&env(&[])).expect("parses");
        assert_eq!(unset.tts_provider, TtsProviderKind::Auto, "Piper where installed is the default voice");
        let auto_env = |pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.push(("TTS_PROVIDER", "auto"));
            env(&pairs)
        };
        let config = SpeechConfig::from_env(&auto_env(&[("PIPER_MODEL_DIR", "/nonexistent/piper")])).expect("parses");
        assert_eq!(config.tts_provider, TtsProviderKind::Auto);
        assert_eq!(config.resolved_tts_provider(), TtsProviderKind::Flite);
        let model_dir = std::env::temp_dir().join(format!("speech-config-piper-{}", std::process::id()));
        std::fs::create_dir_all(&model_dir).expect("temp dir");
        std::fs::write(model_dir.join("model.onnx"), b"x").expect("write");
        let dir = model_dir.display().to_string();
        let half = SpeechConfig::from_env(&auto_env(&[("PIPER_MODEL_DIR", &dir)])).expect("parses");
        assert_eq!(half.resolved_tts_provider(), TtsProviderKind::Flite, "no tokens.txt yet");
        std::fs::write(model_dir.join("tokens.txt"), b"_ 0").expect("write");
        let config = SpeechConfig::from_env(&auto_env(&[("PIPER_MODEL_DIR", &dir)])).expect("parses");
        assert_eq!(config.resolved_tts_provider(), TtsProviderKind::Piper);
        let chosen = SpeechConfig::from_env(&env(&[("PIPER_MODEL_DIR", &dir), ("TTS_PROVIDER", "flite")]));
        assert_eq!(chosen.expect("parses").resolved_tts_provider(), TtsProviderKind::Flite);
        let _ = std::fs::remove_dir_all(&model_dir);
        // This crate builds flite for Piper (the piper-tts crate swaps the voice in).
        let piper = SpeechConfig::from_env(&env(&[("TTS_PROVIDER", "Piper"), ("PIPER_WORKERS", "2")])).expect("parses");
        assert_eq!((piper.tts_provider, piper.piper_workers), (TtsProviderKind::Piper, 2));
        assert_eq!(from_config(&piper).expect("builds").tts.name(), "flite");
        assert!(matches!(
            SpeechConfig::from_env(&env(&[("PIPER_QUEUE_MAX", "0")])).unwrap_err(),
            SpeechConfigError::Env(probes::ConfigError::Invalid { name: "PIPER_QUEUE_MAX", .. })
        ));
        assert_eq!(SpeechConfig::from_env(&env(&[("PIPER_CACHE_MB", "0")])).expect("off").piper_cache_mb, 0);
        assert!(matches!(
            SpeechConfig::from_env(&env(&[("PIPER_CACHE_MB", "4096")])).unwrap_err(),
            SpeechConfigError::Env(probes::ConfigError::Invalid { name: "PIPER_CACHE_MB", .. })
        ));
    }

    #[test]
    fn a_self_hosted_openai_compatible_server_needs_no_key() {
        let config = SpeechConfig::from_env(&env(&[
            ("STT_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://whisper.internal:8000"),
            ("OPENAI_STT_MODEL", "Systran/faster-whisper-small"),
        ]))
        .expect("no key needed off openai.com");
        assert_eq!(config.openai_api_key, None);
        assert!(SpeechConfig::from_env(&env(&[("TTS_PROVIDER", "openai")])).is_err(), "openai.com needs a key");
    }

    #[test]
    fn every_variable_read_is_listed() {
        let source = include_str!("config.rs");
        let body = source.split("#[cfg(test)]").next().unwrap_or("");
        for quoted in body.split('"').skip(1).step_by(2) {
            let looks_like_variable = quoted.len() > 3 && quoted.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if looks_like_variable && !quoted.starts_with("STT_PROVIDER=") {
                assert!(ENV_VARS.contains(&quoted), "{quoted} is read but not in ENV_VARS");
            }
        }
    }
}
