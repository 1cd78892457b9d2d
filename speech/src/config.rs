//! Which STT and TTS providers to use, read from the environment, and the wiring that builds them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::stt::SttProvider;
use crate::tts::TtsProvider;

/// Every environment variable [`SpeechConfig::from_env`] reads.
pub const ENV_VARS: &[&str] = &[
    "STT_PROVIDER",
    "TTS_PROVIDER",
    "DEEPGRAM_API_KEY",
    "DEEPGRAM_BASE_URL",
    "DEEPGRAM_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_STT_MODEL",
    "OPENAI_TTS_MODEL",
    "OPENAI_TTS_VOICE",
    "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL",
    "ELEVENLABS_VOICE_ID",
    "ELEVENLABS_MODEL",
    "POCKETSPHINX_MODEL_DIR",
    "SPEECH_RETRY_DEADLINE_MS",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SttProviderKind {
    #[default]
    Pocketsphinx,
    Deepgram,
    Openai,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtsProviderKind {
    #[default]
    Flite,
    Elevenlabs,
    Openai,
}

/// Provider choice, credentials, base URLs and model / voice names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpeechConfig {
    pub stt_provider: SttProviderKind,
    pub tts_provider: TtsProviderKind,
    pub deepgram_api_key: Option<String>,
    pub deepgram_base_url: String,
    pub deepgram_model: String,
    pub openai_api_key: Option<String>,
    pub openai_base_url: String,
    pub openai_stt_model: String,
    pub openai_tts_model: String,
    pub openai_tts_voice: String,
    pub elevenlabs_api_key: Option<String>,
    pub elevenlabs_base_url: String,
    pub elevenlabs_voice_id: String,
    pub elevenlabs_model: String,
    pub pocketsphinx_model_dir: Option<String>,
    pub retry_deadline_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechConfigError {
    #[error("{name}: unknown value {value:?} (expected one of {expected})")]
    UnknownValue { name: &'static str, value: String, expected: &'static str },
    #[error("{name} is required when {because}")]
    Missing { name: &'static str, because: &'static str },
    #[error("{name}: not a number: {value:?}")]
    NotANumber { name: &'static str, value: String },
    #[error("embedded speech engine unavailable: {0}")]
    Engine(String),
}

impl SpeechConfig {
    pub fn from_env(env: &HashMap<String, String>) -> Result<SpeechConfig, SpeechConfigError> {
        let _ = env;
        Ok(SpeechConfig::default())
    }
}

/// The providers one media worker uses for all its calls.
#[derive(Clone)]
pub struct Providers {
    pub stt: Arc<dyn SttProvider>,
    pub tts: Arc<dyn TtsProvider>,
}

/// Build the configured providers.
pub fn from_config(config: &SpeechConfig) -> Result<Providers, SpeechConfigError> {
    let _ = config;
    Err(SpeechConfigError::Engine("not implemented yet".into()))
}
