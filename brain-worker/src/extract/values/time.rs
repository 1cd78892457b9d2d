//! Times of day and time ranges in an answer: "6:30pm", "six thirty", "half past six",
//! "noon", "six to seven thirty", with am/pm resolved the way class times run.

use super::money::{currency_of, is_count};
use crate::extract::text::Token;

/// A time of day, minutes after midnight, and whether am/pm was certain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeOfDay {
    pub minutes: u32,
    pub meridiem_certain: bool,
}

/// Formats minutes after midnight as `HH:MM`.
pub fn hh_mm(minutes: u32) -> String {
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Meridiem {
    Am,
    Pm,
}

fn meridiem_after(tokens: &[Token], index: usize) -> Option<(Meridiem, usize)> {
    let word = |offset: usize| tokens.get(index + offset).map(|t| t.word.as_str());
    match (word(0), word(1), word(2)) {
        (Some("am"), _, _) => Some((Meridiem::Am, 1)),
        (Some("pm"), _, _) => Some((Meridiem::Pm, 1)),
        (Some("a"), Some("m"), _) => Some((Meridiem::Am, 2)),
        (Some("p"), Some("m"), _) => Some((Meridiem::Pm, 2)),
        (Some("in"), Some("the"), Some("morning")) => Some((Meridiem::Am, 3)),
        (Some("in"), Some("the"), Some("evening" | "afternoon")) => Some((Meridiem::Pm, 3)),
        (Some("at"), Some("night"), _) => Some((Meridiem::Pm, 2)),
        (Some("tonight"), _, _) => Some((Meridiem::Pm, 1)),
        _ => None,
    }
}

/// A time expression at `index`: "6:30pm", "six thirty", "seven in the evening", "noon",
/// "half past six", "quarter to seven", "18:00". Returns the time and tokens used.
fn time_at(tokens: &[Token], index: usize) -> Option<(TimeOfDay, usize)> {
    let token = tokens.get(index)?;
    let word = |offset: usize| tokens.get(index + offset).map(|t| t.word.as_str());
    let (mut hours, mut minutes, mut used) = match (token.word.as_str(), word(1)) {
        ("noon" | "midday", _) => return Some((TimeOfDay { minutes: 12 * 60, meridiem_certain: true }, 1)),
        ("midnight", _) => return Some((TimeOfDay { minutes: 0, meridiem_certain: true }, 1)),
        ("half", Some("past")) | ("quarter", Some("past")) | ("quarter", Some("to")) => {
            let hour = tokens.get(index + 2)?.number.filter(|h| (1.0..=12.0).contains(h) && h.fract() == 0.0)? as u32;
            match (token.word.as_str(), word(1)) {
                ("half", _) => (hour, 30, 3),
                (_, Some("past")) => (hour, 15, 3),
                _ => (if hour == 1 { 12 } else { hour - 1 }, 45, 3),
            }
        }
        _ => {
            if let Some((h, m)) = token.clock {
                (h, m, 1)
            } else {
                let hour = token.number.filter(|h| h.fract() == 0.0 && *h <= 24.0 && *h >= 1.0)? as u32;
                if hour > 12 && !token.digits {
                    return None;
                }
                // "nine oh five": a single-digit minute after "oh"
                if tokens.get(index + 1).is_some_and(|t| t.is("oh")) {
                    if let Some(m) = tokens
                        .get(index + 2)
                        .and_then(|t| t.number)
                        .filter(|m| m.fract() == 0.0 && (0.0..10.0).contains(m))
                    {
                        (hour, m as u32, 3)
                    } else {
                        (hour, 0, 1)
                    }
                } else {
                    let minute = tokens
                        .get(index + 1)
                        .and_then(|t| t.number)
                        .filter(|m| m.fract() == 0.0 && (0.0..60.0).contains(m) && (*m >= 10.0 || *m == 0.0));
                    match minute {
                        Some(m) if tokens.get(index + 2).is_none_or(|t| currency_of(&t.word).is_none()) => {
                            (hour, m as u32, 2)
                        }
                        _ => (hour, 0, 1),
                    }
                }
            }
        }
    };
    if word(used) == Some("o'clock") || word(used) == Some("oclock") {
        used += 1;
    }
    let mut certain = hours > 12 || hours == 0;
    if let Some((meridiem, extra)) = meridiem_after(tokens, index + used) {
        used += extra;
        certain = true;
        match meridiem {
            Meridiem::Pm if hours < 12 => hours += 12,
            Meridiem::Am if hours == 12 => hours = 0,
            _ => {}
        }
    }
    if minutes >= 60 {
        minutes = 0;
    }
    Some((TimeOfDay { minutes: hours * 60 + minutes, meridiem_certain: certain }, used))
}

/// Resolves an hour said without am/pm: class times run from morning to night, so 1-9 read as
/// afternoon/evening, 10-11 as morning, 12 as noon; `morning` in the clause forces am.
fn resolve(time: TimeOfDay, morning_hint: bool, evening_hint: bool) -> u32 {
    if time.meridiem_certain {
        return time.minutes;
    }
    let hours = time.minutes / 60;
    let minutes = time.minutes % 60;
    let pm = if morning_hint {
        hours == 12
    } else if evening_hint {
        true
    } else {
        (1..=9).contains(&hours) || hours == 12
    };
    match (pm, hours) {
        (true, 12) => time.minutes,
        (true, h) => (h + 12) * 60 + minutes,
        (false, 12) => minutes,
        (false, _) => time.minutes,
    }
}

/// A time or a time range found in an utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSpan {
    pub start: u32,
    pub end: Option<u32>,
    /// Token position of the start.
    pub position: usize,
    pub used: usize,
}

