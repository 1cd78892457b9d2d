//! `gymcall up` as a user runs it with real Twilio, except that Twilio is the simulated one: the
//! binary configured only by environment variables, its probes, an outbound call placed with
//! `gymcall call`, an inbound call answered, and a graceful stop on SIGTERM.

use playbook::PlaybookSet;
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig};
use simulator::persona::hook::{answer_with_persona, PersonaLineup};
use simulator::persona::{grade::grade, Persona};
use simulator::twilio::audio::FramesAudio;
use simulator::twilio::call::{place_call, CallOptions};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `gymcall up`, killed when dropped (unless it already exited).
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gymcall() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gymcall"));
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("RUST_LOG", "warn");
    // PocketSphinx for the agent: the simulated gym speaks with flite, the voice its playbook LM is
    // measured on, and this test checks the serving, not the recogniser. (With the Whisper model
    // installed `gymcall up` defaults to Whisper, which hears this synthetic voice worse: 3/5
    // required fields in one run; whisper-stt's README has the figures.)
    command.env("STT_PROVIDER", "pocketsphinx");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn up_without_twilio_settings_names_each_missing_variable() {
    let output = gymcall().arg("up").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for name in ["PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "API_TOKEN"] {
        assert!(stderr.contains(name), "{name} not named: {stderr}");
    }
}

#[test]
fn up_serves_outbound_and_inbound_calls_and_stops_on_sigterm() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let playbooks = PlaybookSet::built_in().expect("playbooks");
    let persona =
        Persona::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../personas/atlas-bjj.yaml"), &playbooks).expect("persona");
    let playbook = playbooks.get(&persona.playbook).expect("playbook").clone();

    // the simulated Twilio: its REST API takes the dialer's calls; the persona answers them
    let fake = FakeTwilio::start(FakeTwilioConfig::default()).await.expect("fake twilio");
    let number = "+15005550123";
    let speech = gymcall::stack::embedded_speech().expect("speech engines");
    let lineup = PersonaLineup { persona: persona.clone(), playbook: playbook.clone(), record_wav: None };
    answer_with_persona(&fake, number, lineup, speech.stt.clone(), speech.tts.clone());

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = gymcall()
        .arg("up")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_BASE_URL", &base)
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", fake.auth_token())
        .env("TWILIO_FROM_NUMBER", "+15005550006")
        .env("TWILIO_API_BASE", fake.base_url())
        .env("API_TOKEN", "up-t0ken-0123456789")
        .env("CALLING_WINDOW", "Mon-Sun 00:00-24:00")
        .env("MACHINE_DETECTION", "false")
        .env("GYMCALL_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gymcall up starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_text = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut up = Up(child);

    // ready: /readyz answers 200
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(Some(status)) = up.0.try_wait() {
            panic!("gymcall up exited early with {status}");
        }
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "gymcall up never became ready");

    // outbound: `gymcall call` against its REST API, as the README shows
    let output = gymcall()
        .args(["call", number, &persona.gym_name, "--timezone", "America/Denver"])
        .env("GYMCALL_API_URL", &base)
        .env("API_TOKEN", "up-t0ken-0123456789")
        .output()
        .expect("gymcall call runs");
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "gymcall call failed: {said} {}", String::from_utf8_lossy(&output.stderr));
    let call_id = said
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|word| word.starts_with("c_"))
        .unwrap_or_else(|| panic!("no call id in: {said}"))
        .to_owned();

    let mut record = serde_json::Value::Null;
    for _ in 0..240 {
        let response = client
            .get(format!("{base}/v1/calls/{call_id}"))
            .bearer_auth("up-t0ken-0123456789")
            .send()
            .await
            .expect("GET /v1/calls/{id}");
        assert_eq!(response.status().as_u16(), 200);
        record = response.json().await.expect("call record json");
        if record["result"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let result: protocol::results::CallResult =
        serde_json::from_value(record["result"].clone()).unwrap_or_else(|e| panic!("no result ({e}): {record}"));
    let graded = grade(&persona, &playbook, &result);
    let (right, required) = graded.required_score();
    assert!(right * 10 >= required * 9, "{right}/{required} required fields right: {result:?}");

    // inbound: Twilio posts the voice webhook for a call to our number; the agent greets the caller
    let mut options = CallOptions::new(format!("{base}/v1/twilio/voice"), fake.auth_token());
    options.account_sid = fake.account_sid().to_owned();
    options.direction = "inbound".into();
    options.from = "+15005550999".into();
    options.to = "+15005550006".into();
    let mut quiet_caller = FramesAudio::silence(300); // six seconds of a caller listening
    let report = place_call(&options, &mut quiet_caller, None).await.expect("inbound call runs");
    assert!(report.twiml.is_some(), "the voice webhook answered with a stream");
    assert!(
        report.received_audio.len() >= 8_000,
        "the inbound greeting was played ({} bytes of agent audio)",
        report.received_audio.len()
    );

    // SIGTERM: a graceful stop, exit 0
    let pid = up.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let mut status = None;
    for _ in 0..300 {
        if let Some(exit) = up.0.try_wait().expect("wait") {
            status = Some(exit);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("gymcall up did not stop within 30 s of SIGTERM");
    let stderr = stderr_text.join().unwrap_or_default();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(stderr.contains("listening on") && stderr.contains("stopped"), "{stderr}");
}
