//! Issue 16 must-show 2: the stack on a 3-server NATS cluster (JetStream R3 streams and buckets,
//! `NATS_URL` listing the three servers), the four services as separate processes, a simulated
//! gym answering. One server is SIGKILLed in the middle of the call: the call completes, and its
//! result is stored once (one message on `results.<callId>` in the R3 `RESULTS` stream, the call
//! record final with its result).

mod common;

use common::{dump_logs, ensure_binaries, simulated_gym, start_services};
use std::time::{Duration, Instant};

const TOKEN: &str = "cluster-test-t0ken-123";

/// Waits until JetStream on the cluster takes an R3 bucket (its meta leader is elected).
async fn wait_for_jetstream(url: &str) {
    let options = bus::NatsOptions { store: bus::StoreSettings::default().with_replicas(3), ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = match bus::Bus::connect_with(url, "cluster-probe", &options).await {
            Ok(bus) => bus.kv("cluster_probe").await.is_ok(),
            Err(_) => false,
        };
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "JetStream on the 3-server cluster never took an R3 bucket");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn get_call(base: &str, call_id: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/calls/{call_id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /v1/calls/{id}");
    response.json().await.unwrap_or(serde_json::Value::Null)
}

/// Messages stored under `subject` in stream `stream` (asked of a surviving server).
async fn stored_messages(url: &str, stream: &str, subject: &str) -> u64 {
    let client = async_nats::connect(url).await.expect("connect");
    let context = async_nats::jetstream::new(client);
    let stream = context.get_stream(stream).await.expect("stream");
    let info = stream.info_with_subjects(subject).await.expect("subjects");
    let mut count = 0;
    let mut subjects = info;
    use futures_util::StreamExt;
    while let Some(entry) = subjects.next().await {
        let (name, messages) = entry.expect("subject entry");
        if name == subject {
            count += messages as u64;
        }
    }
    count
}

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

    let response = reqwest::Client::new()
        .post(format!("{base}/v1/calls"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "phone_number": number,
            "gym_name": persona.gym_name,
            "timezone": persona.timezone,
            "playbook": persona.playbook,
        }))
        .send()
        .await
        .expect("POST /v1/calls");
    let status = response.status().as_u16();
    let reply: serde_json::Value = response.json().await.expect("json reply");
    if status != 202 {
        dump_logs(logs.path());
        panic!("POST /v1/calls answered {status}: {reply}");
    }
    let call_id = reply["call_id"].as_str().expect("call_id").to_owned();

    // mid-call: a few seconds into the conversation
    let deadline = Instant::now() + Duration::from_secs(120);
    while get_call(&base, &call_id).await["status"] != "in_progress" {
        assert!(Instant::now() < deadline, "the call never went in progress: {}", get_call(&base, &call_id).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let killed_at = Instant::now();
    cluster.kill(0);
    println!("nats server 0 SIGKILLed mid-call");

    let deadline = Instant::now() + Duration::from_secs(300);
    let record = loop {
        let record = get_call(&base, &call_id).await;
        if record["status"] == "completed" && !record["result"].is_null() {
            break record;
        }
        if Instant::now() > deadline || ["failed", "canceled"].contains(&record["status"].as_str().unwrap_or("")) {
            dump_logs(logs.path());
            panic!("the call did not complete after the server was killed: {record:#}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
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
