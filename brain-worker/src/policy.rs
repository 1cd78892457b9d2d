//! The two turn-taking policies behind one trait: [`ScriptedPolicy`] (slot filling by the
//! playbook) and [`LlmPolicy`] (an OpenAI-compatible model with tools), which falls back to the
//! scripted policy when the model fails mid-call. Both are sans-I/O: `handle(now, input)`
//! returns actions; the LLM's HTTP stream is run by the driver and fed back as inputs.

use crate::conversation::{Action, Conversation, ConversationState, Input, Phase};
use crate::extract;
use crate::llm::{Delta, ToolCallDelta};
use crate::scripted;
use playbook::{FieldType, Playbook};
use protocol::brain::SayCommand;
use protocol::results::{CallOutcome, FieldStatus, Speaker};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A conversation policy.
pub trait Policy: Send {
    /// Feeds one input at time `now`; returns what to do.
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action>;
    /// When the driver should call `handle(now, Input::Tick)` next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The state to save to KV `convo` and to build the result from.
    fn state(&self) -> &ConversationState;
    /// The playbook the conversation follows.
    fn playbook(&self) -> &Playbook;
}

/// Slot filling driven by the playbook, with rule-based extraction.
#[derive(Debug)]
pub struct ScriptedPolicy {
    conversation: Conversation,
}

impl ScriptedPolicy {
    pub fn new(playbook: Playbook, mut state: ConversationState) -> Self {
        state.policy = "scripted".into();
        ScriptedPolicy { conversation: Conversation::new(playbook, state) }
    }
}

impl Policy for ScriptedPolicy {
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        scripted::handle(&mut self.conversation, now, input)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conversation.poll_timeout()
    }

    fn state(&self) -> &ConversationState {
        &self.conversation.state
    }

    fn playbook(&self) -> &Playbook {
        &self.conversation.playbook
    }
}

/// Settings of the LLM policy.
#[derive(Clone, Debug)]
pub struct LlmSettings {
    pub model: String,
    /// A request with no delta for this long counts as failed.
    pub timeout: Duration,
}

#[derive(Clone, Debug, Default)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// The request in flight.
#[derive(Debug)]
struct Pending {
    request_id: u64,
    deadline: Instant,
    /// Text received, not yet spoken (an incomplete sentence).
    unspoken: String,
    /// Everything the model said this request.
    content: String,
    utterance_id: Option<String>,
    tool_calls: Vec<ToolCall>,
    /// Tool-result rounds so far in this turn.
    round: u32,
    /// Messages of earlier rounds of this turn (assistant tool calls + tool results).
    extra_messages: Vec<Value>,
    started: Instant,
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
        let mut actions = vec![Action::Event { kind: "policy".into(), detail: "llm failed, scripted fallback".into() }];
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
        let body = self.request_body(&extra_messages);
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

    fn system_prompt(&self) -> String {
        let conversation = &self.conversation;
        let playbook = &conversation.playbook;
        let mut prompt = format!(
            "You are {agent}, a voice agent on a phone call. You are an automated assistant calling on behalf of {org}. \
             Style: {style}.\nGoal: {goal}\n\
             Rules: speak in short, natural sentences; ask one question at a time; never invent facts; \
             call record_field as soon as the callee gives (or refuses, or rules out) a field, with the callee's exact words as evidence; \
             if a menu asks you to press a key, call send_digits; \
             when every required field is known, refused or not applicable, say this closing line and call end_call: \"{closing}\"\n\
             The disclosure has been said already: \"{disclosure}\"\nFields (name, type, required, status, value, what it is, question):\n",
            agent = playbook.persona.agent_name,
            org = conversation.render(&playbook.persona.caller_org),
            style = playbook.persona.style,
            goal = conversation.render(&playbook.goal),
            closing = conversation.render(&playbook.closing),
            disclosure = playbook.disclosure_for(&conversation.state.context),
        );
        for field in &playbook.fields {
            let result = conversation.state.fields.get(&field.name).cloned().unwrap_or_default();
            prompt.push_str(&format!(
                "- {name} ({kind}{required}): {status:?} {value} - {description} Question: {question}\n",
                name = field.name,
                kind = field.kind,
                required = if field.required { ", required" } else { "" },
                status = result.status,
                value = if result.value.is_null() { String::new() } else { result.value.to_string() },
                description = field.description,
                question = field.question.as_deref().map(|q| conversation.render(q)).unwrap_or_default(),
            ));
        }
        prompt.push_str(
            "Value formats: money {\"amount\": number, \"currency\": \"USD\"} (0 when free); yes_no true/false; \
             schedule [{\"day\": \"monday\", \"start\": \"18:00\", \"end\": \"19:30\", \"class_type\": \"gi\"}]; \
             list [names]; scale and number: a number.",
        );
        prompt
    }

