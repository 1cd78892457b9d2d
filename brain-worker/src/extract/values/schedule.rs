//! Days of the week and class schedules: "monday through friday", "weekends", and
//! "monday and wednesday six to seven thirty gi, open mat saturday at noon" as class slots.
//!
//! A schedule answer is read as a run of pieces (days, times, class types) grouped by how they
//! are said: days with the times said with them ("monday and wednesday at six, saturday at
//! ten" is three classes), in either order ("at six on monday, at ten on saturday"). A class
//! type goes with the times it is said before (or after, when that is how the callee says it).
//! What does not fit (days without a time, two lists of days and times, a class at 3 am) is
//! marked with a [`Doubt`]: read back to confirm, or asked again.

use super::time::{hh_mm, time_spans, TimeSpan};
use crate::extract::text::{find_phrase, split_odd_minutes, Token};
use serde::{Deserialize, Serialize};

/// The days of the week, lowercase full names, Monday first (day indexes below point into it).
pub use protocol::spoken::DAYS;

pub(super) fn day_index(word: &str) -> Option<usize> {
    let word = word.trim_end_matches('s');
    let index = match word {
        "monday" | "mon" => 0,
        "tuesday" | "tue" | "tues" => 1,
        "wednesday" | "wed" | "weds" | "wednes" => 2,
        "thursday" | "thu" | "thur" | "thurs" => 3,
        "friday" | "fri" => 4,
        "saturday" | "sat" => 5,
        "sunday" | "sun" => 6,
        _ => return misheard_day(word),
    };
    Some(index)
}

/// Words ending in "day" that are no day of the week.
const NOT_DAYS: &[&str] =
    &["today", "someday", "holiday", "midday", "weekday", "everyday", "payday", "birthday", "yesterday", "heyday"];

/// A day name a letter or two off, as recognisers write one ("thaturday", "wendsday",
/// "tuesdsay"): a word ending in "day" within one edit of a six-letter day name, or two of a
/// longer one, when exactly one day is that close.
fn misheard_day(word: &str) -> Option<usize> {
    if !word.ends_with("day") || word.len() < 6 || NOT_DAYS.contains(&word) {
        return None;
    }
    let mut found = None;
    for (index, day) in DAYS.iter().enumerate() {
        let allowed = if day.len() <= 6 { 1 } else { 2 };
        if edit_distance(word, day) <= allowed {
            if found.is_some() {
                return None;
            }
            found = Some(index);
        }
    }
    found
}

/// Levenshtein distance between two short ASCII words.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Days named by the token at `index` (and how many tokens the expression used):
/// "monday", "weekdays", "weekends", "every day", "monday through friday", "mon to fri".
pub fn days_at(tokens: &[Token], index: usize) -> Option<(Vec<usize>, usize)> {
    let word = tokens.get(index)?.word.as_str();
    let next = tokens.get(index + 1).map(|t| t.word.as_str());
    if let Some(first) = day_index(word) {
        // "sunday" vs the word "sun" in "sun" weather talk is rare in a schedule answer.
        if matches!(next, Some("through" | "thru" | "to" | "till" | "until")) {
            if let Some(last) = tokens.get(index + 2).and_then(|t| day_index(&t.word)) {
                let mut days = Vec::new();
                let mut day = first;
                loop {
                    days.push(day);
                    if day == last || days.len() == 7 {
                        break;
                    }
                    day = (day + 1) % 7;
                }
                return Some((days, 3));
            }
        }
        return Some((vec![first], 1));
    }
    if two_for_tuesday(tokens, index) {
        return Some((vec![1], 1));
    }
    // "Monday, two days and Thursday", "Saturday and some days": "Tuesday" and "Sunday" as
    // recognisers often write them, taken so only beside another day of the list (tuning seed
    // 526: "no gi on saturday and some days from noon to 1 PM" in three tellings)
    let sound_alike = match (word, next) {
        (_, Some("days" | "day")) if tokens[index].number == Some(2.0) || word == "to" => Some((1, 2)),
        ("some", Some("days" | "day")) => Some((6, 2)),
        ("someday" | "somedays", _) => Some((6, 1)),
        _ => None,
    };
    if let Some((day, used)) = sound_alike {
        let is_day = |at: Option<usize>| at.and_then(|i| tokens.get(i)).is_some_and(|t| day_index(&t.word).is_some());
        let joined = |at: usize| tokens.get(at).is_some_and(|t| t.is_any(&["and", "or"]));
        let before = index.checked_sub(1).filter(|&i| !joined(i)).or_else(|| index.checked_sub(2));
        let after = if joined(index + used) { index + used + 1 } else { index + used };
        // a list that starts with it: at the start, or after "on"
        let opens = index == 0 || tokens[index - 1].ends_sentence || tokens[index - 1].is("on");
        if is_day(before) || (opens && is_day(Some(after))) {
            return Some((vec![day], used));
        }
    }
    match (word, next) {
        ("weekday" | "weekdays", _) => Some(((0..5).collect(), 1)),
        ("weekend" | "weekends", _) => Some((vec![5, 6], 1)),
        ("every", Some("day")) | ("each", Some("day")) => Some(((0..7).collect(), 2)),
        ("daily", _) => Some(((0..7).collect(), 1)),
        ("seven", Some("days")) | ("7", Some("days")) => Some(((0..7).collect(), 2)),
        _ => None,
    }
}

