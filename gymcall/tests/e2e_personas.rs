//! End to end with the embedded providers: every persona in `personas/` is called through
//! REST -> dialer -> (simulated) Twilio -> gateway HTTP + WebSocket -> NATS -> media worker ->
//! brain, against a real nats-server. The persona hears the agent only through the call audio.
//! Each result is printed and graded against the persona's facts.

use bus::Bus;
use playbook::PlaybookSet;
use protocol::results::{CallResult, FieldStatus};
use protocol::version::decode_json;
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig, Outcome};
use simulator::persona::grade::grade;
use simulator::persona::hook::{media_hook, PersonaLineup};
use simulator::persona::Persona;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

fn personas(playbooks: &PlaybookSet) -> Vec<(PathBuf, Persona)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../personas"));
    let mut out: Vec<(PathBuf, Persona)> = std::fs::read_dir(&dir)
        .expect("personas/ is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let persona = Persona::load(&path, playbooks).unwrap_or_else(|e| panic!("{e}"));
            (path, persona)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn run_all() {
    let nats = testkit::NatsServer::start().await.expect("nats-server starts");
    let bus = Bus::connect(&nats.url(), "e2e").await.expect("connect to nats");
    let playbooks = PlaybookSet::built_in().expect("playbooks");
    let personas = personas(&playbooks);
    assert!(personas.len() >= 7, "expected the shipped personas, found {}", personas.len());

    let out_dir = tempfile::tempdir().expect("temp dir");
    let fake = FakeTwilio::start(FakeTwilioConfig { step_delay: Duration::from_millis(20), ..Default::default() })
        .await
        .expect("fake twilio");
    let speech = gymcall::stack::embedded_speech().expect("embedded speech engines");
    let mut lineup = HashMap::new();
    let mut numbers = Vec::new();
    for (index, (_, persona)) in personas.iter().enumerate() {
        let number = format!("+1500555{:04}", 100 + index);
        fake.script(&number, vec![Outcome::Answer]);
        let playbook = playbooks.get(&persona.playbook).expect("persona playbook").clone();
        lineup.insert(number.clone(), PersonaLineup { persona: persona.clone(), playbook, record_wav: None });
        numbers.push(number);
    }
    let (reports_tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    fake.set_media_hook(media_hook(
        lineup,
        speech.stt.clone(),
        speech.tts.clone(),
        fake.auth_token().to_owned(),
        Some(reports_tx),
    ));

    let stack = gymcall::stack::Stack::start_on(
        bus.clone(),
        gymcall::stack::StackOptions {
            out_dir: out_dir.path().to_owned(),
            twilio_api_base: Some(fake.base_url()),
            twilio_account_sid: fake.account_sid().to_owned(),
            twilio_auth_token: fake.auth_token().to_owned(),
            speech: Some(speech),
            // two calls at a time: each call runs four recognisers and synthesisers on 2 cores
            extra_env: vec![("NATS_URL".into(), nats.url()), ("MAX_CONCURRENT_CALLS".into(), "2".into())],
        },
    )
    .await
    .expect("services start");

    let mut results_sub = bus.subscribe(protocol::subjects::RESULTS_ALL).await.expect("subscribe results");
    bus.flush().await.expect("flush");
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for (index, (_, persona)) in personas.iter().enumerate() {
        let call_id = stack
            .place_call(&numbers[index], &persona.gym_name, persona.timezone.as_deref(), &persona.playbook)
            .await
            .expect("call accepted");
        calls.insert(call_id, index);
    }

    let mut results: BTreeMap<usize, CallResult> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    while results.len() < calls.len() {
        match tokio::time::timeout_at(deadline, results_sub.next()).await {
            Ok(Some(message)) => {
                if let Ok(result) = decode_json::<CallResult>(&message.payload) {
                    if let Some(index) = calls.get(result.call_id.as_str()) {
                        results.insert(*index, result);
                    }
                }
            }
            _ => break,
        }
    }
    let mut persona_logs: HashMap<String, Vec<String>> = HashMap::new();
    while let Ok(report) = reports.try_recv() {
        persona_logs.insert(
            report.number.clone(),
            report.lines.iter().map(|l| format!("    {:>6} {:<6} {}", l.at_ms, l.speaker, l.text)).collect(),
        );
    }

    let (mut correct, mut total) = (0, 0);
    let mut missing = Vec::new();
    for (index, (path, persona)) in personas.iter().enumerate() {
        let Some(result) = results.get(&index) else {
            missing.push(persona.name.clone());
            println!("\n=== {} ({}): NO RESULT", persona.name, path.display());
            continue;
        };
        let playbook = playbooks.get(&persona.playbook).expect("playbook");
        let graded = grade(persona, playbook, result);
        let (c, t) = graded.required_score();
        correct += c;
        total += t;
        println!("\n=== {} — outcome {:?}, required fields {c}/{t}", persona.name, result.outcome);
        print!("{graded}");
        println!("  transcript:");
        for turn in &result.transcript {
            println!("    {:>6} {:<6} {}", turn.at_ms, format!("{:?}", turn.speaker).to_lowercase(), turn.text);
        }
        if let Some(lines) = persona_logs.get(&numbers[index]) {
            println!("  persona's side (what it heard / said):\n{}", lines.join("\n"));
        }
        if persona.playbook == "companion-checkin" {
            let mood = result.fields.get("mood").map(|f| f.status);
            let risk = result.fields.get("risk").cloned().unwrap_or_default();
            println!("  companion: mood {:?}, risk {}", mood, risk.value);
            assert_eq!(mood, Some(FieldStatus::Known), "the companion call must produce a mood");
            assert_eq!(
                risk.value.get("flagged").and_then(|v| v.as_bool()),
                Some(true),
                "the alarming remark must raise the risk flag"
            );
        }
    }
    let share = correct as f64 / total.max(1) as f64;
    println!("\nrequired fields matching the personas' facts: {correct}/{total} = {:.1}%", share * 100.0);
    stack.stop().await;
    fake.stop().await;
    assert!(missing.is_empty(), "calls without a result: {missing:?}");
    assert!(share >= 0.9, "only {:.1}% of required fields match (need 90%)", share * 100.0);
}

#[test]
fn every_persona_end_to_end_through_nats() {
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
    });
    system.block_on(run_all());
}
