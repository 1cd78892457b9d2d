//! The conversation of one call as a sans-I/O state machine: what the policies share.
//!
//! [`Conversation`] holds the [`ConversationState`] (fields with provenance, transcript, phase,
//! counters; serialisable so another brain can continue the call from KV `convo`) and the
//! mechanics every policy needs: speaking a turn, hearing the callee, applying extracted fields
//! and their dependencies, barge-in bookkeeping, the silence timer, limits and the result.
//! Policies ([`crate::policy`]) decide *what* to say; they are driven by `handle(now, input)`.

use crate::extract::{self, Extraction};
use playbook::{render, FieldSpec, FieldType, Playbook, Voicemail};
use protocol::brain::SayCommand;
use protocol::ids::{CallId, CallSid};
use protocol::media::Direction;
use protocol::results::{
    CallOutcome, CallResult, Evidence, FieldResult, FieldStatus, LatencyBreakdown, Speaker, TranscriptTurn,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a policy is told.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The stream is live.
    CallStarted { at_ms: u64 },
    /// This brain took over a call another brain was running (state loaded from KV).
    Resumed { at_ms: u64 },
    /// The callee started talking.
    SpeechStarted { at_ms: u64 },
    /// A final transcript of the callee.
    Heard { text: String, utterance_seq: u64, start_ms: u64, end_ms: u64, at_ms: u64 },
    /// An agent turn was played to its end.
    Played { utterance_id: String, at_ms: u64 },
    /// The agent's reply started playing `reply_ms` after the callee stopped talking.
    Replied { reply_ms: u64, tts_ms: Option<u64> },
    /// The callee talked over the agent; only `heard_text` of the utterance was heard.
    BargeIn { utterance_id: String, heard_text: String, at_ms: u64 },
    /// Answering-machine detection verdict (`human`, `machine_start`, `machine_end_beep` ...).
    Amd { answered_by: String, at_ms: u64 },
    /// The callee pressed a key.
    Dtmf { digit: String, at_ms: u64 },
    /// A media provider failed past its deadline.
    ProviderFailure { stage: String, message: String, at_ms: u64 },
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
    Event { kind: String, detail: String },
    /// Start a streaming chat completion with this request body; feed its deltas back as
    /// [`Input::LlmDelta`] / [`Input::LlmDone`] / [`Input::LlmFailed`].
    LlmRequest { request_id: u64, body: Value },
    /// The conversation is over: publish the result (the state's `result()`).
    Finished,
}

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

/// An agent turn spoken (for barge-in bookkeeping).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpokenTurn {
    pub utterance_id: String,
    pub transcript_index: usize,
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
    /// How many times each field was asked.
    #[serde(default)]
    pub attempts: BTreeMap<String, u32>,
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
            fields,
            transcript: Vec::new(),
            spoken: Vec::new(),
            callee_turns: 0,
            silence_prompts: 0,
            utterance_counter: 0,
            last_utterance_seq: None,
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

/// How long an agent sentence takes to say, roughly (to start the silence timer before the
/// `Played` mark comes back).
fn speaking_time(text: &str) -> Duration {
    Duration::from_millis(400 + 65 * text.chars().count() as u64)
}

/// How long to wait for the callee's greeting before speaking first.
pub const GREETING_WAIT: Duration = Duration::from_secs(4);
/// How long we wait on hold before asking whether anyone is there.
pub const HOLD_WAIT: Duration = Duration::from_secs(45);

/// The shared mechanics of one conversation.
#[derive(Debug)]
pub struct Conversation {
    pub playbook: Playbook,
    pub state: ConversationState,
    /// When the silence timer fires (the callee has said nothing since the agent finished).
    pub silence_deadline: Option<Instant>,
    /// When the call must end regardless (max duration, wall clock).
    pub hard_deadline: Option<Instant>,
    /// End of the last callee speech (wall clock), for the voice-to-voice figure.
    pub callee_done_at: Option<Instant>,
    finished_sent: bool,
}

