//! `/healthz`, `/readyz` and Prometheus `/metrics` for the dialer, on `METRICS_ADDR`.
//!
//! A deliberately small HTTP/1.1 responder (one request per connection, `GET` only): probes and
//! scrapes are all it serves.

use crate::service::Stats;
use bus::Bus;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Binds `addr` and serves in the background; returns the bound address.
pub async fn serve(
    addr: &str,
    stats: Arc<Stats>,
    bus: Bus,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let stats = stats.clone();
            let bus = bus.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &stats, &bus)).await;
            });
        }
    });
    Ok((local, task))
}

async fn answer(mut stream: TcpStream, stats: &Stats, bus: &Bus) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 4096];
    let mut filled = 0;
    while filled < buffer.len() {
        let read = stream.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
        if buffer[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buffer[..filled]);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let (status, content_type, body) = match (method, path) {
        ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".to_owned()),
        ("GET", "/readyz") if bus.is_connected() && !stats.halted.load(Ordering::Relaxed) => {
            ("200 OK", "text/plain", "ready\n".to_owned())
        }
        ("GET", "/readyz") => ("503 Service Unavailable", "text/plain", "not ready\n".to_owned()),
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", render(stats)),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain", "method not allowed\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