/// Words that go on a time said as a bare number ("two pm", "two thirty", "two to four", "two
/// in the afternoon"): after them a "two" is an hour, not a day.
const GOES_ON_A_TIME: &[&str] = &[
    "am", "pm", "a", "p", "m", "oclock", "o'clock", "o", "to", "till", "til", "until", "through", "thru", "in", "at",
    "and", "or", "sharp", "ish", "clock", "noon", "thirty", "fifteen", "forty", "hundred",
];

/// "Monday, two dancers get from 10am", "on Monday, two minutes Thursday": "Tuesday" as a
/// recogniser writes it after another day (tuning seed 629, espeak-ng: "Monday, Tuesday and
/// Thursday" heard so in the answer and in the correction, read back as a class at 2 PM). A "two"
/// right after a day name is the day when another day follows within two words, or when the word
/// after it cannot go on a time and a time is said later in the same sentence ("Monday, two pm",
/// "Monday two to four", "Monday, two thirty" stay times).
fn two_for_tuesday(tokens: &[Token], index: usize) -> bool {
    let Some(token) = tokens.get(index) else { return false };
    if token.number != Some(2.0) || token.clock.is_some() || !matches!(token.word.as_str(), "2" | "two") {
        return false;
    }
    let is_day = |i: usize| tokens.get(i).is_some_and(|t| day_index(&t.word).is_some());
    let after_a_day = index.checked_sub(1).is_some_and(|before| {
        is_day(before) && !tokens[before].ends_sentence
            || before > 0
                && tokens[before].is_any(&["and", "or"])
                && is_day(before - 1)
                && !tokens[before - 1].ends_sentence
    });
    if !after_a_day || token.ends_sentence {
        return false;
    }
    let next = index + 1;
    let day_follows = (next..next + 2).any(|i| {
        is_day(i) && !tokens[index..i].iter().any(|t| t.ends_sentence || t.number.is_some() && t.word != token.word)
    });
    if day_follows {
        return true;
    }
    let Some(word) = tokens.get(next) else { return false };
    if word.number.is_some()
        || word.clock.is_some()
        || word.is_any(GOES_ON_A_TIME)
        || super::money::is_count(tokens, index)
    {
        return false;
    }
    let sentence_end = tokens[next..].iter().position(|t| t.ends_sentence).map_or(tokens.len(), |p| next + p + 1);
    tokens[next..sentence_end].iter().any(|t| {
        t.clock.is_some() || t.is_any(&["am", "pm", "noon", "oclock", "o'clock", "morning", "afternoon", "evening"])
    })
}

/// Every day mentioned, in order of first mention, honouring "except friday".
pub fn days_in(tokens: &[Token]) -> Vec<usize> {
    let mut days: Vec<usize> = Vec::new();
    let mut excluding = false;
    let mut index = 0;
    while index < tokens.len() {
        if tokens[index].is_any(&["except", "but", "besides", "excluding"]) {
            excluding = tokens[index].is("except")
                || tokens[index].is("excluding")
                || tokens.get(index + 1).is_some_and(|t| t.is("not"));
        }
        if let Some((found, used)) = days_at(tokens, index) {
            for day in found {
                if excluding {
                    days.retain(|d| *d != day);
                } else if !days.contains(&day) {
                    days.push(day);
                }
            }
            index += used;
        } else {
            index += 1;
        }
    }
    days
}

