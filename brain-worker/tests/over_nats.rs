//! The brain over a real nats-server, driven the way a media worker drives it: `brain.assign`,
//! `brain.heard.<callId>` (as requests, so a dead brain is noticed), `media.say.<callId>`,
//! `results.<callId>` and the call record in KV `calls`.

mod common;

use anyhow::{bail, Context as _};
use brain_worker::Config;
use bus::{Bus, BusErrorKind};
use bytes::Bytes;
use protocol::brain::{BrainAssignReply, BrainAssignRequest, Heard, HeardEvent, Say, SayCommand};
use protocol::calls::{CallRecord, CallRequest, CallStatus};
use protocol::ids::{CallId, CallSid, StreamSid};
use protocol::results::{CallOutcome, CallResult, FieldStatus};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Plays the media worker's side of one call.
struct FakeMedia {
    bus: Bus,
    call_id: CallId,
    playbook: String,
    context: BTreeMap<String, String>,
    says: bus::Subscription,
    seq: u64,
    at_ms: u64,
    /// Brains that took the call, in order.
    brains: Vec<String>,
}

impl FakeMedia {
    async fn new(bus: Bus, call_id: &str, playbook: &str, context: &[(&str, &str)]) -> anyhow::Result<FakeMedia> {
        let call_id = CallId::from(call_id);
        let says = bus.subscribe(subjects::media_say(&call_id)?).await?;
        bus.flush().await?;
        Ok(FakeMedia {
            bus,
            call_id,
            playbook: playbook.into(),
            context: context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            says,
            seq: 0,
            at_ms: 0,
            brains: Vec::new(),
        })
    }

    /// `brain.assign` until a brain answers (a brain process may still be starting).
    async fn assign(&mut self, resume: bool) -> anyhow::Result<String> {
        let request = BrainAssignRequest {
            v: 1,
            call_id: self.call_id.clone(),
            call_sid: CallSid::from("CA00000000000000000000000000000001"),
            stream_sid: StreamSid::from("MZ00000000000000000000000000000001"),
            playbook: self.playbook.clone(),
            direction: Default::default(),
            context: self.context.clone(),
            resume,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self
                .bus
                .request(subjects::BRAIN_ASSIGN, Bytes::from(encode_json(&request)), Duration::from_secs(2))
                .await
            {
                Ok(reply) => {
                    let reply: BrainAssignReply = decode_json(&reply.payload)?;
                    self.brains.push(reply.worker_id.clone());
                    return Ok(reply.worker_id);
                }
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => bail!("no brain answered brain.assign: {error}"),
            }
        }
    }

    /// Sends a heard event as a request; when the brain does not acknowledge it (no responders
    /// or no ack in time), asks `brain.assign` again with `resume: true` and re-sends it.
    async fn heard(&mut self, event: HeardEvent) -> anyhow::Result<()> {
        let heard = Heard { v: 1, call_id: self.call_id.clone(), at_ms: self.at_ms, event };
        let subject = subjects::brain_heard(&self.call_id)?;
        let payload = Bytes::from(encode_json(&heard));
        for _ in 0..3 {
            match self.bus.request(subject.clone(), payload.clone(), Duration::from_secs(2)).await {
                Ok(_) => return Ok(()),
                Err(error) if matches!(error.kind, BusErrorKind::NoResponders | BusErrorKind::TimedOut) => {
                    self.assign(true).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        bail!("no brain took the call back")
    }

    /// What the agent says next: Speak texts up to the end of the turn (or a hang-up).
    async fn agent_turn(&mut self) -> anyhow::Result<(String, Vec<SayCommand>)> {
        let mut texts = Vec::new();
        let mut commands = Vec::new();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), self.says.next())
                .await
                .context("no agent turn within 5 s")?
                .context("say subscription closed")?;
            let say: Say = decode_json(&message.payload)?;
            commands.push(say.command.clone());
            match say.command {
                SayCommand::Speak { text, end_of_turn, .. } => {
                    if !text.is_empty() {
                        texts.push(text);
                    }
                    if end_of_turn {
                        break;
                    }
                }
                SayCommand::Hangup { .. } | SayCommand::SendDigits { .. } => break,
                SayCommand::Prepare { .. } => {} // said later, if at all
            }
        }
        Ok((texts.join(" "), commands))
    }

