//! Attacks on the edge replayed against the real gateway binary (and a real nats-server): what an
//! outsider sends is bounded in memory, file descriptors and time, and refused with the right code.
//! Resources are read from `/proc/<pid>` of the gateway process.

use protocol::twilio::signature::compute_signature;
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};
use testkit::NatsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const PUBLIC_BASE_URL: &str = "https://gw.example.test";
const AUTH_TOKEN: &str = "edge-auth-token-0123";
const API_TOKEN: &str = "edge-api-token-0123456789";

/// The gateway binary on a free port.
struct Gateway {
    child: Child,
    addr: String,
}

fn gateway_command(nats_url: &str, port: u16, extra_env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PUBLIC_BASE_URL", PUBLIC_BASE_URL)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("API_TOKEN", API_TOKEN)
        .env("NATS_URL", nats_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("HTTP_WORKERS", "2")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

impl Gateway {
    async fn start(nats: &NatsServer, extra_env: &[(&str, &str)]) -> Gateway {
        let port = testkit::free_port().expect("free port");
        let child = gateway_command(&nats.url(), port, extra_env).spawn().expect("gateway binary starts");
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(format!("http://{addr}/healthz")).await {
                if response.status() == 200 {
                    return Gateway { child, addr };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway never answered /healthz");
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("gateway running")
    }

    /// Resident memory, bytes.
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
        let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value");
        kib * 1024
    }

    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("proc fd").count()
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addr)).await.expect("metrics").text().await.expect("page")
    }

    /// Waits until `check` holds on the process, up to `within`.
    async fn settles(&self, within: Duration, check: impl Fn(&Gateway) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if check(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        check(self)
    }
}

/// A signed Media Streams upgrade on a raw socket; panics unless it is answered 101.
async fn upgraded_socket(addr: &str) -> TcpStream {
    let stream_url = format!("{}/v1/twilio/stream", PUBLIC_BASE_URL.replace("https://", "wss://"));
    let signature = compute_signature(AUTH_TOKEN, &stream_url, &[]);
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /v1/twilio/stream HTTP/1.1\r\nHost: gw.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         X-Twilio-Signature: {signature}\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.expect("send upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = socket.read(&mut byte).await.expect("read upgrade answer");
        assert!(read == 1, "connection closed during the upgrade: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    socket
}

/// A client frame header (masked, mask 0) declaring `length` payload bytes.
fn frame_header(opcode: u8, length: u64) -> Vec<u8> {
    let mut header = vec![0x80 | opcode];
    match length {
        0..=125 => header.push(0x80 | length as u8),
        126..=0xFFFF => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&length.to_be_bytes());
        }
    }
    header.extend_from_slice(&[0, 0, 0, 0]); // a zero mask leaves the payload as it is
    header
}

/// Reads what the server sends until it closes the connection (or `within` passes) and returns
/// the code of its close frame, if one came.
async fn close_code_from(socket: &mut TcpStream, within: Duration) -> Option<u16> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => received.extend_from_slice(&buf[..read]),
        }
    }
    // server frames are unmasked; walk them until the close frame (opcode 8)
    let mut at = 0;
    while at + 2 <= received.len() {
        let opcode = received[at] & 0x0F;
        let length = (received[at + 1] & 0x7F) as usize;
        let (length, header) = match length {
            126 if at + 4 <= received.len() => (u16::from_be_bytes([received[at + 2], received[at + 3]]) as usize, 4),
            126 | 127 => return None,
            short => (short, 2),
        };
        if opcode == 8 && length >= 2 && at + header + 2 <= received.len() {
            return Some(u16::from_be_bytes([received[at + header], received[at + header + 1]]));
        }
        at += header + length;
    }
    None
}

