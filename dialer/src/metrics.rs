//! The dialer's counters ([`Stats`]) and their `/healthz`, `/readyz` and Prometheus `/metrics`
//! on `METRICS_ADDR` (served by the shared [`probes`] responder).

use bus::Bus;
use probes::prometheus::Page;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one dialer, for tests and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls Twilio accepted (201).
    pub calls_placed: AtomicU64,
    /// `Calls.json` requests Twilio refused or that got no answer.
    pub dial_errors: AtomicU64,
    /// 20003: credentials refused.
    pub auth_failures: AtomicU64,
    /// True once dialing stopped because of an auth failure.
    pub halted: AtomicBool,
    /// Requests that reached a final state here.
    pub finished: AtomicU64,
    /// Messages that could not be decoded.
    pub bad_messages: AtomicU64,
    /// Calls being placed or live now.
    pub live_calls: AtomicU64,
    /// Requests held now (waiting or live).
    pub held_requests: AtomicU64,
    /// Result webhook POSTs made.
    pub webhook_attempts: AtomicU64,
    /// Result webhooks delivered (2xx).
    pub webhooks_delivered: AtomicU64,
    /// Result webhooks given up.
    pub webhooks_failed: AtomicU64,
}

/// The Prometheus text exposition of `stats`.
pub fn render(stats: &Stats) -> String {
    let gauge = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as i64;
    Page::default()
        .counter("dialer_calls_placed_total", "Calls Twilio accepted.", &stats.calls_placed)
        .counter("dialer_dial_errors_total", "Calls.json requests refused or unanswered.", &stats.dial_errors)
        .counter("dialer_twilio_auth_failures_total", "Twilio refused the credentials (20003).", &stats.auth_failures)
        .counter("dialer_requests_finished_total", "Requests that reached a final state.", &stats.finished)
        .counter("dialer_bad_messages_total", "Bus messages that could not be decoded.", &stats.bad_messages)
        .counter("dialer_webhook_attempts_total", "Result webhook POSTs made.", &stats.webhook_attempts)
        .counter("dialer_webhooks_delivered_total", "Result webhooks delivered (2xx).", &stats.webhooks_delivered)
        .counter("dialer_webhooks_failed_total", "Result webhooks given up.", &stats.webhooks_failed)
        .gauge(
            "dialer_halted",
            "1 when dialing stopped because Twilio refused the credentials.",
            i64::from(stats.halted.load(Ordering::Relaxed)),
        )
        .gauge("dialer_live_calls", "Calls being placed or in progress.", gauge(&stats.live_calls))
        .gauge("dialer_held_requests", "Requests this dialer holds (waiting or live).", gauge(&stats.held_requests))
        .finish()
}

/// Readiness (bus connected, dialing not halted) and [`render`], for [`probes`].
struct DialerProbe {
    stats: Arc<Stats>,
    bus: Bus,
}

impl probes::Probe for DialerProbe {
    fn ready(&self) -> bool {
        self.bus.is_connected() && !self.stats.halted.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> String {
        render(&self.stats)
    }
}

/// Binds `addr` and serves `/healthz`, `/readyz` and `/metrics` in the background; returns the
/// bound address.
pub async fn serve(
    addr: &str,
    stats: Arc<Stats>,
    bus: Bus,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    probes::serve(addr, Arc::new(DialerProbe { stats, bus })).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_and_gauge() {
        let stats = Stats::default();
        stats.calls_placed.store(3, Ordering::Relaxed);
        stats.halted.store(true, Ordering::Relaxed);
        stats.held_requests.store(2, Ordering::Relaxed);
        let text = render(&stats);
        assert!(text.contains("# TYPE dialer_calls_placed_total counter\ndialer_calls_placed_total 3\n"), "{text}");
        assert!(text.contains("# TYPE dialer_halted gauge\ndialer_halted 1\n"), "{text}");
        assert!(text.contains("dialer_held_requests 2\n"), "{text}");
        assert!(text.contains("dialer_dial_errors_total 0\n"), "{text}");
        assert!(text.contains("dialer_webhooks_failed_total 0\n"), "{text}");
        assert_eq!(text.matches("# TYPE ").count(), 11);
    }
}
