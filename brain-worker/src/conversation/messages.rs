//! What a policy is told ([`Input`]) and what it asks its driver to do ([`Action`]).

use protocol::brain::SayCommand;
use protocol::calls::CallEventKind;
use serde_json::Value;

/// What a policy is told.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The stream is live.
    CallStarted { at_ms: u64 },
    /// This brain took over a call another brain was running (state loaded from KV).
    Resumed { at_ms: u64 },
    /// The media stream moved to another media worker (see `HeardEvent::StreamMoved`).
    StreamMoved { at_ms: u64 },
    /// The callee started talking.
    SpeechStarted { at_ms: u64 },
    /// A final transcript of the callee, with the recogniser's confidence in it (0-1) when it
    /// gives one.
    Heard { text: String, utterance_seq: u64, start_ms: u64, end_ms: u64, at_ms: u64, confidence: Option<f32> },
    /// An agent turn was played to its end.
    Played { utterance_id: String, at_ms: u64 },
    /// The agent's reply started playing `reply_ms` after the callee stopped talking.
    Replied { reply_ms: u64, tts_ms: Option<u64>, stages: Option<protocol::results::ReplyStages> },
    /// The callee talked over the agent; only `heard_text` of the utterance was heard.
    BargeIn { utterance_id: String, heard_text: String, at_ms: u64 },
    /// Answering-machine detection verdict (`human`, `machine_start`, `machine_end_beep` ...).
    Amd { answered_by: String, at_ms: u64 },
    /// The callee pressed a key.
    Dtmf { digit: String, at_ms: u64 },
    /// A media provider failed past its deadline.
    ProviderFailure { stage: protocol::brain::ProviderStage, message: String, at_ms: u64 },
    /// The stream ended.
    CallEnded { reason: String, at_ms: u64 },
    /// A timer may have expired (the driver calls this at `poll_timeout`).
    Tick,
    /// The LLM stream of request `request_id` produced a delta.
    LlmDelta { request_id: u64, delta: crate::llm::Delta },
    /// The LLM stream of request `request_id` ended normally.
    LlmDone { request_id: u64 },
    /// The LLM request failed (HTTP error, timeout, malformed stream).
    LlmFailed { request_id: u64, error: String },
}

/// What a policy asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Publish on `media.say.<callId>`.
    Say(SayCommand),
    /// Publish a live event on `calls.events.<callId>` (`agent_said`, `callee_said`, `field` ...).
    Event { kind: CallEventKind, detail: String },
    /// Start a streaming chat completion with this request body; feed its deltas back as
    /// [`Input::LlmDelta`] / [`Input::LlmDone`] / [`Input::LlmFailed`].
    LlmRequest { request_id: u64, body: Value },
    /// The conversation is over: publish the result (the state's `result()`).
    Finished,
}
