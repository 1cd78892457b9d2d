//! Issue 16 must-show 2: the stack on a 3-server NATS cluster (JetStream R3 streams and buckets,
//! `NATS_URL` listing the three servers), the four services as separate processes, a simulated
//! gym answering. One server is SIGKILLed in the middle of the call: the call completes, and its
//! result is stored once (one message on `results.<callId>` in the R3 `RESULTS` stream, the call
//! record final with its result).

mod common;

use common::{
    ensure_binaries, get_call, place_call, simulated_gym, start_services, stored_messages, wait_completed,
    wait_for_jetstream,
};
use std::time::{Duration, Instant};

const TOKEN: &str = "cluster-test-t0ken-123";

async fn run() {
    ensure_binaries(&["gateway", "media-worker", "brain-worker", "dialer"]);
    let mut cluster = testkit::NatsCluster::start(3).await.expect("3 nats-servers start");
    wait_for_jetstream(&cluster.url()).await;
    let logs = tempfile::tempdir().expect("temp dir");
    let number = "+15005550178";
    let (fake, persona, playbook) = simulated_gym(number).await;

    let extra = [
        ("NATS_REPLICAS", "3".to_owned()),
        // the simulated gym speaks flite; the playbook-tuned recogniser hears it best
        ("STT_PROVIDER", "pocketsphinx".to_owned()),
    ];
    let (base, services) = start_services(&cluster.url(), &fake, TOKEN, &extra, logs.path()).await;

    let call_id = place_call(&base, TOKEN, number, &persona, logs.path()).await;

    // mid-call: a few seconds into the conversation
    let deadline = Instant::now() + Duration::from_secs(120);
    while get_call(&base, TOKEN, &call_id).await["status"] != "in_progress" {
        assert!(
            Instant::now() < deadline,
            "the call never went in progress: {}",
            get_call(&base, TOKEN, &call_id).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let killed_at = Instant::now();
    cluster.kill(0);
    println!("nats server 0 SIGKILLed mid-call");

    let record = wait_completed(&base, TOKEN, &call_id, Duration::from_secs(300), logs.path()).await;
    println!("call {call_id} completed {:.1} s after the kill", killed_at.elapsed().as_secs_f64());
    let result = &record["result"];
    for field in playbook.fields.iter().filter(|f| f.required) {
        assert!(result["fields"].get(&field.name).is_some(), "result lacks field {}: {result:#}", field.name);
    }
    let survivor = cluster.member_url(1);
    let subject = protocol::subjects::results(&protocol::CallId::from(call_id.as_str())).unwrap();
    assert_eq!(stored_messages(&survivor, protocol::subjects::RESULTS_STREAM, &subject).await, 1, "result stored once");
    drop(services);
    fake.stop().await;
}

#[test]
fn one_nats_server_killed_mid_call_and_the_call_completes_with_its_result_stored_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}