impl Conversation {
    pub fn new(playbook: Playbook, state: ConversationState) -> Self {
        Conversation {
            playbook,
            state,
            silence_deadline: None,
            hard_deadline: None,
            callee_done_at: None,
            finished_sent: false,
        }
    }

    fn values(&self) -> BTreeMap<String, String> {
        self.playbook.template_context(&self.state.context)
    }

    /// A playbook line with the call context filled in.
    pub fn render(&self, template: &str) -> String {
        render(template, &self.values())
    }

    pub fn limits(&self) -> playbook::Limits {
        self.playbook.limits
    }

    /// Starts the wall-clock limits (on call start or resume).
    pub fn start_clock(&mut self, now: Instant) {
        let already = Duration::from_millis(self.state.media_ms);
        let total = Duration::from_secs(self.limits().max_duration_s);
        self.hard_deadline = Some(now + total.saturating_sub(already));
    }

    /// Speaks one agent turn: records it, emits `agent_said`, and the `media.say` commands.
    pub fn say(&mut self, now: Instant, text: &str, uninterruptible: bool) -> Vec<Action> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        self.state.utterance_counter += 1;
        let utterance_id = format!("u{}", self.state.utterance_counter);
        let mut actions = self.record_agent_turn(now, &utterance_id, text);
        actions.push(Action::Say(SayCommand::Speak {
            utterance_id,
            text: text.to_owned(),
            end_of_turn: true,
            uninterruptible,
        }));
        actions
    }

    /// Records an agent turn (text decided; the commands are sent by the caller).
    pub fn record_agent_turn(&mut self, now: Instant, utterance_id: &str, text: &str) -> Vec<Action> {
        self.state.transcript.push(TranscriptTurn {
            speaker: Speaker::Agent,
            text: text.to_owned(),
            at_ms: self.state.media_ms,
            interrupted: false,
        });
        self.state.spoken.push(SpokenTurn {
            utterance_id: utterance_id.to_owned(),
            transcript_index: self.state.transcript.len() - 1,
        });
        self.state.last_agent_text = text.to_owned();
        if let Some(done) = self.callee_done_at.take() {
            self.state.latency.llm_ms.push(now.saturating_duration_since(done).as_millis() as u64);
        }
        self.arm_silence(now, speaking_time(text));
        vec![Action::Event { kind: "agent_said".into(), detail: text.to_owned() }]
    }

    /// Appends text to the last agent turn (a streamed LLM turn sentence by sentence).
    pub fn extend_agent_turn(&mut self, now: Instant, utterance_id: &str, text: &str) {
        let Some(spoken) = self.state.spoken.iter().find(|s| s.utterance_id == utterance_id) else { return };
        if let Some(turn) = self.state.transcript.get_mut(spoken.transcript_index) {
            if !turn.text.is_empty() {
                turn.text.push(' ');
            }
            turn.text.push_str(text.trim());
            self.state.last_agent_text = turn.text.clone();
            let estimate = speaking_time(&turn.text);
            self.arm_silence(now, estimate);
        }
    }

    /// (Re)starts the silence timer: the agent speaks for about `speaking`, then the callee has
    /// `silence_timeout_s` to answer.
    pub fn arm_silence(&mut self, now: Instant, speaking: Duration) {
        let timeout = match self.state.phase {
            Phase::Holding | Phase::Transferring => HOLD_WAIT,
            _ => Duration::from_secs(self.limits().silence_timeout_s),
        };
        self.silence_deadline = Some(now + speaking + timeout);
    }

    /// Records how long the transcript took after the end of speech (media time).
    pub fn note_stt_delay(&mut self, end_ms: u64, at_ms: u64) {
        if at_ms >= end_ms {
            self.state.latency.stt_ms.push(at_ms - end_ms);
        }
    }

    /// Records a callee turn; returns its transcript index.
    pub fn hear(&mut self, now: Instant, text: &str, at_ms: u64) -> (usize, Vec<Action>) {
        self.state.transcript.push(TranscriptTurn {
            speaker: Speaker::Callee,
            text: text.trim().to_owned(),
            at_ms,
            interrupted: false,
        });
        self.state.callee_turns += 1;
        self.state.silence_prompts = 0;
        self.silence_deadline = None;
        self.callee_done_at = Some(now);
        (
            self.state.transcript.len() - 1,
            vec![Action::Event { kind: "callee_said".into(), detail: text.trim().to_owned() }],
        )
    }

    /// Keeps only what the callee heard of an interrupted agent turn.
    pub fn barge_in(&mut self, utterance_id: &str, heard_text: &str) {
        let Some(spoken) = self.state.spoken.iter().find(|s| s.utterance_id == utterance_id) else { return };
        if let Some(turn) = self.state.transcript.get_mut(spoken.transcript_index) {
            turn.text = heard_text.trim().to_owned();
            turn.interrupted = true;
        }
        // "can you repeat that" repeats what was meant, not the fragment
    }

    /// Applies extracted values: a known value replaces an unknown or a less confident one;
    /// refusals and not-applicable settle unknown fields. Returns `field` events and the names
    /// of fields that changed.
    pub fn apply(&mut self, extractions: &[Extraction], turn: usize) -> (Vec<Action>, Vec<String>) {
        let mut actions = Vec::new();
        let mut changed = Vec::new();
        let evidence_text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
        for extraction in extractions {
            let Some(current) = self.state.fields.get_mut(&extraction.field) else { continue };
            let replace = match (current.status, extraction.status) {
                (FieldStatus::Unknown, _) => true,
                (_, FieldStatus::Known) if current.status != FieldStatus::Known => true,
                (FieldStatus::Known, FieldStatus::Known) => {
                    current.value != extraction.value && extraction.confidence >= current.confidence - 0.05
                }
                _ => false,
            };
            if !replace {
                continue;
            }
            current.status = extraction.status;
            current.value = extraction.value.clone();
            current.confidence = extraction.confidence;
            current.evidence.push(Evidence { turn, text: evidence_text.clone() });
            changed.push(extraction.field.clone());
            actions.push(Action::Event {
                kind: "field".into(),
                detail: serde_json::json!({
                    "field": extraction.field,
                    "status": extraction.status,
                    "value": extraction.value,
                    "confidence": extraction.confidence,
                })
                .to_string(),
            });
        }
        actions.extend(self.settle_dependencies(turn));
        (actions, changed)
    }

    /// Sets a field directly (a correction or an LLM tool call).
    pub fn set_field(
        &mut self,
        name: &str,
        status: FieldStatus,
        value: Value,
        confidence: f32,
        turn: Option<usize>,
    ) -> Vec<Action> {
        let Some(current) = self.state.fields.get_mut(name) else { return Vec::new() };
        current.status = status;
        current.value = value.clone();
        current.confidence = confidence;
        if let Some(turn) = turn {
            let text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
            if !current.evidence.iter().any(|e| e.turn == turn) {
                current.evidence.push(Evidence { turn, text });
            }
        }
        let mut actions = vec![Action::Event {
            kind: "field".into(),
            detail: serde_json::json!({ "field": name, "status": status, "value": value, "confidence": confidence })
                .to_string(),
        }];
        actions.extend(self.settle_dependencies(turn.unwrap_or(0)));
        actions
    }

    /// A field whose condition is false becomes `not_applicable` ("we don't do drop-ins" settles
    /// the price); a known dependent value implies its condition ("drop-ins are $20" means they
    /// are offered).
    fn settle_dependencies(&mut self, turn: usize) -> Vec<Action> {
        let mut actions = Vec::new();
        for field in &self.playbook.fields {
            let Some(dependency) = &field.depends_on else { continue };
            let expected = yaml_to_json(&dependency.equals);
            let condition = self.state.fields.get(&dependency.field).cloned().unwrap_or_default();
            let this = self.state.fields.get(&field.name).cloned().unwrap_or_default();
            if condition.status == FieldStatus::Known && condition.value != expected {
                if this.status != FieldStatus::NotApplicable {
                    if let Some(entry) = self.state.fields.get_mut(&field.name) {
                        entry.status = FieldStatus::NotApplicable;
                        entry.value = Value::Null;
                        entry.confidence = condition.confidence;
                        actions.push(Action::Event {
                            kind: "field".into(),
                            detail: serde_json::json!({ "field": field.name, "status": "not_applicable" }).to_string(),
                        });
                    }
                }
            } else if condition.status == FieldStatus::NotApplicable && this.status == FieldStatus::Unknown {
                if let Some(entry) = self.state.fields.get_mut(&field.name) {
                    entry.status = FieldStatus::NotApplicable;
                }
            } else if this.status == FieldStatus::Known && condition.status == FieldStatus::Unknown {
                let text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
                if let Some(entry) = self.state.fields.get_mut(&dependency.field) {
                    entry.status = FieldStatus::Known;
                    entry.value = expected.clone();
                    entry.confidence = 0.7;
                    entry.evidence.push(Evidence { turn, text });
                    actions.push(Action::Event {
                        kind: "field".into(),
                        detail: serde_json::json!({ "field": dependency.field, "status": "known", "value": expected, "implied_by": field.name }).to_string(),
                    });
                }
            }
        }
        actions
    }

    /// The next field to ask for: the first unsettled field in playbook order (required ones
    /// before optional ones), skipping those already asked too often.
    pub fn next_field(&self) -> Option<FieldSpec> {
        let unsettled = |field: &&FieldSpec| {
            field.kind != FieldType::Risk
                && field.question.is_some()
                && self.state.fields.get(&field.name).is_some_and(|f| f.status == FieldStatus::Unknown)
                && self.state.attempts.get(&field.name).copied().unwrap_or(0) < 3
        };
        let fields = &self.playbook.fields;
        fields
            .iter()
            .filter(|f| f.required)
            .find(unsettled)
            .or_else(|| fields.iter().filter(|f| !f.required).find(unsettled))
            .cloned()
    }

    /// True when every required field is known, refused or not applicable.
    pub fn required_settled(&self) -> bool {
        self.playbook
            .fields
            .iter()
            .filter(|f| f.required)
            .all(|f| self.state.fields.get(&f.name).is_some_and(|r| r.status != FieldStatus::Unknown))
    }

    /// Ends the conversation: the closing line (unless `say_closing` is false), hang-up, result.
    pub fn finish(&mut self, now: Instant, outcome: CallOutcome, closing: Option<String>, reason: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(closing) = closing {
            actions.extend(self.say(now, &closing, false));
        }
        self.finalise_risk();
        self.state.outcome = Some(outcome);
        self.state.phase = Phase::Closing;
        self.state.ended_at = Some(chrono::Utc::now().to_rfc3339());
        self.silence_deadline = None;
        actions.push(Action::Say(SayCommand::Hangup { reason: reason.to_owned() }));
        actions.push(Action::Event { kind: "ended".into(), detail: format!("{outcome:?}").to_lowercase() });
        actions.extend(self.finished());
        actions
    }

    /// The stream ended: settle the outcome and publish the result once.
    pub fn ended(&mut self, reason: &str, at_ms: u64) -> Vec<Action> {
        self.state.media_ms = self.state.media_ms.max(at_ms);
        if self.state.outcome.is_none() {
            self.finalise_risk();
            self.state.outcome =
                Some(if self.required_settled() { CallOutcome::Completed } else { CallOutcome::HungUp });
            self.state.notes.push(format!("stream ended: {reason}"));
        }
        self.state.phase = Phase::Ended;
        if self.state.ended_at.is_none() {
            self.state.ended_at = Some(chrono::Utc::now().to_rfc3339());
        }
        self.silence_deadline = None;
        self.finished()
    }

    fn finished(&mut self) -> Vec<Action> {
        if self.finished_sent {
            return Vec::new();
        }
        self.finished_sent = true;
        vec![Action::Finished]
    }

    /// A risk field never raised is known-clear at the end of a conversation that happened.
    fn finalise_risk(&mut self) {
        if self.state.callee_turns == 0 {
            return;
        }
        for field in self.playbook.fields.iter().filter(|f| f.kind == FieldType::Risk) {
            if let Some(entry) = self.state.fields.get_mut(&field.name) {
                if entry.status == FieldStatus::Unknown {
                    entry.status = FieldStatus::Known;
                    entry.value = extract::risk_clear();
                    entry.confidence = 0.6;
                }
            }
        }
    }

    /// Voicemail: leave the playbook's message or hang up.
    pub fn voicemail(&mut self, now: Instant) -> Vec<Action> {
        if matches!(self.state.phase, Phase::Voicemail | Phase::Closing | Phase::Ended) {
            return Vec::new();
        }
        self.state.phase = Phase::Voicemail;
        let message = match &self.playbook.voicemail {
            Voicemail::LeaveMessage { message } => Some(self.render(message)),
            Voicemail::HangUp => None,
        };
        let mut actions = Vec::new();
        if let Some(message) = &message {
            actions.extend(self.say(now, message, true));
        }
        self.state.outcome = Some(CallOutcome::Voicemail);
        self.state.ended_at = Some(chrono::Utc::now().to_rfc3339());
        self.silence_deadline = None;
        let reason = if message.is_some() { "voicemail message left" } else { "voicemail, hanging up" };
        self.state.notes.push(reason.to_owned());
        actions.push(Action::Say(SayCommand::Hangup { reason: reason.into() }));
        actions.push(Action::Event { kind: "ended".into(), detail: "voicemail".into() });
        actions.extend(self.finished());
        actions
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
            return None;
        }
        [self.silence_deadline, self.hard_deadline].into_iter().flatten().min()
    }

    /// True when a limit (turns, media duration, wall clock) is reached.
    pub fn limit_reached(&self, now: Instant) -> bool {
        let limits = self.limits();
        self.state.callee_turns >= limits.max_turns
            || self.state.media_ms >= limits.max_duration_s * 1000
            || self.hard_deadline.is_some_and(|deadline| now >= deadline)
    }

    /// Read-back sentence for a field's current value.
    pub fn read_back_line(&self, field: &FieldSpec) -> Option<String> {
        let template = field.read_back.as_ref()?;
        let value = self.state.fields.get(&field.name)?;
        if value.status != FieldStatus::Known {
            return None;
        }
        let mut values = self.values();
        values.insert("value".into(), extract::describe(field, &value.value));
        Some(render(template, &values))
    }

    /// Acknowledgement of a field's current value said in passing (its `noted` template), when
    /// the field has one and the value is certain enough not to need a read-back.
    pub fn noted_line(&self, field: &FieldSpec) -> Option<String> {
        let template = field.noted.as_ref()?;
        let value = self.state.fields.get(&field.name)?;
        if value.status != FieldStatus::Known || value.confidence < self.playbook.confirm_below {
            return None;
        }
        let mut values = self.values();
        values.insert("value".into(), extract::describe_brief(field, &value.value));
        Some(render(template, &values))
    }

    /// Records that `field` is being asked now.
    pub fn set_asked(&mut self, field: &str) {
        if self.state.asked.as_deref() != Some(field) {
            self.state.previous_asked = self.state.asked.take();
            self.state.asked = Some(field.to_owned());
        }
    }

    /// The question for a field (the follow-up once it has been asked).
    pub fn question_for(&self, field: &FieldSpec) -> String {
        let asked = self.state.attempts.get(&field.name).copied().unwrap_or(0);
        let text = if asked >= 1 {
            field.follow_up.clone().or_else(|| field.question.clone())
        } else {
            field.question.clone()
        };
        self.render(&text.unwrap_or_default())
    }
}

/// A YAML scalar as JSON (for `depends_on.equals`).
pub fn yaml_to_json(value: &serde_norway::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
