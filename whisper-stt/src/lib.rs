//! whisper-stt: the embedded Whisper recogniser (CTranslate2 through `ct2rs`) behind the `speech`
//! crate's `SttProvider`, kept in its own crate so only the binaries that run it build the C++.
//!
//! - [`features`]: Whisper's log-mel front end.
//! - [`engine`]: the model, loaded once per process, and the bounded pool of decoder threads
//!   every call shares ([`WhisperDecoder::shared`]).
//! - [`provider`]: [`WhisperStt`], per-utterance transcription with the playbook's hints as prompt.
//! - [`heldout`]: the WER bench's held-out gym sentences.
//! - [`offline`]: WAV files through the telephone band into any `SttProvider` (for
//!   `gymcall transcribe` and the WER bench).
//!
//! [`providers_from_config`] is what binaries call instead of `speech::from_config`: it builds
//! Whisper when `STT_PROVIDER=whisper`, or when it is unset and the model directory exists.

pub mod engine;
pub mod features;
pub mod heldout;
pub mod offline;
pub mod provider;

use std::sync::Arc;

pub use engine::{Transcript, WhisperDecoder, WhisperError, WhisperOptionsConfig};
pub use provider::WhisperStt;
use speech::config::SttProviderKind;
use speech::{SpeechConfig, SpeechConfigError};

/// The decoder settings in a speech configuration.
pub fn options_from_config(config: &SpeechConfig) -> WhisperOptionsConfig {
    WhisperOptionsConfig {
        model_dir: engine::locate_model_dir(std::path::Path::new(&config.whisper_model_dir)),
        decoders: config.whisper_decoders as usize,
        threads_per_decoder: config.whisper_threads as usize,
        beam_size: config.whisper_beam as usize,
        window_s: config.whisper_window_s as usize,
        queue_max: config.whisper_queue_max as usize,
    }
}

/// The configured speech providers, with the embedded Whisper recogniser when it is chosen
/// (`STT_PROVIDER=whisper`) or, with `STT_PROVIDER` unset, when its model is installed. Logs
/// which recogniser was picked and why.
pub fn providers_from_config(config: &SpeechConfig) -> Result<speech::Providers, SpeechConfigError> {
    let mut resolved = config.clone();
    resolved.whisper_model_dir = options_from_config(config).model_dir.display().to_string();
    let choice = resolved.resolved_stt_provider();
    if config.stt_provider == SttProviderKind::Auto {
        let reason =
            if choice == SttProviderKind::Whisper { "model found" } else { "no model (scripts/install-models.sh)" };
        tracing::info!(stt = ?choice, model_dir = %resolved.whisper_model_dir, reason, "speech-to-text engine chosen");
    }
    if choice != SttProviderKind::Whisper {
        resolved.stt_provider = choice;
        return speech::from_config(&resolved);
    }
    let decoder = WhisperDecoder::shared(&options_from_config(config))
        .map_err(|error| SpeechConfigError::Engine(error.to_string()))?;
    // Build the text-to-speech side (and check credentials) as speech does, then swap in Whisper.
    resolved.stt_provider = SttProviderKind::Pocketsphinx;
    let mut providers = speech::from_config(&resolved)?;
    providers.stt = Arc::new(WhisperStt::new(decoder));
    Ok(providers)
}
