//! The worker's operational endpoints on `METRICS_ADDR`, served by the shared [`probes`]
//! responder: `/healthz` (the process runs), `/readyz` (connected to NATS and taking calls) and
//! `/metrics` (Prometheus text: calls, frames, exits, voice-to-voice latency).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use probes::prometheus::Page;

use crate::shared::Shared;

struct WorkerProbe {
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
}

impl probes::Probe for WorkerProbe {
    fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed) && self.shared.bus.is_connected()
    }

    fn metrics(&self) -> String {
        render(&self.shared)
    }
}

/// Binds `addr` and serves the endpoints in the background; returns the bound address and the
/// serving task (aborted on stop).
pub(crate) async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    probes::serve(&addr.to_string(), Arc::new(WorkerProbe { shared, draining })).await
}

/// The Prometheus exposition of one worker's counters.
pub(crate) fn render(shared: &Shared) -> String {
    let stats = &shared.stats;
    Page::default()
        .gauge("media_worker_active_calls", "Calls this worker runs now.", shared.active_calls() as i64)
        .gauge("media_worker_max_calls", "Calls this worker takes at most.", shared.config.max_calls as i64)
        .counter("media_worker_calls_taken_total", "Streams taken from media.assign.", &stats.calls_taken)
        .counter(
            "media_worker_assignments_refused_total",
            "media.assign requests left unanswered (full).",
            &stats.assignments_refused,
        )
        .counter("media_worker_frames_in_total", "Callee audio frames received.", &stats.frames_in)
        .counter("media_worker_frames_out_total", "Agent audio frames sent.", &stats.frames_out)
        .counter(
            "media_worker_malformed_messages_total",
            "Bus messages that did not decode.",
            &stats.malformed_messages,
        )
        .labelled(
            "media_worker_call_exits_total",
            "Calls ended, by exit status.",
            "status",
            [
                ("finished", &stats.exits_finished),
                ("hung_up", &stats.exits_hung_up),
                ("downstream_closed", &stats.exits_downstream_closed),
                ("failed", &stats.exits_failed),
            ],
        )
        .histogram(
            "media_worker_voice_to_voice_seconds",
            "Media time from the end of the callee's speech to the first agent audio after it.",
            &stats.voice_to_voice,
        )
        .labelled_histograms(
            "media_worker_reply_stage_seconds",
            "The voice-to-voice latency stage by stage (media time): endpoint = end of speech -> turn \
             ended, stt -> final transcript, brain -> reply text, tts -> first audio, play -> first \
             frame plays.",
            "stage",
            stats.reply_stages.series(),
        )
        .finish()
}
