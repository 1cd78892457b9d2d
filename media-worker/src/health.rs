//! The worker's HTTP side: `/healthz` (the process runs), `/readyz` (connected to NATS and
//! taking calls) and `/metrics` (Prometheus text: calls, frames, exits, voice-to-voice latency).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

use crate::Shared;

/// Upper bounds (ms) of the voice-to-voice latency histogram buckets.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000];

/// A Prometheus histogram of milliseconds with fixed buckets.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, ms: u64) {
        if let Some(index) = LATENCY_BUCKETS_MS.iter().position(|&bound| ms <= bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS_MS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", *bound as f64 / 1000.0);
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

struct State {
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
}

/// Starts the HTTP server on `addr`; returns its handle and the bound address.
pub(crate) fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
) -> std::io::Result<(actix_web::dev::ServerHandle, SocketAddr)> {
    let state = web::Data::new(State { shared, draining });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
            .route("/readyz", web::get().to(ready))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok((handle, bound))
}

async fn ready(state: web::Data<State>) -> HttpResponse {
    if state.draining.load(Ordering::Relaxed) {
        HttpResponse::ServiceUnavailable().body("draining")
    } else if !state.shared.bus.is_connected() {
        HttpResponse::ServiceUnavailable().body("nats disconnected")
    } else {
        HttpResponse::Ok().body("ready")
    }
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(render(&state.shared))
}

/// The Prometheus exposition of one worker's counters.
pub(crate) fn render(shared: &Shared) -> String {
    let stats = &shared.stats;
    let mut out = String::with_capacity(2048);
    let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
    };
    gauge(&mut out, "media_worker_active_calls", "Calls this worker runs now.", shared.active_calls() as u64);
    gauge(&mut out, "media_worker_max_calls", "Calls this worker takes at most.", shared.config.max_calls as u64);
    counter(&mut out, "media_worker_calls_taken_total", "Streams taken from media.assign.", &stats.calls_taken);
    counter(
        &mut out,
        "media_worker_assignments_refused_total",
        "media.assign requests left unanswered (full).",
        &stats.assignments_refused,
    );
    counter(&mut out, "media_worker_frames_in_total", "Callee audio frames received.", &stats.frames_in);
    counter(&mut out, "media_worker_frames_out_total", "Agent audio frames sent.", &stats.frames_out);
    counter(
        &mut out,
        "media_worker_malformed_messages_total",
        "Bus messages that did not decode.",
        &stats.malformed_messages,
    );
    let _ = writeln!(out, "# HELP media_worker_call_exits_total Calls ended, by exit status.");
    let _ = writeln!(out, "# TYPE media_worker_call_exits_total counter");
    for (status, value) in [
        ("finished", &stats.exits_finished),
        ("hung_up", &stats.exits_hung_up),
        ("downstream_closed", &stats.exits_downstream_closed),
        ("failed", &stats.exits_failed),
    ] {
        let _ = writeln!(out, "media_worker_call_exits_total{{status=\"{status}\"}} {}", value.load(Ordering::Relaxed));
    }
    stats.voice_to_voice.render(
        "media_worker_voice_to_voice_seconds",
        "Media time from the end of the callee's speech to the first agent audio after it.",
        &mut out,
    );
    out
}
