//! Turns of the conversation: an agent turn spoken (or streamed), a callee turn heard, a
//! barge-in, and the silence timer they arm.

use protocol::calls::CallEventKind;

use super::mechanics::Conversation;
use super::messages::Action;
use super::state::{Phase, SpokenTurn};
use protocol::brain::SayCommand;
use protocol::results::{ReplyStages, Speaker, TranscriptTurn};
use std::time::{Duration, Instant};

/// How long to wait for the callee's greeting before speaking first.
pub const GREETING_WAIT: Duration = Duration::from_secs(4);
/// How long we wait on hold before asking whether anyone is there.
pub const HOLD_WAIT: Duration = Duration::from_secs(45);

/// How long an agent sentence takes to say, roughly (to start the silence timer before the
/// `Played` mark comes back).
fn speaking_time(text: &str) -> Duration {
    Duration::from_millis(400 + 65 * text.chars().count() as u64)
}

impl Conversation {
    /// Speaks one agent turn: records it, emits `agent_said`, and the `media.say` commands.
    pub fn say(&mut self, now: Instant, text: &str, uninterruptible: bool) -> Vec<Action> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        self.state.utterance_counter += 1;
        let utterance_id = format!("u{}", self.state.utterance_counter);
        let mut actions = self.record_agent_turn(now, &utterance_id, text);
        // a line said while a read-back awaits its yes says values back: the recogniser does not
        // take it as the context of the reply (a correction of those very values)
        let context = !matches!(self.state.phase, Phase::ReadBack { .. });
        actions.push(Action::Say(SayCommand::Speak {
            utterance_id,
            text: text.to_owned(),
            end_of_turn: true,
            uninterruptible,
            context,
        }));
        actions
    }

    /// Records an agent turn (text decided; the commands are sent by the caller).
    pub fn record_agent_turn(&mut self, now: Instant, utterance_id: &str, text: &str) -> Vec<Action> {
        let at_ms = self.media_now(now);
        self.state.transcript.push(TranscriptTurn {
            speaker: Speaker::Agent,
            text: text.to_owned(),
            at_ms,
            interrupted: false,
        });
        self.state.spoken.push(SpokenTurn {
            utterance_id: utterance_id.to_owned(),
            transcript_index: self.state.transcript.len() - 1,
            played: false,
        });
        self.state.last_agent_text = text.to_owned();
        if let Some(done) = self.callee_done_at.take() {
            self.state.latency.llm_ms.push(now.saturating_duration_since(done).as_millis() as u64);
        }
        self.arm_silence(now, speaking_time(text));
        vec![Action::Event { kind: CallEventKind::AgentSaid, detail: text.to_owned() }]
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

    /// Records one reply's latency as the media worker measured it: voice to voice, the
    /// synthesis time of its first audio and, from workers that send them, its stages (end of
    /// speech -> final transcript goes to `stt_ms`).
    pub fn note_reply(&mut self, reply_ms: u64, tts_ms: Option<u64>, stages: Option<ReplyStages>) {
        let latency = &mut self.state.latency;
        latency.voice_to_voice_ms.push(reply_ms);
        latency.tts_ms.extend(tts_ms);
        if let Some(stages) = stages {
            latency.stt_ms.push(stages.speech_to_transcript_ms());
            latency.replies.push(stages);
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
        self.callee_talking = false;
        self.state.silence_prompts = 0;
        self.silence_deadline = None;
        self.callee_done_at = Some(now);
        (
            self.state.transcript.len() - 1,
            vec![Action::Event { kind: CallEventKind::CalleeSaid, detail: text.trim().to_owned() }],
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
}
