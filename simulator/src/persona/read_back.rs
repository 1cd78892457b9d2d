//! How the simulated callee checks what the agent says back: a read-back it confirms or
//! corrects, a value acknowledged in passing that it corrects only when clearly wrong.

use super::super::said::{numbers_in, schedule_sentence};
use super::super::{parse_day, parse_minutes, ScheduleFact};
use super::{contains_phrase, find_last_phrase, normalize, spoken_name, Responder, NOTED_CUES};
use playbook::{FieldSpec, FieldType};
use protocol::spoken;
use serde_norway::Value;
use std::collections::BTreeSet;

impl Responder {
    /// Yes when what the agent read back agrees with the facts, else a correction. The persona's
    /// own ear is a recogniser that confuses "fifteen" and "fifty", so such a pair counts as a
    /// match (a person would not mishear it).
    /// The read-back's own opening ("so a drop in is ...") says which value it reads back: only
    /// that field is checked then, not every field a misheard word in it names (a day or "class"
    /// heard in "so a drop in is forty pounds" had a right price answered with the schedule).
    pub(super) fn confirm_read_back(&self, text: &str) -> String {
        let by_opening: Vec<&FieldSpec> =
            self.playbook.fields.iter().filter(|field| read_back_opening_said(field, text)).collect();
        for field in &self.playbook.fields {
            let checked = if by_opening.is_empty() {
                self.read_back_mentions(field, text)
            } else {
                by_opening.iter().any(|f| f.name == field.name)
            };
            if !checked {
                continue;
            }
            if let Some(right) = self.disagreement(field, text) {
                return match field.kind {
                    FieldType::Schedule => format!("No, not quite. We have {right}."),
                    _ => format!("No, it's {right}."),
                };
            }
        }
        "Yes, that's right.".into()
    }

    /// A correction when the agent acknowledged an answer in passing with a wrong value ("fifty
    /// dollars for a drop in, got it" when it is fifteen is fine to the ear; "twenty" is not): the
    /// last answer, or any field the acknowledgement names ("free for a drop in, got it" after a
    /// "no charge" meant for the mat fee: a person objects to a wrong price whatever they said).
    pub(super) fn correct_noted(&self, text: &str) -> Option<String> {
        let cue_at = NOTED_CUES.iter().filter_map(|cue| find_last_phrase(text, cue)).max()?;
        let noted = &text[..cue_at];
        let several = self.last_answered.len() > 1;
        let named = |field: &FieldSpec| field.keywords.iter().any(|k| contains_phrase(noted, k));
        let mut checked = self.playbook.fields.iter().filter(|field| {
            // of two answers noted together, each is checked where it is named
            (self.last_answered.contains(&field.name) && !several) || named(field)
        });
        checked.find_map(|field| {
            let topic = field.keywords.first().map(|k| normalize(k)).unwrap_or_else(|| spoken_name(&field.name));
            if self.persona.behaviour.refuse.contains(&field.name) {
                // a value it never gave: only a number said back is worth objecting to
                return (!numbers_in(noted).is_empty())
                    .then(|| format!("No, sorry, I can't give out the {topic} over the phone."));
            }
            let right = match field.kind {
                // only what it clearly heard wrong: its own ear drops words a person would not
                FieldType::Schedule => self.schedule_clearly_wrong(noted)?,
                _ => self.disagreement(field, noted)?,
            };
            Some(match field.kind {
                FieldType::Schedule => format!("No, not quite, our classes are {right}."),
                _ => format!("No, sorry, the {topic} is {right}."),
            })
        })
    }

