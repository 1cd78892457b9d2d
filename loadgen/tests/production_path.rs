//! The load benchmark's three processes together, as `scripts/load-bench.sh` runs them: the fake
//! OpenAI-compatible provider, `gymcall up` on the production path (OpenAI STT and TTS, the LLM
//! brain, all pointed at the fake) and the generator with 2 concurrent calls for 20 s. Asserts
//! what a user of the benchmark relies on: the calls complete, every answer gets a reply, the
//! figures are written, and the server really used the providers. No timing thresholds:
//! performance is measured by the benchmark, not by tests.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The `gymcall` binary of the same profile. A workspace test run (`scripts/test.sh`) has built
/// it with the workspace's features, and it is used as it is; otherwise it is built first (it
/// belongs to another package, so cargo does not build it for this test). Building it alone in a
/// workspace run resolved other features and rebuilt most of the workspace inside this test,
/// which ran out its 10 minutes on a loaded 2-core CI machine.
fn gymcall_binary() -> PathBuf {
    let loadgen = PathBuf::from(env!("CARGO_BIN_EXE_gymcall-loadgen"));
    let profile_dir = loadgen.parent().expect("binary directory").to_path_buf();
    let built = profile_dir.join("gymcall");
    let fresh = |path: &PathBuf| {
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        // not older than this test's own generator binary: built by the same run
        matches!((modified(path), modified(&loadgen)), (Some(gymcall), Some(ours)) if gymcall + Duration::from_secs(3600) >= ours)
    };
    if fresh(&built) {
        return built;
    }
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-q", "-p", "gymcall", "--bin", "gymcall"]);
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
    assert!(status.success(), "cargo build -p gymcall failed");
    profile_dir.join("gymcall")
}

#[test]
fn two_concurrent_calls_on_the_production_path_complete_and_every_answer_gets_a_reply() {
    let gymcall = gymcall_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let http = reqwest::Client::new();

    // the fake provider, on a port of its choosing
    let mut fake = Process(
        Command::new(env!("CARGO_BIN_EXE_gymcall-fake-openai"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("fake starts"),
    );
    let mut first_line = String::new();
    BufReader::new(fake.0.stdout.take().expect("stdout")).read_line(&mut first_line).expect("fake prints");
    let fake_url = first_line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
    assert!(fake_url.starts_with("http://127.0.0.1:"), "{first_line}");

    // gymcall up on the production path
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let token = "loadgen-test-twilio-token";
    let mut command = Command::new(&gymcall);
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    let up = Process(
        command
            .arg("up")
            .envs([
                ("RUST_LOG", "warn"),
                ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
                ("PUBLIC_BASE_URL", &base),
                ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
                ("TWILIO_AUTH_TOKEN", token),
                ("TWILIO_FROM_NUMBER", "+15005550006"),
                ("TWILIO_API_BASE", "http://127.0.0.1:9"),
                ("API_TOKEN", "loadgen-test-api-token-0123"),
                ("GYMCALL_DATA_DIR", &data.path().display().to_string()),
                ("ENDPOINT_SILENCE_MS", "400"),
                ("STT_PROVIDER", "openai"),
                ("TTS_PROVIDER", "openai"),
                ("OPENAI_API_KEY", "fake-key"),
                ("OPENAI_BASE_URL", &fake_url),
                ("BRAIN_POLICY", "llm"),
                ("LLM_BASE_URL", &fake_url),
                ("LLM_MODEL", "fake-model"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gymcall up starts"),
    );
    let ready = runtime.block_on(async {
        for _ in 0..300 {
            if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    assert!(ready, "gymcall up never became ready");

    // the generator: one step of 2 calls, 20 s
    let figures = data.path().join("figures.json");
    let output = Command::new(env!("CARGO_BIN_EXE_gymcall-loadgen"))
        .args(["--gateway", &base, "--auth-token", token, "--steps", "2", "--call-seconds", "20"])
        .args(["--server-pid", &up.0.id().to_string(), "--fake-pid", &fake.0.id().to_string()])
        .arg("--json")
        .arg(&figures)
        .output()
        .expect("generator runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("reply latency"), "{printed}");

    let figures: Value = serde_json::from_slice(&std::fs::read(&figures).expect("figures written")).expect("json");
    let step = &figures["steps"][0];
    let count = |key: &str| step[key].as_u64().unwrap_or_else(|| panic!("{key} missing: {step}"));
    assert_eq!(count("concurrent_calls"), 2);
    assert!(count("calls_completed") >= 2, "{printed}");
    assert_eq!(count("calls_failed"), 0, "{printed}");
    assert!(count("answers_sent") >= 2, "each call answered the agent at least once: {printed}");
    assert_eq!(count("answers_without_reply"), 0, "{printed}");
    assert_eq!(count("answers_replied"), count("answers_sent"), "{printed}");
    assert_eq!(step["reply_latency"]["count"].as_u64(), Some(count("answers_sent")), "a latency per reply");
    assert!(step["server"]["cores"].as_f64().is_some(), "the server was measured: {step}");

    // the replies came through the providers of the production path
    let served: Value = runtime
        .block_on(async { http.get(format!("{fake_url}/stats")).send().await?.json().await })
        .expect("fake stats");
    for route in ["transcriptions", "speech", "chat_streamed"] {
        assert!(served[route].as_u64().unwrap_or(0) > 0, "no {route} request reached the fake: {served}");
    }
    assert_eq!(served["refused"].as_u64(), Some(0), "{served}");
    drop(up);
    drop(fake);
}
