//! Read-backs and corrections: the reply while a value read back awaits a yes, the teen/ty
//! mix-up ("fifteen" / "fifty"), and a correction of a value acknowledged in passing.

use super::questions::current_question;
use crate::conversation::{Action, Conversation, Phase, MAX_ASKS};
use crate::extract;
use protocol::results::FieldStatus;
use std::time::Instant;

/// A reply meaning "go on to the next question".
pub(super) const NEXT_MARKER: &str = "\u{0}next";

/// The reply while a read-back awaits confirmation. Returns the line to say, or
/// [`NEXT_MARKER`] when the conversation should go on to the next question.
pub(super) fn read_back_reply(
    conversation: &mut Conversation,
    words: &str,
    field: &str,
    rounds: u32,
    changed: &[String],
    restated: bool,
    turn: usize,
) -> (String, Vec<Action>) {
    let current = conversation.state.fields.get(field).map(|f| f.value.clone()).unwrap_or_default();
    // saying the same value again ("no, there's no charge" to "the mat fee is free?") confirms it,
    // unless a "no" opens it and the value is not itself a no: "No, it's 20 to 50" to "a drop-in
    // is 20 dollars?" is the recogniser's slip heard again, or the callee's ear's, not a yes
    // (tuning seed 530: the 20 was kept as confirmed)
    let said_no = extract::intent::confirmation(words) == Some(false);
    let no_but_same = restated && said_no && !said_with_no(&current);
    // a none read back ("nothing special?") and a reply whose only none is its opening "no":
    // "No, it's waymer." names something, misheard (tuning seed 556: "nothing" kept, confirmed)
    let no_only_opening = restated && said_no && said_with_no(&current) && {
        let rest = strip_correction_words(words);
        !extract::extract(&conversation.playbook, &rest, Some(field))
            .iter()
            .any(|e| e.field == field && e.status == FieldStatus::Known && e.value == current)
    };
    let restated = restated && !no_but_same && !no_only_opening;
    let confirmation = if restated { Some(true) } else { extract::intent::confirmation(words) };
    let spec = conversation.playbook.field(field).cloned();
    if changed.iter().any(|c| c == field) && confusable_correction(conversation, field, turn) {
        // "fifteen" read back, "no, fifty" heard: the classic teen/ty mix-up of telephone
        // speech recognition. Keep the callee's own first answer, less sure of it.
        conversation.state.phase = Phase::Asking;
        return (NEXT_MARKER.to_owned(), Vec::new());
    }
    if changed.iter().any(|c| c == field) {
        // A corrected value ("no, it's twenty"): read it back once more, then trust it.
        if let (Some(spec), true) = (spec.as_ref(), rounds < 2) {
            if let Some(line) = conversation.read_back_line(spec) {
                conversation.state.phase = Phase::ReadBack { field: field.to_owned(), rounds: rounds + 1 };
                return (format!("Sorry about that. {line}"), Vec::new());
            }
        }
        // read back twice and corrected both times: asked one day at a time after the other
        // questions, if the field can be (the last telling stands meanwhile); already asked so,
        // what the days gave stands
        if let Some(events) = super::by_day::keep_heard(conversation, field, turn) {
            conversation.state.phase = Phase::Asking;
            return (NEXT_MARKER.to_owned(), events);
        }
        super::by_day::defer(conversation, field);
        conversation.state.phase = Phase::Asking;
        return (NEXT_MARKER.to_owned(), Vec::new());
    }
    if !restated && extract::intent::confirmation_conflicted(words) {
        // "Yeah, not right": a yes and a no at once. Ask the same read-back again rather than
        // drop a value the callee may have just confirmed.
        if rounds < 2 {
            if let Some(line) = spec.as_ref().and_then(|spec| conversation.read_back_line(spec)) {
                conversation.state.phase = Phase::ReadBack { field: field.to_owned(), rounds: rounds + 1 };
                return (format!("Sorry, just to be sure: {}", super::gate::lowercase_first(&line)), Vec::new());
            }
        } else {
            // Asked again, and again a yes and a no: the callee opens with yes each time, and
            // "that's" heard as "not" is a recogniser's slip. Keep the value, less sure of it.
            let note = format!("{field}: read back and answered with a yes and a no at once, twice; kept as read back");
            return keep_unconfirmed(conversation, field, note, 0.7);
        }
    }
    match confirmation {
        Some(false) => {
            // Wrong, without the right value: a correction may still carry it in words the
            // rules read only for an asked field with a bare answer.
            let corrected = spec.as_ref().and_then(|spec| {
                let stripped = strip_correction_words(words);
                let read = |text: &str| {
                    let found = extract::extract(&conversation.playbook, text, Some(&spec.name));
                    super::turn::in_the_calls_currency(conversation, found, text)
                        .into_iter()
                        .find(|e| e.field == spec.name && e.status == FieldStatus::Known)
                };
                match read(&stripped) {
                    // heard again as the value just said to be wrong: its numbers read another
                    // way ("20 to 50" as "twenty two fifty"), or nothing
                    Some(same) if same.value == current => extract::text::number_homophones(&stripped)
                        .and_then(|other| read(&other))
                        .filter(|other| other.value != current),
                    // a list's items named in words close to theirs ("waymer"): read back
                    None if spec.kind == playbook::FieldType::List => {
                        let items = extract::options_sounding_like(spec, &stripped);
                        (!items.is_empty()).then(|| extract::Extraction::known(spec, serde_json::json!(items), 0.6))
                    }
                    other => other,
                }
            });
            if let (Some(spec), Some(corrected)) = (spec.as_ref(), corrected) {
                let events = conversation.set_field(
                    &spec.name,
                    FieldStatus::Known,
                    corrected.value,
                    corrected.confidence,
                    Some(turn),
                );
                // read back at most as often as a correction heard by the turn itself is
                let line = if rounds < 2 { conversation.read_back_line(spec) } else { None };
                if let Some(line) = line {
                    conversation.state.phase = Phase::ReadBack { field: field.to_owned(), rounds: rounds + 1 };
                    return (format!("Sorry about that. {line}"), events);
                }
                conversation.state.phase = Phase::Asking;
                return (NEXT_MARKER.to_owned(), events);
            }
            if let Some(events) = super::by_day::keep_heard(conversation, field, turn) {
                conversation.state.phase = Phase::Asking;
                return (NEXT_MARKER.to_owned(), events);
            }
            if no_but_same {
                // "no" and the value read back, with no other reading of it: which ear slipped
                // cannot be told (the callee's heard "twenty two dollars" for "22.50 dollars" and
                // said "No, it's twenty two fifty", tuning seed 503). Kept, unconfirmed, with a
                // note; asked again it came back the same
                let note = format!("{field}: read back, answered with a no and the same value; kept unconfirmed");
                return keep_unconfirmed(conversation, field, note, 0.6);
            }
            (forget_and_ask_again(conversation, field).unwrap_or_else(|| NEXT_MARKER.to_owned()), Vec::new())
        }
        _ => {
            // Confirmed (or they moved on): trust the value more.
            if let Some(entry) = conversation.state.fields.get_mut(field) {
                if confirmation == Some(true) {
                    entry.confidence = entry.confidence.max(0.95);
                }
            }
            conversation.state.phase = Phase::Asking;
            (NEXT_MARKER.to_owned(), Vec::new())
        }
    }
}

