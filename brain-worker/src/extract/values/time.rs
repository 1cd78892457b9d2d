//! Times of day and time ranges: a small grammar over tokens, with am/pm resolved the way class
//! times run.
//!
//! ```text
//! time    := clock ["o'clock"] [meridiem]             "6:30pm", "18:00"
//!          | hour [minutes] ["o'clock"] [meridiem]    "six thirty", "nine oh five a m", "7 pm"
//!          | ("half" | "quarter" | count) "past" hour "half past six", "twenty past seven"
//!          | "quarter to" hour                       "quarter to seven"
//!          | "half" hour                             "half seven" (British: 7:30)
//!          | ["twelve"] "noon" | "midday" | "midnight"
//! minutes := 13..59 | "oh" digit                      (ten, eleven and twelve are hours)
//! range   := ["from"] time ("to" | "till" | "until" | "through") time
//!          | "between" time "and" time
//! ```
//!
//! A range is resolved as a whole ("nine to eleven" is a morning class, "six to seven thirty"
//! an evening one); a period word near a time ("evening class at seven", "saturday morning at
//! ten") decides am/pm when the time itself does not say.

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

/// A period word: "morning" says am, "evening" / "afternoon" / "night" say pm.
fn period_of(word: &str) -> Option<Meridiem> {
    match word {
        "morning" | "mornings" => Some(Meridiem::Am),
        "evening" | "evenings" | "night" | "nights" | "afternoon" | "afternoons" | "tonight" => Some(Meridiem::Pm),
        _ => None,
    }
}

/// A whole number token's value.
fn whole(token: &Token) -> Option<u32> {
    token.number.filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n < 100.0).map(|n| n as u32)
}

/// An hour: 1-12 in words, 0-24 in digits.
fn hour_of(token: &Token) -> Option<u32> {
    let hour = whole(token)?;
    let limit = if token.digits { 24 } else { 12 };
    (hour >= 1 || token.digits).then_some(hour).filter(|h| *h <= limit)
}

/// Minutes after an hour: "thirty", "forty five", "oh five", "15". Ten to twelve in words are
/// read as the next hour of a list ("six seven eight nine ten"), not as minutes.
fn minutes_at(tokens: &[Token], index: usize) -> Option<(u32, usize)> {
    let token = tokens.get(index)?;
    if token.is_any(&["oh", "o"]) {
        let unit = tokens.get(index + 1).and_then(whole).filter(|u| *u < 10)?;
        return Some((unit, 2));
    }
    let minutes = whole(token).filter(|m| *m < 60)?;
    let low = if token.digits { 10 } else { 13 };
    if minutes < low {
        return None;
    }
    // "twelve fifty dollars" is a price
    if tokens.get(index + 1).is_some_and(|t| currency_of(&t.word).is_some()) {
        return None;
    }
    Some((minutes, 1))
}

/// A time expression at `index`. Returns the time and the tokens used.
fn time_at(tokens: &[Token], index: usize) -> Option<(TimeOfDay, usize)> {
    let token = tokens.get(index)?;
    let word = |offset: usize| tokens.get(index + offset).map(|t| t.word.as_str());
    let certain = |minutes: u32, used: usize| Some((TimeOfDay { minutes, meridiem_certain: true }, used));
    match (token.word.as_str(), word(1)) {
        ("noon" | "midday", _) => return certain(12 * 60, 1),
        ("midnight", _) => return certain(0, 1),
        ("12", Some("noon" | "midday")) => return certain(12 * 60, 2),
        _ => {}
    }
    let word_hour = |offset: usize| tokens.get(index + offset);
    let (mut hours, minutes, mut used) = match (token.word.as_str(), word(1)) {
        // "half past six", "quarter past six", "twenty past six", "quarter to seven"
        ("half" | "quarter", Some("past" | "to")) | (_, Some("past")) => {
            let hour = word_hour(2).and_then(hour_of).filter(|h| (1..=12).contains(h))?;
            match (token.word.as_str(), word(1)) {
                // "have past eleven": "half past" as recognisers write it (tuning seed 627)
                ("half" | "have", Some("past")) => (hour, 30, 3),
                ("quarter", Some("past")) => (hour, 15, 3),
                ("quarter", _) => (if hour == 1 { 12 } else { hour - 1 }, 45, 3),
                ("half", _) => return None,
                _ => (hour, whole(token).filter(|m| (1..30).contains(m))?, 3),
            }
        }
        // "half half seven": "half past seven" with its "past" heard as "half" again (tuning
        // seeds 500, 522, 523, three voices: "between 6 30 and half half 7 o'clock" was two
        // classes, not a range)
        ("half", Some("half")) => {
            let hour = word_hour(2).and_then(hour_of).filter(|h| (1..=12).contains(h))?;
            (hour, 30, 3)
        }
        // "half seven": half past, as said in Britain and Ireland
        ("half", _) => {
            let hour = word_hour(1).and_then(hour_of).filter(|h| (1..=12).contains(h))?;
            (hour, 30, 2)
        }
        _ => {
            if let Some((h, m)) = token.clock.or_else(|| compact_clock(tokens, index)) {
                (h, m, 1)
            } else {
                let hour = hour_of(token)?;
                match minutes_at(tokens, index + 1) {
                    Some((m, extra)) => (hour, m, 1 + extra),
                    None => (hour, 0, 1),
                }
            }
        }
    };
    if matches!(word(used), Some("o'clock" | "oclock")) {
        used += 1;
    }
    let mut certain = hours > 12 || (hours == 0 && token.digits);
    if let Some((meridiem, extra)) = meridiem_after(tokens, index + used) {
        used += extra;
        certain = true;
        hours = twenty_four(hours, meridiem == Meridiem::Pm) / 60;
    } else if token.digits && word(used) == Some("m") {
        // "6M", "730M": a recogniser kept the "m" of "a m" / "p m" and lost its letter; a time,
        // its half of the day not said
        used += 1;
    }
    Some((TimeOfDay { minutes: hours * 60 + minutes, meridiem_certain: certain }, used))
}

