//! piper-tts: the embedded agent voice, Piper `joe` (en_US, medium), behind the `speech` crate's
//! `TtsProvider`. The model runs in child processes of the `piper-voice` program (the only binary
//! that links sherpa-onnx and onnxruntime, prebuilt shared libraries, see `.cargo/config.toml`):
//! this crate links no native library, and a crash in them costs a sentence, not the call.
//!
//! - [`text`]: what the voice is given to read (numbers, prices, times in words; gym words).
//! - [`phonemes`]: espeak-ng, run as a process, for the phonemes Piper reads.
//! - [`engine`]: the `piper-voice` children, started once per process, behind the bounded queue
//!   every call shares ([`PiperVoice::shared`]); a child that fails is started again.
//! - [`wire`]: the pipe protocol between a process and its `piper-voice` children.
//! - [`provider`]: [`PiperTts`], sentence-by-sentence synthesis to 8 kHz mu-law.
//! - [`lines`]: a playbook's agent lines, for the bench and the understood-voice test.
//!
//! [`with_piper_voice`] is what binaries call on the providers `speech` (or `whisper-stt`) built:
//! it swaps in Piper when `TTS_PROVIDER=piper`, or when it is unset (`auto`) and the voice and the
//! `piper-voice` program are installed, and keeps flite, with a warning, when the voice cannot
//! load. Flite also says any sentence the Piper voice fails on.

pub mod cache;
pub mod engine;
pub mod lines;
pub mod phonemes;
pub mod provider;
pub mod text;
pub mod wire;

use std::sync::Arc;

pub use engine::{PiperVoice, SentenceAudio, VoiceError, VoiceOptions};
pub use provider::PiperTts;
use speech::config::TtsProviderKind;
use speech::SpeechConfig;

/// The voice settings in a speech configuration.
pub fn options_from_config(config: &SpeechConfig) -> VoiceOptions {
    VoiceOptions {
        model_dir: engine::locate_model_dir(std::path::Path::new(&config.piper_model_dir)),
        espeak_ng_bin: config.espeak_ng_bin.clone(),
        program: engine::locate_program(&config.piper_voice_bin),
        workers: config.piper_workers as usize,
        threads: config.piper_threads as usize,
        queue_max: config.piper_queue_max as usize,
    }
}

/// `providers` with the Piper voice as their text-to-speech when it is chosen
/// (`TTS_PROVIDER=piper`) or, with `TTS_PROVIDER` unset or `auto`, when the voice and the
/// `piper-voice` program are installed. A voice that cannot load (files missing, espeak-ng or
/// the program missing, a bad model) leaves the providers' flite in place with a warning that
/// says why. The providers' own voice says any sentence Piper fails on. Logs which voice was
/// picked.
pub fn with_piper_voice(config: &SpeechConfig, mut providers: speech::Providers) -> speech::Providers {
    let options = options_from_config(config);
    let mut located = config.clone();
    located.piper_model_dir = options.model_dir.display().to_string();
    let choice = located.resolved_tts_provider();
    let auto = config.tts_provider == TtsProviderKind::Auto;
    if auto && choice == TtsProviderKind::Piper && !engine::program_found(&options.program) {
        tracing::info!(
            tts = providers.tts.name(),
            program = %options.program.display(),
            reason = "the voice is installed but not the piper-voice program (cargo build --release -p piper-voice)",
            "text-to-speech engine chosen"
        );
        return providers;
    }
    if choice != TtsProviderKind::Piper {
        if auto {
            tracing::info!(
                tts = providers.tts.name(),
                model_dir = %located.piper_model_dir,
                reason = "no piper voice (scripts/install-models.sh)",
                "text-to-speech engine chosen"
            );
        }
        return providers;
    }
    match PiperVoice::shared(&options) {
        Ok(voice) => {
            tracing::info!(tts = "piper", model_dir = %located.piper_model_dir, "text-to-speech engine chosen");
            let cache_bytes = config.piper_cache_mb as usize * 1024 * 1024;
            providers.tts =
                Arc::new(PiperTts::new(voice).with_cache_bytes(cache_bytes).with_fallback(providers.tts.clone()));
        }
        Err(error) => {
            tracing::warn!(%error, fallback = providers.tts.name(), "piper voice unavailable, speaking with the fallback");
        }
    }
    providers
}