/// Keeps a read-back value the reply neither confirmed nor replaced: at most `confidence`, with
/// `note` in the result, and the survey goes on.
fn keep_unconfirmed(
    conversation: &mut Conversation,
    field: &str,
    note: String,
    confidence: f32,
) -> (String, Vec<Action>) {
    conversation.state.notes.push(note);
    if let Some(entry) = conversation.state.fields.get_mut(field) {
        entry.confidence = entry.confidence.min(confidence);
    }
    conversation.state.phase = Phase::Asking;
    (NEXT_MARKER.to_owned(), Vec::new())
}

/// A value whose own words are a "no" (free, none, a no, nothing needed): a reply that opens with
/// "no" and says it again agrees with it.
fn said_with_no(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(yes) => !yes,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty() || text == "none",
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.get("amount").and_then(Value::as_f64) == Some(0.0),
    }
}

/// True when the value just applied to `field` is the teen/ty twin of the one it replaced (15 and
/// 50, 13 and 30 ...). The earlier value is put back, with a note and a lower confidence.
fn confusable_correction(conversation: &mut Conversation, field: &str, turn: usize) -> bool {
    let Some(entry) = conversation.state.fields.get(field) else { return false };
    let amount =
        |value: &serde_json::Value| value.get("amount").and_then(serde_json::Value::as_f64).or_else(|| value.as_f64());
    let Some(new_amount) = amount(&entry.value) else { return false };
    // the value before this turn: the evidence before the current one
    let Some(previous_turn) = entry.evidence.iter().rev().map(|e| e.turn).find(|t| *t != turn) else { return false };
    let Some(previous_text) = conversation.state.transcript.get(previous_turn).map(|t| t.text.clone()) else {
        return false;
    };
    let previous = extract::extract(&conversation.playbook, &previous_text, Some(field))
        .into_iter()
        .find(|e| e.field == field && e.status == FieldStatus::Known);
    let Some(previous) = previous else { return false };
    let Some(old_amount) = amount(&previous.value) else { return false };
    let twins = |a: f64, b: f64| (13.0..=19.0).contains(&a) && (b - (a - 10.0) * 10.0).abs() < 0.01;
    if !(twins(old_amount, new_amount) || twins(new_amount, old_amount)) {
        return false;
    }
    conversation.state.notes.push(format!(
        "{field}: heard {old_amount} first and {new_amount} in a correction (fifteen/fifty-style mix-up); kept {old_amount}"
    ));
    if let Some(entry) = conversation.state.fields.get_mut(field) {
        entry.value = previous.value;
        entry.confidence = 0.6;
    }
    true
}