    /// The schedule, spoken, when `text` names a day without classes or misses most class days.
    fn schedule_clearly_wrong(&self, text: &str) -> Option<String> {
        let value = self.fact("class_schedule").or_else(|| {
            self.playbook.fields.iter().find(|f| f.kind == FieldType::Schedule).and_then(|f| self.fact(&f.name))
        })?;
        let entries: Vec<ScheduleFact> = value
            .as_sequence()
            .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
            .unwrap_or_default();
        let class_days: BTreeSet<usize> = entries.iter().filter_map(|e| parse_day(&e.day)).collect();
        let heard_days: BTreeSet<usize> = text.split(' ').filter_map(|w| parse_day(w.trim_end_matches('s'))).collect();
        // no day and no number: no schedule said back ("nothing special, noted" heard "nothing
        // schedule noted" named the schedule by a word; tuning seeds 545, 553 in ev540c: the
        // callee "corrected" its timetable and the agent noted the correction misheard)
        if heard_days.is_empty() && numbers_in(text).is_empty() {
            return None;
        }
        let wrong_day = heard_days.iter().any(|d| !class_days.contains(d));
        let missing = class_days.difference(&heard_days).count();
        // start hours: most of them must be there ("at one" for a class at noon is wrong)
        let heard_numbers = numbers_in(text);
        let hours: BTreeSet<u32> = entries.iter().filter_map(|e| parse_minutes(&e.start)).map(|m| m / 60).collect();
        let hours_heard = hours
            .iter()
            .filter(|&&hour| {
                let hour12 = match hour % 12 {
                    0 => 12,
                    h => h,
                } as f64;
                heard_numbers.iter().any(|n| same_number_to_the_ear(*n, hour12))
                    || (hour == 12 && text.contains("noon"))
                    || (hour == 0 && text.contains("midnight"))
            })
            .count();
        let wrong_hours = hours_heard * 2 < hours.len();
        let wrong_half = half_of_day_contradicted(text, &entries);
        (wrong_day || missing * 2 > class_days.len() || wrong_hours || wrong_half).then(|| schedule_sentence(&entries))
    }

    /// The right value, spoken, when `text` says something about `field` that disagrees with the
    /// facts; `None` when it agrees (or says nothing checkable).
    fn disagreement(&self, field: &FieldSpec, text: &str) -> Option<String> {
        let heard_numbers = numbers_in(text);
        match field.kind {
            FieldType::Money | FieldType::Scale if !heard_numbers.is_empty() => {
                let amount = self.fact(&field.name).and_then(|v| v.as_f64())?;
                if field.kind == FieldType::Money && amount == 0.0 {
                    // a price said back for what costs nothing: "and the mat fee is twelve
                    // dollars, is that right?" was agreed to by a gym with no mat fee (tuning
                    // seeds 594, 610), when the words name the fee (a number said back for
                    // another field is that field's). "three" is what this ear makes of "free"
                    let priced = heard_numbers.iter().any(|n| *n >= 1.0 && (*n - 3.0).abs() > 0.01);
                    let named = self.read_back_mentions(field, text);
                    return (priced && named && !contains_phrase(text, "free")).then(|| "free".to_owned());
                }
                let wrong_amount = !amount_said(&heard_numbers, amount);
                // "twenty dollars" said back for twenty euros: a person hears the wrong currency
                // (only one clearly named; the ear may drop a currency word, never add one)
                let wrong_currency =
                    field.kind == FieldType::Money && other_currency_named(text, self.persona.terms.currency());
                (amount > 0.0 && (wrong_amount || wrong_currency)).then(|| self.spoken(field, &Value::from(amount)))
            }
            FieldType::Money => {
                // "free" said back for a price that is not
                let amount = self.fact(&field.name).and_then(|v| v.as_f64())?;
                (amount > 0.0 && contains_phrase(text, "free")).then(|| self.spoken(field, &Value::from(amount)))
            }
            FieldType::Schedule => {
                let value = self.fact(&field.name)?;
                let entries: Vec<ScheduleFact> = value
                    .as_sequence()
                    .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
                    .unwrap_or_default();
                (!schedule_read_back_agrees(text, &heard_numbers, &entries)).then(|| schedule_sentence(&entries))
            }
            FieldType::List => self.list_clearly_wrong(field, text),
            _ => None,
        }
    }

