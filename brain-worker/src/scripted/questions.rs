//! What the scripted policy asks: the introduction with the first question, the current
//! question for re-prompts, and the next missing field (or the close when none is left).

use crate::conversation::{Action, Conversation, Phase, MAX_ASKS, WRAP_UP_MS};
use protocol::results::{CallOutcome, FieldStatus};
use std::time::Instant;

/// The disclosure, the opening and the first question, as one turn.
pub(super) fn introduce(conversation: &mut Conversation, now: Instant) -> Vec<Action> {
    conversation.state.phase = Phase::Asking;
    let (text, field) = introduction(conversation);
    if let Some(field) = field {
        *conversation.state.attempts.entry(field.name.clone()).or_default() += 1;
        conversation.set_asked(&field.name);
    }
    conversation.say(now, &text, true)
}

/// What the agent says once the callee has answered: who it is, the playbook's opening and the
/// first question (that question's field).
pub(super) fn introduction(conversation: &Conversation) -> (String, Option<playbook::FieldSpec>) {
    let disclosure = conversation.playbook.disclosure_for(&conversation.state.context);
    let opening = conversation.render(&conversation.playbook.opening);
    let mut text =
        [disclosure.trim(), opening.trim()].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    let field = conversation.next_field();
    if let Some(field) = &field {
        text.push(' ');
        text.push_str(&conversation.question_for(field));
    }
    (text, field)
}

/// The question to ask again (re-prompts, re-greetings): the one asked while it is still open,
/// else the next missing field. That field becomes the asked one, so the answer is read for the
/// question the callee just heard.
pub(super) fn current_question(conversation: &mut Conversation) -> String {
    if let Some(question) = super::by_day::question(conversation) {
        return question;
    }
    if let Some(question) = super::more_items::current(conversation) {
        return question;
    }
    let field = conversation
        .state
        .asked
        .as_deref()
        .and_then(|name| conversation.playbook.field(name))
        .filter(|f| conversation.state.fields.get(&f.name).is_some_and(|r| r.status == FieldStatus::Unknown))
        .cloned()
        .or_else(|| conversation.next_field());
    let Some(field) = field else { return String::new() };
    conversation.set_asked(&field.name);
    conversation.question_for(&field)
}

/// Asks the next missing field, or closes the call when nothing required is missing.
pub fn ask_next(conversation: &mut Conversation, now: Instant, preface: &str) -> Vec<Action> {
    conversation.state.phase = Phase::Asking;
    // a value heard too unsure to note in passing, given with another answer or while another
    // value was read back, is read back before anything else is asked
    if let Some((field, line)) = unconfirmed_value(conversation) {
        conversation.state.phase = Phase::ReadBack { field, rounds: 1 };
        return conversation.say(now, &format!("{preface}{line}"), false);
    }
    let next = conversation.next_field();
    // every question asked: a schedule left to ask one day at a time is asked now
    if next.is_none() {
        if let Some(line) = super::by_day::start_deferred(conversation) {
            return conversation.say(now, &format!("{preface}{line}"), false);
        }
        if let Some(line) = circle_back(conversation) {
            return conversation.say(now, &format!("{preface}{line}"), false);
        }
    }
    if conversation.required_settled() && next.is_none() {
        let closing = conversation.render(&conversation.playbook.closing.clone());
        return conversation.finish(
            now,
            CallOutcome::Completed,
            Some(format!("{preface}{closing}")),
            "conversation complete",
        );
    }
    match next {
        Some(field) => {
            let question = conversation.question_for(&field);
            *conversation.state.attempts.entry(field.name.clone()).or_default() += 1;
            conversation.set_asked(&field.name);
            conversation.say(now, &format!("{preface}{question}"), false)
        }
        None => {
            // Nothing left we can ask (asked too often): end with what we have.
            let closing = conversation.render(&conversation.playbook.closing.clone());
            let outcome = if conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::Partial };
            conversation.finish(now, outcome, Some(format!("{preface}{closing}")), "nothing left to ask")
        }
    }
}

/// The first field holding a value below the playbook's `confirm_below` that was never read
/// back (it came with the answer to another question, or while another value was read back),
/// with its read-back line. A value read back once is not read back again from here: what the
/// callee said to that read-back settled it.
fn unconfirmed_value(conversation: &Conversation) -> Option<(String, String)> {
    if conversation.state.by_day.is_some() {
        return None;
    }
    conversation.playbook.fields.iter().find_map(|spec| {
        let entry = conversation.state.fields.get(&spec.name)?;
        let unsure = entry.status == FieldStatus::Known && entry.confidence < conversation.playbook.confirm_below;
        if !unsure || conversation.state.read_back_fields.contains(&spec.name) {
            return None;
        }
        Some((spec.name.clone(), conversation.read_back_line(spec)?))
    })
}

/// Time a last try at a field needs: the question, an answer and perhaps a read-back.
const CIRCLE_BACK_MS: u64 = 40_000;

/// Every question asked: a required field given up after two tries that understood no answer
/// (a line too noisy, a hold in the middle) is asked once more, in other words, before the close,
/// when there is time. Returns the line to say.
fn circle_back(conversation: &mut Conversation) -> Option<String> {
    let limit_ms = conversation.limits().max_duration_s.saturating_mul(1000);
    if conversation.state.media_ms + CIRCLE_BACK_MS + WRAP_UP_MS >= limit_ms {
        return None;
    }
    let spec = conversation
        .playbook
        .fields
        .iter()
        .filter(|f| f.required && f.question.is_some() && f.kind != playbook::FieldType::Risk)
        .find(|f| {
            conversation.state.fields.get(&f.name).is_some_and(|r| r.status == FieldStatus::Unknown)
                && conversation.state.attempts.get(&f.name).copied().unwrap_or(0) == MAX_ASKS
                && !conversation.state.circled_back.contains(&f.name)
        })?
        .clone();
    conversation.state.circled_back.push(spec.name.clone());
    conversation.state.notes.push(format!("{}: asked once more before the close", spec.name));
    conversation.set_asked(&spec.name);
    let question = conversation.reask_for(&spec);
    Some(format!("One more thing before I go, I didn't catch it earlier. {question}"))
}
