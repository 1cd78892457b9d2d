//! The serialisable state of one conversation ([`ConversationState`]): fields with provenance,
//! transcript, phase and counters, saved to KV `convo` so another brain can continue the call.

use playbook::Playbook;
use protocol::ids::{CallId, CallSid};
use protocol::media::Direction;
use protocol::results::{CallOutcome, CallResult, FieldResult, LatencyBreakdown, TranscriptTurn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the conversation is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Outbound call answered: wait for the callee's greeting (or an IVR / voicemail) first.
    AwaitingGreeting,
    /// Asking for `asked` (or talking freely, for the LLM).
    Asking,
    /// Read back `field`; waiting for a confirmation or correction.
    ReadBack { field: String, rounds: u32 },
    /// The callee asked us to hold.
    Holding,
    /// The callee is getting someone else; greet the new person briefly.
    Transferring,
    /// Leaving a voicemail message, then hanging up.
    Voicemail,
    /// Closing line said, hang-up requested.
    Closing,
    /// The stream ended.
    Ended,
}

/// A schedule asked one day at a time: which days, then each day's classes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ByDayState {
    pub field: String,
    /// The days to ask about (0 = Monday) once the callee said which; `None` while the question
    /// which days is open.
    #[serde(default)]
    pub days: Option<Vec<usize>>,
    /// The days of the last telling of the whole schedule: asked about too, so a day misheard
    /// in the answer to "which days?" is not lost.
    #[serde(default)]
    pub heard_days: Vec<usize>,
    /// Index in `days` of the day asked about.
    #[serde(default)]
    pub next: usize,
    /// Answers to the open question that gave nothing readable.
    #[serde(default)]
    pub tries: u32,
    /// The classes heard so far (`{day, start, end, class_type}`).
    #[serde(default)]
    pub classes: Vec<serde_json::Value>,
}

/// An agent turn spoken (for barge-in bookkeeping).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpokenTurn {
    pub utterance_id: String,
    pub transcript_index: usize,
    /// Its `Played` came back (the callee heard it to the end).
    #[serde(default)]
    pub played: bool,
}

/// Everything needed to continue the call elsewhere; saved to KV `convo` after every turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    #[serde(default = "protocol::version::current_version")]
    pub v: u32,
    pub call_id: CallId,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    pub playbook: String,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    pub phase: Phase,
    /// The field last asked.
    #[serde(default)]
    pub asked: Option<String>,
    /// The field asked before it (a late answer may still be about it).
    #[serde(default)]
    pub previous_asked: Option<String>,
    /// Fields whose values were just acknowledged in passing (implicit confirmation); the
    /// callee's next reply may correct them.
    #[serde(default)]
    pub noted: Vec<String>,
    /// Fields whose value has been read back to the callee at least once.
    #[serde(default)]
    pub read_back_fields: Vec<String>,
    /// Required fields given up after two tries and asked once more before the close.
    #[serde(default)]
    pub circled_back: Vec<String>,
    /// How many times each field was asked.
    #[serde(default)]
    pub attempts: BTreeMap<String, u32>,
    /// A gatekeeping answer heard once and held until the callee says it again (see
    /// `scripted::gate`): `(field, value)`.
    #[serde(default)]
    pub confirming: Option<(String, serde_json::Value)>,
    /// A list field whose answer held a part that named no option, asked about once more
    /// ("anything else, like ...?"): `(field, its items before)`; what the next reply names is
    /// added to them (`scripted::more_items`).
    #[serde(default)]
    pub more_items: Option<(String, serde_json::Value)>,
    /// List fields already asked about once more.
    #[serde(default)]
    pub more_items_asked: Vec<String>,
    /// The options of `more_items`' field being asked about one at a time, the one asked first
    /// (`scripted::more_items`, an option's `question`).
    #[serde(default)]
    pub more_options: Vec<String>,
    /// A schedule being asked one day at a time (`scripted::by_day`).
    #[serde(default)]
    pub by_day: Option<ByDayState>,
    /// Schedule fields already asked one day at a time (once per call).
    #[serde(default)]
    pub by_day_asked: Vec<String>,
    /// A schedule to ask one day at a time once the other questions are asked (they come first:
    /// the day-by-day questions take a minute or more).
    #[serde(default)]
    pub by_day_pending: Option<String>,
    /// The classes a schedule asked one day at a time gave: `(field, value)`.
    #[serde(default)]
    pub by_day_heard: Option<(String, serde_json::Value)>,
    pub fields: BTreeMap<String, FieldResult>,
    pub transcript: Vec<TranscriptTurn>,
    #[serde(default)]
    pub spoken: Vec<SpokenTurn>,
    /// Callee turns so far.
    #[serde(default)]
    pub callee_turns: u32,
    #[serde(default)]
    pub silence_prompts: u32,
    #[serde(default)]
    pub utterance_counter: u64,
    /// Highest `utterance_seq` processed (a re-sent transcript is not processed twice).
    #[serde(default)]
    pub last_utterance_seq: Option<u64>,
    /// Latest media time a processed transcript ended at: after the stream moves to another
    /// media worker, audio before it that the gateway replays is not heard twice.
    #[serde(default)]
    pub heard_until_ms: u64,
    /// How many times the media stream moved to another media worker.
    #[serde(default)]
    pub stream_moves: u32,
    /// The last agent turn, for "can you repeat that".
    #[serde(default)]
    pub last_agent_text: String,
    /// Latest media time seen, ms since the stream started.
    #[serde(default)]
    pub media_ms: u64,
    /// Which policy is running (`scripted`, `llm`).
    pub policy: String,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub outcome: Option<CallOutcome>,
    #[serde(default)]
    pub latency: LatencyBreakdown,
    /// RFC 3339.
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// Number of brains that ran this call (1 + takeovers).
    #[serde(default = "one")]
    pub brains: u32,
}

