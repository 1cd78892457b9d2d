//! The [`Conversation`] itself (playbook, state, timers) and what policies ask of it: rendered
//! lines, the next field and its question, read-back and noted lines, limits and timeouts.

use super::state::{ConversationState, Phase};
use crate::extract;
use playbook::{render, FieldSpec, FieldType, Playbook};
use protocol::results::FieldStatus;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    pub(super) finished_sent: bool,
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
}
