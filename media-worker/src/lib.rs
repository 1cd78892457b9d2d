//! The media worker: takes Twilio media streams from the gateway (`media.assign`) and runs one
//! actix actor per call that hears (decode, VAD, endpointing, STT -> `brain.heard.<callId>`)
//! and speaks (`media.say.<callId>` -> TTS -> paced 20 ms frames and marks on
//! `media.out.<streamSid>`), with barge-in, DTMF and an optional recording.
//!
//! - [`start`] wires a worker onto a [`bus::Bus`] and returns a [`RunningWorker`].
//! - [`config`]: the environment variables; [`assign`]: the `media.assign` loop and capacity;
//!   [`call`]: the per-call actor, which drives [`hearing`] (VAD, endpointing, barge-in, STT
//!   restarts) and [`speaking`] (TTS, [`playback`] pacing and marks), both state machines told
//!   the media time, and its [`brain_link`] (`brain.assign`, `media.say`, `brain.heard`);
//!   [`recording`]: its WAV and transcript; [`shared`]: what all of these share; [`worker`]:
//!   start and stop; [`health`]: `/healthz`, `/readyz`, `/metrics` on `METRICS_ADDR`.

pub mod assign;
pub mod brain_link;
pub mod call;
pub mod config;
pub mod health;
pub mod hearing;
pub mod playback;
pub mod recording;
pub mod shared;
pub mod speaking;
pub mod worker;

pub use config::{Config, ConfigError, ENV_VARS};
pub use shared::{ExitStatus, MediaError, Stats};
pub use worker::{start, RunningWorker};