    fn request_body(&self, extra_messages: &[Value]) -> Value {
        let mut messages = vec![json!({ "role": "system", "content": self.system_prompt() })];
        for turn in &self.conversation.state.transcript {
            let role = match turn.speaker {
                Speaker::Agent => "assistant",
                Speaker::Callee => "user",
            };
            messages.push(json!({ "role": role, "content": turn.text }));
        }
        messages.extend(extra_messages.iter().cloned());
        let field_names: Vec<&str> = self.conversation.playbook.fields.iter().map(|f| f.name.as_str()).collect();
        json!({
            "model": self.settings.model,
            "stream": true,
            "temperature": 0.3,
            "messages": messages,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "record_field",
                        "description": "Record what the callee said about one field.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "name": { "type": "string", "enum": field_names },
                                "status": { "type": "string", "enum": ["known", "refused", "not_applicable", "unknown"] },
                                "value": { "description": "The value, in the field's format." },
                                "evidence": { "type": "string", "description": "The callee's words." },
                                "confidence": { "type": "number" }
                            },
                            "required": ["name", "status"]
                        }
                    }
                },
                {
                    "type": "function",
                    "function": {
                        "name": "end_call",
                        "description": "End the call after the closing line.",
                        "parameters": {
                            "type": "object",
                            "properties": { "reason": { "type": "string" } },
                            "required": ["reason"]
                        }
                    }
                },
                {
                    "type": "function",
                    "function": {
                        "name": "send_digits",
                        "description": "Press keys on the phone keypad (IVR menus).",
                        "parameters": {
                            "type": "object",
                            "properties": { "digits": { "type": "string", "description": "0-9, * and #" } },
                            "required": ["digits"]
                        }
                    }
                }
            ],
            "tool_choice": "auto"
        })
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
        let mut actions = Vec::new();
        // Every complete sentence goes to TTS at once; the first one starts the turn.
        while let Some(end) = sentence_end(&pending.unspoken) {
            let sentence: String = pending.unspoken.drain(..end).collect();
            let sentence = sentence.trim().to_owned();
            if sentence.is_empty() {
                continue;
            }
            actions.extend(speak_sentence(&mut self.conversation, pending, now, &sentence, false));
        }
        actions
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

fn speak_sentence(
    conversation: &mut Conversation,
    pending: &mut Pending,
    now: Instant,
    sentence: &str,
    end_of_turn: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let utterance_id = match &pending.utterance_id {
        Some(id) => {
            conversation.extend_agent_turn(now, id, sentence);
            id.clone()
        }
        None => {
            conversation.state.utterance_counter += 1;
            let id = format!("u{}", conversation.state.utterance_counter);
            actions.extend(conversation.record_agent_turn(now, &id, sentence));
            pending.utterance_id = Some(id.clone());
            id
        }
    };
    actions.push(Action::Say(SayCommand::Speak {
        utterance_id,
        text: sentence.to_owned(),
        end_of_turn,
        uninterruptible: false,
    }));
    actions
}

/// Byte index just past the first complete sentence (`.`, `!` or `?` followed by whitespace),
/// or `None` while the sentence is still streaming. "$7.50" and "Dr. " are handled by
/// requiring whitespace after the mark and a few words before it.
fn sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(byte, b'.' | b'!' | b'?') && bytes.get(index + 1).is_some_and(|b| b.is_ascii_whitespace()) {
            let before = &text[..index];
            if before.split_whitespace().count() >= 2 || *byte != b'.' {
                return Some(index + 1);
            }
        }
    }
    None
}

/// More parallel tool calls than this in one reply are ignored (a bad index cannot grow memory).
const MAX_TOOL_CALLS: usize = 32;

