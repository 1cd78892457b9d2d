//! A schedule asked one day at a time. A long timetable said over a bad line comes back with a
//! slip in every telling (a day dropped, "Tuesday" heard as "two days", one time wrong), so a
//! read-back corrected twice is usually still wrong the third time. One day's classes are a
//! short answer: the agent asks which days have classes, then each day's times, and reads the
//! whole back once. It does so after every other question (the day-by-day questions take a
//! minute or more; the last telling stands meanwhile), and only for a schedule field whose
//! playbook has `by_day` wording.

use super::questions::ask_next;
use crate::conversation::{Action, ByDayState, Conversation, Phase, WRAP_UP_MS};
use crate::extract::{self, intent::Intent, values};
use protocol::results::FieldStatus;
use std::time::Instant;

/// Answers to one question that gave nothing readable before it is given up on.
const TRIES: u32 = 2;

/// Time the day-by-day questions may take (which days, a few days, the read-back): not begun
/// with less than this left before the call's wrap-up.
const BY_DAY_MS: u64 = 90_000;

/// Leaves `field` to be asked one day at a time once the other questions are asked, when its
/// playbook has the wording and it was not asked so before in this call.
pub(super) fn defer(conversation: &mut Conversation, field: &str) {
    let wording = conversation.playbook.field(field).is_some_and(|spec| spec.by_day.is_some());
    if wording && !conversation.state.by_day_asked.iter().any(|asked| asked == field) {
        conversation.state.by_day_pending = Some(field.to_owned());
        conversation.state.notes.push(format!("{field}: read back wrong twice; to ask one day at a time"));
    }
}

/// Starts asking the deferred schedule one day at a time, if there is one and time for it.
/// Returns the line to say.
pub(super) fn start_deferred(conversation: &mut Conversation) -> Option<String> {
    let field = conversation.state.by_day_pending.take()?;
    start(conversation, &field).map(|line| format!("One more thing: the line wasn't great earlier. {line}"))
}

/// Starts asking `field` one day at a time, when its playbook has the wording and it was not
/// asked so before in this call. Returns the line to say.
fn start(conversation: &mut Conversation, field: &str) -> Option<String> {
    let spec = conversation.playbook.field(field)?.clone();
    let wording = spec.by_day.as_ref()?;
    if conversation.state.by_day_asked.iter().any(|asked| asked == field) {
        return None;
    }
    let limit_ms = conversation.limits().max_duration_s.saturating_mul(1000);
    if conversation.state.media_ms + BY_DAY_MS + WRAP_UP_MS >= limit_ms {
        conversation.state.notes.push(format!("{field}: read back wrong twice; no time left to ask day by day"));
        return None;
    }
    let heard_days = conversation
        .state
        .fields
        .get(field)
        .and_then(|f| f.value.as_array())
        .map(|classes| {
            classes
                .iter()
                .filter_map(|class| class.get("day")?.as_str())
                .filter_map(|day| values::DAYS.iter().position(|d| *d == day))
                .collect()
        })
        .unwrap_or_default();
    conversation.state.by_day_asked.push(field.to_owned());
    conversation.state.by_day = Some(ByDayState { field: field.to_owned(), heard_days, ..Default::default() });
    conversation.state.phase = Phase::Asking;
    conversation.set_asked(field);
    conversation.state.notes.push(format!("{field}: asked one day at a time"));
    let days = conversation.render(&wording.days);
    Some(format!("Let's go day by day. {days}"))
}

/// The open question of a schedule asked one day at a time, if one is being asked.
pub(super) fn question(conversation: &Conversation) -> Option<String> {
    let state = conversation.state.by_day.as_ref()?;
    let wording = conversation.playbook.field(&state.field)?.by_day.clone()?;
    Some(match &state.days {
        None => conversation.render(&wording.days),
        Some(days) => {
            let day = days.get(state.next).copied().unwrap_or_default();
            conversation.render(&wording.day.replace("{day}", &day_name(day)))
        }
    })
}