/// True once the server has closed `socket` (EOF or reset), false if it is still open at `deadline`.
async fn closed_by_server(socket: &mut TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn a_frame_header_declaring_a_terabyte_is_refused_before_its_payload_is_buffered() {
    let nats = NatsServer::start().await.expect("nats-server");
    let gateway = Gateway::start(&nats, &[]).await;
    drop(upgraded_socket(&gateway.addr).await); // the first upgrade's one-time allocations
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = gateway.rss_bytes();

    let mut socket = upgraded_socket(&gateway.addr).await;
    socket.write_all(&frame_header(2, 1 << 40)).await.expect("send the header");
    let (mut reader, mut writer) = socket.into_split();
    // Read all along: the close frame must be taken before a reset can discard it.
    let received = tokio::spawn(async move {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(read)) => received.extend_from_slice(&buf[..read]),
                Err(_) => break false,
            }
        };
        (received, closed)
    });
    let streamed = tokio::spawn(async move {
        let chunk = vec![0x41u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < 50 * MIB {
            if writer.write_all(&chunk).await.is_err() {
                break; // the gateway closed the connection (it may read and drop a little first)
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut peak_rss = rss_before;
    while !streamed.is_finished() {
        peak_rss = peak_rss.max(gateway.rss_bytes());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = streamed.await.expect("writer task");
    peak_rss = peak_rss.max(gateway.rss_bytes());
    let (received, closed) = received.await.expect("reader task");
    let close = (received.len() >= 4 && received[0] == 0x88).then(|| u16::from_be_bytes([received[2], received[3]]));
    println!("sent {} MiB, gateway RSS {} -> peak {} MiB", sent / MIB, rss_before / MIB, peak_rss / MIB);
    assert!(
        peak_rss < rss_before + 20 * MIB,
        "gateway RSS grew from {} to {} MiB while {} MiB of one frame streamed in",
        rss_before / MIB,
        peak_rss / MIB,
        sent / MIB
    );
    assert!(closed, "the gateway did not close the connection");
    assert_eq!(close, Some(1009), "closed with 1009 (message too big)");
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_a_protocol_error_with_1002() {
    let nats = NatsServer::start().await.expect("nats-server");
    let gateway = Gateway::start(&nats, &[]).await;

    let mut socket = upgraded_socket(&gateway.addr).await;
    let mut frame = frame_header(1, 2);
    frame.extend_from_slice(&[0xC3, 0x28]); // not UTF-8
    socket.write_all(&frame).await.expect("send");
    assert_eq!(close_code_from(&mut socket, Duration::from_secs(5)).await, Some(1007), "invalid UTF-8 text");

    let mut socket = upgraded_socket(&gateway.addr).await;
    socket.write_all(&[0x81, 0x02, b'h', b'i']).await.expect("send"); // unmasked: RFC 6455 forbids it
    assert_eq!(close_code_from(&mut socket, Duration::from_secs(5)).await, Some(1002), "unmasked client frame");

    let mut socket = upgraded_socket(&gateway.addr).await;
    socket.write_all(&frame_header(1, 100_000)).await.expect("send");
    assert_eq!(close_code_from(&mut socket, Duration::from_secs(5)).await, Some(1009), "over WS_MAX_FRAME_BYTES");

    let page = gateway.metrics().await;
    for kind in ["invalid_utf8", "protocol_error", "frame_too_large"] {
        let series = format!("gateway_ws_bad_messages_total{{kind=\"{kind}\"}}");
        assert_eq!(gateway::metrics::sample(&page, &series), Some(1.0), "{series}");
    }
}

/// Starts a request whose body never finishes: the head and the first 100 of `length` bytes.
async fn slow_body(addr: &str, path: &str, length: usize) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: gw.example.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("send head");
    socket.write_all(&[b'a'; 100]).await.expect("send some body");
    socket
}

#[tokio::test]
async fn slow_bodies_and_silent_sockets_are_closed_in_time_and_give_back_their_resources() {
    let nats = NatsServer::start().await.expect("nats-server");
    let env = [("HTTP_BODY_TIMEOUT_S", "1"), ("WS_START_TIMEOUT_S", "1")];
    let gateway = Gateway::start(&nats, &env).await;
    drop(upgraded_socket(&gateway.addr).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds_before, rss_before) = (gateway.open_fds(), gateway.rss_bytes());

    let opened_at = tokio::time::Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..50 {
        // no bearer token: refused before the body is read
        sockets.push(("POST /v1/calls without a token", slow_body(&gateway.addr, "/v1/calls", 200_000).await));
        // a webhook must be read to check its signature: bounded by the body timeout
        sockets.push(("slow status webhook", slow_body(&gateway.addr, "/v1/twilio/status", 20_000).await));
    }
    for _ in 0..100 {
        sockets.push(("websocket without start", upgraded_socket(&gateway.addr).await));
    }
    let peak_fds = gateway.open_fds();
    assert!(peak_fds >= fds_before + 150, "the attack's connections were open ({fds_before} -> {peak_fds} fds)");

    // every socket is closed by the gateway within its timeout (1 s) and some slack
    let deadline = opened_at + Duration::from_secs(6);
    for (what, socket) in &mut sockets {
        assert!(closed_by_server(socket, deadline).await, "{what}: still open 6 s after it was opened");
    }
    let fds_settled = gateway.settles(Duration::from_secs(3), |g| g.open_fds() <= fds_before + 5).await;
    let (fds_after, rss_after) = (gateway.open_fds(), gateway.rss_bytes());
    println!("fds {fds_before} -> {peak_fds} -> {fds_after}; RSS {} -> {} MiB", rss_before / MIB, rss_after / MIB);
    assert!(fds_settled, "open fds back near the baseline: {fds_before} before, {fds_after} after");
    assert!(rss_after < rss_before + 20 * MIB, "RSS {} -> {} MiB", rss_before / MIB, rss_after / MIB);
    let page = gateway.metrics().await;
    assert_eq!(gateway::metrics::sample(&page, "gateway_stream_exits_total{exit=\"start_timeout\"}"), Some(100.0));
    assert_eq!(gateway::metrics::sample(&page, "gateway_ws_open_sockets"), Some(0.0));
}

#[tokio::test]
async fn sockets_that_never_started_do_not_delay_shutdown() {
    let nats = NatsServer::start().await.expect("nats-server");
    let env = [("SHUTDOWN_GRACE_S", "20"), ("WS_START_TIMEOUT_S", "60")];
    let mut gateway = Gateway::start(&nats, &env).await;
    let mut sockets = Vec::new();
    for _ in 0..100 {
        sockets.push(upgraded_socket(&gateway.addr).await);
    }
    let pid = gateway.pid().to_string();
    let sigterm_at = Instant::now();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    let exited = tokio::time::timeout(Duration::from_secs(5), gateway.child.wait()).await;
    let waited = sigterm_at.elapsed();
    let exit = exited.unwrap_or_else(|_| panic!("still running 5 s after SIGTERM (grace 20 s) with 100 idle sockets"));
    assert!(exit.expect("wait").success(), "clean exit");
    println!("gateway exited {} ms after SIGTERM", waited.as_millis());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    for socket in &mut sockets {
        assert!(closed_by_server(socket, deadline).await, "socket left open by an exited gateway");
    }
}

fn env_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn a_short_api_token_is_refused_at_start_and_says_why() {
    let port = testkit::free_port().expect("free port");
    let output = gateway_command("nats://127.0.0.1:1", port, &[("API_TOKEN", "abc")]).stderr(Stdio::piped()).output();
    let output = tokio::time::timeout(Duration::from_secs(10), output)
        .await
        .expect("the gateway exits instead of serving with a 3-character token")
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "bad configuration exit code; stderr: {stderr}");
    assert!(stderr.contains("API_TOKEN") && stderr.contains("at least 16"), "{stderr}");
    // the same rule through the configuration function every caller uses
    let config = gateway::Config::from_env(&env_map(&[
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("API_TOKEN", API_TOKEN),
    ]));
    assert!(config.is_ok());
}

#[tokio::test]
async fn nats_credentials_never_reach_the_log() {
    let port = testkit::free_port().expect("free port");
    let nats_port = testkit::free_port().expect("free port"); // nobody listens there
    let nats_url = format!("nats://alice:s3cret-pw@127.0.0.1:{nats_port}");
    let output = gateway_command(&nats_url, port, &[("RUST_LOG", "debug")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output).await.expect("gives up on NATS").expect("run");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "no NATS, no gateway");
    assert!(!log.contains("s3cret-pw"), "the NATS password is in the log:\n{log}");
    assert!(!log.contains("alice"), "the NATS user is in the log:\n{log}");
    assert!(log.contains(&format!("nats://***@127.0.0.1:{nats_port}")), "the error names the server:\n{log}");
}
