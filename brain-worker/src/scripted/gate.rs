//! Gatekeeping answers: a value that would settle other required fields as not applicable
//! ("we don't take drop-ins" ends the drop-in survey) is not believed the first time it is heard.
//! One misheard word ("can't" for "can") or a negation about something else ("we don't have a
//! drop-in *price*") must not end a survey or overwrite what the callee said before. The value is
//! held, the field's question is asked again, and only the same answer twice settles it; another
//! answer replaces it. Which fields gate which comes from the playbook's `depends_on`, so this
//! holds for any playbook.

use crate::conversation::{yaml_to_json, Action, Conversation};
use crate::extract::Extraction;
use protocol::results::FieldStatus;
use std::time::Instant;

/// Confidence of a gatekeeping value the callee said twice.
const CONFIRMED: f32 = 0.95;

/// True when `value` for `field` would make a required field not applicable.
pub(super) fn closes_required(conversation: &Conversation, field: &str, value: &serde_json::Value) -> bool {
    conversation.playbook.fields.iter().any(|spec| {
        spec.required
            && spec
                .depends_on
                .as_ref()
                .is_some_and(|dependency| dependency.field == field && yaml_to_json(&dependency.equals) != *value)
    })
}

/// True when `extractions` hold a known value for a field that only exists while `field` has
/// the value its dependents expect ("the drop-in is thirty five dollars" means drop-ins exist).
fn opened_in_same_reply(conversation: &Conversation, field: &str, extractions: &[Extraction]) -> bool {
    extractions.iter().any(|other| {
        other.status == FieldStatus::Known
            && other.value != serde_json::Value::Bool(false)
            && conversation
                .playbook
                .field(&other.field)
                .is_some_and(|spec| spec.depends_on.as_ref().is_some_and(|dependency| dependency.field == field))
    })
}

/// What [`hold_gate_answers`] did with a reply.
pub(super) struct GateOutcome {
    /// What to apply.
    pub kept: Vec<Extraction>,
    /// The field whose gate-closing answer was held: ask it again to confirm.
    pub held: Option<String>,
    /// The field that was being confirmed when this reply came (answered or not).
    pub was_confirming: Option<String>,
}

/// Takes out of `extractions` a gate-closing value heard for the first time (remembered in
/// `state.confirming`), and lets one through at [`CONFIRMED`] when it is the value held from the
/// turn before. A gate-closing value in a reply that also gives a value only an open gate has
/// ("no sorry, the drop-in is thirty five dollars") contradicts itself and is dropped.
///
/// A reply to the confirming question that opens with a plain yes ("Yeah, I'm caught. We can't
/// win it all in the time." for "Yeah, so of course, we get visitors all the time") does not
/// confirm a held "no" that contradicts an earlier answer, whatever negation the recogniser put
/// after the yes: the held value is dropped and the earlier answer stands.
pub(super) fn hold_gate_answers(
    conversation: &mut Conversation,
    extractions: Vec<Extraction>,
    words: &str,
) -> GateOutcome {
    let pending = conversation.state.confirming.take();
    let mut held = None;
    let mut kept = Vec::with_capacity(extractions.len());
    let all = extractions.clone();
    for mut extraction in extractions {
        let closes = extraction.status == FieldStatus::Known
            && closes_required(conversation, &extraction.field, &extraction.value);
        if closes && opened_in_same_reply(conversation, &extraction.field, &all) {
            conversation.state.notes.push(format!(
                "{}: a '{}' heard in a reply that also answers what depends on it; not taken",
                extraction.field, extraction.value
            ));
            continue;
        }
        let already = conversation
            .state
            .fields
            .get(&extraction.field)
            .is_some_and(|f| f.status == FieldStatus::Known && f.value == extraction.value);
        if !closes || already {
            kept.push(extraction);
            continue;
        }
        let repeats_held =
            pending.as_ref().is_some_and(|(field, value)| *field == extraction.field && *value == extraction.value);
        let known_otherwise = conversation
            .state
            .fields
            .get(&extraction.field)
            .is_some_and(|f| f.status == FieldStatus::Known && f.value != extraction.value);
        if repeats_held && known_otherwise && crate::extract::intent::opens_with_plain_yes(words) {
            conversation.state.notes.push(format!(
                "{}: a '{}' heard in a reply that opens with a yes; the earlier answer stands",
                extraction.field, extraction.value
            ));
            continue;
        }
        if repeats_held {
            // said twice: believed
            extraction.confidence = extraction.confidence.max(CONFIRMED);
            kept.push(extraction);
            continue;
        }
        conversation.state.confirming = Some((extraction.field.clone(), extraction.value.clone()));
        held = Some(extraction.field.clone());
    }
    GateOutcome { kept, held, was_confirming: pending.map(|(field, _)| field) }
}

/// Asks `field`'s question again, in other words, to confirm a held answer. The same question
/// gets the same answer, and the same answer the same mishearing: "Um, sure, visitors are always
/// welcome." was heard "I'm sure, maybe they're not always welcome." both times it was asked the
/// same way, and the "no" was believed (tuning seed 593, ev580b).
pub(super) fn ask_to_confirm(conversation: &mut Conversation, now: Instant, field: &str, preface: &str) -> Vec<Action> {
    let Some(spec) = conversation.playbook.field(field).cloned() else { return Vec::new() };
    let question = conversation.reask_for(&spec);
    conversation.set_asked(field);
    let question = lowercase_first(&question);
    conversation.state.notes.push(format!("{field}: confirming a gatekeeping answer before it settles the survey"));
    conversation.say(now, &format!("{preface}Sorry, just to be sure: {question}"), false)
}

/// "So a drop-in is ..." as "so a drop-in is ...", to follow a lead-in; "I have ..." stays.
pub(super) fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !text.starts_with("I ") => first.to_lowercase().chain(chars).collect(),
        _ => text.to_owned(),
    }
}
