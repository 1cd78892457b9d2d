//! What every part of one media worker shares: its configuration, bus, providers and counters
//! ([`Shared`], [`Stats`]), how a call ends ([`ExitStatus`]), the message that asks a call to
//! hang up ([`Shutdown`]) and why a worker cannot start ([`MediaError`]). Depends on no other
//! module of the crate, so the worker, the assign loop, the call actor and the health endpoints
//! all depend on it and not on each other.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use bus::Bus;
use speech::{Providers, Vocabulary};

use crate::config::Config;

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    #[error("playbooks: {0}")]
    Playbooks(String),
    #[error("metrics listener on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// How a call actor ended; logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The stream stopped (the callee hung up or the call ended).
    Finished,
    /// We hung up (the brain asked, or the worker shut down).
    HungUp,
    /// The gateway's side went away without a `stop` (subscription closed, or silent stream).
    DownstreamClosed,
    /// The call could not run (no brain, no subscription).
    Failed,
}

impl ExitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitStatus::Finished => "finished",
            ExitStatus::HungUp => "hung_up",
            ExitStatus::DownstreamClosed => "downstream_closed",
            ExitStatus::Failed => "failed",
        }
    }
}

/// Ask a call to hang up after its queued audio (worker shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Counters of one worker, for logs, metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub calls_taken: AtomicU64,
    /// `media.assign` requests left unanswered because the worker was full or draining.
    pub assignments_refused: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    /// Messages that could not be decoded (counted and logged, never a panic).
    pub malformed_messages: AtomicU64,
    pub exits_finished: AtomicU64,
    pub exits_hung_up: AtomicU64,
    pub exits_downstream_closed: AtomicU64,
    pub exits_failed: AtomicU64,
    /// Media time from the end of callee speech to the first agent audio after it.
    pub voice_to_voice: probes::prometheus::Histogram,
    /// The same, stage by stage ([`protocol::results::ReplyStages`]).
    pub reply_stages: ReplyStageHistograms,
}

/// One histogram per stage of a reply, in the order of [`ReplyStageHistograms::STAGES`].
#[derive(Debug)]
pub struct ReplyStageHistograms([probes::prometheus::Histogram; 5]);

impl Default for ReplyStageHistograms {
    fn default() -> Self {
        ReplyStageHistograms(std::array::from_fn(|_| {
            probes::prometheus::Histogram::with_bounds(&probes::prometheus::STAGE_BUCKETS_MS)
        }))
    }
}

impl ReplyStageHistograms {
    /// Label values, in stage order.
    pub const STAGES: [&'static str; 5] = ["endpoint", "stt", "brain", "tts", "play"];

    pub fn observe(&self, stages: &protocol::results::ReplyStages) {
        let values = [stages.endpoint_ms, stages.stt_ms, stages.brain_ms, stages.tts_ms, stages.play_ms];
        for (histogram, value) in self.0.iter().zip(values) {
            histogram.observe(value);
        }
    }

    /// `(label, histogram)` pairs for a metrics page.
    pub fn series(&self) -> impl Iterator<Item = (&'static str, &probes::prometheus::Histogram)> {
        Self::STAGES.into_iter().zip(self.0.iter())
    }
}

impl Stats {
    pub fn count_exit(&self, status: ExitStatus) {
        let counter = match status {
            ExitStatus::Finished => &self.exits_finished,
            ExitStatus::HungUp => &self.exits_hung_up,
            ExitStatus::DownstreamClosed => &self.exits_downstream_closed,
            ExitStatus::Failed => &self.exits_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every call actor of one worker shares.
pub struct Shared {
    pub config: Config,
    pub bus: Bus,
    pub providers: Providers,
    pub stats: Stats,
    /// Live calls by a worker-local number.
    pub calls: Mutex<HashMap<u64, Recipient<Shutdown>>>,
    /// Number of live calls; the assign loop watches it to leave or rejoin the queue group.
    pub active: tokio::sync::watch::Sender<usize>,
    /// STT vocabulary per playbook id, built once at start.
    pub vocabularies: HashMap<String, Arc<Vocabulary>>,
    /// Finished recordings still being stored on the bus; a stopping worker waits for them.
    pub recordings_storing: tokio::sync::watch::Sender<usize>,
    /// The hold filler's audio (8 kHz mu-law), synthesized once when the worker starts; empty
    /// until then, and for good when the filler is off or its synthesis failed.
    pub hold_filler: Arc<std::sync::OnceLock<bytes::Bytes>>,
}

impl Shared {
    pub fn active_calls(&self) -> usize {
        *self.active.borrow()
    }
}
