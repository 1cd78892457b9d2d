//! The LLM policy against a local fake server speaking the OpenAI streaming protocol with tool
//! calls, and the switch to the scripted policy when the model fails mid-call.

mod common;

use brain_worker::conversation::{Action, ConversationState, Input};
use brain_worker::llm::{LlmClient, LlmEvent};
use brain_worker::policy::{LlmPolicy, LlmSettings, Policy};
use common::fake_openai::{FakeOpenAi, Reply};
use playbook::PlaybookSet;
use protocol::brain::SayCommand;
use protocol::ids::CallId;
use protocol::media::Direction;
use protocol::results::{CallOutcome, FieldStatus, Speaker};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Drives an LLM policy the way the call actor does: runs its requests through the real client
/// and feeds the stream back.
struct Driver {
    policy: LlmPolicy,
    client: LlmClient,
    now: Instant,
    seq: u64,
    /// (command, produced while handling a streamed delta)
    commands: Vec<(SayCommand, bool)>,
    finished: bool,
}

impl Driver {
    fn new(base_url: &str, timeout: Duration) -> Driver {
        let playbook = PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone();
        let context = BTreeMap::from([("gym_name".to_owned(), "Atos HQ".to_owned())]);
        let state = ConversationState::new(CallId::from("c_llm"), None, &playbook, Direction::Outbound, context, "llm");
        let settings = LlmSettings { model: "fake-model".into(), timeout };
        Driver {
            policy: LlmPolicy::new(playbook, state, settings),
            client: LlmClient::new(base_url, Some("sk-test".into()), Duration::from_secs(5)).unwrap(),
            now: Instant::now(),
            seq: 0,
            commands: Vec::new(),
            finished: false,
        }
    }

    async fn input(&mut self, input: Input) -> String {
        let mut inputs = VecDeque::from([input]);
        let mut said = Vec::new();
        while let Some(input) = inputs.pop_front() {
            let from_delta = matches!(input, Input::LlmDelta { .. });
            for action in self.policy.handle(self.now, input) {
                match action {
                    Action::LlmRequest { request_id, body } => {
                        let mut events = self.client.stream(body);
                        while let Some(event) = events.recv().await {
                            let (input, last) = match event {
                                LlmEvent::Delta(delta) => (Input::LlmDelta { request_id, delta }, false),
                                LlmEvent::Done => (Input::LlmDone { request_id }, true),
                                LlmEvent::Failed(error) => (Input::LlmFailed { request_id, error }, true),
                            };
                            inputs.push_back(input);
                            if last {
                                break;
                            }
                        }
                    }
                    Action::Say(command) => {
                        if let SayCommand::Speak { text, .. } = &command {
                            if !text.is_empty() {
                                said.push(text.clone());
                            }
                        }
                        self.commands.push((command, from_delta));
                    }
                    Action::Finished => self.finished = true,
                    Action::Event { .. } => {}
                }
            }
        }
        said.join(" ")
    }

    async fn callee(&mut self, text: &str) -> String {
        self.seq += 1;
        self.now += Duration::from_secs(3);
        let at_ms = self.seq * 3000;
        self.input(Input::Heard {
            confidence: None,
            text: text.into(),
            utterance_seq: self.seq,
            start_ms: at_ms - 1000,
            end_ms: at_ms,
            at_ms,
        })
        .await
    }

    fn field(&self, name: &str) -> (FieldStatus, Value) {
        let field = self.policy.state().fields.get(name).cloned().unwrap_or_default();
        (field.status, field.value)
    }
}

fn record(name: &str, value: Value, evidence: &str) -> (String, Value) {
    ("record_field".into(), json!({ "name": name, "status": "known", "value": value, "evidence": evidence }))
}

