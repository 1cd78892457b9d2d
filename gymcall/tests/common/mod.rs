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
    spawn_as(name, name, env, logs)
}

/// Starts binary `binary` logging to `<logs>/<name>.log` (a second process of one service).
pub fn spawn_as(binary: &str, name: &'static str, env: &[(&str, String)], logs: &Path) -> Service {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).expect("log file");
    let mut command = Command::new(bin_dir().join(binary));
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
    for _ in 0..1200 {
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

/// The four services as processes against `nats_url` and the simulated Twilio `fake`, each with
/// `extra` added to its environment; the gateway listens on a free port and takes `api_token`.
/// Returns the gateway's base URL once it is ready, and the processes.
///
/// The ports are probed free, then bound by the services a second or two later (a media worker
/// loads its models first); another process on the machine can take one in between, and its
/// `/readyz` may even answer for the service. So every service must still be running
/// [`ALIVE_AFTER_READY`] after all were ready, or all are started again on other ports (at most
/// three times).
pub async fn start_services(
    nats_url: &str,
    fake: &simulator::fake_twilio::FakeTwilio,
    api_token: &str,
    extra: &[(&'static str, String)],
    logs: &Path,
) -> (String, Vec<Service>) {
    for attempt in 1..=3 {
        let (base, mut services) = start_services_once(nats_url, fake, api_token, extra, logs).await;
        tokio::time::sleep(ALIVE_AFTER_READY).await;
        let exited: Vec<&'static str> = services
            .iter_mut()
            .filter_map(|service| matches!(service.child.try_wait(), Ok(Some(_))).then_some(service.name))
            .collect();
        if exited.is_empty() {
            return (base, services);
        }
        println!("attempt {attempt}: {exited:?} exited after starting (a port taken?); starting again");
        dump_logs(logs);
        drop(services); // killed and reaped
    }
    panic!("the services did not stay up in three attempts");
}

/// How long every service must keep running after all answered `/readyz`.
const ALIVE_AFTER_READY: Duration = Duration::from_secs(3);

async fn start_services_once(
    nats_url: &str,
    fake: &simulator::fake_twilio::FakeTwilio,
    api_token: &str,
    extra: &[(&'static str, String)],
    logs: &Path,
) -> (String, Vec<Service>) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut common = vec![
        ("NATS_URL", nats_url.to_owned()),
        ("TWILIO_ACCOUNT_SID", fake.account_sid().to_owned()),
        ("TWILIO_AUTH_TOKEN", fake.auth_token().to_owned()),
        ("TWILIO_FROM_NUMBER", "+15005550006".to_owned()),
        ("PUBLIC_BASE_URL", base.clone()),
    ];
    common.extend(extra.iter().cloned());
    let with = |more: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut env = common.clone();
        env.extend(more.iter().cloned());
        env
    };
    // each worker's health port, so the call is placed only once every service is ready (a media
    // worker loading its speech models does not answer media.assign yet)
    let health = [free_port(), free_port(), free_port()];
    let metrics = |index: usize| ("METRICS_ADDR", format!("127.0.0.1:{}", health[index]));
    let mut services = vec![
        spawn("gateway", &with(&[("LISTEN_ADDR", format!("127.0.0.1:{port}")), ("API_TOKEN", api_token.into())]), logs),
        spawn("media-worker", &with(&[("RECORDINGS_DIR", logs.display().to_string()), metrics(0)]), logs),
        spawn("brain-worker", &with(&[metrics(1)]), logs),
        spawn(
            "dialer",
            &with(&[
                ("TWILIO_API_BASE", fake.base_url()),
                ("CALLING_WINDOW", "Mon-Sun 00:00-24:00".into()),
                ("MACHINE_DETECTION", "false".into()),
                metrics(2),
            ]),
            logs,
        ),
    ];
    wait_ready(&format!("{base}/readyz"), &mut services).await;
    for port in health {
        wait_ready(&format!("http://127.0.0.1:{port}/readyz"), &mut services).await;
    }
    (base, services)
}

/// Prints the last lines of each service's log (after a failure).
pub fn dump_logs(dir: &Path) {
    for name in ["gateway", "media-worker", "media-worker-2", "brain-worker", "dialer"] {
        if !dir.join(format!("{name}.log")).exists() {
            continue;
        }
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        println!("--- {name} (last lines)\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
}

/// The simulated gym: the fake Twilio with the Atlas persona answering `number` (flite voice,
/// PocketSphinx ears, in this process), and the persona and its playbook.
pub async fn simulated_gym(
    number: &str,
) -> (simulator::fake_twilio::FakeTwilio, simulator::persona::Persona, playbook::Playbook) {
    use simulator::persona::hook::{answer_with_persona, PersonaLineup};
    let playbooks = playbook::PlaybookSet::built_in().expect("playbooks");
    let persona = simulator::persona::Persona::load(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../personas/atlas-bjj.yaml"),
        &playbooks,
    )
    .expect("persona");
    let playbook = playbooks.get(&persona.playbook).expect("playbook").clone();
    let fake = simulator::fake_twilio::FakeTwilio::start(simulator::fake_twilio::FakeTwilioConfig::default())
        .await
        .expect("fake twilio");
    let speech = gymcall::stack::embedded_speech().expect("speech engines");
    let lineup = PersonaLineup { persona: persona.clone(), playbook: playbook.clone(), record_wav: None };
    answer_with_persona(&fake, number, lineup, speech.stt.clone(), speech.tts.clone());
    (fake, persona, playbook)
}

/// Waits until JetStream on a cluster takes an R3 bucket (its meta leader is elected).
pub async fn wait_for_jetstream(url: &str) {
    let options = bus::NatsOptions { store: bus::StoreSettings::default().with_replicas(3), ..Default::default() };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = match bus::Bus::connect_with(url, "cluster-probe", &options).await {
            Ok(bus) => bus.kv("cluster_probe").await.is_ok(),
            Err(_) => false,
        };
        if ready {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "JetStream on the 3-server cluster never took an R3 bucket");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `GET /v1/calls/{id}` (null when it fails).
pub async fn get_call(base: &str, token: &str, call_id: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/calls/{call_id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v1/calls/{id}");
    response.json().await.unwrap_or(serde_json::Value::Null)
}

/// Places a call to the simulated gym through the REST API; returns its id.
pub async fn place_call(
    base: &str,
    token: &str,
    number: &str,
    persona: &simulator::persona::Persona,
    logs: &Path,
) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/calls"))
        .bearer_auth(token)
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
        dump_logs(logs);
        panic!("POST /v1/calls answered {status}: {reply}");
    }
    reply["call_id"].as_str().expect("call_id").to_owned()
}

/// Waits until the call's record is final; returns it (panics with the logs if it failed).
pub async fn wait_completed(
    base: &str,
    token: &str,
    call_id: &str,
    within: Duration,
    logs: &Path,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let record = get_call(base, token, call_id).await;
        if record["status"] == "completed" && !record["result"].is_null() {
            return record;
        }
        let status = record["status"].as_str().unwrap_or("");
        if std::time::Instant::now() > deadline || ["failed", "canceled"].contains(&status) {
            dump_logs(logs);
            panic!("the call did not complete: {record:#}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Messages stored under `subject` in JetStream stream `stream` (asked of the server at `url`).
pub async fn stored_messages(url: &str, stream: &str, subject: &str) -> u64 {
    use futures_util::StreamExt;
    let client = async_nats::connect(url).await.expect("connect");
    let context = async_nats::jetstream::new(client);
    let stream = context.get_stream(stream).await.expect("stream");
    let mut subjects = stream.info_with_subjects(subject).await.expect("subjects");
    let mut count = 0;
    while let Some(entry) = subjects.next().await {
        let (name, messages) = entry.expect("subject entry");
        if name == subject {
            count += messages as u64;
        }
    }
    count
}
