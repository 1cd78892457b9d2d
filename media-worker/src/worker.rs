//! Starting and stopping one media worker: [`start`] builds the playbooks' vocabularies, the
//! call arbiters, the health endpoints and the `media.assign` loop; [`RunningWorker::stop`]
//! drains the live calls within the grace period.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::Bus;
use speech::{Providers, Vocabulary};

use crate::config::Config;
use crate::shared::{MediaError, Shared, Shutdown, Stats};
use crate::{assign, health};

/// How long a stopping worker waits for finished recordings to be stored on the bus.
const RECORDING_STORE_WAIT: Duration = Duration::from_secs(30);

/// A started worker. Dropping it does not stop the calls; call [`RunningWorker::stop`].
pub struct RunningWorker {
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    assign_task: Option<tokio::task::JoinHandle<()>>,
    arbiters: Vec<actix::Arbiter>,
    draining: Arc<AtomicBool>,
    http: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
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
        self.http.as_ref().map(|(addr, _)| *addr)
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
                addr.do_send(Shutdown);
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), active.wait_for(|n| *n == 0)).await;
        }
        let mut storing = self.shared.recordings_storing.subscribe();
        if tokio::time::timeout(RECORDING_STORE_WAIT, storing.wait_for(|n| *n == 0)).await.is_err() {
            tracing::warn!(
                recordings = *storing.borrow(),
                "recordings not stored on the bus before stopping; they stay in RECORDINGS_DIR"
            );
        }
        if let Some((_, task)) = self.http.take() {
            task.abort();
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
        recordings_storing: tokio::sync::watch::channel(0usize).0,
        hold_filler: Arc::new(std::sync::OnceLock::new()),
    });
    if shared.config.hold_filler_ms != 0 {
        let (tts, text, filler) =
            (shared.providers.tts.clone(), shared.config.hold_filler_text.clone(), shared.hold_filler.clone());
        tokio::spawn(async move {
            match synthesize_filler(tts.as_ref(), &text).await {
                Ok(audio) => {
                    tracing::debug!(%text, ms = audio.len() / 8, "hold filler ready");
                    let _ = filler.set(audio);
                }
                Err(error) => {
                    tracing::warn!(%text, %error, "no hold filler: the line stays quiet while a reply is late")
                }
            }
        });
    }
    let arbiters: Vec<actix::Arbiter> = (0..shared.config.arbiters).map(|_| actix::Arbiter::new()).collect();
    let handles = arbiters.iter().map(|a| a.handle()).collect();
    let draining = Arc::new(AtomicBool::new(false));
    let http = match shared.config.metrics_addr {
        Some(addr) => Some(
            health::serve(addr, shared.clone(), draining.clone())
                .await
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

/// Longest hold filler: 2 s of 8 kHz mu-law.
const MAX_HOLD_FILLER_BYTES: usize = 16_000;

/// The whole audio of `text`, at most [`MAX_HOLD_FILLER_BYTES`], within 30 s.
async fn synthesize_filler(tts: &dyn speech::TtsProvider, text: &str) -> Result<bytes::Bytes, String> {
    let mut chunks = tts.synthesize(text.to_owned());
    let mut audio = Vec::new();
    let collect = async {
        while let Some(chunk) = chunks.recv().await {
            match chunk.map_err(|error| error.to_string())? {
                speech::TtsChunk::Audio(bytes) => audio.extend_from_slice(&bytes),
                speech::TtsChunk::Done { .. } => return Ok(()),
            }
            if audio.len() > MAX_HOLD_FILLER_BYTES {
                return Err(format!("longer than {} ms", MAX_HOLD_FILLER_BYTES / 8));
            }
        }
        Err("the synthesis ended early".to_owned())
    };
    tokio::time::timeout(Duration::from_secs(30), collect).await.map_err(|_| "took over 30 s".to_owned())??;
    if audio.is_empty() {
        return Err("no audio".into());
    }
    Ok(bytes::Bytes::from(audio))
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
            let vocabulary = Vocabulary::from_hints(&playbook.recognition_hints());
            vocabularies.insert(id, Arc::new(vocabulary));
        }
    }
    Ok(vocabularies)
}