    /// The callee says `text`; returns the agent's reply.
    async fn say(&mut self, text: &str) -> anyhow::Result<String> {
        self.seq += 1;
        self.at_ms += 3000;
        self.heard(HeardEvent::Transcript {
            utterance_seq: self.seq,
            text: text.into(),
            is_final: true,
            confidence: Some(0.9),
            start_ms: self.at_ms - 1500,
            end_ms: self.at_ms,
        })
        .await?;
        let (reply, commands) = self.agent_turn().await?;
        // the agent's audio "plays": its mark comes back
        if let Some(SayCommand::Speak { utterance_id, .. }) = commands.first() {
            self.heard(HeardEvent::Played { utterance_id: utterance_id.clone() }).await?;
        }
        Ok(reply)
    }
}

async fn create_call_record(bus: &Bus, call_id: &str, playbook: &str) -> anyhow::Result<()> {
    let now = chrono::Utc::now().to_rfc3339();
    let record = CallRecord {
        v: 1,
        call_id: CallId::from(call_id),
        request: CallRequest {
            phone_number: "+15550000000".into(),
            gym_name: "Atos HQ".into(),
            country: None,
            timezone: Some("America/Los_Angeles".into()),
            preferred_language: None,
            playbook: playbook.into(),
            not_before: None,
            calling_window: None,
            result_webhook: None,
        },
        status: CallStatus::InProgress,
        attempts: Vec::new(),
        call_sid: None,
        result: None,
        next_attempt_at: None,
        last_error: None,
        idempotency_key: None,
        webhook: None,
        created_at: now.clone(),
        updated_at: now,
    };
    bus.kv(subjects::KV_CALLS).await?.create(call_id, Bytes::from(encode_json(&record))).await?;
    Ok(())
}

async fn next_result(results: &mut bus::Subscription) -> anyhow::Result<CallResult> {
    let message = tokio::time::timeout(Duration::from_secs(10), results.next())
        .await
        .context("no result within 10 s")?
        .context("results subscription closed")?;
    Ok(decode_json(&message.payload)?)
}