/// Every time or range ("six to seven thirty", "from 6:30pm until 8", "between noon and one").
/// Bare numbers count as times only when `bare_numbers_are_times` (a schedule answer) or when
/// they are marked as times (am/pm, "at", "o'clock").
pub fn time_spans(tokens: &[Token], bare_numbers_are_times: bool) -> Vec<TimeSpan> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    // "saturday morning at ten", "evenings at six": hints close to the time
    let hints = |from: usize, to: usize| {
        let window = &words[from.saturating_sub(4)..(to + 4).min(words.len())];
        let morning = window.iter().any(|w| ["morning", "mornings"].contains(w));
        let evening = window
            .iter()
            .any(|w| ["evening", "evenings", "night", "nights", "afternoon", "afternoons", "tonight"].contains(w));
        (morning, evening)
    };
    let mut spans = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let Some((start, used)) = time_at(tokens, index) else {
            index += 1;
            continue;
        };
        let marked = start.meridiem_certain
            || tokens[index].clock.is_some()
            || index.checked_sub(1).is_some_and(|i| {
                words[i] == "at" || words[i] == "from" || words[i] == "between" || words[i] == "around"
            })
            || used > 1
            || tokens[index].is_any(&["noon", "midnight", "midday", "half", "quarter"]);
        let is_money = tokens.get(index + used).is_some_and(|t| currency_of(&t.word).is_some())
            || index.checked_sub(1).is_some_and(|i| currency_of(words[i]).is_some());
        let is_count = is_count(tokens, index + used - 1) && used == 1;
        if is_money || is_count || !(marked || bare_numbers_are_times) {
            index += used;
            continue;
        }
        let mut next = index + used;
        let mut end = None;
        if tokens.get(next).is_some_and(|t| t.is_any(&["to", "till", "til", "until", "through", "and"])) {
            if let Some((end_time, end_used)) = time_at(tokens, next + 1) {
                end = Some(end_time);
                next += 1 + end_used;
            }
        }
        let (morning_hint, evening_hint) = hints(index, next);
        let start_minutes;
        let end_minutes;
        match end {
            Some(end_time) => {
                let (s, e) = resolve_range(start, end_time, morning_hint, evening_hint);
                start_minutes = s;
                end_minutes = Some(e);
            }
            None => {
                start_minutes = resolve(start, morning_hint, evening_hint);
                end_minutes = None;
            }
        }
        spans.push(TimeSpan { start: start_minutes, end: end_minutes, position: index, used: next - index });
        index = next;
    }
    spans
}

fn resolve_range(start: TimeOfDay, end: TimeOfDay, morning_hint: bool, evening_hint: bool) -> (u32, u32) {
    let day = 24 * 60;
    match (start.meridiem_certain, end.meridiem_certain) {
        (true, true) => (start.minutes, end.minutes),
        (true, false) => {
            // "6pm to 7:30": the end follows the start
            let mut end_minutes = end.minutes;
            while end_minutes <= start.minutes && end_minutes + 12 * 60 < day {
                end_minutes += 12 * 60;
            }
            (start.minutes, end_minutes)
        }
        (false, true) => {
            // "11 to 12:30pm", "6 to 7pm": the start is the latest reading before the end
            let candidates = [start.minutes % (12 * 60), start.minutes % (12 * 60) + 12 * 60];
            let start_minutes = candidates.iter().copied().filter(|c| *c < end.minutes).max().unwrap_or(start.minutes);
            (start_minutes, end.minutes)
        }
        (false, false) => {
            let start_minutes = resolve(start, morning_hint, evening_hint);
            let mut end_minutes = end.minutes % (12 * 60);
            while end_minutes <= start_minutes && end_minutes + 12 * 60 < day + 12 * 60 {
                end_minutes += 12 * 60;
            }
            (start_minutes, end_minutes.min(day - 1))
        }
    }
}