/// The reply while a schedule is asked one day at a time: `None` when none is, or when the
/// callee's words are not an answer to it (a hold, a goodbye, a question of their own, the call
/// near its limit): the day-by-day questions end there and the usual turn handles the words.
pub(super) fn heard(
    conversation: &mut Conversation,
    now: Instant,
    text: &str,
    intents: &[Intent],
    turn: usize,
) -> Option<Vec<Action>> {
    let mut state = conversation.state.by_day.clone()?;
    if conversation.state.phase != Phase::Asking {
        conversation.state.by_day = None;
        return None;
    }
    if intents.contains(&Intent::Repeat) {
        let line = question(conversation)?;
        return Some(conversation.say(now, &line, false));
    }
    if !intents.is_empty() || conversation.limit_reached(now) || conversation.wrap_up_due(now) {
        conversation.state.by_day = None;
        conversation.state.notes.push(format!("{}: day by day given up (the callee moved on)", state.field));
        return None;
    }
    let spec = conversation.playbook.field(&state.field)?.clone();
    let preface = match state.days.clone() {
        None => {
            let mut days = values::days_in(&extract::text::tokenize(text));
            if days.is_empty() {
                return Some(unreadable(conversation, now, state, turn));
            }
            days.extend(state.heard_days.iter().copied());
            days.sort_unstable();
            days.dedup();
            state.days = Some(days);
            state.next = 0;
            state.tries = 0;
            "Thanks. "
        }
        Some(days) => {
            let day = days.get(state.next).copied().unwrap_or_default();
            let Some(classes) = extract::day_classes(&spec, day, text) else {
                return Some(unreadable(conversation, now, state, turn));
            };
            state.classes.extend(classes.iter().filter_map(|c| serde_json::to_value(c).ok()));
            state.next += 1;
            state.tries = 0;
            if state.next >= days.len() {
                return Some(finish(conversation, now, state, turn));
            }
            "Okay. "
        }
    };
    conversation.state.by_day = Some(state);
    let line = question(conversation)?;
    Some(conversation.say(now, &format!("{preface}{line}"), false))
}

/// An answer with nothing readable for the open question: asked once more, then the question is
/// passed over (a day) or the day-by-day questions end (which days).
fn unreadable(conversation: &mut Conversation, now: Instant, mut state: ByDayState, turn: usize) -> Vec<Action> {
    state.tries += 1;
    if state.tries < TRIES {
        conversation.state.by_day = Some(state);
        let line = question(conversation).unwrap_or_default();
        return conversation.say(now, &format!("Sorry, I didn't catch that. {line}"), false);
    }
    match state.days.clone() {
        Some(days) if state.next + 1 < days.len() => {
            conversation.state.notes.push(format!(
                "{}: {} not heard, passed over",
                state.field,
                day_name(days[state.next])
            ));
            state.next += 1;
            state.tries = 0;
            conversation.state.by_day = Some(state);
            let line = question(conversation).unwrap_or_default();
            conversation.say(now, &format!("Okay. {line}"), false)
        }
        Some(_) => finish(conversation, now, state, turn),
        None => {
            conversation.state.by_day = None;
            conversation.state.notes.push(format!("{}: which days not heard; kept as last heard", state.field));
            ask_next(conversation, now, "Okay, thanks. ")
        }
    }
}

/// Every day asked: the classes heard replace the schedule and are read back once (a yes
/// confirms them; a correction is taken as heard, as after any second read-back).
fn finish(conversation: &mut Conversation, now: Instant, state: ByDayState, turn: usize) -> Vec<Action> {
    conversation.state.by_day = None;
    let field = state.field.clone();
    if state.classes.is_empty() {
        conversation.state.notes.push(format!("{field}: no classes heard day by day; kept as last heard"));
        return ask_next(conversation, now, "Okay, thanks. ");
    }
    let classes = serde_json::Value::Array(state.classes);
    conversation.state.by_day_heard = Some((field.clone(), classes.clone()));
    let mut actions = conversation.set_field(&field, FieldStatus::Known, classes, 0.6, Some(turn));
    let Some(line) = conversation.playbook.field(&field).cloned().and_then(|spec| conversation.read_back_line(&spec))
    else {
        actions.extend(ask_next(conversation, now, "Thanks. "));
        return actions;
    };
    conversation.state.phase = Phase::ReadBack { field, rounds: 2 };
    actions.extend(conversation.say(now, &format!("Thanks. {line}"), false));
    actions
}

/// After the read-back of a schedule asked one day at a time was said to be wrong: the classes
/// the days' short answers gave are kept (less sure, with a note) rather than another hearing of
/// the whole timetable, the telling that went wrong twice before. Returns the events, or `None`
/// when `field` was not asked one day at a time.
pub(super) fn keep_heard(conversation: &mut Conversation, field: &str, turn: usize) -> Option<Vec<Action>> {
    let (asked, classes) = conversation.state.by_day_heard.clone()?;
    if asked != field {
        return None;
    }
    conversation
        .state
        .notes
        .push(format!("{field}: read back after asking day by day and said not to be right; kept what the days gave"));
    Some(conversation.set_field(field, FieldStatus::Known, classes, 0.5, Some(turn)))
}

/// "Monday" for 0.
fn day_name(day: usize) -> String {
    let name = values::DAYS.get(day).copied().unwrap_or("monday");
    let mut chars = name.chars();
    chars.next().map(|first| first.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
