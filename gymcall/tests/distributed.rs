//! The distributed stack on one machine: nats-server and the four service binaries as separate
//! processes, configured only through their environment. A simulated call is placed through the
//! gateway's REST API; the dialer dials the simulated Twilio, a persona answers, and the result
//! arrives through `gymcall results --follow`, itself a separate process.

mod common;

use common::{bin_dir, dump_logs, ensure_binaries, place_call, simulated_gym, start_services, Service};
use protocol::results::CallResult;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn run() {
    ensure_binaries(&["gateway", "media-worker", "brain-worker", "dialer", "gymcall"]);
    let nats = testkit::NatsServer::start().await.expect("nats-server starts");
    let logs = tempfile::tempdir().expect("temp dir");
    let number = "+15005550177";
    let (fake, persona, playbook) = simulated_gym(number).await;

    let (base, services) = start_services(&nats.url(), &fake, "distributed-t0ken-123", &[], logs.path()).await;

    // `gymcall results --follow` in its own process, reading results.> from NATS
    let mut follower = Command::new(bin_dir().join("gymcall"))
        .args(["results", "--follow", "--json"])
        .env("NATS_URL", nats.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gymcall results starts");
    let stdout = follower.stdout.take().expect("stdout");
    let stderr = follower.stderr.take().expect("stderr");
    let follower = Service { name: "gymcall results", child: follower };
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // it says when it is subscribed
    let mut stderr = BufReader::new(stderr);
    let mut first = String::new();
    let _ = stderr.read_line(&mut first);
    assert!(first.contains("waiting for results"), "gymcall results said: {first}");

    let call_id = place_call(&base, "distributed-t0ken-123", number, &persona, logs.path()).await;

    let result: CallResult = loop {
        match tokio::time::timeout(Duration::from_secs(300), lines.recv()).await {
            Ok(Some(line)) => {
                let result: CallResult =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a result ({e}): {line}"));
                if result.call_id.as_str() == call_id {
                    break result;
                }
            }
            _ => {
                dump_logs(logs.path());
                panic!("no result for {call_id} from gymcall results --follow");
            }
        }
    };
    let graded = simulator::persona::grade::grade(&persona, &playbook, &result);
    println!("result of {call_id} via gymcall results --follow: {:?}\n{graded}", result.outcome);
    for field in playbook.fields.iter().filter(|f| f.required) {
        assert!(result.fields.contains_key(&field.name), "result lacks field {}", field.name);
    }
    assert!(!result.transcript.is_empty(), "the result carries the transcript");
    drop(follower);
    drop(services);
    fake.stop().await;
}

#[test]
fn four_service_processes_and_results_follow() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}