/// Hours and minutes written as one number, the way a recogniser often writes a spoken time
/// ("715 PM", "from 715 to 849 p.m.", "1030am", "630 in the evening", "9.30am to 1130"): three
/// or four digits, 1-12 hours and minutes under 60, taken as a time only when am/pm follows it
/// or the time it runs to, or when it ends a range after a time. Alone ("715", "1200 members")
/// it stays a number.
fn compact_clock(tokens: &[Token], index: usize) -> Option<(u32, u32)> {
    let split = |token: &Token| {
        let value = token.number.filter(|n| token.digits && n.fract() == 0.0 && (100.0..1300.0).contains(n))?;
        let (hours, minutes) = (value as u32 / 100, value as u32 % 100);
        ((1..=12).contains(&hours) && minutes < 60).then_some((hours, minutes))
    };
    let found = split(tokens.get(index)?)?;
    // a lone "m" is what a recogniser left of "a m" / "p m" ("730M")
    let meridiem_at = |at: usize| meridiem_after(tokens, at).is_some() || tokens.get(at).is_some_and(|t| t.is("m"));
    let joiner = |token: Option<&Token>| token.is_some_and(|t| t.is_any(&["to", "till", "til", "until", "through"]));
    // an end said as a whole hour too ("930 till 11am")
    let hour_end = |end: &Token| end.digits && whole(end).is_some_and(|h| (1..=12).contains(&h));
    let runs_to_one = joiner(tokens.get(index + 1))
        && tokens.get(index + 2).is_some_and(|end| split(end).is_some() || end.clock.is_some() || hour_end(end))
        && meridiem_at(index + 3);
    // the end of a range after a time or its am/pm ("9.30am to 1130", "in the morning to 1130",
    // "between 6.30 p.m. and 730": an "and" joins after "between", tuning seed 525)
    let between_and = index >= 2
        && tokens[index - 1].is("and")
        && tokens[index.saturating_sub(6)..index - 1].iter().any(|t| t.is("between"));
    let ends_one = index >= 2
        && (joiner(tokens.get(index - 1)) || between_and)
        && tokens.get(index - 2).is_some_and(|t| {
            t.number.is_some() || t.clock.is_some() || t.is_any(&["am", "pm", "m", "morning", "evening", "afternoon"])
        });
    // "from 930 to 1030", "from 930 till half past 10": a range after "from" / "between" that
    // ends in such a number or another time (not an amount: "from 150 to 200 dollars")
    let cued_range = index >= 1
        && tokens[index - 1].is_any(&["from", "between"])
        && (joiner(tokens.get(index + 1)) || tokens.get(index + 1).is_some_and(|t| t.is("and")))
        && tokens
            .get(index + 2)
            .is_some_and(|end| split(end).is_some() || (!end.digits && time_at(tokens, index + 2).is_some()))
        && !tokens.get(index + 3).is_some_and(|t| super::money::currency_of(&t.word).is_some());
    // "on Tuesday, 630 to 730": two such numbers joined as a range right after a day (tuning
    // seed 650: the class was left out, and the correction heard "from 6pm" kept a wrong start)
    let after_a_day =
        tokens[index.saturating_sub(4)..index].iter().any(|t| super::schedule::day_index(&t.word).is_some());
    let day_range = after_a_day
        && joiner(tokens.get(index + 1))
        && tokens.get(index + 2).is_some_and(|end| split(end).is_some())
        && !tokens.get(index + 3).is_some_and(|t| super::money::currency_of(&t.word).is_some());
    (meridiem_at(index + 1) || runs_to_one || ends_one || cued_range || day_range).then_some(found)
}

