//! How a conversation ends: the closing line and hang-up, the stream ending, voicemail, the
//! risk field settled, and the result published once.

use protocol::calls::CallEventKind;

use super::mechanics::Conversation;
use super::messages::Action;
use super::state::Phase;
use crate::extract;
use playbook::{FieldType, Voicemail};
use protocol::brain::SayCommand;
use protocol::results::{CallOutcome, FieldStatus};
use std::time::Instant;

impl Conversation {
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
        actions.push(Action::Event { kind: CallEventKind::Ended, detail: format!("{outcome:?}").to_lowercase() });
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
        actions.push(Action::Event { kind: CallEventKind::Ended, detail: "voicemail".into() });
        actions.extend(self.finished());
        actions
    }
}
