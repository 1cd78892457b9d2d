//! Speech-to-text: the [`SttProvider`] trait the call actor talks to, and its implementations.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::vocabulary::Vocabulary;

/// What a provider knows about the call it transcribes.
#[derive(Debug, Clone, Default)]
pub struct SttContext {
    pub call_id: String,
    /// Words and phrases the callee is likely to say; embedded STT builds its grammar from it.
    pub vocabulary: Option<Arc<Vocabulary>>,
}

/// What the actor sends to a running transcription.
#[derive(Debug, Clone)]
pub enum SttInput {
    /// 20 ms (or any length) of 8 kHz mu-law callee audio, stamped with call time.
    Audio { mulaw: Bytes, timestamp_ms: u64 },
    /// The endpointer heard speech start at this call time.
    UtteranceStart { timestamp_ms: u64 },
    /// The endpointer decided the utterance ended at this call time.
    UtteranceEnd { timestamp_ms: u64 },
    /// No more input; the provider finishes pending work and closes its output.
    Close,
}

/// What a running transcription reports back.
#[derive(Debug, Clone, PartialEq)]
pub enum SttOutput {
    Interim { text: String },
    Final { text: String, confidence: Option<f32>, start_ms: u64, end_ms: u64 },
    /// The provider gave up (after its own retries when `retryable` was true for them).
    Failed { message: String, retryable: bool },
}

/// The two ends of one call's transcription.
#[derive(Debug)]
pub struct SttStream {
    pub input: mpsc::UnboundedSender<SttInput>,
    pub output: mpsc::UnboundedReceiver<SttOutput>,
}

/// A speech-to-text service. `start` must be called inside a tokio runtime; it returns at once.
pub trait SttProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn start(&self, context: SttContext) -> SttStream;
}

pub mod pocketsphinx;
mod sphinx_ffi;

pub use pocketsphinx::{PocketsphinxConfig, PocketsphinxStt, SphinxError, SphinxInputRate};
pub use sphinx_ffi::Hypothesis;