/// Kills the child process on drop, whatever happens in the test.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_rt::test]
async fn brain_killed_mid_call_is_replaced_and_the_result_is_complete() -> anyhow::Result<()> {
    let nats = testkit::NatsServer::start().await?;
    let url = nats.url();
    // Brain A: its own process, killed with SIGKILL in the middle of the call.
    let brain_a = std::process::Command::new(env!("CARGO_BIN_EXE_brain-worker"))
        .env("NATS_URL", &url)
        .env("WORKER_ID", "brain-a")
        .env("PLAYBOOKS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks"))
        .env("RUST_LOG", "warn")
        .spawn()?;
    let mut brain_a = ChildGuard(brain_a);

    let media_bus = Bus::connect(&url, "fake-media").await?;
    let call_id = "c_takeover1";
    create_call_record(&media_bus, call_id, "gym-dropin").await?;
    let mut results = media_bus.subscribe(subjects::results(&CallId::from(call_id))?).await?;
    // no gym name in the stream's parameters: the brain takes it from the call record
    let mut media = FakeMedia::new(media_bus.clone(), call_id, "gym-dropin", &[]).await?;
    assert_eq!(media.assign(false).await?, "brain-a");

    // Brain B joins the queue group, in this process.
    let brain_b = brain_worker::start(Config::scripted(&url, "brain-b"), Bus::connect(&url, "brain-b").await?).await?;

    media.heard(HeardEvent::CallStarted).await?;
    let intro = media.say("atos jiu jitsu how can i help").await?;
    assert!(intro.contains("automated assistant"), "{intro}");
    assert!(intro.contains("calling about drop-in classes"), "{intro}");
    assert!(media.say("yeah we do drop ins").await?.contains("How much is a drop-in, and is there a mat fee?"));
    let reply = media.say("twenty dollars").await?;
    assert_eq!(reply, "20 dollars for a drop-in, got it. Is there a mat fee on top of that?");

    // Kill brain A mid-call, while the price it just noted may still be corrected.
    brain_a.0.kill()?;
    brain_a.0.wait()?;

    // The next heard event finds no owner: brain B takes the call over from KV, correction
    // window included, and goes on.
    let reply = media.say("no sorry the drop in is twenty five dollars").await?;
    assert_eq!(media.brains, vec!["brain-a", "brain-b"]);
    assert_eq!(reply, "Sorry about that. So a drop-in is 25 dollars, is that right?");
    assert!(media.say("yes").await?.ends_with("Is there a mat fee on top of that?"));
    assert_eq!(media.say("ten dollars").await?, "Mat fee 10 dollars, got it. Which days and times are your classes?");
    let reply = media.say("monday and wednesday at six pm gi and saturday open mat at noon").await?;
    assert!(reply.starts_with("monday and wednesday at 6 PM; saturday at noon, got it."), "{reply}");
    let reply = media.say("you need a gi and a waiver").await?;
    assert_eq!(reply, "gi and waiver, noted. Anything else a visitor should know?");
    let closing = media.say("no that's it").await?;
    assert!(closing.contains("Thanks so much"), "{closing}");
    media.heard(HeardEvent::CallEnded { reason: "hangup".into() }).await?;

    let result = next_result(&mut results).await?;
    assert_eq!(result.outcome, CallOutcome::Completed);
    for field in ["drop_in_offered", "drop_in_price", "mat_fee", "class_schedule", "requirements"] {
        assert_eq!(result.fields[field].status, FieldStatus::Known, "{field}");
    }
    // what brain A learned and what brain B learned are both there
    assert_eq!(result.fields["drop_in_price"].value, json!({ "amount": 25.0, "currency": "USD" }));
    assert_eq!(result.fields["mat_fee"].value, json!({ "amount": 10.0, "currency": "USD" }));
    assert_eq!(result.fields["class_schedule"].value.as_array().map(Vec::len), Some(3));
    assert!(result.transcript.iter().any(|t| t.text == "twenty dollars"));
    assert!(result.transcript.iter().any(|t| t.text == "no that's it"));
    assert!(result.notes.iter().any(|n| n.contains("continued by another brain")), "{:?}", result.notes);
    assert_eq!(result.call_sid, Some(CallSid::from("CA00000000000000000000000000000001")));

    // and on the call record
    let entry = media_bus.kv(subjects::KV_CALLS).await?.get(call_id).await?.context("call record gone")?;
    let record: CallRecord = decode_json(&entry.value)?;
    assert_eq!(record.result.as_ref().map(|r| r.outcome), Some(CallOutcome::Completed));
    assert_eq!(brain_b.stats().calls_resumed.load(std::sync::atomic::Ordering::Relaxed), 1);
    brain_b.stop(Duration::from_secs(1)).await;
    Ok(())
}

#[actix_rt::test]
async fn companion_call_over_nats_produces_mood_and_risk() -> anyhow::Result<()> {
    let nats = testkit::NatsServer::start().await?;
    let url = nats.url();
    let brain = brain_worker::start(Config::scripted(&url, "brain-1"), Bus::connect(&url, "brain-1").await?).await?;
    let media_bus = Bus::connect(&url, "fake-media").await?;
    let call_id = "c_companion1";
    let mut results = media_bus.subscribe(subjects::results(&CallId::from(call_id))?).await?;
    let mut events = media_bus.subscribe(subjects::call_events(&CallId::from(call_id))?).await?;
    let context = [("caller_org", "Sunny Days"), ("callee_name", "Walter")];
    let mut media = FakeMedia::new(media_bus.clone(), call_id, "companion-checkin", &context).await?;
    assert_eq!(media.assign(false).await?, "brain-1");
    // the brain running the call answers liveness pings
    let pong =
        media_bus.request(subjects::brain_ping(&CallId::from(call_id))?, Bytes::new(), Duration::from_secs(2)).await?;
    assert!(String::from_utf8_lossy(&pong.payload).contains("brain-1"));
    media.heard(HeardEvent::CallStarted).await?;
    let intro = media.say("hello?").await?;
    assert!(intro.contains("How are you doing today, Walter?"), "{intro}");
    let reply =
        media.say("not great honestly maybe a three i fell down yesterday and couldn't get up for a while").await?;
    assert!(reply.starts_with("I'm really sorry to hear that."), "{reply}");
    media.say("yes").await?;
    media.say("mostly my knee and my grandkids").await?;
    let closing = media.say("yes that's right").await?;
    assert!(closing.contains("Take care"), "{closing}");

    let result = next_result(&mut results).await?;
    assert_eq!(result.playbook, "companion-checkin");
    assert_eq!(result.fields["mood"].value, json!(3));
    assert_eq!(result.fields["topics"].value, json!(["health", "family"]));
    assert_eq!(result.fields["risk"].value["flagged"], json!(true));
    assert!(result.fields["risk"].value["escalation_note"].as_str().unwrap_or("").contains("human"));

    // the live transcript went out on calls.events
    let mut kinds = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        let event: protocol::calls::CallEvent = decode_json(&message.payload)?;
        kinds.push(event.kind.as_str());
    }
    for kind in ["agent_said", "callee_said", "field", "ended"] {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
    brain.stop(Duration::from_secs(1)).await;
    Ok(())
}

