//! speech: hearing and speaking — VAD + endpointing, speech-to-text and text-to-speech providers.
//!
//! The per-call actor in `media-worker` drives a [`vad::Vad`] and an [`vad::Endpointer`] frame by
//! frame, and talks to the providers only through channels, so it never awaits slow work:
//! an [`SttStream`] takes [`SttInput`] and yields [`SttOutput`]; a [`TtsProvider`] hands back a
//! receiver of [`TtsChunk`]s. Providers run their own tokio tasks, and heavy work (PocketSphinx
//! decoding, flite synthesis) runs on the blocking pool.

pub mod config;
pub mod evaluation;
pub mod resample;
pub mod retry;
pub mod stt;
pub mod tts;
pub mod vad;
pub mod vocabulary;

pub use config::{from_config, Providers, SpeechConfig, SpeechConfigError, ENV_VARS};
pub use stt::{SttContext, SttInput, SttOutput, SttProvider, SttStream};
pub use tts::{TtsChunk, TtsError, TtsErrorKind, TtsProvider};
pub use vad::{EndpointEvent, Endpointer, EndpointerConfig, FrameClass, Vad, VadMode};
pub use vocabulary::Vocabulary;