/// The callee said a value we had is wrong without giving the right one: forget it and ask for it
/// again, in other words. Returns the line to say, or None when the field has been asked [`MAX_ASKS`] times
/// already: it is left unknown, with a note, and the call goes on (a schedule read back wrong,
/// corrected unreadably and asked again, went round until the call's time limit).
fn forget_and_ask_again(conversation: &mut Conversation, field: &str) -> Option<String> {
    forget(conversation, field);
    conversation.state.phase = Phase::Asking;
    let asked = conversation.state.attempts.get(field).copied().unwrap_or(0);
    if asked >= MAX_ASKS {
        conversation.state.notes.push(format!("{field}: unknown, read back wrong after {asked} tries"));
        return None;
    }
    conversation.set_asked(field);
    // in other words, with an example: the same question word for word gets the same answer
    // heard the same way (tuning seed 616: "How much is a drop-in, and is there a mat fee?"
    // twice, "forty" heard "already" both times)
    let question = conversation.playbook.field(field).cloned().map(|s| conversation.reask_for(&s)).unwrap_or_default();
    *conversation.state.attempts.entry(field.to_owned()).or_default() += 1;
    Some(format!("Sorry, my mistake. {question}"))
}

/// Words that say "what you just said back is wrong" whatever else the reply is about.
const CORRECTION_CUES: &[&str] = &[
    "that's wrong",
    "that's not right",
    "that's not correct",
    "not quite",
    "you got it wrong",
    "i said",
    "incorrect",
    "no no",
    "not exactly",
    "i meant",
];

