//! How a persona says its facts aloud (money, times, schedules, lists), and the numbers it
//! hears in what the agent says back.

use super::{parse_day, parse_minutes, ScheduleFact};
use playbook::{FieldSpec, FieldType};
use protocol::spoken;
use serde_norway::Value;

/// A fact's value in words, as this field type is said aloud.
pub(super) fn spoken_value(field: &FieldSpec, value: &Value, currency: &str) -> String {
    match field.kind {
        FieldType::Money => value.as_f64().map(|amount| money(amount, currency)).unwrap_or_default(),
        FieldType::Number | FieldType::Scale => value
            .as_f64()
            .map(|v| spoken::number_to_words(v.round().clamp(0.0, u32::MAX as f64) as u32))
            .unwrap_or_default(),
        FieldType::YesNo => if value.as_bool() == Some(true) { "yes" } else { "no" }.into(),
        FieldType::List => {
            let names: Vec<String> = value
                .as_sequence()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str())
                        .map(|name| {
                            let phrase = field
                                .options
                                .iter()
                                .find(|o| o.name() == name)
                                .and_then(|o| o.phrases().into_iter().next())
                                .unwrap_or_else(|| playbook::spoken(name));
                            phrase
                        })
                        .collect()
                })
                .unwrap_or_default();
            spoken::list(&names)
        }
        FieldType::Schedule => {
            let entries: Vec<ScheduleFact> = value
                .as_sequence()
                .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
                .unwrap_or_default();
            schedule_sentence(&entries)
        }
        _ => value.as_str().map(str::to_owned).unwrap_or_else(|| format!("{value:?}")),
    }
}

/// An amount in words in `currency` (USD, GBP, EUR): "twenty five dollars", "twelve pounds fifty".
pub fn money(amount: f64, currency: &str) -> String {
    let (unit, unit_one) = match currency {
        "GBP" => ("pounds", "pound"),
        "EUR" => ("euros", "euro"),
        _ => return spoken::money(amount),
    };
    let amount = if amount.is_finite() { amount.max(0.0) } else { 0.0 };
    let whole = amount.trunc().min(f64::from(u32::MAX)) as u32;
    let cents = ((amount - amount.trunc()) * 100.0).round() as u32;
    let unit = if whole == 1 { unit_one } else { unit };
    match (whole, cents) {
        (0, 0) => "free".to_owned(),
        (w, 0) => format!("{} {unit}", spoken::number_to_words(w)),
        (w, c) => format!("{} {unit} {}", spoken::number_to_words(w), spoken::number_to_words(c)),
    }
}

/// "gi class on monday and wednesday from six p m to seven thirty p m, and open mat on saturday ..."
pub(super) fn schedule_sentence(entries: &[ScheduleFact]) -> String {
    let mut groups: Vec<(String, String, Option<String>, Vec<usize>)> = Vec::new();
    for entry in entries {
        let Some(day) = parse_day(&entry.day) else { continue };
        match groups
            .iter_mut()
            .find(|(start, end, class, _)| *start == entry.start && *end == entry.end && *class == entry.class_type)
        {
            Some(group) => group.3.push(day),
            None => groups.push((entry.start.clone(), entry.end.clone(), entry.class_type.clone(), vec![day])),
        }
    }
    groups.sort_by_key(|g| (g.3.iter().min().copied(), parse_minutes(&g.0)));
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let parts: Vec<String> = groups
        .iter()
        .map(|(start, end, class, days)| {
            let mut days = days.clone();
            days.sort();
            days.dedup();
            let day_words: Vec<String> = days.iter().map(|d| DAYS[*d].to_owned()).collect();
            let class = class.as_deref().map(playbook::spoken).unwrap_or_else(|| "class".into());
            let class =
                if class.ends_with("mat") || class.ends_with("class") { class } else { format!("{class} class") };
            format!("{class} on {} from {} to {}", spoken::list(&day_words), spoken::time(start), spoken::time(end))
        })
        .collect();
    match parts.len() {
        0 => "no regular classes right now".into(),
        1 => parts[0].clone(),
        n => format!("{}, and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

const DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// One day's classes, as a person answers "what times are your classes on monday?": "on monday
/// there's gi class from six p m to seven thirty p m, and open mat from noon to one p m", or
/// "nothing on monday".
pub(super) fn day_sentence(entries: &[ScheduleFact], day: usize) -> String {
    let mut classes: Vec<&ScheduleFact> = entries.iter().filter(|e| parse_day(&e.day) == Some(day)).collect();
    classes.sort_by_key(|e| parse_minutes(&e.start));
    let Some(name) = DAY_NAMES.get(day) else { return String::new() };
    if classes.is_empty() {
        return format!("Nothing on {name}, sorry.");
    }
    let parts: Vec<String> = classes
        .iter()
        .map(|entry| {
            let class = entry.class_type.as_deref().map(playbook::spoken).unwrap_or_else(|| "class".into());
            let class =
                if class.ends_with("mat") || class.ends_with("class") { class } else { format!("{class} class") };
            format!("{class} from {} to {}", spoken::time(&entry.start), spoken::time(&entry.end))
        })
        .collect();
    let said = match parts.len() {
        1 => parts[0].clone(),
        n => format!("{}, and {}", parts[..n - 1].join(", "), parts[n - 1]),
    };
    format!("On {name} there's {said}.")
}

/// The days with classes, as a person answers "which days do you have classes?".
pub(super) fn days_sentence(entries: &[ScheduleFact]) -> String {
    let mut days: Vec<usize> = entries.iter().filter_map(|e| parse_day(&e.day)).collect();
    days.sort();
    days.dedup();
    if days.is_empty() {
        return "We don't have regular classes right now.".into();
    }
    let names: Vec<String> = days.iter().map(|d| DAY_NAMES[*d].to_owned()).collect();
    format!("We have classes on {}.", spoken::list(&names))
}

/// Numbers spoken in `text` ("twenty five dollars" -> 25, "$30" -> 30).
///
/// Kept apart from the brain's extraction on purpose: the simulated callee checks what the agent
/// understood with an ear of its own, so one parser's mistake is not graded by itself. Only the
/// number words come from `protocol::spoken`, like everywhere else.
pub(super) fn numbers_in(text: &str) -> Vec<f64> {
    let units = |word: &str| spoken::word_value(word).map(u64::from);
    let mut out = Vec::new();
    let mut current: Option<u64> = None;
    for word in text.split(' ') {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '.');
        if let Ok(n) = word.trim_start_matches('$').parse::<f64>() {
            out.push(n);
            continue;
        }
        match (units(word), word) {
            (Some(n), _) => {
                current = Some(match current {
                    Some(c) if c >= 100 && c % 100 == 0 && n < 100 => c + n,
                    Some(c) if c % 10 == 0 && c % 100 >= 20 && n < 10 => c + n,
                    Some(c) => {
                        out.push(c as f64);
                        n
                    }
                    None => n,
                })
            }
            (None, "hundred") => current = Some(current.unwrap_or(1) * 100),
            (None, "and") if current.is_some_and(|c| c >= 100) => {}
            _ => {
                if let Some(c) = current.take() {
                    out.push(c as f64);
                }
            }
        }
    }
    if let Some(c) = current {
        out.push(c as f64);
    }
    out
}