#[actix_rt::test]
async fn llm_policy_streams_sentences_and_records_fields_through_tools() {
    let schedule = json!([{ "day": "tuesday", "start": "19:00", "end": "20:30", "class_type": "no-gi" }]);
    let server = FakeOpenAi::start(vec![
        Reply::Stream {
            content: "Great, thanks! And is there a separate mat fee on top of that?".into(),
            tool_calls: vec![
                record("drop_in_offered", json!(true), "yes we do drop ins"),
                record("drop_in_price", json!({ "amount": 25, "currency": "USD" }), "twenty five dollars"),
            ],
        },
        // only a tool call: the policy sends the tool results back and the model then speaks
        Reply::Stream { content: String::new(), tool_calls: vec![record("mat_fee", json!(0), "no mat fee")] },
        Reply::Stream {
            content: "Got it, no mat fee. What does your class schedule look like?".into(),
            tool_calls: vec![],
        },
        Reply::Stream {
            content: "Lovely. Do visitors need anything, like a gi or a waiver?".into(),
            tool_calls: vec![record("class_schedule", schedule.clone(), "no gi tuesdays seven to eight thirty")],
        },
        Reply::Stream {
            content: "That's everything I needed. Thanks so much for your help, have a great day!".into(),
            tool_calls: vec![
                record("requirements", json!(["waiver"]), "just sign a waiver"),
                ("record_field".into(), json!({ "name": "other_info", "status": "refused" })),
                ("end_call".into(), json!({ "reason": "all fields collected" })),
            ],
        },
    ])
    .await;
    let mut call = Driver::new(&server.base_url, Duration::from_secs(10));
    call.input(Input::CallStarted { at_ms: 0 }).await;
    let intro = call.callee("atos jiu jitsu how can i help").await;
    assert!(intro.contains("an automated assistant with Open Mat Finder"), "{intro}");
    assert!(server.requests().is_empty(), "the disclosure is fixed, not generated");

    let reply = call.callee("yes we do drop ins and it's twenty five dollars").await;
    assert_eq!(reply, "Great, thanks! And is there a separate mat fee on top of that?");
    // the first sentence went to TTS while the stream was still running, not at its end
    let first = call
        .commands
        .iter()
        .find(|(c, _)| matches!(c, SayCommand::Speak { text, .. } if text == "Great, thanks!"))
        .unwrap();
    assert!(first.1, "first sentence spoken from a streamed delta");
    assert!(matches!(&first.0, SayCommand::Speak { end_of_turn: false, .. }));
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, json!({ "amount": 25.0, "currency": "USD" })));

    let reply = call.callee("no mat fee").await;
    assert_eq!(reply, "Got it, no mat fee. What does your class schedule look like?");
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, json!({ "amount": 0.0, "currency": "USD" })));

    call.callee("no gi tuesdays seven to eight thirty").await;
    assert_eq!(call.field("class_schedule"), (FieldStatus::Known, schedule));
    let reply = call.callee("just sign a waiver and i'd rather not say more").await;
    assert!(reply.contains("Thanks so much"), "{reply}");
    assert!(call.finished);
    assert!(call.commands.iter().any(|(c, _)| matches!(c, SayCommand::Hangup { .. })));

    let result = call.policy.state().result();
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert_eq!(result.fields["requirements"].value, json!(["waiver"]));
    assert_eq!(result.fields["other_info"].status, FieldStatus::Refused);
    let evidence = &result.fields["drop_in_price"].evidence[0];
    assert_eq!(result.transcript[evidence.turn].speaker, Speaker::Callee);
    assert_eq!(evidence.text, "yes we do drop ins and it's twenty five dollars");
    assert!(result.notes.is_empty(), "{:?}", result.notes);

    // the wire: streaming requests with the tools, the conversation, the key, tool results
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    let first = &requests[0];
    assert_eq!(first["stream"], json!(true));
    assert_eq!(first["model"], json!("fake-model"));
    let tools: Vec<&str> =
        first["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(tools, vec!["record_field", "end_call", "send_digits"]);
    let messages = first["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], json!("system"));
    assert!(messages[0]["content"].as_str().unwrap().contains("drop_in_price (money, required)"));
    assert_eq!(messages.last().unwrap()["content"], json!("yes we do drop ins and it's twenty five dollars"));
    let follow_up = requests[2]["messages"].as_array().unwrap();
    let tool_message = follow_up.iter().find(|m| m["role"] == json!("tool")).expect("tool result sent back");
    assert_eq!(tool_message["tool_call_id"], json!("call_0"));
    assert!(follow_up.iter().any(|m| m["tool_calls"][0]["function"]["name"] == json!("record_field")));
    assert_eq!(server.authorizations.lock().unwrap()[0].as_deref(), Some("Bearer sk-test"));
}

#[actix_rt::test]
async fn llm_error_mid_call_switches_to_scripted_and_the_call_completes() {
    let server = FakeOpenAi::start(vec![
        Reply::Stream {
            content: "Great. How much is a drop-in?".into(),
            tool_calls: vec![record("drop_in_offered", json!(true), "yeah we do")],
        },
        Reply::Status(500),
    ])
    .await;
    let mut call = Driver::new(&server.base_url, Duration::from_secs(10));
    call.input(Input::CallStarted { at_ms: 0 }).await;
    call.callee("hello atos").await;
    assert_eq!(call.callee("yeah we do").await, "Great. How much is a drop-in?");

    // the model answers 500: the rules read the answer and the playbook asks on
    let reply = call.callee("twenty five dollars").await;
    assert_eq!(reply, "Sorry about that. Is there a mat fee on top of that?");
    assert!(call.policy.has_fallen_back());
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, json!({ "amount": 25.0, "currency": "USD" })));

    assert_eq!(call.callee("ten dollars").await, "Mat fee 10 dollars, got it. Which days and times are your classes?");
    let reply = call.callee("tuesday and thursday at seven pm no gi").await;
    assert!(reply.starts_with("tuesday and thursday at 7 PM, got it. Does a visitor need anything"), "{reply}");
    assert_eq!(
        call.callee("nothing just show up").await,
        "nothing special, noted. Anything else a visitor should know?"
    );
    let reply = call.callee("no that's it").await;
    assert!(reply.contains("Thanks so much"), "{reply}");
    assert!(call.finished);

    let result = call.policy.state().result();
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert!(result.notes.iter().any(|n| n.contains("llm failed mid-call") && n.contains("500")), "{:?}", result.notes);
    assert_eq!(server.requests().len(), 2, "no more model calls after the switch");
    assert_eq!(call.policy.state().policy, "scripted");
}