/// The reply after `field`'s value was acknowledged in passing: a correction of it ("no, the
/// drop-in is thirty five") is taken and read back; anything else is left to the normal flow.
/// A bare "no ..." that also answers the current question ("no, there's no mat fee") is an answer,
/// not a correction, unless it names the noted field.
pub(super) fn correct_noted(
    conversation: &mut Conversation,
    now: Instant,
    field: &str,
    text: &str,
    words: &str,
    turn: usize,
) -> Option<Vec<Action>> {
    let spec = conversation.playbook.field(field).cloned()?;
    let explicit = CORRECTION_CUES.iter().any(|cue| extract::text::has_phrase(words, cue));
    let negative = explicit || extract::intent::confirmation(without_leading_fillers(words)) == Some(false);
    if !negative {
        return None;
    }
    let names_field = extract::names(&spec, words);
    if !names_field && names_another_known(conversation, field, words) {
        // "No, not quite, our classes are ..." after requirements were noted (tuning seed 327):
        // about the schedule noted before, not the requirements just noted
        return None;
    }
    let asked = conversation.state.asked.clone().filter(|a| a != field);
    let asked_answer: Vec<extract::Extraction> = asked
        .as_deref()
        .map(|asked| {
            extract::extract(&conversation.playbook, text, Some(asked))
                .into_iter()
                .filter(|e| e.field == asked && e.status != FieldStatus::Unknown)
                .collect()
        })
        .unwrap_or_default();
    let answers_asked = !asked_answer.is_empty();
    let current = conversation.state.fields.get(field).cloned().unwrap_or_default();
    let stripped = strip_correction_words(words);
    let said = extract::extract(&conversation.playbook, &stripped, Some(field));
    if names_field && said.iter().any(|e| e.field == field && e.status == FieldStatus::Refused) {
        // "no, I didn't give you the price": it was not theirs to give
        let mut actions = conversation.set_field(field, FieldStatus::Refused, serde_json::Value::Null, 0.8, Some(turn));
        conversation.state.notes.push(format!("{field}: taken back by the callee after it was noted"));
        let question = current_question(conversation);
        actions.extend(conversation.say(now, &format!("Sorry, my mistake. {question}"), false));
        return Some(actions);
    }
    let corrected = said.into_iter().find(|e| e.field == field && e.status == FieldStatus::Known);
    // "No, our classes are Monday and Wednesday six to seven thirty ..." after that very schedule
    // was noted: the callee heard our line wrong and set it right. The "no" is about the value
    // noted, not an answer to the question asked after it, which is asked again. (A "no" that
    // restates a none, "no, nothing to bring", agrees with both and is left to the answer.)
    if let (Some(corrected), Some(_)) = (&corrected, &asked) {
        if names_field && corrected.value == current.value && !extract::says_none(&current.value) {
            conversation.state.notes.push(format!("{field}: the callee said no and gave the value noted again"));
            let question = current_question(conversation);
            return Some(conversation.say(now, &format!("Okay, that's what I have, thanks. {question}"), false));
        }
    }
    match corrected {
        Some(corrected) if corrected.value != current.value => {
            if answers_asked && !explicit && !names_field {
                return None;
            }
            if super::gate::closes_required(conversation, field, &corrected.value) {
                // "We can't rent it all over for a drop-in, oh no, no mat fee." (for "We charge
                // twenty euros for a drop in") after drop-ins were noted (tuning seed 583): a
                // correction that would end the survey is a gatekeeping answer like any other,
                // held and asked again before it settles anything
                return None;
            }
            // the open question answered in the same breath ("... and you just need to text us
            // beforehand"): kept, not asked for again after the read-back
            let (mut actions, _) = conversation.apply(&asked_answer, turn);
            actions.extend(conversation.set_field(
                field,
                FieldStatus::Known,
                corrected.value,
                corrected.confidence,
                Some(turn),
            ));
            conversation.state.notes.push(format!("{field}: corrected by the callee after it was noted"));
            // say the corrected value back and wait for a yes; the open question comes after
            let line = match conversation.read_back_line(&spec) {
                Some(line) => {
                    conversation.state.phase = Phase::ReadBack { field: field.to_owned(), rounds: 2 };
                    line
                }
                None => conversation
                    .noted_line(&spec)
                    .map(|line| format!("{line} {}", current_question(conversation)))
                    .unwrap_or_else(|| current_question(conversation)),
            };
            actions.extend(conversation.say(now, &format!("Sorry about that. {line}"), false));
            Some(actions)
        }
        None if explicit && !answers_asked => match forget_and_ask_again(conversation, field) {
            Some(line) => Some(conversation.say(now, &line, false)),
            None => Some(super::questions::ask_next(conversation, now, "Okay, thanks. ")),
        },
        // "No, not quite" with a correction the rules cannot read, and the open question answered
        // after it (tuning seed 338): the value said to be wrong is not kept. It is forgotten
        // and asked for again once the answer is taken, while it has tries left.
        None if explicit => {
            forget(conversation, field);
            conversation.state.notes.push(format!("{field}: said to be wrong after it was noted"));
            None
        }
        _ => None,
    }
}

