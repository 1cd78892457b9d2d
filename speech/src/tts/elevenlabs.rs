//! ElevenLabs streaming text-to-speech: `POST /v1/text-to-speech/{voice_id}/stream` with
//! `output_format=ulaw_8000`, authenticated by the `xi-api-key` header. The body is raw mu-law
//! 8 kHz audio, streamed as it is synthesized, so no resampling is needed.

use protocol::spoken::sentences;
use tokio::sync::mpsc;

use super::http::{synthesize_sentences, BodyAudio};
use super::{TtsChunk, TtsError, TtsProvider};
use crate::retry::RetryPolicy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevenLabsConfig {
    pub api_key: String,
    /// `https://api.elevenlabs.io` in production.
    pub base_url: String,
    pub voice_id: String,
    pub model_id: String,
    pub retry: RetryPolicy,
}

pub struct ElevenLabsTts {
    config: ElevenLabsConfig,
    http: reqwest::Client,
}

impl ElevenLabsTts {
    pub fn new(config: ElevenLabsConfig, http: reqwest::Client) -> ElevenLabsTts {
        ElevenLabsTts { config, http }
    }
}

impl TtsProvider for ElevenLabsTts {
    fn name(&self) -> &'static str {
        "elevenlabs"
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let config = self.config.clone();
        let http = self.http.clone();
        let url = format!(
            "{}/v1/text-to-speech/{}/stream?output_format=ulaw_8000",
            config.base_url.trim_end_matches('/'),
            config.voice_id
        );
        tokio::spawn(async move {
            let build = |sentence: &str| {
                http.post(&url)
                    .header("xi-api-key", &config.api_key)
                    .header(reqwest::header::ACCEPT, "audio/basic")
                    .json(&serde_json::json!({ "text": sentence, "model_id": config.model_id }))
            };
            synthesize_sentences("elevenlabs", sentences(&text), config.retry, BodyAudio::Mulaw8k, build, sender).await;
        });
        receiver
    }
}