#[actix_rt::test]
async fn llm_brain_over_nats_streams_then_falls_back_and_completes() -> anyhow::Result<()> {
    use common::fake_openai::{FakeOpenAi, Reply};
    let server = FakeOpenAi::start(vec![
        Reply::Stream {
            content: "Great, thanks! How much is a drop-in?".into(),
            tool_calls: vec![(
                "record_field".into(),
                json!({ "name": "drop_in_offered", "status": "known", "value": true, "evidence": "yes we do" }),
            )],
        },
        Reply::Status(503),
    ])
    .await;
    let nats = testkit::NatsServer::start().await?;
    let url = nats.url();
    let mut config = Config::scripted(&url, "brain-llm");
    config.policy = brain_worker::PolicyKind::Llm;
    config.llm = Some(brain_worker::LlmConfig {
        base_url: server.base_url.clone(),
        model: "fake-model".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
    });
    let brain = brain_worker::start(config, Bus::connect(&url, "brain-llm").await?).await?;
    let media_bus = Bus::connect(&url, "fake-media").await?;
    let call_id = "c_llm1";
    let mut results = media_bus.subscribe(subjects::results(&CallId::from(call_id))?).await?;
    let mut media = FakeMedia::new(media_bus.clone(), call_id, "gym-dropin", &[("gym_name", "Atos HQ")]).await?;
    media.assign(false).await?;
    media.heard(HeardEvent::CallStarted).await?;
    assert!(media.say("atos hello").await?.contains("automated assistant"));

    // the model's reply streams out sentence by sentence, then the turn is closed
    media.seq += 1;
    media.at_ms += 3000;
    let (seq, at_ms) = (media.seq, media.at_ms);
    media
        .heard(HeardEvent::Transcript {
            utterance_seq: seq,
            text: "yes we do".into(),
            is_final: true,
            confidence: None,
            start_ms: at_ms - 1000,
            end_ms: at_ms,
        })
        .await?;
    let (reply, commands) = media.agent_turn().await?;
    assert_eq!(reply, "Great, thanks! How much is a drop-in?");
    let speaks: Vec<(String, bool)> = commands
        .iter()
        .filter_map(|c| match c {
            SayCommand::Speak { text, end_of_turn, .. } => Some((text.clone(), *end_of_turn)),
            _ => None,
        })
        .collect();
    assert_eq!(speaks[0], ("Great, thanks!".to_owned(), false), "first sentence sent on its own");
    assert!(speaks.last().is_some_and(|(_, end)| *end));

    // the model fails (503): the scripted policy takes over and the call completes
    let reply = media.say("twenty dollars").await?;
    assert_eq!(reply, "Sorry about that. Is there a mat fee on top of that?");
    media.say("no mat fee").await?;
    media.say("saturday open mat at noon").await?;
    media.say("just sign a waiver").await?;
    let closing = media.say("no").await?;
    assert!(closing.contains("Thanks so much"), "{closing}");
    media.heard(HeardEvent::CallEnded { reason: "hangup".into() }).await?;
    let result = next_result(&mut results).await?;
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert_eq!(result.fields["drop_in_price"].value, json!({ "amount": 20.0, "currency": "USD" }));
    assert!(result.notes.iter().any(|n| n.contains("switched to the scripted policy")), "{:?}", result.notes);
    assert_eq!(server.requests().len(), 2);
    brain.stop(Duration::from_secs(1)).await;
    Ok(())
}