/// One class of a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassSlot {
    pub day: String,
    /// `HH:MM`, 24-hour.
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub class_type: Option<String>,
}

/// A class type option: its name and the phrases meaning it.
pub type ClassType = (String, Vec<String>);

/// What the rules made of a schedule answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub slots: Vec<ClassSlot>,
    /// Why the slots are not to be taken as said, if they are not.
    pub doubt: Option<Doubt>,
}

/// A schedule the rules could not settle.
#[derive(Clone, Debug, PartialEq)]
pub enum Doubt {
    /// Readable more than one way, or part of it left out: read it back for a yes.
    Unsure(String),
    /// Not a timetable a gym runs (a class at 3 am, five classes a day in one breath): ask again.
    Implausible(String),
}

enum Piece {
    Days { days: Vec<usize>, except: bool },
    Time(TimeSpan),
    Class(String),
}

struct Placed {
    piece: Piece,
    position: usize,
    used: usize,
}

impl Placed {
    fn end(&self) -> usize {
        self.position + self.used
    }
}

/// Days and the times said with them.
#[derive(Default)]
struct Group {
    days: Vec<usize>,
    /// Indexes into the pieces.
    times: Vec<usize>,
    times_first: bool,
    has_class: bool,
    /// "and friday too": the days take the times of the group before.
    same_as_before: bool,
}

/// Words that end one group of days and times and start the next.
const BREAKS: &[&str] = &["and", "but", "then", "also", "plus", "or", "except"];

/// Words that join a list of times without changing the subject.
const LINKS: &[&str] = &[
    "and",
    "at",
    "from",
    "on",
    "the",
    "also",
    "then",
    "every",
    "each",
    "in",
    "morning",
    "mornings",
    "evening",
    "evenings",
    "afternoon",
    "afternoons",
    "night",
    "nights",
    "class",
    "classes",
    "one",
    "another",
    "again",
];

/// Words of a speaker correcting themselves.
pub const CORRECTIONS: &[&str] = &["sorry", "mean", "actually", "wait", "rather", "correction", "scratch"];

/// The days, times and class types in an answer, in order, and whether the callee corrected one.
fn pieces(tokens: &[Token], class_types: &[ClassType]) -> (Vec<Placed>, bool) {
    let spans = time_spans(tokens, true);
    // Longest phrases first so "no gi" wins over "gi".
    let mut phrases: Vec<(&str, &str)> = class_types
        .iter()
        .flat_map(|(name, phrases)| phrases.iter().map(move |p| (p.as_str(), name.as_str())))
        .collect();
    phrases.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.split_whitespace().count()));
    let mut class_at: Vec<Option<(&str, usize)>> = vec![None; tokens.len()];
    for (phrase, name) in &phrases {
        let length = phrase.split_whitespace().count();
        for start in find_phrase(tokens, phrase) {
            if (start..start + length).all(|i| class_at[i].is_none()) {
                class_at[start] = Some((name, length));
                for slot in class_at.iter_mut().skip(start + 1).take(length - 1) {
                    *slot = Some(("", 0));
                }
            }
        }
    }
    let mut placed = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        if let Some(span) = spans.iter().find(|s| s.position == index).filter(|_| !two_for_tuesday(tokens, index)) {
            placed.push(Placed { piece: Piece::Time(span.clone()), position: index, used: span.used });
            index += span.used;
        } else if let Some((days, used)) = days_at(tokens, index) {
            let before = |offset: usize| index.checked_sub(offset).map(|i| tokens[i].word.as_str());
            let except = matches!(before(1), Some("except" | "excluding" | "besides"))
                || matches!((before(2), before(1)), (Some("but"), Some("not")) | (Some("not"), Some("on")));
            placed.push(Placed { piece: Piece::Days { days, except }, position: index, used });
            index += used;
        } else if let Some((name, length)) = class_at[index].filter(|(name, _)| !name.is_empty()) {
            placed.push(Placed { piece: Piece::Class(name.to_owned()), position: index, used: length.max(1) });
            index += length.max(1);
        } else {
            index += 1;
        }
    }
    // "at six no sorry seven": a time (or days) said again after a correction replaces the one
    // before it
    let mut kept: Vec<Placed> = Vec::with_capacity(placed.len());
    let mut corrected = false;
    for piece in placed {
        let replaces = kept.last().is_some_and(|last| {
            std::mem::discriminant(&last.piece) == std::mem::discriminant(&piece.piece)
                && piece.position - last.end() <= 4
                && tokens[last.end()..piece.position].iter().any(|t| t.is_any(CORRECTIONS))
        });
        if replaces {
            kept.pop();
            corrected = true;
        }
        kept.push(piece);
    }
    (kept, corrected)
}

