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
//!   [`dtmf`], [`text`], [`recording`]: its helpers.

pub mod assign;
pub mod brain_link;
pub mod call;
pub mod config;
pub mod dtmf;
pub mod health;
pub mod hearing;
pub mod playback;
pub mod recording;
pub mod speaking;
pub mod text;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use bus::Bus;
use speech::{Providers, Vocabulary};

pub use call::ExitStatus;
pub use config::{Config, ConfigError, ENV_VARS};

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
    pub voice_to_voice: health::LatencyHistogram,
}

impl Stats {
    pub(crate) fn count_exit(&self, status: ExitStatus) {
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
pub(crate) struct Shared {
    pub config: Config,
    pub bus: Bus,
    pub providers: Providers,
    pub stats: Stats,
    /// Live calls by a worker-local number.
    pub calls: Mutex<HashMap<u64, Addr<call::CallActor>>>,
    /// Number of live calls; the assign loop watches it to leave or rejoin the queue group.
    pub active: tokio::sync::watch::Sender<usize>,
    /// STT vocabulary per playbook id, built once at start.
    pub vocabularies: HashMap<String, Arc<Vocabulary>>,
}

impl Shared {
    pub fn active_calls(&self) -> usize {
        *self.active.borrow()
    }
}

/// A started worker. Dropping it does not stop the calls; call [`RunningWorker::stop`].
pub struct RunningWorker {
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    assign_task: Option<tokio::task::JoinHandle<()>>,
    arbiters: Vec<actix::Arbiter>,
    draining: Arc<AtomicBool>,
    http: Option<(actix_web::dev::ServerHandle, SocketAddr)>,
}

impl RunningWorker {
    pub fn worker_id(&self) -> &str {
        &self.shared.config.worker_id
    }

    pub fn active_calls(&self) -> usize {
        self.shared.active_calls()
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Where `/healthz`, `/readyz` and `/metrics` listen (when `metrics_addr` was set).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(_, addr)| *addr)
    }

    /// The `/metrics` page.
    pub fn metrics_text(&self) -> String {
        health::render(&self.shared)
    }

    /// Stops taking calls, lets live calls finish within the drain grace period, then hangs up
    /// the rest (after their queued audio) and waits for them to end.
    pub async fn stop(mut self) {
        self.draining.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        if let Some(task) = self.assign_task.take() {
            let _ = task.await;
        }
        let grace = Duration::from_millis(self.shared.config.drain_grace_ms);
        let mut active = self.shared.active.subscribe();
        let drained = tokio::time::timeout(grace, active.wait_for(|n| *n == 0)).await.is_ok();
        if !drained {
            let live: Vec<_> = self.shared.calls.lock().map(|c| c.values().cloned().collect()).unwrap_or_default();
            tracing::info!(worker_id = %self.worker_id(), calls = live.len(), "drain grace over, hanging up live calls");
            for addr in live {
                addr.do_send(call::Shutdown);
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), active.wait_for(|n| *n == 0)).await;
        }
        if let Some((handle, _)) = self.http.take() {
            handle.stop(true).await;
        }
        for arbiter in self.arbiters.drain(..) {
            arbiter.stop();
            let _ = tokio::task::spawn_blocking(move || arbiter.join()).await;
        }
        tracing::info!(worker_id = %self.shared.config.worker_id, "media worker stopped");
    }
}

/// Starts a worker: builds the playbooks' vocabularies, spreads call actors over
/// `config.arbiters` threads and answers `media.assign`. Must run inside an actix `System`.
pub async fn start(config: Config, bus: Bus, providers: Providers) -> Result<RunningWorker, MediaError> {
    let vocabularies = load_vocabularies(&config)?;
    let (active, _) = tokio::sync::watch::channel(0usize);
    let shared = Arc::new(Shared {
        config,
        bus,
        providers,
        stats: Stats::default(),
        calls: Mutex::new(HashMap::new()),
        active,
        vocabularies,
    });
    let arbiters: Vec<actix::Arbiter> = (0..shared.config.arbiters).map(|_| actix::Arbiter::new()).collect();
    let handles = arbiters.iter().map(|a| a.handle()).collect();
    let draining = Arc::new(AtomicBool::new(false));
    let http = match shared.config.metrics_addr {
        Some(addr) => Some(
            health::serve(addr, shared.clone(), draining.clone())
                .map_err(|source| MediaError::Listen { addr, source })?,
        ),
        None => None,
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let assign_task = assign::spawn(shared.clone(), handles, stop_rx).await?;
    tracing::info!(
        worker_id = %shared.config.worker_id,
        max_calls = shared.config.max_calls,
        stt = shared.providers.stt.name(),
        tts = shared.providers.tts.name(),
        "media worker started"
    );
    Ok(RunningWorker { shared, stop, assign_task: Some(assign_task), arbiters, draining, http })
}

fn load_vocabularies(config: &Config) -> Result<HashMap<String, Arc<Vocabulary>>, MediaError> {
    let set = match &config.playbooks_dir {
        Some(dir) => playbook::PlaybookSet::load_dir(dir),
        None => playbook::PlaybookSet::built_in(),
    }
    .map_err(|e| MediaError::Playbooks(e.to_string()))?;
    let mut vocabularies = HashMap::new();
    for id in set.ids() {
        if let Ok(playbook) = set.get(&id) {
            let vocabulary = Vocabulary::new().with_phrases(playbook.vocabulary_phrases());
            vocabularies.insert(id, Arc::new(vocabulary));
        }
    }
    Ok(vocabularies)
}
