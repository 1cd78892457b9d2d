//! The operational endpoints a worker serves on `METRICS_ADDR`: `/healthz` (alive), `/readyz`
//! (ready for calls) and Prometheus `/metrics`. A deliberately small HTTP/1.1 responder (one
//! request per connection, `GET` only, a 4 KiB request head, 5 s per connection, 64 connections
//! at once): probes and scrapes are all it serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connections answered at once; probes and scrapes need a handful.
const MAX_CONNECTIONS: usize = 64;

/// What the endpoints report: readiness and the metrics text, asked for on each request.
pub trait Probe: Send + Sync + 'static {
    fn ready(&self) -> bool;
    fn metrics(&self) -> String;
}

/// Binds `addr` and serves in the background; returns the bound address.
pub async fn serve(addr: &str, probe: Arc<dyn Probe>) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // out of file descriptors and the like: back off instead of spinning
                    tracing::warn!(%error, "health endpoint cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // more than MAX_CONNECTIONS at once: the newest is closed unanswered
            let Ok(permit) = connections.clone().try_acquire_owned() else { continue };
            let probe = probe.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, probe.as_ref())).await;
                drop(permit);
            });
        }
    });
    Ok((local, task))
}

async fn answer(mut stream: TcpStream, probe: &dyn Probe) -> std::io::Result<()> {
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
        ("GET", "/readyz") if probe.ready() => ("200 OK", "text/plain", "ready\n".to_owned()),
        ("GET", "/readyz") => ("503 Service Unavailable", "text/plain", "not ready\n".to_owned()),
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", probe.metrics()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::metric;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Fixed(AtomicBool);

    impl Probe for Fixed {
        fn ready(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
        fn metrics(&self) -> String {
            metric("counter", "calls_total", "Calls.", 3)
        }
    }

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    }

    #[tokio::test]
    async fn serves_health_readiness_and_metrics() {
        let probe = Arc::new(Fixed(AtomicBool::new(false)));
        let (addr, _task) = serve("127.0.0.1:0", probe.clone()).await.unwrap();
        assert!(get(addr, "GET /healthz HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 503"));
        probe.0.store(true, Ordering::Relaxed);
        assert!(get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(metrics.contains("# TYPE calls_total counter\ncalls_total 3"), "{metrics}");
        assert!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 404"));
        assert!(get(addr, "POST /healthz HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 405"));
        assert!(get(addr, "garbage\r\n\r\n").await.starts_with("HTTP/1.1 405"));
    }
}
