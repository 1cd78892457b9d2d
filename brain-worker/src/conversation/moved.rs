//! The media stream moved to another media worker mid-call (the worker it was on stopped
//! answering the gateway's pings): what the conversation does about it, whatever the policy.
//!
//! - The new worker counts `utterance_seq` from 0, so the sequence check starts over.
//! - The gateway replays the last seconds of the callee's audio to the new worker, so an answer
//!   given while the stream moved is heard; a transcript ending no later than one already
//!   processed is that audio heard a second time and is dropped.
//! - An agent line whose `Played` had not come back may have been cut off with the worker:
//!   unless its `Played` (Twilio's echo of its mark, replayed too), the callee's speech or a
//!   transcript comes within [`REDELIVER_WAIT`], it is said again.

use super::mechanics::Conversation;
use super::messages::Action;
use super::state::Phase;
use std::time::{Duration, Instant};

/// How long after the stream moved the agent waits for a sign that its last line was heard
/// (its `Played`, or the callee talking) before saying it again. A mark echo that Twilio sent
/// while the stream moved reaches the new worker in the replay, right after the move.
pub const REDELIVER_WAIT: Duration = Duration::from_millis(1200);

impl Conversation {
    /// The media stream moved to another worker (at media time `at_ms`).
    pub fn stream_moved(&mut self, now: Instant, at_ms: u64) {
        self.state.media_ms = self.state.media_ms.max(at_ms);
        self.state.stream_moves += 1;
        self.state.last_utterance_seq = None;
        self.state.notes.push(format!("media stream moved to another worker at {} ms", self.state.media_ms));
        if matches!(self.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
            return;
        }
        self.redeliver = match self.state.spoken.last() {
            Some(latest) if !latest.played => Some((latest.utterance_id.clone(), now + REDELIVER_WAIT)),
            _ => None,
        };
    }

    /// Whether a final transcript (the worker's `utterance_seq`, ending at media time `end_ms`)
    /// is new: not a re-sent one, nor audio heard again after the stream moved. A new one is
    /// recorded as heard.
    pub fn fresh_transcript(&mut self, utterance_seq: u64, end_ms: u64) -> bool {
        if self.state.last_utterance_seq.is_some_and(|last| utterance_seq <= last) {
            return false; // a re-sent transcript already handled
        }
        self.state.last_utterance_seq = Some(utterance_seq);
        if self.state.stream_moves > 0 && end_ms <= self.state.heard_until_ms {
            return false; // replayed audio this conversation already heard
        }
        self.state.heard_until_ms = self.state.heard_until_ms.max(end_ms);
        self.redeliver = None;
        true
    }

    /// Agent turn `utterance_id` was played to its end (and every turn before it: marks come
    /// back in order).
    pub fn played(&mut self, utterance_id: &str) {
        if let Some(index) = self.state.spoken.iter().position(|s| s.utterance_id == utterance_id) {
            for spoken in &mut self.state.spoken[..=index] {
                spoken.played = true;
            }
        }
        if self.redeliver.as_ref().is_some_and(|(id, _)| id == utterance_id) {
            self.redeliver = None;
        }
    }

    /// The callee started talking: whatever they say settles the line that may have been cut.
    pub fn callee_speaking(&mut self) {
        self.redeliver = None;
    }

    /// Says again the agent line that may have been cut off when the stream moved, once
    /// [`REDELIVER_WAIT`] has passed with no sign it was heard. None when nothing is due.
    pub fn redeliver_due(&mut self, now: Instant) -> Option<Vec<Action>> {
        if self.redeliver.as_ref().is_none_or(|(_, due)| now < *due) {
            return None;
        }
        let (utterance_id, _) = self.redeliver.take()?;
        let latest = self.state.spoken.last().filter(|s| s.utterance_id == utterance_id && !s.played)?;
        let text = self.state.transcript.get(latest.transcript_index)?.text.clone();
        if matches!(self.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
            return None;
        }
        self.state.notes.push(format!("said again after the stream moved: {text}"));
        Some(self.say(now, &text, false))
    }
}
