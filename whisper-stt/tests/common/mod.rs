//! What the Whisper test binaries share: the process's decoder and words as the WER bench counts them.

use std::sync::Arc;

use whisper_stt::{options_from_config, WhisperDecoder};

/// The decoder of this process, loaded once (needs `scripts/install-models.sh`).
pub fn decoder() -> Arc<WhisperDecoder> {
    let config = options_from_config(&speech::SpeechConfig::default());
    WhisperDecoder::shared(&config).unwrap_or_else(|error| panic!("{error} (run scripts/install-models.sh)"))
}

/// `text` as the words a WER counts.
pub fn words(text: &str) -> Vec<String> {
    whisper_stt::offline::comparable_words(text)
}