/// True when nothing but a few linking words stand between two pieces.
fn joined(tokens: &[Token], from: usize, to: usize, at_most: usize) -> bool {
    // (not across the end of a sentence: "... eight o'clock. Also, kids at five")
    to >= from
        && to - from <= at_most
        && !tokens[from..to].iter().any(|t| t.is_any(BREAKS))
        && !tokens[from.saturating_sub(1)..to.min(tokens.len())].iter().any(|t| t.ends_sentence)
}

/// "..., that's open mat", "which is kids": words that point a class type back at what was just
/// said.
const POINTS_BACK: &[&str] = &["that", "that's", "which", "those", "these", "this", "it's"];

/// Groups the pieces into days with their own times.
fn groups(tokens: &[Token], placed: &[Placed]) -> (Vec<Group>, Vec<usize>) {
    let mut groups: Vec<Group> = vec![Group::default()];
    let mut group_of_time: Vec<usize> = Vec::new();
    for (index, piece) in placed.iter().enumerate() {
        let next = placed.get(index + 1);
        let Some(current) = groups.last_mut() else { break };
        match &piece.piece {
            Piece::Days { days, except: true } => current.days.retain(|d| !days.contains(d)),
            Piece::Days { days, except: false } => {
                // "monday at six": the day leads into its time
                let leads = next
                    .is_some_and(|n| matches!(n.piece, Piece::Time(_)) && joined(tokens, piece.end(), n.position, 3));
                let starts_new =
                    !current.times.is_empty() && (!current.times_first || !current.days.is_empty() && leads);
                if starts_new {
                    groups.push(Group::default());
                }
                let Some(current) = groups.last_mut() else { break };
                for day in days {
                    if !current.days.contains(day) {
                        current.days.push(*day);
                    }
                }
                let after: Vec<&str> = tokens.iter().skip(piece.end()).take(3).map(|t| t.word.as_str()).collect();
                current.same_as_before = matches!(after.as_slice(), ["too" | "also" | "same", ..] | ["as", "well", ..]);
            }
            Piece::Time(_) => {
                // "at ten on saturday": the time leads into its days
                let leads = next.is_some_and(|n| {
                    matches!(n.piece, Piece::Days { except: false, .. })
                        && joined(tokens, piece.end(), n.position, 2)
                        && tokens[piece.end()..n.position].iter().any(|t| t.is_any(&["on", "every", "each"]))
                });
                // "... at six, and then at ten and noon on saturdays": "then" starts other classes
                let after_break = index.checked_sub(1).is_some_and(|p| {
                    tokens[placed[p].end()..piece.position].iter().any(|t| t.is_any(&["then", "also", "plus"]))
                });
                // "... from midday till one thirty. Also, there's advanced <day misheard>, eleven
                // to ...": a class type named in a new sentence starts other classes, even when
                // their day was not heard
                let new_class_sentence = current.times.last().is_some_and(|&last| {
                    crate::extract::text::sentence_ends_between(
                        tokens,
                        placed[last].end().saturating_sub(1),
                        piece.position,
                    ) && placed[last + 1..index].iter().any(|p| matches!(p.piece, Piece::Class(_)))
                });
                let starts_new = if current.times_first {
                    !current.days.is_empty()
                } else {
                    (leads || after_break || new_class_sentence) && !current.times.is_empty()
                };
                if starts_new {
                    groups.push(Group::default());
                }
                let Some(current) = groups.last_mut() else { break };
                if current.times.is_empty() && current.days.is_empty() {
                    current.times_first = true;
                }
                current.times.push(index);
                group_of_time.push(groups.len() - 1);
            }
            Piece::Class(_) => {
                // "gi on monday and wednesday, no gi on tuesday at six": a second class type
                // before any time starts other days
                if current.has_class && current.times.is_empty() && !current.days.is_empty() {
                    groups.push(Group::default());
                }
                if let Some(current) = groups.last_mut() {
                    current.has_class = true;
                }
            }
        }
    }
    (groups, group_of_time)
}

