//! OpenAI-compatible text-to-speech: `POST /v1/audio/speech` with a bearer key and
//! `response_format: "pcm"` (16-bit little-endian, 24 kHz mono), resampled to 8 kHz and mu-law
//! encoded as it streams in.

use protocol::spoken::sentences;
use tokio::sync::mpsc;

use super::http::{synthesize_sentences, BodyAudio};
use super::{TtsChunk, TtsError, TtsProvider};
use crate::retry::RetryPolicy;

/// Sample rate of OpenAI's `pcm` response format.
pub const OPENAI_PCM_RATE_HZ: u32 = 24_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiTtsConfig {
    pub api_key: Option<String>,
    /// `https://api.openai.com` in production (the `/v1/...` path is appended).
    pub base_url: String,
    pub model: String,
    pub voice: String,
    pub retry: RetryPolicy,
}

pub struct OpenAiTts {
    config: OpenAiTtsConfig,
    http: reqwest::Client,
}

impl OpenAiTts {
    pub fn new(config: OpenAiTtsConfig, http: reqwest::Client) -> OpenAiTts {
        OpenAiTts { config, http }
    }
}

impl TtsProvider for OpenAiTts {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let config = self.config.clone();
        let http = self.http.clone();
        let url = format!("{}/v1/audio/speech", config.base_url.trim_end_matches('/'));
        tokio::spawn(async move {
            let build = |sentence: &str| {
                let mut request = http.post(&url).json(&serde_json::json!({
                    "model": config.model,
                    "voice": config.voice,
                    "input": sentence,
                    "response_format": "pcm",
                }));
                if let Some(key) = &config.api_key {
                    request = request.bearer_auth(key);
                }
                request
            };
            let audio = BodyAudio::PcmLe { rate_hz: OPENAI_PCM_RATE_HZ };
            synthesize_sentences("openai", sentences(&text), config.retry, audio, build, sender).await;
        });
        receiver
    }
}
