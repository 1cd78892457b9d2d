//! The load benchmark of the path users run, measured from the outside: a load generator that
//! plays Twilio against a running `gymcall up` (or gateway) and a fake OpenAI-compatible
//! provider that answers at once, each in its own process (binaries `gymcall-loadgen` and
//! `gymcall-fake-openai`).
//!
//! # Layout
//! - [`audio`] — the callee's utterances (WAV files to trimmed 8 kHz μ-law frames) and the
//!   loudness test for speech frames.
//! - [`callee`] — one simulated callee as a state machine told the time: turn-taking and the
//!   reply-latency measurement, plugged into the simulator's Twilio call.
//! - [`stats`] — counts and latency percentiles of a call and of a step.
//! - [`procstat`] — CPU and RSS of a process tree from `/proc`.
//! - [`run`] — the steps: N concurrent lines of back-to-back calls, CPU windows, RSS peaks.
//! - [`report`] — the figures of a step, printed and as JSON.
//! - [`heard`] — end of speech -> transcript, from the generator's own answer ends and the
//!   server's results.
//! - [`fake_openai`] — the fake provider: transcriptions, speech, chat completions.

pub mod audio;
pub mod callee;
pub mod fake_openai;
pub mod heard;
pub mod procstat;
pub mod report;
pub mod run;
pub mod stats;