/// The class type of each time, in order. A callee who names the type before the time ("gi
/// at six, no gi at seven") does so throughout; one who names it after ("six to seven thirty
/// gi") likewise; a type with no time on its side takes the times on the other.
fn class_of_times(tokens: &[Token], placed: &[Placed], group_of_time: &[usize]) -> Vec<Option<String>> {
    let times: Vec<usize> = (0..placed.len()).filter(|i| matches!(placed[*i].piece, Piece::Time(_))).collect();
    let classes: Vec<usize> = (0..placed.len()).filter(|i| matches!(placed[*i].piece, Piece::Class(_))).collect();
    let mut class_of: Vec<Option<String>> = vec![None; times.len()];
    let style_forward = match (classes.first(), times.first()) {
        (Some(class), Some(time)) => class < time,
        _ => return class_of,
    };
    let is_time = |i: usize| placed.get(i).is_some_and(|p| matches!(p.piece, Piece::Time(_)));
    let is_days = |i: usize| placed.get(i).is_some_and(|p| matches!(p.piece, Piece::Days { .. }));
    // "seven to nine, that's open mat": a type pointed back at the time just before it has that
    // time, whatever the other types around it lead into
    let points_back = |class: usize| {
        class.checked_sub(1).is_some_and(|p| {
            is_time(p)
                && joined(tokens, placed[p].end(), placed[class].position, 2)
                && tokens[placed[p].end()..placed[class].position].iter().any(|t| t.is_any(POINTS_BACK))
        })
    };
    for &class in &classes {
        if let (true, Piece::Class(name)) = (points_back(class), &placed[class].piece) {
            if let Some(time) = times.iter().position(|&t| t == class - 1) {
                class_of[time] = Some(name.clone());
            }
        }
    }
    for (order, &class) in classes.iter().enumerate() {
        if points_back(class) {
            continue;
        }
        // said right after a time ("six to seven thirty gi", "at six no gi") or leading into one
        // ("kids are at five", "open mat saturday at noon"); when both or neither, as the
        // callee did first
        let piece = &placed[class];
        let back =
            class.checked_sub(1).is_some_and(|p| is_time(p) && joined(tokens, placed[p].end(), piece.position, 2));
        let leads = |next: usize| is_time(next) && joined(tokens, placed[next - 1].end(), placed[next].position, 3);
        // (past its days, however many pieces they are: "Fundamentals class on saturday and
        // sunday from 9 AM", tuning seed 504, where a first class type not heard shifted every
        // type onto the times before it)
        let mut after_days = class + 1;
        while is_days(after_days) {
            after_days += 1;
        }
        let ahead = (leads(class + 1) && joined(tokens, piece.end(), placed[class + 1].position, 3))
            || (after_days > class + 1
                && joined(tokens, piece.end(), placed[class + 1].position, 2)
                && leads(after_days));
        let forward = if ahead != back { ahead } else { style_forward };
        let Piece::Class(name) = &placed[class].piece else { continue };
        let previous = order.checked_sub(1).map(|o| classes[o]);
        let next = classes.get(order + 1).copied().unwrap_or(placed.len());
        let mut before: Vec<usize> =
            (0..times.len()).filter(|t| times[*t] < class && previous.is_none_or(|p| times[*t] > p)).collect();
        if let Some(group) = before.last().map(|t| group_of_time[*t]) {
            before.retain(|t| group_of_time[*t] == group);
        }
        before.retain(|t| class_of[*t].is_none());
        // the times it leads into: up to the next class type, and not past other words ("kids
        // at five and adults at seven": the seven is not a kids class)
        let mut after: Vec<usize> = Vec::new();
        let mut from = piece.end();
        for t in (0..times.len()).filter(|t| times[*t] > class && times[*t] < next) {
            let between = (from..placed[times[t]].position).filter(|i| {
                !placed.iter().any(|p| matches!(p.piece, Piece::Days { .. }) && p.position <= *i && *i < p.end())
            });
            if !after.is_empty() && !between.into_iter().all(|i| tokens[i].is_any(LINKS)) {
                break;
            }
            // a time another type was pointed back at ends the run
            if class_of[t].is_some() {
                break;
            }
            after.push(t);
            from = placed[times[t]].end();
        }
        let chosen = match (forward, before.is_empty(), after.is_empty()) {
            (true, _, false) | (false, true, _) => after,
            _ => before,
        };
        for time in chosen {
            class_of[time] = Some(name.clone());
        }
    }
    class_of
}

