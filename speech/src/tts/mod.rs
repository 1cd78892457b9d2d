//! Text-to-speech: the [`TtsProvider`] trait the call actor talks to, and its implementations.

use bytes::Bytes;
use tokio::sync::mpsc;

/// One piece of synthesized speech.
#[derive(Debug, Clone, PartialEq)]
pub enum TtsChunk {
    /// mu-law, 8 kHz, mono; any length.
    Audio(Bytes),
    /// Synthesis finished; `total_ms` is the length of all audio sent.
    Done { total_ms: u64 },
}

/// What the caller can branch on when synthesis fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsErrorKind {
    /// Bad or missing credentials (HTTP 401/403).
    Unauthorized,
    /// Rate limited or server error that persisted past the retry deadline.
    Unavailable,
    /// Could not reach the service.
    Connect,
    /// The request itself was refused (HTTP 4xx other than auth / rate limit).
    Rejected,
    /// The reply could not be understood.
    Protocol,
    /// The embedded synthesizer failed.
    Engine,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("tts {kind:?}: {message}")]
pub struct TtsError {
    pub kind: TtsErrorKind,
    pub message: String,
}

impl TtsError {
    pub fn new(kind: TtsErrorKind, message: impl Into<String>) -> TtsError {
        TtsError { kind, message: message.into() }
    }
}

/// A text-to-speech service. `synthesize` must be called inside a tokio runtime; it returns at
/// once and streams chunks, ending with `Ok(TtsChunk::Done)` or one `Err`.
pub trait TtsProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>>;
    /// A text about to be said (a call's introduction, while the callee says hello): a provider
    /// that keeps what it synthesized may synthesize it now, so it plays at once when asked for.
    /// Returns at once; the default does nothing.
    fn prepare(&self, _text: String) {}
}

pub mod elevenlabs;
pub mod flite;
mod http;
pub mod openai;

pub use elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
pub use flite::FliteTts;
pub use openai::{OpenAiTts, OpenAiTtsConfig};

/// Milliseconds of 8 kHz mono audio in `samples` samples.
pub(crate) fn samples_8k_to_ms(samples: usize) -> u64 {
    samples as u64 / 8
}
