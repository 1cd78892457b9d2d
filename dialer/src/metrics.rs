//! `/healthz`, `/readyz` and Prometheus `/metrics` for the dialer, on `METRICS_ADDR` (served by
//! the shared [`probes`] responder).

use crate::service::Stats;
use bus::Bus;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The Prometheus text exposition of `stats`.
pub fn render(stats: &Stats) -> String {
    let counter =
        |name: &str, help: &str, value: u64| format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
    let gauge =
        |name: &str, help: &str, value: u64| format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
    [
        counter("dialer_calls_placed_total", "Calls Twilio accepted.", stats.calls_placed.load(Ordering::Relaxed)),
        counter(
            "dialer_dial_errors_total",
            "Calls.json requests refused or unanswered.",
            stats.dial_errors.load(Ordering::Relaxed),
        ),
        counter(
            "dialer_twilio_auth_failures_total",
            "Twilio refused the credentials (20003).",
            stats.auth_failures.load(Ordering::Relaxed),
        ),
        counter(
            "dialer_requests_finished_total",
            "Requests that reached a final state.",
            stats.finished.load(Ordering::Relaxed),
        ),
        counter(
            "dialer_bad_messages_total",
            "Bus messages that could not be decoded.",
            stats.bad_messages.load(Ordering::Relaxed),
        ),
        gauge(
            "dialer_halted",
            "1 when dialing stopped because Twilio refused the credentials.",
            u64::from(stats.halted.load(Ordering::Relaxed)),
        ),
        gauge("dialer_live_calls", "Calls being placed or in progress.", stats.live_calls.load(Ordering::Relaxed)),
        gauge(
            "dialer_held_requests",
            "Requests this dialer holds (waiting or live).",
            stats.held_requests.load(Ordering::Relaxed),
        ),
    ]
    .concat()
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