/// Why a schedule with a time whose half of the day was guessed is read back.
const HALF_NOT_SAID: &str = "morning or evening not said";

/// One class before it is written as a slot.
#[derive(Clone, PartialEq)]
struct Class {
    day: usize,
    start: u32,
    end: Option<u32>,
    class_type: Option<String>,
}

/// A class schedule from a free answer: "monday and wednesday six to seven thirty gi, no gi
/// tuesdays at seven, open mat saturday at noon".
pub fn schedule(tokens: &[Token], class_types: &[ClassType]) -> Schedule {
    let (tokens, split) = split_odd_minutes(tokens);
    let (placed, corrected) = pieces(&tokens, class_types);
    let (groups, group_of_time) = groups(&tokens, &placed);
    let class_of = class_of_times(&tokens, &placed, &group_of_time);
    let time_index = |piece: usize| placed[..piece].iter().filter(|p| matches!(p.piece, Piece::Time(_))).count();
    let mut unsure: Vec<String> = Vec::new();
    if split {
        unsure.push("a number ran into a time's minutes".into());
    }
    if corrected {
        unsure.push("the callee corrected a day or time".into());
    }
    if time_lost_after_from(&tokens, &placed) {
        unsure.push("a time after \"from\" not understood".into());
    }
    let mut classes: Vec<Class> = Vec::new();
    // whether each class's half of the day was a guess
    let mut guessed: Vec<bool> = Vec::new();
    let mut previous_times: Vec<usize> = Vec::new();
    let mut previous_days: Vec<usize> = Vec::new();
    let mut previous_times_first = false;
    for group in &groups {
        // "So, there's gi on Sundays, from midday till one thirty. Also, there's advanced
        // <Saturdays misheard>, eleven to half past twelve": times of another class type in a
        // sentence of their own, with no day heard, take the days before only as a guess (tuning
        // seed 337: "sunday at 11 AM" noted in passing)
        if group.days.is_empty() && !previous_days.is_empty() {
            if let (Some(&first), Some(&last)) = (group.times.first(), previous_times.last()) {
                let class = |piece: usize| class_of.get(time_index(piece)).cloned().flatten();
                let new_sentence = crate::extract::text::sentence_ends_between(
                    &tokens,
                    placed[last].end().saturating_sub(1),
                    placed[first].position,
                );
                let another_class =
                    class(first).is_some() && !previous_times.iter().any(|&piece| class(piece) == class(first));
                if new_sentence && another_class {
                    unsure.push("times of another class said without a day in a sentence of their own".into());
                }
            }
        }
        let times =
            if group.times.is_empty() && group.same_as_before { previous_times.clone() } else { group.times.clone() };
        // "monday at six, and then also at seven thirty": times without days of their own are
        // on the days before
        let days = if group.days.is_empty() { previous_days.clone() } else { group.days.clone() };
        // ... but a callee who says the times first and then their days ("from ten in the
        // morning on sunday, ... friday, eleven to twelve") does so again: times left without
        // days after such a group lost their days to the recogniser (tuning seed 360: "From 10 in
        // the morning commune, Mat no gee, they're beyond Friday, 11 to 12 noon" gave both
        // classes to Friday)
        if group.days.is_empty() && !times.is_empty() && previous_times_first && !previous_days.is_empty() {
            unsure.push("times said without a day after times said before their days".into());
        }
        previous_times_first = group.times_first;
        match (days.is_empty(), times.is_empty()) {
            (true, true) => continue,
            (false, true) => {
                unsure.push("days said without a time".into());
                continue;
            }
            (true, false) => {
                unsure.push("times said without a day".into());
                continue;
            }
            (false, false) => {}
        }
        if days.len() > 1 && times.len() > 1 {
            unsure.push("a list of days with a list of times".into());
        }
        for &piece in &times {
            let Piece::Time(span) = &placed[piece].piece else { continue };
            if span.lost {
                unsure.push("a range whose start was not understood".into());
                continue;
            }
            if span.end_lost {
                // tuning seed 338: a whole correction was thrown away for one misheard end
                unsure.push("a class end not understood".into());
            }
            if span.half_guessed && !days.is_empty() {
                unsure.push(HALF_NOT_SAID.into());
            }
            for &day in &days {
                let class = Class {
                    day,
                    start: span.start,
                    end: span.end,
                    class_type: class_of.get(time_index(piece)).cloned().flatten(),
                };
                if !classes.contains(&class) {
                    classes.push(class);
                    guessed.push(span.half_guessed);
                }
            }
        }
        previous_times = times;
        previous_days = days;
    }
    // The same class said twice, once with its half of the day ("... fundamentals on friday from
    // seven a m to nine a m ... on Friday there's a fundamentals class from seven"): the guess
    // gives way to what was said
    let said_elsewhere = |index: usize| {
        let class = &classes[index];
        classes.iter().zip(&guessed).any(|(other, other_guessed)| {
            !*other_guessed
                && other.day == class.day
                && (other.class_type == class.class_type || other.class_type.is_none() || class.class_type.is_none())
                && (other.start + 12 * 60) % (24 * 60) == class.start
        })
    };
    let kept: Vec<(Class, bool)> = (0..classes.len())
        .filter(|&index| !(guessed[index] && said_elsewhere(index)))
        .map(|index| (classes[index].clone(), guessed[index]))
        .collect();
    let (classes, guessed): (Vec<Class>, Vec<bool>) = kept.into_iter().unzip();
    if !guessed.contains(&true) {
        unsure.retain(|reason| reason != HALF_NOT_SAID);
    }
    // Two classes of one type at once, the rest plausible: the one said later is left out and the
    // rest read back, not the whole answer refused and asked for again. Asked again, the callee
    // said the same words and the recogniser heard them the same way (tuning seed 501: "on
    // Saturday, on Sunday ... at 11 in the morning, due may [Tuesday] from 930 to 1130" twice);
    // read back, a wrong timetable gets a correction said as a list.
    let classes = match implausible(&classes, tokens.len()) {
        Some(_) => match without_clashes(&classes, tokens.len()) {
            Some(kept) => {
                unsure.insert(0, "two classes at once: the later one left out".into());
                kept
            }
            None => classes,
        },
        None => classes,
    };
    let doubt = implausible(&classes, tokens.len())
        .map(Doubt::Implausible)
        .or_else(|| unsure.into_iter().next().map(Doubt::Unsure))
        .or_else(|| overlapping_of_unheard_type(&classes).map(Doubt::Unsure));
    let slots = classes
        .into_iter()
        .map(|c| ClassSlot {
            day: DAYS[c.day].to_owned(),
            start: hh_mm(c.start),
            end: c.end.map(hh_mm),
            class_type: c.class_type,
        })
        .collect();
    Schedule { slots, doubt }
}

