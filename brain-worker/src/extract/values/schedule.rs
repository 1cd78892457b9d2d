//! Days of the week and class schedules: "monday through friday", "weekends", and
//! "monday and wednesday six to seven thirty gi, open mat saturday at noon" as class slots.

use super::time::{hh_mm, time_spans, TimeSpan};
use crate::extract::text::{find_phrase, Token};
use serde::{Deserialize, Serialize};

/// The days of the week, lowercase full names, Monday first (day indexes below point into it).
pub use protocol::spoken::DAYS;

fn day_index(word: &str) -> Option<usize> {
    let word = word.trim_end_matches('s');
    let index = match word {
        "monday" | "mon" => 0,
        "tuesday" | "tue" | "tues" => 1,
        "wednesday" | "wed" | "weds" | "wednes" => 2,
        "thursday" | "thu" | "thur" | "thurs" => 3,
        "friday" | "fri" => 4,
        "saturday" | "sat" => 5,
        "sunday" | "sun" => 6,
        _ => return None,
    };
    Some(index)
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
    match (word, next) {
        ("weekday" | "weekdays", _) => Some(((0..5).collect(), 1)),
        ("weekend" | "weekends", _) => Some((vec![5, 6], 1)),
        ("every", Some("day")) | ("each", Some("day")) => Some(((0..7).collect(), 2)),
        ("daily", _) => Some(((0..7).collect(), 1)),
        ("seven", Some("days")) | ("7", Some("days")) => Some(((0..7).collect(), 2)),
        _ => None,
    }
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

#[derive(Default, Debug)]
struct Segment {
    days: Vec<usize>,
    spans: Vec<(u32, Option<u32>)>,
    class_type: Option<String>,
}

/// A class schedule from a free answer: "monday and wednesday six to seven thirty gi, no gi
/// tuesdays at seven, open mat saturday at noon". Days carry over to the next times until new
/// days are named; a class type attaches to the times near it.
pub fn schedule(tokens: &[Token], class_types: &[ClassType]) -> Vec<ClassSlot> {
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
    let mut segments: Vec<Segment> = vec![Segment::default()];
    let mut index = 0;
    while index < tokens.len() {
        if let Some(span) = spans.iter().find(|s| s.position == index) {
            if let Some(segment) = segments.last_mut() {
                segment.spans.push((span.start, span.end));
            }
            index += span.used;
            continue;
        }
        if let Some((days, used)) = days_at(tokens, index) {
            let current = segments.last().map(|s| !s.spans.is_empty()).unwrap_or(false);
            if current {
                segments.push(Segment::default());
            }
            if let Some(segment) = segments.last_mut() {
                for day in days {
                    if !segment.days.contains(&day) {
                        segment.days.push(day);
                    }
                }
            }
            index += used;
            continue;
        }
        if let Some((name, length)) = class_at[index].filter(|(name, _)| !name.is_empty()) {
            let needs_new = segments
                .last()
                .map(|s| !s.spans.is_empty() && (s.class_type.is_some() || follows_time(tokens, &spans, index)))
                .unwrap_or(false);
            if needs_new {
                segments.push(Segment::default());
            }
            if let Some(segment) = segments.last_mut() {
                if segment.class_type.is_none() {
                    segment.class_type = Some(name.to_owned());
                }
            }
            index += length.max(1);
            continue;
        }
        index += 1;
    }
    // A class type alone after a time belongs to that time ("monday at six gi").
    let mut merged: Vec<Segment> = Vec::new();
    for segment in segments {
        match merged.last_mut() {
            Some(previous) if segment.spans.is_empty() && segment.days.is_empty() && previous.class_type.is_none() => {
                previous.class_type = segment.class_type;
            }
            _ => merged.push(segment),
        }
    }
    let mut slots = Vec::new();
    let mut carried_days: Vec<usize> = Vec::new();
    for segment in merged {
        let days = if segment.days.is_empty() { carried_days.clone() } else { segment.days.clone() };
        carried_days = days.clone();
        for (start, end) in &segment.spans {
            for day in &days {
                let slot = ClassSlot {
                    day: DAYS[*day].to_owned(),
                    start: hh_mm(*start),
                    end: end.map(hh_mm),
                    class_type: segment.class_type.clone(),
                };
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
    }
    slots
}

/// True when a class phrase at `index` comes right after a time ("six to seven gi" keeps the
/// class with that time; "at seven no gi" likewise) rather than opening a new group.
fn follows_time(tokens: &[Token], spans: &[TimeSpan], index: usize) -> bool {
    let _ = tokens;
    !spans.iter().any(|s| s.position + s.used == index)
}