fn merge_tool_call(calls: &mut Vec<ToolCall>, fragment: ToolCallDelta) {
    if fragment.index >= MAX_TOOL_CALLS {
        return;
    }
    while calls.len() <= fragment.index {
        calls.push(ToolCall::default());
    }
    let call = &mut calls[fragment.index];
    if let Some(id) = fragment.id {
        call.id = id;
    }
    if let Some(name) = fragment.name {
        call.name.push_str(&name);
    }
    if let Some(arguments) = fragment.arguments {
        call.arguments.push_str(&arguments);
    }
}

/// Applies a `record_field` call, normalising the value to the field's type. Returns the
/// events and the tool result text.
fn record_field(conversation: &mut Conversation, arguments: &Value, turn: Option<usize>) -> (Vec<Action>, String) {
    let Some(name) = arguments.get("name").and_then(Value::as_str) else {
        return (Vec::new(), "error: missing name".into());
    };
    let Some(field) = conversation.playbook.field(name).cloned() else {
        return (Vec::new(), format!("error: unknown field {name}"));
    };
    let status = match arguments.get("status").and_then(Value::as_str).unwrap_or("known") {
        "refused" => FieldStatus::Refused,
        "not_applicable" => FieldStatus::NotApplicable,
        "unknown" => FieldStatus::Unknown,
        _ => FieldStatus::Known,
    };
    let raw = arguments.get("value").cloned().unwrap_or(Value::Null);
    let value = if status == FieldStatus::Known { normalise_value(&field, raw) } else { Value::Null };
    if status == FieldStatus::Known && value.is_null() {
        return (Vec::new(), "error: value does not fit the field type".into());
    }
    let confidence =
        arguments.get("confidence").and_then(Value::as_f64).map(|c| c as f32).unwrap_or(0.85).clamp(0.0, 1.0);
    (conversation.set_field(name, status, value, confidence, turn), "ok".into())
}

/// Coerces a model-given value into the field's format.
fn normalise_value(field: &playbook::FieldSpec, value: Value) -> Value {
    match (field.kind, &value) {
        (FieldType::Money, Value::Number(n)) => json!({ "amount": n.as_f64().unwrap_or(0.0), "currency": "USD" }),
        (FieldType::Money, Value::Object(map)) if map.get("amount").is_some_and(Value::is_number) => {
            json!({ "amount": map["amount"].as_f64().unwrap_or(0.0), "currency": map.get("currency").and_then(Value::as_str).unwrap_or("USD") })
        }
        (FieldType::Money, Value::String(text)) => {
            let tokens = extract::text::tokenize(text);
            extract::values::money_mentions(&tokens)
                .first()
                .map(|m| json!({ "amount": m.money.amount, "currency": m.money.currency }))
                .unwrap_or(Value::Null)
        }
        (FieldType::Money, _) => Value::Null,
        (FieldType::YesNo, Value::Bool(_)) => value,
        (FieldType::YesNo, Value::String(text)) => {
            extract::values::yes_no(&extract::text::tokenize(text)).map(|(b, _)| Value::Bool(b)).unwrap_or(Value::Null)
        }
        (FieldType::YesNo, _) => Value::Null,
        (FieldType::Scale | FieldType::Number, Value::Number(_)) => value,
        (FieldType::Scale | FieldType::Number, Value::String(text)) => {
            text.trim().parse::<f64>().ok().map(|n| json!(n)).unwrap_or(Value::Null)
        }
        (FieldType::Schedule | FieldType::List, Value::Array(_)) => value,
        (FieldType::List, Value::String(text)) => json!([text]),
        (_, Value::Null) => Value::Null,
        _ => value,
    }
}

impl Policy for LlmPolicy {
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
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
                if conversation.state.last_utterance_seq.is_some_and(|last| utterance_seq <= last) {
                    return Vec::new();
                }
                conversation.state.last_utterance_seq = Some(utterance_seq);
                conversation.state.media_ms = conversation.state.media_ms.max(at_ms).max(end_ms);
                conversation.note_stt_delay(end_ms, at_ms);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_marks_followed_by_space() {
        assert_eq!(sentence_end("Great, thanks. And"), Some(14));
        assert_eq!(sentence_end("It is $7.50 per"), None);
        assert_eq!(sentence_end("Ok! Next"), Some(3));
        assert_eq!(sentence_end("Still going"), None);
    }
}