    /// The right list, spoken, when `text` says a list back that a person would object to even
    /// with this ear: "nothing special" when something is needed, an item in place of one that
    /// is needed, or an item when nothing is. Items left out are not objected to (the ear drops
    /// words a person would hear).
    fn list_clearly_wrong(&self, field: &FieldSpec, text: &str) -> Option<String> {
        let facts: BTreeSet<String> = self
            .fact(&field.name)
            .and_then(|v| v.as_sequence())
            .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let named: BTreeSet<String> = field
            .options
            .iter()
            .filter(|option| option.phrases().iter().any(|phrase| contains_phrase(text, &normalize(phrase))))
            .map(|option| option.name().to_owned())
            .collect();
        let says_nothing =
            ["nothing", "none", "no requirements", "not anything"].iter().any(|w| contains_phrase(text, w));
        let wrong = if facts.is_empty() {
            !named.is_empty() && !says_nothing
        } else {
            let none_right = facts.iter().all(|fact| !named.contains(fact));
            let other_named = named.iter().any(|item| !facts.contains(item));
            none_right && (says_nothing || other_named)
        };
        if !wrong {
            return None;
        }
        Some(if facts.is_empty() {
            "nothing, you can just show up".to_owned()
        } else {
            self.spoken(field, self.fact(&field.name)?)
        })
    }

    /// True when a read-back is about `field` (its keywords, or its read-back wording).
    fn read_back_mentions(&self, field: &FieldSpec, text: &str) -> bool {
        field.keywords.iter().any(|k| contains_phrase(text, k)) || read_back_opening_said(field, text)
    }
}

/// True when `text` has the words `field`'s read-back opens with (before its value).
fn read_back_opening_said(field: &FieldSpec, text: &str) -> bool {
    field.read_back.as_ref().is_some_and(|r| {
        let stem = normalize(r.split('{').next().unwrap_or(""));
        !stem.is_empty() && text.contains(&stem)
    })
}

/// True when `text` names a currency other than `own` (ISO code) and not `own` itself.
fn other_currency_named(text: &str, own: &str) -> bool {
    let named: BTreeSet<&str> = text
        .split(' ')
        .filter_map(|word| match word {
            "dollar" | "dollars" | "bucks" | "buck" => Some("USD"),
            "euro" | "euros" => Some("EUR"),
            "pound" | "pounds" | "quid" => Some("GBP"),
            _ => None,
        })
        .collect();
    !named.is_empty() && !named.contains(own)
}

/// True when the numbers heard say `amount`: as one number, or with its cents as the number after
/// it ("thirty seven dollars fifty", "twenty two fifty" for 37.50 and 22.50; a read-back of a
/// price with cents was answered "No, it's thirty seven fifty.").
fn amount_said(heard: &[f64], amount: f64) -> bool {
    heard.iter().any(|n| same_number_to_the_ear(*n, amount))
        || heard.windows(2).any(|pair| {
            let cents = pair[1];
            (10.0..100.0).contains(&cents) && cents.fract() == 0.0 && (pair[0] + cents / 100.0 - amount).abs() < 0.001
        })
}

/// Numbers a recogniser confuses: 13-19 with 30-90.
fn same_number_to_the_ear(heard: f64, fact: f64) -> bool {
    if (heard - fact).abs() < 0.01 {
        return true;
    }
    let teen_pair = |a: f64, b: f64| (13.0..=19.0).contains(&a) && ((a - 10.0) * 10.0 - b).abs() < 0.01;
    teen_pair(heard, fact) || teen_pair(fact, heard)
}

