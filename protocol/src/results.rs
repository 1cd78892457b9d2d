//! The structured result of a call, published on `results.<callId>` and stored on the call record.

use crate::ids::{CallId, CallSid};
use crate::version::current_version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a field was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Known,
    #[default]
    Unknown,
    Refused,
    NotApplicable,
}

/// Where a value came from: the callee's words in one turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Index into [`CallResult::transcript`].
    pub turn: usize,
    pub text: String,
}

/// One collected field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct FieldResult {
    pub status: FieldStatus,
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub confidence: f32,
}

/// Who spoke a transcript turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Callee,
}

/// One turn of the transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptTurn {
    pub speaker: Speaker,
    pub text: String,
    /// Media time, milliseconds since the stream started.
    pub at_ms: u64,
    /// For agent turns cut by a barge-in: true.
    #[serde(default)]
    pub interrupted: bool,
}

/// How the call ended, from the conversation's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Every required field is known, refused or not applicable.
    Completed,
    /// The call ended before the required fields were collected.
    Partial,
    /// A voicemail greeting answered.
    Voicemail,
    /// The callee hung up or the stream dropped early.
    HungUp,
    /// The call hit a limit (duration, turns, silence).
    LimitReached,
    /// Something failed.
    Failed,
}

/// Latency figures of one call, milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencyBreakdown {
    /// End of callee speech -> first agent audio byte, per turn.
    #[serde(default)]
    pub voice_to_voice_ms: Vec<u64>,
    #[serde(default)]
    pub stt_ms: Vec<u64>,
    #[serde(default)]
    pub llm_ms: Vec<u64>,
    #[serde(default)]
    pub tts_ms: Vec<u64>,
}

/// The result of one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    pub playbook: String,
    pub outcome: CallOutcome,
    pub fields: BTreeMap<String, FieldResult>,
    pub transcript: Vec<TranscriptTurn>,
    #[serde(default)]
    pub latency: LatencyBreakdown,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: String,
    /// Free-form notes (policy switches, provider failures).
    #[serde(default)]
    pub notes: Vec<String>,
}
