//! [`LlmPolicy`]: an OpenAI-compatible model decides what to say and records fields through
//! tools; the scripted policy takes over when the model fails or times out mid-call.

use protocol::calls::CallEventKind;

use super::contract::Policy;
use super::prompt::request_body;
use super::stream::{merge_tool_call, speak_complete_sentences, speak_sentence, Pending};
use super::tools::record_field;
use crate::conversation::{Action, Conversation, ConversationState, Input, Phase};
use crate::extract;
use crate::llm::Delta;
use crate::scripted;
use playbook::{FieldType, Playbook};
use protocol::brain::SayCommand;
use protocol::results::{CallOutcome, Speaker};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Settings of the LLM policy.
#[derive(Clone, Debug)]
pub struct LlmSettings {
    pub model: String,
    /// A request with no delta for this long counts as failed.
    pub timeout: Duration,
}

/// An OpenAI-compatible model decides what to say and records fields through tools; the
/// scripted policy takes over if it fails.
#[derive(Debug)]
pub struct LlmPolicy {
    conversation: Conversation,
    settings: LlmSettings,
    pending: Option<Pending>,
    next_request_id: u64,
    fallen_back: bool,
}

/// Tool-call rounds without spoken text before the turn is handed to the scripted policy.
const MAX_TOOL_ROUNDS: u32 = 3;

impl LlmPolicy {
    pub fn new(playbook: Playbook, mut state: ConversationState, settings: LlmSettings) -> Self {
        let fallen_back = state.policy == "scripted";
        if !fallen_back {
            state.policy = "llm".into();
        }
        LlmPolicy {
            conversation: Conversation::new(playbook, state),
            settings,
            pending: None,
            next_request_id: 0,
            fallen_back,
        }
    }

    /// True once the policy switched to the scripted fallback.
    pub fn has_fallen_back(&self) -> bool {
        self.fallen_back
    }

    fn fall_back(&mut self, now: Instant, error: &str) -> Vec<Action> {
        self.fallen_back = true;
        self.pending = None;
        let conversation = &mut self.conversation;
        conversation.state.policy = "scripted".into();
        conversation.state.notes.push(format!("llm failed mid-call ({error}); switched to the scripted policy"));
        tracing::warn!(call_id = %conversation.state.call_id, %error, "llm failed, scripted policy takes over");
        let mut actions =
            vec![Action::Event { kind: CallEventKind::Policy, detail: "llm failed, scripted fallback".into() }];
        if matches!(conversation.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
            return actions;
        }
        // The model did not record what was said last: read it with the rules.
        if let Some((turn, text)) = last_callee_turn(conversation) {
            let asked = conversation.state.asked.clone();
            let extractions = extract::extract(&conversation.playbook, &text, asked.as_deref());
            let (events, _) = conversation.apply(&extractions, turn);
            actions.extend(events);
        }
        actions.extend(scripted::ask_next(conversation, now, "Sorry about that. "));
        actions
    }

    fn request(&mut self, now: Instant, round: u32, extra_messages: Vec<Value>) -> Vec<Action> {
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        // What the model is most likely asking about, for the fallback's extraction.
        if let Some(field) = self.conversation.next_field() {
            self.conversation.set_asked(&field.name);
        }
        let body = request_body(&self.conversation, &self.settings.model, &extra_messages);
        self.pending = Some(Pending {
            request_id,
            deadline: now + self.settings.timeout,
            unspoken: String::new(),
            content: String::new(),
            utterance_id: None,
            tool_calls: Vec::new(),
            round,
            extra_messages,
            started: now,
        });
        vec![Action::LlmRequest { request_id, body }]
    }

    fn on_delta(&mut self, now: Instant, delta: Delta) -> Vec<Action> {
        let Some(pending) = self.pending.as_mut() else { return Vec::new() };
        pending.deadline = now + self.settings.timeout;
        for fragment in delta.tool_calls {
            merge_tool_call(&mut pending.tool_calls, fragment);
        }
        let Some(content) = delta.content else { return Vec::new() };
        pending.content.push_str(&content);
        pending.unspoken.push_str(&content);
        speak_complete_sentences(&mut self.conversation, pending, now)
    }