/// A correction of a value kept earlier than the last acknowledgement (tuning seed 313: "No, not
/// quite, our classes are ..." to "Anything else a visitor should know?", two answers after the
/// schedule was noted; seed 327: the same right after requirements were noted). A reply with an
/// explicit correction cue ("not quite", "that's wrong"), or a "no" right after another value was
/// acknowledged (`noted`), that names a known field other than those and gives it a value other
/// than the one kept is taken and read back, as right after the acknowledgement. A reply that
/// answers the question asked is left to the answer; one that gives no other value changes nothing.
pub(super) fn correct_known_later(
    conversation: &mut Conversation,
    now: Instant,
    text: &str,
    words: &str,
    turn: usize,
    noted: &[String],
) -> Option<Vec<Action>> {
    let explicit = CORRECTION_CUES.iter().any(|cue| extract::text::has_phrase(words, cue));
    let negative = extract::intent::confirmation(without_leading_fillers(words)) == Some(false);
    if !(explicit || (negative && !noted.is_empty())) {
        return None;
    }
    let skip = noted;
    let asked = conversation.state.asked.clone();
    if let Some(asked) = asked.as_deref() {
        let spec = conversation.playbook.field(asked)?;
        let answers = extract::extract(&conversation.playbook, text, Some(asked))
            .iter()
            .any(|e| e.field == asked && e.status != FieldStatus::Unknown);
        // a free-text question takes any words: only its own keywords make them an answer
        if answers && (spec.kind != playbook::FieldType::Text || extract::names(spec, words)) {
            return None;
        }
    }
    let stripped = strip_correction_words(words);
    let fields: Vec<playbook::FieldSpec> = conversation
        .playbook
        .fields
        .iter()
        .filter(|f| Some(&f.name) != asked.as_ref() && !skip.contains(&f.name) && extract::names(f, words))
        .cloned()
        .collect();
    for spec in fields {
        let Some(current) = conversation.state.fields.get(&spec.name).cloned() else { continue };
        if current.status != FieldStatus::Known {
            continue;
        }
        let Some(corrected) = extract::extract(&conversation.playbook, &stripped, Some(&spec.name))
            .into_iter()
            .find(|e| e.field == spec.name && e.status == FieldStatus::Known)
        else {
            continue;
        };
        if corrected.value == current.value {
            continue;
        }
        // a correction that would end the survey is left to the gate, which asks again first
        if super::gate::closes_required(conversation, &spec.name, &corrected.value) {
            continue;
        }
        // "No, just that the Saturday class is at ten" to "Anything else?": a part of what was
        // kept said again is no correction of it (only a "not quite" makes it one)
        if !explicit && part_of(&corrected.value, &current.value) {
            continue;
        }
        let mut actions =
            conversation.set_field(&spec.name, FieldStatus::Known, corrected.value, corrected.confidence, Some(turn));
        conversation.state.notes.push(format!("{}: corrected by the callee later in the call", spec.name));
        let line = match conversation.read_back_line(&spec) {
            Some(line) => {
                conversation.state.phase = Phase::ReadBack { field: spec.name.clone(), rounds: 2 };
                line
            }
            None => current_question(conversation),
        };
        actions.extend(conversation.say(now, &format!("Sorry about that. {line}"), false));
        return Some(actions);
    }
    None
}

/// True when `part` is a list every item of which is in the list `whole` (classes compared by
/// day and start).
fn part_of(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    let key = |item: &serde_json::Value| match (item.get("day"), item.get("start")) {
        (Some(day), Some(start)) => serde_json::json!([day, start]),
        _ => item.clone(),
    };
    match (part.as_array(), whole.as_array()) {
        (Some(part), Some(whole)) => {
            let whole: Vec<serde_json::Value> = whole.iter().map(key).collect();
            part.iter().all(|item| whole.contains(&key(item)))
        }
        _ => false,
    }
}

/// True when `words` name a known field other than `field` and the one asked.
fn names_another_known(conversation: &Conversation, field: &str, words: &str) -> bool {
    conversation.playbook.fields.iter().any(|f| {
        f.name != field
            && Some(&f.name) != conversation.state.asked.as_ref()
            && conversation.state.fields.get(&f.name).is_some_and(|v| v.status == FieldStatus::Known)
            && extract::names(f, words)
    })
}

/// Forgets `field`'s value (back to unknown).
fn forget(conversation: &mut Conversation, field: &str) {
    if let Some(entry) = conversation.state.fields.get_mut(field) {
        entry.status = FieldStatus::Unknown;
        entry.value = serde_json::Value::Null;
        entry.confidence = 0.0;
    }
}

/// `words` without the hesitations a reply may start with ("sorry", "oh", "um" ...).
fn without_leading_fillers(words: &str) -> &str {
    let mut rest = words;
    while let Some((first, tail)) = rest.split_once(' ') {
        if !["sorry", "oh", "um", "uh", "er", "well", "hmm", "ah"].contains(&first) {
            break;
        }
        rest = tail;
    }
    rest
}

/// `words` (normalised) without the correction cues, and without the "no" / "sorry" /
/// "actually" words that open the reply or a clause after "and" / "but"; a "no" inside a clause
/// stays ("no gi class on tuesday": tuning seed 327's schedule was read back as gi).
fn strip_correction_words(words: &str) -> String {
    let mut text = format!(" {words} ");
    for phrase in CORRECTION_CUES {
        text = text.replace(&format!(" {phrase} "), " ");
    }
    const OPENERS: &[&str] = &["actually", "sorry", "nope", "no", "oh", "um", "uh", "well"];
    let mut kept: Vec<&str> = Vec::new();
    let mut clause_start = true;
    for word in text.split_whitespace() {
        if clause_start && OPENERS.contains(&word) {
            continue;
        }
        clause_start = ["and", "but"].contains(&word);
        kept.push(word);
    }
    kept.join(" ")
}