/// `hours` (0-23) on a 12-hour clock read as am or pm, in minutes after midnight.
fn twenty_four(hours: u32, pm: bool) -> u32 {
    if hours > 12 {
        return hours * 60;
    }
    (hours % 12 + if pm { 12 } else { 0 }) * 60
}

/// How class times run when am/pm is not said: 1-9 in the afternoon or evening, 10 and 11 in
/// the morning, 12 at noon.
fn usually_pm(hours: u32) -> bool {
    (1..=9).contains(&hours) || hours == 12
}

/// The readings of a time: the one said, or both halves of the day when am/pm was not said.
fn readings(time: TimeOfDay) -> Vec<(u32, bool)> {
    if time.meridiem_certain {
        return vec![(time.minutes, true)];
    }
    let (hours, minutes) = (time.minutes / 60, time.minutes % 60);
    [false, true].iter().map(|pm| (twenty_four(hours, *pm) + minutes, *pm)).collect()
}

/// One time without am/pm, read with the period word near it, else the way classes run.
fn resolve(time: TimeOfDay, hint: Option<Meridiem>) -> u32 {
    if time.meridiem_certain {
        return time.minutes;
    }
    let (hours, minutes) = (time.minutes / 60, time.minutes % 60);
    let pm = match hint {
        Some(Meridiem::Am) => hours == 12,
        Some(Meridiem::Pm) => true,
        None => usually_pm(hours),
    };
    twenty_four(hours, pm) + minutes
}

/// A range read as a whole: of the readings where it ends after it starts and lasts at most four
/// hours, the one that best fits a class timetable (starting after 5 am, ending by 10:30 pm,
/// the start read as the period word or the usual class hours say). None when no reading fits.
fn resolve_range(start: TimeOfDay, end: TimeOfDay, hint: Option<Meridiem>) -> Option<(u32, u32)> {
    let mut best: Option<(u32, (u32, u32))> = None;
    // a time in the hour after midnight ("12:30 AM", "midnight") is read in the hour after noon
    // too, where the range's other end makes only that one a class: a recogniser gives an end the
    // start's "AM" ("from 11 AM to 1230 AM", tuning seed 506) and hears "midday" as "midnight"
    // ("from midnight till 1 pm", seed 529)
    let with_noon = |time: TimeOfDay| {
        let mut found = readings(time);
        if time.meridiem_certain && time.minutes < 60 {
            found.push((time.minutes + 12 * 60, true));
        }
        found
    };
    let end_readings = with_noon(end);
    for (start_minutes, start_pm) in with_noon(start) {
        for &(end_minutes, _) in &end_readings {
            if end_minutes <= start_minutes || end_minutes - start_minutes > 4 * 60 {
                continue;
            }
            let mut penalty = 0;
            if start_minutes < 5 * 60 || end_minutes > 22 * 60 + 30 {
                penalty += 3;
            }
            if !start.meridiem_certain {
                let expected = match hint {
                    Some(meridiem) => meridiem == Meridiem::Pm,
                    None => usually_pm(start.minutes / 60),
                };
                if start_pm != expected {
                    penalty += 2;
                }
            }
            if best.is_none_or(|(p, _)| penalty < p) {
                best = Some((penalty, (start_minutes, end_minutes)));
            }
        }
    }
    best.map(|(_, range)| range)
}

/// A time or a time range found in an utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSpan {
    pub start: u32,
    pub end: Option<u32>,
    /// Token position of the start.
    pub position: usize,
    pub used: usize,
    /// The end of a range whose start was not understood ("from <misheard> to 2 p.m."): a time
    /// was said there, but not this one as a start.
    pub lost: bool,
    /// Said without am/pm or a period word, at an hour classes run at in both halves of the day
    /// (six to nine): the half of the day is a guess.
    pub half_guessed: bool,
    /// A range whose end could not be the end of a class that starts as said ("from 6 PM to
    /// 1030 AM"): the start is kept, the end left out (`end` is None).
    pub end_lost: bool,
}