fn one() -> u32 {
    1
}

impl ConversationState {
    /// A fresh conversation: every field unknown.
    pub fn new(
        call_id: CallId,
        call_sid: Option<CallSid>,
        playbook: &Playbook,
        direction: Direction,
        context: BTreeMap<String, String>,
        policy: &str,
    ) -> Self {
        let fields = playbook.fields.iter().map(|field| (field.name.clone(), FieldResult::default())).collect();
        ConversationState {
            v: protocol::BUS_VERSION,
            call_id,
            call_sid,
            playbook: playbook.id.clone(),
            direction,
            context,
            phase: match direction {
                Direction::Outbound => Phase::AwaitingGreeting,
                Direction::Inbound => Phase::Asking,
            },
            asked: None,
            previous_asked: None,
            noted: Vec::new(),
            attempts: BTreeMap::new(),
            confirming: None,
            more_items: None,
            more_items_asked: Vec::new(),
            more_options: Vec::new(),
            by_day: None,
            by_day_asked: Vec::new(),
            by_day_pending: None,
            by_day_heard: None,
            read_back_fields: Vec::new(),
            circled_back: Vec::new(),
            fields,
            transcript: Vec::new(),
            spoken: Vec::new(),
            callee_turns: 0,
            silence_prompts: 0,
            utterance_counter: 0,
            last_utterance_seq: None,
            heard_until_ms: 0,
            stream_moves: 0,
            last_agent_text: String::new(),
            media_ms: 0,
            policy: policy.to_owned(),
            notes: Vec::new(),
            outcome: None,
            latency: LatencyBreakdown::default(),
            started_at: chrono::Utc::now().to_rfc3339(),
            ended_at: None,
            brains: 1,
        }
    }

    /// The structured result of the call as it stands.
    pub fn result(&self) -> CallResult {
        CallResult {
            v: protocol::BUS_VERSION,
            call_id: self.call_id.clone(),
            call_sid: self.call_sid.clone(),
            playbook: self.playbook.clone(),
            outcome: self.outcome.unwrap_or(CallOutcome::Partial),
            fields: self.fields.clone(),
            transcript: self.transcript.clone(),
            latency: self.latency.clone(),
            started_at: self.started_at.clone(),
            ended_at: self.ended_at.clone().unwrap_or_else(|| chrono::Utc::now().to_rfc3339()),
            notes: self.notes.clone(),
        }
    }

    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) && self.outcome.is_some()
    }
}