/// Words after "from" that start no time ("visitors from other gyms", "from the front desk").
const FROM_NO_TIME: &[&str] =
    &["other", "another", "a", "an", "the", "our", "your", "their", "us", "them", "you", "here", "there", "out"];

/// True when a "from" or "between" said after days in the same sentence is followed by neither a
/// time nor days within two words: a class's time was said and not understood. Tuning seed 631
/// (flite slt): "On Mondays and Fridays there's a fundamentals class from twelve till two. Open
/// mat is Tuesdays at seven ..." heard "... fundamental class from well due to open that is
/// Tuesday, that 7 in the evening until 9." gave Monday, Friday and Tuesday at 7 PM,
/// acknowledged in passing; such an answer is read back instead.
fn time_lost_after_from(tokens: &[Token], placed: &[Placed]) -> bool {
    tokens.iter().enumerate().any(|(index, token)| {
        if !token.is_any(&["from", "between"]) || token.ends_sentence {
            return false;
        }
        if tokens.get(index + 1).is_none_or(|next| next.is_any(FROM_NO_TIME)) {
            return false;
        }
        let days_before = placed.iter().any(|p| {
            matches!(p.piece, Piece::Days { .. })
                && p.position < index
                && !crate::extract::text::sentence_ends_between(tokens, p.position, index)
        });
        let said_after = placed
            .iter()
            .find(|p| p.position > index)
            .is_some_and(|p| !matches!(p.piece, Piece::Class(_)) && p.position <= index + 2);
        days_before && !said_after
    })
}