/// The period word nearest before the time at `from` (within five words, not past another
/// number), else just after it (within three words, not past "and").
fn period_hint(tokens: &[Token], from: usize, to: usize) -> Option<Meridiem> {
    for index in (from.saturating_sub(5)..from).rev() {
        if tokens[index].number.is_some() || tokens[index].clock.is_some() {
            break;
        }
        if let Some(meridiem) = period_of(&tokens[index].word) {
            return Some(meridiem);
        }
    }
    for token in tokens.iter().skip(to).take(3) {
        if token.is_any(&["and", "but", "then"]) || token.number.is_some() {
            break;
        }
        if let Some(meridiem) = period_of(&token.word) {
            return Some(meridiem);
        }
    }
    None
}

/// Every time or range ("six to seven thirty", "from 6:30pm until 8", "between noon and one").
/// Bare numbers count as times only when `bare_numbers_are_times` (a schedule answer) or when
/// they are marked as times (am/pm, "at", "o'clock").
pub fn time_spans(tokens: &[Token], bare_numbers_are_times: bool) -> Vec<TimeSpan> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    let mut spans = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let Some((start, used)) = time_at(tokens, index) else {
            index += 1;
            continue;
        };
        let before = index.checked_sub(1).map(|i| words[i]);
        let marked = start.meridiem_certain
            || tokens[index].clock.is_some()
            || matches!(before, Some("at" | "from" | "between" | "around" | "by"))
            || used > 1
            || tokens[index].is_any(&["noon", "midnight", "midday", "half", "quarter"]);
        let is_money = tokens.get(index + used).is_some_and(|t| currency_of(&t.word).is_some())
            || before.is_some_and(|w| currency_of(w).is_some());
        let is_count = is_count(tokens, index + used - 1) && used == 1;
        if is_money || is_count || !(marked || bare_numbers_are_times) {
            index += used;
            continue;
        }
        let mut next = index + used;
        let mut end = None;
        // "and" joins a range only after "between": "at six and seven thirty" is two classes
        let joiners: &[&str] = if before == Some("between") {
            &["and", "to", "till", "til", "until"]
        } else {
            &["to", "till", "til", "until", "through", "thru"]
        };
        if tokens.get(next).is_some_and(|t| t.is_any(joiners)) {
            if let Some((end_time, end_used)) = time_at(tokens, next + 1) {
                end = Some(end_time);
                next += 1 + end_used;
            }
        }
        // "17.50" is a time only with a time's company ("7.15pm", "at 6.30", "9.30 to 11"); alone
        // it is more likely a price
        let dotted = tokens[index].clock.is_some() && tokens[index].number.is_some();
        let cued = matches!(before, Some("at" | "from" | "between" | "around" | "by"));
        if dotted && used == 1 && end.is_none() && !cued {
            index += used;
            continue;
        }
        let hint = period_hint(tokens, index, next);
        // a start said as one ("from six p m", "between 9.30 and ..."), not a bare number
        let anchored = start.meridiem_certain || matches!(before, Some("from" | "between"));
        let mut end_lost = false;
        let (start_minutes, end_minutes) = match end {
            Some(end_time) => match resolve_range(start, end_time, hint) {
                Some((s, e)) => (s, Some(e)),
                // "from 6 PM to 1030 AM": no class runs backwards or all day; the start was said
                // as one and stands, the end was misheard and is left out
                None if anchored => {
                    end_lost = true;
                    (resolve(start, hint), None)
                }
                // "ten to seven": no class runs nine hours; kept as said, for the schedule's
                // plausibility check to refuse
                None => (resolve(start, hint), Some(resolve(end_time, hint))),
            },
            None => (resolve(start, hint), None),
        };
        // "from <misheard> to 2 p.m.": the end of a range whose start was lost
        let lost = matches!(before, Some("to" | "till" | "til" | "until" | "through" | "thru"));
        let half_guessed = !start.meridiem_certain
            && end.is_none_or(|end| !end.meridiem_certain)
            && hint.is_none()
            && (6..=9).contains(&(start.minutes / 60));
        spans.push(TimeSpan {
            start: start_minutes,
            end: end_minutes,
            position: index,
            used: next - index,
            lost,
            half_guessed,
            end_lost,
        });
        index = next;
    }
    spans
}
