//! Running the service binaries as separate processes for the multi-process tests: build them
//! if needed, start one with a clean environment and a log file, wait for a URL to be ready.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed (and reaped) when dropped.
pub struct Service {
    pub name: &'static str,
    pub child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_gymcall")).parent().expect("binary folder").to_owned()
}

/// Builds the service binaries if this test run did not (a no-op under `cargo test --workspace`).
pub fn ensure_binaries(names: &[&str]) {
    if names.iter().all(|n| bin_dir().join(n).exists()) {
        return;
    }
    let mut command = Command::new(env!("CARGO"));
    command.arg("build").current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    for name in names {
        command.args(["-p", name]);
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "building {names:?} failed");
}

pub fn spawn(name: &'static str, env: &[(&str, String)], logs: &Path) -> Service {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).expect("log file");
    let mut command = Command::new(bin_dir().join(name));
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("RUST_LOG", "info");
    for (key, value) in env {
        command.env(key, value);
    }
    let child =
        command.stdout(Stdio::null()).stderr(log).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Service { name, child }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn wait_ready(url: &str, services: &mut [Service]) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        for service in services.iter_mut() {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("{} exited early with {status}", service.name);
            }
        }
        if let Ok(response) = client.get(url).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never became ready");
}