    fn on_done(&mut self, now: Instant) -> Vec<Action> {
        let Some(mut pending) = self.pending.take() else { return Vec::new() };
        let mut actions = Vec::new();
        let rest = pending.unspoken.trim().to_owned();
        pending.unspoken.clear();
        if !rest.is_empty() {
            actions.extend(speak_sentence(&mut self.conversation, &mut pending, now, &rest, true));
        } else if let Some(utterance_id) = &pending.utterance_id {
            // close the turn that streamed out sentence by sentence
            actions.push(Action::Say(SayCommand::Speak {
                utterance_id: utterance_id.clone(),
                text: String::new(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            }));
        }
        let _ = pending.started; // time to the first sentence is recorded when it is spoken

        let turn = last_callee_turn(&self.conversation).map(|(turn, _)| turn);
        let mut end_reason: Option<String> = None;
        let mut tool_results = Vec::new();
        for call in &pending.tool_calls {
            let arguments: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
            let result = match call.name.as_str() {
                "record_field" => {
                    let (events, result) = record_field(&mut self.conversation, &arguments, turn);
                    actions.extend(events);
                    result
                }
                "send_digits" => {
                    let digits: String = arguments
                        .get("digits")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
                        .collect();
                    if digits.is_empty() {
                        "error: no digits".to_owned()
                    } else {
                        self.conversation.state.notes.push(format!("ivr menu: pressed {digits}"));
                        actions.push(Action::Say(SayCommand::SendDigits { digits }));
                        "ok".to_owned()
                    }
                }
                "end_call" => {
                    end_reason = Some(
                        arguments.get("reason").and_then(Value::as_str).unwrap_or("model ended the call").to_owned(),
                    );
                    "ok".to_owned()
                }
                other => format!("error: unknown tool {other}"),
            };
            tool_results.push((call.clone(), result));
        }

        if let Some(reason) = end_reason {
            let closing = if pending.content.trim().is_empty() {
                Some(self.conversation.render(&self.conversation.playbook.closing.clone()))
            } else {
                None
            };
            let outcome =
                if self.conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::Partial };
            actions.extend(self.conversation.finish(now, outcome, closing, &reason));
            return actions;
        }
        if pending.content.trim().is_empty() {
            if !tool_results.is_empty() && pending.round + 1 < MAX_TOOL_ROUNDS {
                // The model only used tools: give it their results and let it speak.
                let mut extra = pending.extra_messages.clone();
                extra.push(json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": tool_results.iter().map(|(call, _)| json!({
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": call.arguments },
                    })).collect::<Vec<_>>(),
                }));
                for (call, result) in &tool_results {
                    extra.push(json!({ "role": "tool", "tool_call_id": call.id, "content": result }));
                }
                actions.extend(self.request(now, pending.round + 1, extra));
                return actions;
            }
            // Nothing to say: the playbook asks the next question.
            actions.extend(scripted::ask_next(&mut self.conversation, now, ""));
            return actions;
        }
        if self.conversation.required_settled()
            && self.conversation.next_field().is_none()
            && !ends_with_question(&pending.content)
        {
            let outcome = CallOutcome::Completed;
            actions.extend(self.conversation.finish(now, outcome, None, "conversation complete"));
        }
        actions
    }
}

fn ends_with_question(text: &str) -> bool {
    text.trim_end().ends_with('?')
}

fn last_callee_turn(conversation: &Conversation) -> Option<(usize, String)> {
    conversation
        .state
        .transcript
        .iter()
        .enumerate()
        .rev()
        .find(|(_, t)| t.speaker == Speaker::Callee)
        .map(|(i, t)| (i, t.text.clone()))
}

impl Policy for LlmPolicy {
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let actions = self.handle_input(now, input);
        self.conversation.mark_media_time(now);
        actions
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let conversation = self.conversation.poll_timeout();
        match &self.pending {
            Some(pending) if !self.fallen_back => {
                Some(conversation.map_or(pending.deadline, |c| c.min(pending.deadline)))
            }
            _ => conversation,
        }
    }

    fn state(&self) -> &ConversationState {
        &self.conversation.state
    }

    fn playbook(&self) -> &Playbook {
        &self.conversation.playbook
    }
}

impl LlmPolicy {
    fn handle_input(&mut self, now: Instant, input: Input) -> Vec<Action> {
        if self.fallen_back {
            return scripted::handle(&mut self.conversation, now, input);
        }
        match input {
            Input::LlmDelta { request_id, delta } => {
                if self.pending.as_ref().is_some_and(|p| p.request_id == request_id) {
                    self.on_delta(now, delta)
                } else {
                    Vec::new()
                }
            }
            Input::LlmDone { request_id } => {
                if self.pending.as_ref().is_some_and(|p| p.request_id == request_id) {
                    self.on_done(now)
                } else {
                    Vec::new()
                }
            }
            Input::LlmFailed { request_id, error } => {
                if self.pending.as_ref().is_some_and(|p| p.request_id == request_id) {
                    self.fall_back(now, &error)
                } else {
                    Vec::new()
                }
            }
            Input::Tick => {
                if self.pending.as_ref().is_some_and(|p| now >= p.deadline) {
                    return self.fall_back(now, "timed out");
                }
                if self.pending.is_some() {
                    return Vec::new(); // the model is thinking: no silence re-prompt meanwhile
                }
                scripted::handle(&mut self.conversation, now, Input::Tick)
            }
            Input::Heard { ref text, utterance_seq, at_ms, end_ms, .. } => {
                let conversation = &mut self.conversation;
                if conversation.state.phase == Phase::AwaitingGreeting
                    || matches!(conversation.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail)
                {
                    // greeting / IVR / voicemail handling is the same as the scripted one
                    return scripted::handle(conversation, now, input);
                }
                if text.trim().is_empty() {
                    // speech the recogniser made nothing of: nothing for the model to read
                    return scripted::handle(conversation, now, input);
                }
                if !conversation.fresh_transcript(utterance_seq, end_ms) {
                    return Vec::new();
                }
                conversation.state.media_ms = conversation.state.media_ms.max(at_ms).max(end_ms);
                let (turn, mut actions) = conversation.hear(now, text, end_ms);
                // Safety net: alarming statements are flagged by the rules whatever the model does.
                let risk: Vec<_> = extract::extract(&conversation.playbook, text, None)
                    .into_iter()
                    .filter(|e| conversation.playbook.field(&e.field).is_some_and(|f| f.kind == FieldType::Risk))
                    .collect();
                actions.extend(conversation.apply(&risk, turn).0);
                if conversation.limit_reached(now) {
                    let closing = conversation.render(&conversation.playbook.closing.clone());
                    let outcome = if conversation.required_settled() {
                        CallOutcome::Completed
                    } else {
                        CallOutcome::LimitReached
                    };
                    actions.extend(conversation.finish(now, outcome, Some(closing), "limit reached"));
                    return actions;
                }
                actions.extend(self.request(now, 0, Vec::new()));
                actions
            }
            other => scripted::handle(&mut self.conversation, now, other),
        }
    }
}