#[actix_rt::test]
async fn llm_stream_cut_mid_sentence_falls_back_without_saying_the_fragment() {
    let server = FakeOpenAi::start(vec![Reply::DropAfter("Great, so the price".into())]).await;
    let mut call = Driver::new(&server.base_url, Duration::from_secs(10));
    call.input(Input::CallStarted { at_ms: 0 }).await;
    call.callee("hi").await;
    let reply = call.callee("yes we take drop ins").await;
    assert_eq!(reply, "Sorry about that. How much is a drop-in, and is there a mat fee?");
    assert!(!reply.contains("the price"));
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, json!(true)));
}

#[actix_rt::test]
async fn llm_timeout_falls_back_on_the_policy_clock() {
    // no server needed: the request is never answered within the policy's deadline
    let playbook = PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone();
    let state =
        ConversationState::new(CallId::from("c_t"), None, &playbook, Direction::Outbound, BTreeMap::new(), "llm");
    let mut policy =
        LlmPolicy::new(playbook, state, LlmSettings { model: "m".into(), timeout: Duration::from_millis(1500) });
    let start = Instant::now();
    policy.handle(start, Input::CallStarted { at_ms: 0 });
    policy.handle(
        start,
        Input::Heard { text: "hello".into(), utterance_seq: 1, start_ms: 0, end_ms: 900, at_ms: 900, confidence: None },
    );
    let actions = policy.handle(
        start,
        Input::Heard {
            text: "yes we do".into(),
            utterance_seq: 2,
            start_ms: 3000,
            end_ms: 4000,
            at_ms: 4000,
            confidence: None,
        },
    );
    assert!(actions.iter().any(|a| matches!(a, Action::LlmRequest { .. })));
    let deadline = policy.poll_timeout().unwrap();
    assert_eq!(deadline, start + Duration::from_millis(1500));
    assert!(policy.handle(start + Duration::from_millis(1000), Input::Tick).is_empty());
    let actions = policy.handle(deadline, Input::Tick);
    let said: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Say(SayCommand::Speak { text, .. }) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, vec!["Sorry about that. How much is a drop-in, and is there a mat fee?"]);
    assert!(policy.state().notes.iter().any(|n| n.contains("timed out")));
    // a late answer of the abandoned request is ignored
    let late = policy.handle(deadline, Input::LlmDone { request_id: 1 });
    assert!(late.is_empty());
}
