//! The model's reply as it streams in: tool-call fragments merged by index, and complete
//! sentences spoken as soon as they arrive (the first starts the agent turn, later ones extend it).

use crate::conversation::{Action, Conversation};
use crate::llm::ToolCallDelta;
use protocol::brain::SayCommand;
use protocol::spoken::sentence_end;
use serde_json::Value;
use std::time::Instant;

/// One tool call of the reply, merged from its streamed fragments.
#[derive(Clone, Debug, Default)]
pub(super) struct ToolCall {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) arguments: String,
}

/// The request in flight.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) request_id: u64,
    pub(super) deadline: Instant,
    /// Text received, not yet spoken (an incomplete sentence).
    pub(super) unspoken: String,
    /// Everything the model said this request.
    pub(super) content: String,
    pub(super) utterance_id: Option<String>,
    pub(super) tool_calls: Vec<ToolCall>,
    /// Tool-result rounds so far in this turn.
    pub(super) round: u32,
    /// Messages of earlier rounds of this turn (assistant tool calls + tool results).
    pub(super) extra_messages: Vec<Value>,
    pub(super) started: Instant,
}

/// Speaks every complete sentence in `pending.unspoken` (an incomplete one stays for the next
/// delta); each goes to TTS at once.
pub(super) fn speak_complete_sentences(
    conversation: &mut Conversation,
    pending: &mut Pending,
    now: Instant,
) -> Vec<Action> {
    let mut actions = Vec::new();
    // Every complete sentence goes to TTS at once; the first one starts the turn.
    while let Some(end) = sentence_end(&pending.unspoken) {
        let sentence: String = pending.unspoken.drain(..end).collect();
        let sentence = sentence.trim().to_owned();
        if sentence.is_empty() {
            continue;
        }
        actions.extend(speak_sentence(conversation, pending, now, &sentence, false));
    }
    actions
}

/// Says one sentence of the streamed turn: the first records the agent turn, later ones extend it;
/// `end_of_turn` closes it.
pub(super) fn speak_sentence(
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
        context: true,
    }));
    actions
}

/// More parallel tool calls than this in one reply are ignored (a bad index cannot grow memory).
const MAX_TOOL_CALLS: usize = 32;

pub(super) fn merge_tool_call(calls: &mut Vec<ToolCall>, fragment: ToolCallDelta) {
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
