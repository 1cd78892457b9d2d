//! The brain worker: one actix actor per call that runs the conversation of a playbook (scripted
//! slot-filling or an LLM), extracts typed fields with provenance, and publishes the result.
//!
//! - [`extract`]: rule-based extraction (money, days, times, schedules, yes/no, refusals ...).
//! - [`conversation`]: the sans-I/O conversation state machine and its serialisable state.
//! - [`scripted`], [`policy`]: the scripted and LLM policies behind the [`policy::Policy`] trait.
//! - [`llm`]: the OpenAI-compatible streaming client.
//! - [`call`]: the per-call actor (and how another brain takes over a call); [`worker`]: the
//!   `brain.assign` loop. [`start`] wires them on a [`bus::Bus`].

pub mod call;
pub mod config;
pub mod conversation;
pub mod extract;
pub mod llm;
pub mod policy;
pub mod scripted;
pub mod worker;

pub use config::{Config, ConfigError, LlmConfig, PolicyKind, ENV_VARS};

use actix::prelude::*;
use call::{Shared, Stats};
use playbook::PlaybookSet;
use protocol::subjects;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{BrainWorker, KillAll, StopAccepting};

/// Why the brain worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    #[error("playbooks: {0}")]
    Playbook(#[from] playbook::PlaybookError),
    #[error("llm client: {0}")]
    Llm(#[from] llm::LlmError),
    #[error("cannot serve METRICS_ADDR: {0}")]
    Metrics(std::io::Error),
}

/// A running brain worker.
pub struct RunningBrain {
    worker_id: String,
    worker: Addr<BrainWorker>,
    shared: Arc<Shared>,
    metrics_addr: Option<std::net::SocketAddr>,
}

/// Readiness (connected to the bus) and Prometheus counters of a worker, for [`probes`].
struct BrainProbe(Arc<Shared>);

impl probes::Probe for BrainProbe {
    fn ready(&self) -> bool {
        self.0.bus.is_connected()
    }

    fn metrics(&self) -> String {
        let stats = &self.0.stats;
        probes::prometheus::Page::default()
            .gauge("brain_active_calls", "Call actors running now.", stats.active_calls.load(Ordering::Relaxed) as i64)
            .counter("brain_calls_started_total", "Calls taken.", &stats.calls_started)
            .counter(
                "brain_calls_resumed_total",
                "Calls continued from KV convo after another brain died.",
                &stats.calls_resumed,
            )
            .counter("brain_calls_finished_total", "Calls ended.", &stats.calls_finished)
            .counter(
                "brain_malformed_messages_total",
                "Bus messages that could not be decoded.",
                &stats.malformed_messages,
            )
            .counter("brain_results_published_total", "Results published.", &stats.results_published)
            .counter("brain_publish_failures_total", "Publishes that failed.", &stats.publish_failures)
            .finish()
    }
}

impl RunningBrain {
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served, when `METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Calls running now.
    pub fn active_calls(&self) -> u64 {
        self.shared.stats.active_calls.load(Ordering::Relaxed)
    }

    /// Counters of this worker.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Stops taking calls, lets running calls finish for up to `grace`, then returns (calls
    /// still running keep their state in KV `convo`, so another brain can continue them).
    pub async fn stop(self, grace: Duration) {
        self.worker.do_send(StopAccepting);
        let deadline = Instant::now() + grace;
        while self.active_calls() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.shared.bus.flush().await;
    }

    /// Stops everything at once without publishing anything, as a crash would.
    pub fn kill(&self) {
        self.worker.do_send(KillAll);
    }
}

/// Starts a brain worker on `bus`: loads the playbooks, makes sure the `RESULTS` stream and the
/// `convo` / `calls` buckets exist, and answers `brain.assign` in queue group `brain`.
/// Must run inside an actix system.
pub async fn start(config: Config, bus: bus::Bus) -> Result<RunningBrain, BrainError> {
    let playbooks = PlaybookSet::load_dir(&config.playbooks_dir)?;
    let default_playbook = playbooks.get(playbook::DEFAULT_PLAYBOOK)?.clone();
    bus.ensure_stream(subjects::RESULTS_STREAM, &[subjects::RESULTS_ALL], bus::Retention::Limits).await?;
    let convo = bus.kv(subjects::KV_CONVO).await?;
    let calls = bus.kv(subjects::KV_CALLS).await?;
    let llm = match (&config.policy, &config.llm) {
        (PolicyKind::Llm, Some(llm)) => Some(llm::LlmClient::new(&llm.base_url, llm.api_key.clone(), llm.timeout)?),
        _ => None,
    };
    let assign = bus.queue_subscribe(subjects::BRAIN_ASSIGN, subjects::BRAIN_QUEUE_GROUP).await?;
    bus.flush().await?;
    let shared =
        Arc::new(Shared { bus, worker_id: config.worker_id.clone(), llm, convo, calls, stats: Stats::default() });
    tracing::info!(worker_id = %config.worker_id, playbooks = ?playbooks.ids(), policy = ?config.policy, "brain worker started");
    let metrics_addr = match &config.metrics_addr {
        Some(addr) => {
            Some(probes::serve(addr, Arc::new(BrainProbe(shared.clone()))).await.map_err(BrainError::Metrics)?.0)
        }
        None => None,
    };
    let worker_id = config.worker_id.clone();
    let worker = BrainWorker::new(config, shared.clone(), Arc::new(playbooks), default_playbook, assign).start();
    Ok(RunningBrain { worker_id, worker, shared, metrics_addr })
}
