//! A cluster of real `nats-server`s (JetStream on, cluster routes between them) on loopback, for
//! the tests of what the system does when one of them dies. Each server has its own store; the
//! cluster's URL lists every server (`nats://127.0.0.1:A,nats://127.0.0.1:B,...`).

use crate::{free_port, NatsServerError};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One server of a [`NatsCluster`].
struct Member {
    child: Option<Child>,
    port: u16,
    log: std::path::PathBuf,
}

/// Servers started by [`NatsCluster::start`], killed on drop.
pub struct NatsCluster {
    members: Vec<Member>,
    _store: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `size` servers routed to each other and waits until each accepts connections.
    /// (JetStream elects its meta leader a moment later: callers retry their first stream or
    /// bucket creation, as services do.)
    pub async fn start(size: usize) -> Result<NatsCluster, NatsServerError> {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned());
        let store = tempfile::tempdir()?;
        let ports: Vec<(u16, u16)> =
            (0..size).map(|_| Ok((free_port()?, free_port()?))).collect::<Result<_, std::io::Error>>()?;
        let routes: Vec<String> = ports.iter().map(|(_, cluster)| format!("nats://127.0.0.1:{cluster}")).collect();
        let mut members = Vec::new();
        for (index, (port, cluster_port)) in ports.iter().enumerate() {
            let dir = store.path().join(format!("n{index}"));
            std::fs::create_dir_all(&dir)?;
            let log = dir.join("nats.log");
            let child = Command::new(&binary)
                .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", &format!("n{index}")])
                .args(["-js", "-sd"])
                .arg(dir.join("js"))
                .args(["--cluster_name", "testkit", "--cluster", &format!("nats://127.0.0.1:{cluster_port}")])
                .args(["--routes", &routes.join(",")])
                .arg("-l")
                .arg(&log)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|source| NatsServerError::Spawn { binary: binary.clone(), source })?;
            members.push(Member { child: Some(child), port: *port, log });
        }
        let cluster = NatsCluster { members, _store: store };
        for member in &cluster.members {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", member.port)).await.is_ok() {
                    break;
                }
                if Instant::now() >= deadline {
                    let log = std::fs::read_to_string(&member.log).unwrap_or_default();
                    return Err(NatsServerError::NotReady { port: member.port, log });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(cluster)
    }

    /// Every server's URL, comma-separated (what `NATS_URL` takes).
    pub fn url(&self) -> String {
        self.members.iter().map(|m| format!("nats://127.0.0.1:{}", m.port)).collect::<Vec<_>>().join(",")
    }

    /// The URL of server `index` alone.
    pub fn member_url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.members[index].port)
    }

    /// SIGKILLs server `index` (no lame-duck mode, no goodbye to its routes).
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Server `index`'s log so far.
    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(&self.members[index].log).unwrap_or_default()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
    }
}