/// True when the agent put a class in the wrong half of the day: every mention of its start hour
/// that says am/pm (or morning/evening) says the other half. Mentions without one say nothing
/// (the persona's ear may drop the "p m"), so only a clear "6:30 PM" for a 6:30 am class counts.
fn half_of_day_contradicted(text: &str, entries: &[ScheduleFact]) -> bool {
    let words: Vec<&str> = text.split(' ').collect();
    let number = |word: &str| word.parse::<u32>().ok().or_else(|| spoken::word_value(word));
    // the half of the day said within three words after each number: (number, pm?, the days
    // named last before it)
    let mut said: Vec<(u32, bool, Vec<usize>)> = Vec::new();
    let mut days: Vec<usize> = Vec::new();
    let mut number_since_days = false;
    for (index, word) in words.iter().enumerate() {
        if let Some(day) = parse_day(word.trim_end_matches('s')) {
            if number_since_days {
                days.clear();
                number_since_days = false;
            }
            days.push(day);
            continue;
        }
        let Some(value) = number(word) else { continue };
        number_since_days = true;
        for (offset, next) in words.iter().enumerate().skip(index + 1).take(3) {
            let pm = match *next {
                "am" | "morning" => Some(false),
                "a" if words.get(offset + 1) == Some(&"m") => Some(false),
                "pm" | "evening" | "afternoon" | "night" => Some(true),
                "p" if words.get(offset + 1) == Some(&"m") => Some(true),
                _ => None,
            };
            if let Some(pm) = pm {
                said.push((value, pm, days.clone()));
                break;
            }
            if parse_day(next.trim_end_matches('s')).is_some() {
                break;
            }
        }
    }
    entries.iter().any(|entry| {
        let Some(start) = parse_minutes(&entry.start) else { return false };
        let hour12 = match (start / 60) % 12 {
            0 => 12,
            h => h,
        };
        let pm = start >= 12 * 60;
        // its hour said after its own day, else anywhere
        let day = parse_day(&entry.day.to_lowercase());
        let of_hour: Vec<&(u32, bool, Vec<usize>)> = said.iter().filter(|(value, _, _)| *value == hour12).collect();
        let on_day: Vec<&&(u32, bool, Vec<usize>)> =
            of_hour.iter().filter(|(_, _, days)| day.is_some_and(|d| days.contains(&d))).collect();
        let halves: Vec<bool> = if on_day.is_empty() {
            of_hour.iter().map(|(_, pm, _)| *pm).collect()
        } else {
            on_day.iter().map(|(_, pm, _)| *pm).collect()
        };
        !halves.is_empty() && halves.iter().all(|said_pm| *said_pm != pm)
    })
}

/// Every class day and start hour of the facts is mentioned in the read-back, none in the wrong
/// half of the day.
fn schedule_read_back_agrees(text: &str, heard_numbers: &[f64], entries: &[ScheduleFact]) -> bool {
    !half_of_day_contradicted(text, entries)
        && !class_start_unknown(text, entries)
        && entries.iter().all(|entry| {
            let day = entry.day.to_lowercase();
            let day_said = text.split(' ').any(|w| w.trim_end_matches('s') == day.trim_end_matches('s'));
            let start = parse_minutes(&entry.start).unwrap_or(0);
            let hour12 = match (start / 60) % 12 {
                0 => 12,
                h => h,
            } as f64;
            let start_said = heard_numbers.iter().any(|n| same_number_to_the_ear(*n, hour12))
                || (start == 12 * 60 && text.contains("noon"))
                || (start == 0 && text.contains("midnight"));
            day_said && start_said
        })
}

/// True when the read-back starts a class ("at seven", "from seven") at an hour no class starts
/// at: an end time read as a class of its own ("wednesday at 5:30 PM; wednesday at 7 PM" for one
/// class from 5:30 to 7, tuning seed 566) is a class a person would say they do not have.
fn class_start_unknown(text: &str, entries: &[ScheduleFact]) -> bool {
    let words: Vec<&str> = text.split(' ').collect();
    let starts: Vec<f64> = entries
        .iter()
        .filter_map(|e| parse_minutes(&e.start))
        .map(|start| match (start / 60) % 12 {
            0 => 12.0,
            h => h as f64,
        })
        .collect();
    words.windows(2).any(|pair| {
        let ["at" | "from", next] = pair else { return false };
        let hour = next.parse::<f64>().ok().or_else(|| spoken::word_value(next).map(f64::from)).or_else(|| {
            // "7:30" / "730" as the ear may write it
            let digits: String = next.chars().filter(|c| c.is_ascii_digit()).collect();
            (digits.len() >= 3).then(|| digits[..digits.len() - 2].parse::<f64>().ok()).flatten()
        });
        hour.is_some_and(|hour| {
            (1.0..=12.0).contains(&hour) && !starts.iter().any(|s| same_number_to_the_ear(hour, *s))
        })
    })
}