/// `classes` without each class that starts inside one said before it (same day), when that
/// leaves a plausible timetable of two classes or more; None otherwise (a short answer that
/// clashes, "monday ten thirty nine to eleven", is asked for again: which was meant the rules
/// cannot say, and asking costs little).
fn without_clashes(classes: &[Class], words: usize) -> Option<Vec<Class>> {
    let mut kept: Vec<Class> = Vec::with_capacity(classes.len());
    for class in classes {
        let clashes = kept
            .iter()
            .any(|a| a.day == class.day && a.end.is_some_and(|end| class.start >= a.start && class.start < end));
        let contains_earlier = class
            .end
            .is_some_and(|end| kept.iter().any(|b| b.day == class.day && b.start >= class.start && b.start < end));
        if !clashes && !contains_earlier {
            kept.push(class.clone());
        }
    }
    (kept.len() >= 2 && kept.len() < classes.len() && implausible(&kept, words).is_none()).then_some(kept)
}

/// Two classes at once on a day where the type of one of them was not heard ("men's class" for
/// "advanced class"): a gym may run two mats, or a time was misheard. Read back for a yes, not
/// thrown away (tuning seed 309: a well-heard timetable with an open mat at 6:30-7:30 and a class
/// at 7-8 on Friday was asked for three times and lost).
fn overlapping_of_unheard_type(classes: &[Class]) -> Option<String> {
    starting_inside(classes, |a, b| b.end.is_some() && (a.class_type.is_none() || b.class_type.is_none()))
}

/// "two classes at once on <day>" for the first class `b` that starts inside a class `a` with an
/// end on the same day, where `pair(a, b)` holds.
fn starting_inside(classes: &[Class], pair: impl Fn(&Class, &Class) -> bool) -> Option<String> {
    for (day, name) in DAYS.iter().enumerate() {
        let on_day: Vec<&Class> = classes.iter().filter(|c| c.day == day).collect();
        for a in &on_day {
            let Some(end) = a.end else { continue };
            if on_day.iter().any(|b| b != a && b.start >= a.start && b.start < end && pair(a, b)) {
                return Some(format!("two classes at once on {name}"));
            }
        }
    }
    None
}

/// Why `classes` are not a timetable a gym runs, if they are not: a class between 11 pm and
/// 5 am, one that ends before it starts or lasts over four hours, more than four classes on one
/// day from a few words, or a class inside another of the same type on the same day (two whole
/// ranges whose types were not heard may be on two mats: [`overlapping_of_unheard_type`]).
fn implausible(classes: &[Class], words: usize) -> Option<String> {
    for class in classes {
        if class.start < 5 * 60 || class.start >= 23 * 60 {
            return Some(format!("a class at {}", hh_mm(class.start)));
        }
        if let Some(end) = class.end {
            if end <= class.start || end - class.start > 4 * 60 {
                return Some(format!("a class from {} to {}", hh_mm(class.start), hh_mm(end)));
            }
        }
    }
    for (day, name) in DAYS.iter().enumerate() {
        let on_day: Vec<&Class> = classes.iter().filter(|c| c.day == day).collect();
        if on_day.len() > 4 && words < 4 * on_day.len() {
            return Some(format!("{} classes on {name} in {words} words", on_day.len()));
        }
    }
    // a time alone inside a range of a type not heard is a number misparsed ("ten thirty nine to
    // eleven"); two whole ranges of a type not heard are for overlapping_of_unheard_type
    starting_inside(classes, |a, b| b.class_type == a.class_type && (a.class_type.is_some() || b.end.is_none()))
}
