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
    /// After the media stream moved: the agent line that may have been cut off, said again
    /// when this is due unless its `Played` or the callee comes first (see `moved`).
    pub(super) redeliver: Option<(String, Instant)>,
    /// When `state.media_ms` last moved, and to what: media time runs on between the media
    /// worker's events (see [`Conversation::media_now`]).
    media_anchor: Option<(Instant, u64)>,
    /// The callee started talking and their transcript has not come yet.
    pub callee_talking: bool,
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
            redeliver: None,
            media_anchor: None,
            callee_talking: false,
        }
    }

    /// The call's media time at `now`: the latest the media worker reported, plus the wall time
    /// since it moved (an agent line decided on a silence timer 9 s after the callee's last
    /// words is stamped 9 s later, not at those words).
    pub fn media_now(&mut self, now: Instant) -> u64 {
        let reported = self.state.media_ms;
        match self.media_anchor {
            Some((at, ms)) if ms == reported => reported + now.saturating_duration_since(at).as_millis() as u64,
            _ => {
                self.media_anchor = Some((now, reported));
                reported
            }
        }
    }

    /// Notes that `state.media_ms` may have moved at `now` (called after every input).
    pub fn mark_media_time(&mut self, now: Instant) {
        if self.media_anchor.is_none_or(|(_, ms)| ms != self.state.media_ms) {
            self.media_anchor = Some((now, self.state.media_ms));
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
        let redeliver = self.redeliver.as_ref().map(|(_, due)| *due);
        [self.silence_deadline, self.hard_deadline, redeliver].into_iter().flatten().min()
    }

    /// True when a limit (turns, media duration, wall clock) is reached.
    pub fn limit_reached(&self, now: Instant) -> bool {
        let limits = self.limits();
        self.state.callee_turns >= limits.max_turns
            || self.state.media_ms >= limits.max_duration_s.saturating_mul(1000)
            || self.hard_deadline.is_some_and(|deadline| now >= deadline)
    }

    /// True when the call is so close to its duration limit that the agent should close now
    /// rather than ask more: the closing line and the callee's goodbye then fit before the limit
    /// cuts the line (in `gymcall eval` three held-out calls were cut mid-question at 300 s).
    /// The margin is [`WRAP_UP_MS`], or a quarter of a shorter limit.
    pub fn wrap_up_due(&self, now: Instant) -> bool {
        let limit_ms = self.limits().max_duration_s.saturating_mul(1000);
        let margin_ms = (limit_ms / 4).min(WRAP_UP_MS);
        self.state.media_ms + margin_ms >= limit_ms
            || self
                .hard_deadline
                .is_some_and(|deadline| deadline.saturating_duration_since(now) <= Duration::from_millis(margin_ms))
    }

    /// The next field to ask for: the first unsettled field in playbook order (required ones
    /// before optional ones), skipping those already asked too often.
    pub fn next_field(&self) -> Option<FieldSpec> {
        let unsettled = |field: &&FieldSpec| {
            field.kind != FieldType::Risk
                && field.question.is_some()
                && self.state.fields.get(&field.name).is_some_and(|f| f.status == FieldStatus::Unknown)
                && self.state.attempts.get(&field.name).copied().unwrap_or(0) < MAX_ASKS
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

    /// The question for a field.
    pub fn question_for(&self, field: &FieldSpec) -> String {
        self.render(field.question.as_deref().unwrap_or_default())
    }

    /// The question asked again after an answer that did not give the value: in other words
    /// (the follow-up) and with an example of an answer.
    pub fn reask_for(&self, field: &FieldSpec) -> String {
        let question = field.follow_up.as_ref().or(field.question.as_ref()).map(|q| self.render(q)).unwrap_or_default();
        match field.example.clone().or_else(|| example_for(field)) {
            Some(example) => format!("{question} {}", self.render(&example)),
            None => question,
        }
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

/// How long before the call's duration limit the agent closes instead of asking on.
pub const WRAP_UP_MS: u64 = 30_000;

/// How many times a field is asked before it is left unknown (the question, then once in other
/// words with an example).
pub const MAX_ASKS: u32 = 2;

/// An example answer for a field the playbook gives none for, from its type.
fn example_for(field: &FieldSpec) -> Option<String> {
    let options: Vec<&str> = field.options.iter().take(2).map(|o| o.name()).collect();
    match field.kind {
        FieldType::Money => Some("For example, twenty dollars, or free.".to_owned()),
        FieldType::YesNo => Some("A yes or no is fine.".to_owned()),
        FieldType::Schedule => Some("For example, Mondays at six p.m.".to_owned()),
        FieldType::Number => Some("A rough number is fine.".to_owned()),
        FieldType::Scale => field.scale.as_ref().map(|s| format!("Anywhere from {} to {}.", s.min, s.max)),
        FieldType::List | FieldType::Enum if !options.is_empty() => {
            Some(format!("For example, {}.", options.join(" or ")))
        }
        _ => None,
    }
}
