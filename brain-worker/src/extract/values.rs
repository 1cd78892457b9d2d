//! Typed values found in an utterance: money, yes/no, days, times and time ranges, class
//! schedules, scale ratings, list items, with negations taken into account.

use super::text::{find_phrase, Token};
use serde::{Deserialize, Serialize};

/// Words that negate what follows them within a clause.
const NEGATIONS: &[&str] = &[
    "no",
    "not",
    "don't",
    "doesn't",
    "didn't",
    "never",
    "isn't",
    "aren't",
    "can't",
    "cannot",
    "won't",
    "nope",
    "nah",
    "without",
    "neither",
    "nor",
    "shouldn't",
    "wouldn't",
];

/// Words that split an utterance into clauses for negation scope.
const CLAUSE_BREAKS: &[&str] =
    &["but", "and", "just", "so", "also", "plus", "then", "although", "though", "however", "or", "except"];

/// An amount of money.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
}

/// One money mention in an utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct MoneyMention {
    pub money: Money,
    /// Token range of the mention.
    pub start: usize,
    pub end: usize,
    /// Said with a currency word or sign, or as "free" (not a bare number).
    pub explicit: bool,
    /// "a month", "per month", "monthly": a membership price, not a per-visit one.
    pub recurring: bool,
}

fn currency_of(word: &str) -> Option<&'static str> {
    Some(match word {
        "$" | "dollar" | "dollars" | "buck" | "bucks" | "usd" => "USD",
        "€" | "euro" | "euros" => "EUR",
        "£" | "pound" | "pounds" | "quid" => "GBP",
        _ => return None,
    })
}

/// Phrases meaning "costs nothing".
const FREE_PHRASES: &[&str] = &[
    "free",
    "no charge",
    "no cost",
    "doesn't cost anything",
    "don't charge",
    "doesn't cost",
    "complimentary",
    "on the house",
    "nothing",
    "no fee",
    "included",
    "don't have a",
    "there's no",
    "we don't have",
    "there isn't",
    "there is no",
    "zero",
];

/// Every money amount in the tokens, in order.
pub fn money_mentions(tokens: &[Token]) -> Vec<MoneyMention> {
    let mut mentions = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        // "$25", "€ 10"
        if let Some(currency) = currency_of(&token.word).filter(|_| token.word.len() == 1 || token.word == "usd") {
            if let Some(amount) = tokens.get(index + 1).and_then(|t| t.number) {
                let (amount, end) = with_cents(tokens, index + 1, amount);
                mentions.push(mention(tokens, amount, currency, index, end, true));
                index = end + 1;
                continue;
            }
        }
        if let Some(amount) = token.number {
            // "25 dollars", "twenty bucks", "twenty five dollars and fifty cents"
            if let Some(currency) = tokens.get(index + 1).and_then(|t| currency_of(&t.word)) {
                let (amount, end) = with_cents(tokens, index + 1, amount);
                mentions.push(mention(tokens, amount, currency, index, end.max(index + 1), true));
                index = end.max(index + 1) + 1;
                continue;
            }
            // "twenty to twenty five dollars": the first end of a range takes the second's currency
            if tokens.get(index + 1).is_some_and(|t| t.is_any(&["to", "or"])) {
                if let (Some(_), Some(currency)) = (
                    tokens.get(index + 2).and_then(|t| t.number),
                    tokens.get(index + 3).and_then(|t| currency_of(&t.word)),
                ) {
                    mentions.push(mention(tokens, amount, currency, index, index + 3, true));
                    index += 4;
                    continue;
                }
            }
            // "twelve fifty" in a price answer: dollars and cents (not at a time word)
            let cents =
                tokens.get(index + 1).and_then(|t| t.number).filter(|c| c.fract() == 0.0 && (10.0..100.0).contains(c));
            let time_context = index
                .checked_sub(1)
                .is_some_and(|i| tokens[i].is_any(&["at", "from", "until", "till", "by", "around", "to"]))
                || tokens
                    .get(index + 2)
                    .is_some_and(|t| t.is_any(&["am", "pm", "a", "p", "in", "o'clock", "to", "until", "till"]));
            if let (Some(cents), false, true) = (cents, time_context, amount.fract() == 0.0 && amount < 1000.0) {
                mentions.push(mention(tokens, amount + cents / 100.0, "USD", index, index + 1, false));
                index += 2;
                continue;
            }
            if looks_like_time(tokens, index) {
                // "six thirty": the minutes are part of the time too
                if tokens.get(index + 1).is_some_and(|t| t.number.is_some_and(|m| (10.0..60.0).contains(&m))) {
                    index += 1;
                }
            } else if !is_count(tokens, index) {
                mentions.push(mention(tokens, amount, "USD", index, index, false));
            }
        }
        index += 1;
    }
    // "it's free", "no charge", "the mat fee is included"
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    for phrase in FREE_PHRASES {
        for start in find_phrase(tokens, phrase) {
            // "nothing" only as a whole answer ("nothing", "it's nothing"), not "nothing else".
            if *phrase == "nothing" && words.get(start + 1).is_some_and(|w| *w == "else" || *w == "special") {
                continue;
            }
            // "there's no mat fee", "we don't have a mat fee": only with a fee word right after
            let needs_fee_word =
                ["don't have a", "there's no", "we don't have", "there isn't", "there is no"].contains(phrase);
            let fee_follows =
                words[start..].iter().take(6).any(|w| ["fee", "fees", "charge", "cost", "price"].contains(w));
            if needs_fee_word && !fee_follows {
                continue;
            }
            if *phrase == "zero" && !fee_follows && words.len() > 3 {
                continue;
            }
            if mentions.iter().any(|m| m.start <= start && start <= m.end) {
                continue;
            }
            let end = start + phrase.split_whitespace().count() - 1;
            mentions.push(MoneyMention {
                money: Money { amount: 0.0, currency: "USD".into() },
                start,
                end,
                explicit: true,
                recurring: false,
            });
        }
    }
    mentions.sort_by_key(|m| m.start);
    mentions
}

fn with_cents(tokens: &[Token], currency_index: usize, amount: f64) -> (f64, usize) {
    // "... dollars and fifty cents" / "... dollars fifty"
    let mut next = currency_index + 1;
    if tokens.get(next).is_some_and(|t| t.is("and")) {
        next += 1;
    }
    if let Some(cents) = tokens.get(next).and_then(|t| t.number).filter(|c| *c < 100.0 && c.fract() == 0.0) {
        if tokens.get(next + 1).is_some_and(|t| t.is_any(&["cents", "cent"])) {
            return (amount + cents / 100.0, next + 1);
        }
    }
    (amount, currency_index)
}

fn mention(tokens: &[Token], amount: f64, currency: &str, start: usize, end: usize, explicit: bool) -> MoneyMention {
    let after: Vec<&str> = tokens.iter().skip(end + 1).take(3).map(|t| t.word.as_str()).collect();
    let recurring = matches!(
        after.as_slice(),
        ["a" | "per" | "each" | "every", "month" | "year" | "week", ..]
            | ["monthly" | "yearly" | "annually", ..]
            | ["for", "the", "month" | "year", ..]
    );
    MoneyMention { money: Money { amount, currency: currency.into() }, start, end, explicit, recurring }
}

/// True when the number at `index` reads as a time of day ("at six", "six thirty", "6 pm").
fn looks_like_time(tokens: &[Token], index: usize) -> bool {
    let before = index.checked_sub(1).map(|i| tokens[i].word.as_str());
    let after = tokens.get(index + 1).map(|t| t.word.as_str());
    matches!(before, Some("at" | "from" | "until" | "till" | "til" | "by" | "around"))
        || matches!(after, Some("am" | "pm" | "o'clock" | "oclock" | "in" | "thirty" | "fifteen"))
        || tokens.get(index + 1).is_some_and(|t| t.number.is_some_and(|m| (10.0..60.0).contains(&m)))
}

/// True when the number counts things ("two classes", "three times", "one of").
fn is_count(tokens: &[Token], index: usize) -> bool {
    tokens.get(index + 1).is_some_and(|t| {
        t.is_any(&[
            "classes", "class", "times", "time", "days", "day", "weeks", "week", "months", "month", "people", "of",
            "more", "minutes", "hours", "hour", "year", "years", "kids", "belts", "stripes", "out", "sec", "second",
            "seconds", "moment", "minute", "percent", "thing", "more",
        ])
    })
}

/// A clause is the run of tokens between clause breaks around `position`.
fn clause_bounds(tokens: &[Token], position: usize) -> (usize, usize) {
    let start = tokens[..position].iter().rposition(|t| t.is_any(CLAUSE_BREAKS)).map(|i| i + 1).unwrap_or(0);
    let end =
        tokens[position..].iter().position(|t| t.is_any(CLAUSE_BREAKS)).map(|i| position + i).unwrap_or(tokens.len());
    (start, end)
}

/// Phrases after a thing that say it is not the case ("drop ins aren't allowed").
const NEGATIVE_AFTER: &[&str] = &[
    "not allowed",
    "aren't allowed",
    "isn't allowed",
    "not offered",
    "isn't offered",
    "aren't offered",
    "not available",
    "isn't available",
    "aren't available",
];

/// Phrases after a requirement that say it is not needed ("a gi is optional").
const NOT_NEEDED_AFTER: &[&str] = &[
    "not required",
    "isn't required",
    "aren't required",
    "not needed",
    "isn't needed",
    "aren't needed",
    "not necessary",
    "isn't necessary",
    "optional",
    "doesn't matter",
    "don't matter",
    "is fine",
    "are fine",
    "is okay",
    "are okay",
    "welcome",
    "not a problem",
    "isn't a problem",
    "no problem",
];

/// Whether the mention at `start..=end` is negated in its clause: a negation before it
/// ("we don't do drop ins") or a negative phrase after it ("drop ins aren't allowed").
pub fn is_negated(tokens: &[Token], start: usize, end: usize) -> bool {
    negated_with(tokens, start, end, NEGATIVE_AFTER, &[])
}

/// Like [`is_negated`] for a requirement: also "a gi is optional", "any rank is welcome".
pub fn is_not_needed(tokens: &[Token], start: usize, end: usize) -> bool {
    let all: Vec<&str> = NEGATIVE_AFTER.iter().chain(NOT_NEEDED_AFTER).copied().collect();
    negated_with(tokens, start, end, &all, &["any", "all"])
}

fn negated_with(tokens: &[Token], start: usize, end: usize, after_phrases: &[&str], before_words: &[&str]) -> bool {
    let (clause_start, clause_end) = clause_bounds(tokens, start);
    let before = &tokens[clause_start..start];
    let negated_before = (clause_start..start).any(|i| is_negation_at(tokens, i))
        || start.checked_sub(1).is_some_and(|i| i >= clause_start && tokens[i].is_any(before_words));
    let after: Vec<&str> = tokens[(end + 1).min(clause_end)..clause_end].iter().map(|t| t.word.as_str()).collect();
    let after_text = format!(" {} ", after.join(" "));
    let negated_after = after_phrases.iter().any(|p| after_text.contains(&format!(" {p} ")))
        || after.first().is_some_and(|w| ["isn't", "aren't", "not"].contains(w));
    let _ = before;
    negated_before || negated_after
}

/// A negation word that really negates: not the "no" of "no problem" / "no worries".
fn is_negation_at(tokens: &[Token], index: usize) -> bool {
    let word = |offset: usize| tokens.get(index + offset).map(|t| t.word.as_str());
    if !tokens[index].is_any(NEGATIONS) {
        return false;
    }
    !matches!(
        (word(0), word(1), word(2)),
        (Some("no"), Some("problem" | "worries" | "doubt"), _) | (Some("not"), Some("a"), Some("problem"))
    )
}

const YES_STARTS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "yea",
    "ya",
    "sure",
    "absolutely",
    "definitely",
    "certainly",
    "correct",
    "right",
    "exactly",
    "uh huh",
    "mhm",
    "mm hmm",
    "of course",
    "you bet",
    "totally",
    "indeed",
    "affirmative",
    "we do",
    "we sure do",
    "that's right",
    "that's correct",
    "ok",
    "okay",
];
const NO_STARTS: &[&str] = &[
    "no",
    "nope",
    "nah",
    "not really",
    "unfortunately not",
    "negative",
    "not at all",
    "we don't",
    "we do not",
    "not anymore",
    "never",
];
const SOFTENERS: &[&str] = &["no problem", "no worries", "not a problem", "no no problem"];

/// A yes or no in the answer, with a confidence. A leading "yes"/"no" decides; otherwise a
/// negation ("we don't do drop-ins", "you don't need one") means no and an affirmation
/// ("we do", "they're welcome") means yes.
pub fn yes_no(tokens: &[Token]) -> Option<(bool, f32)> {
    let text = tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
    let mut text = format!(" {text} ");
    for softener in SOFTENERS {
        text = text.replace(&format!(" {softener} "), " ");
    }
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let starts = |phrase: &str| text == phrase || text.starts_with(&format!("{phrase} "));
    if NO_STARTS.iter().any(|p| starts(p)) {
        return Some((false, 0.9));
    }
    if YES_STARTS.iter().any(|p| starts(p)) {
        // "yeah we don't do that" -> no
        let rest: Vec<Token> = super::text::tokenize(text).into_iter().skip(1).collect();
        if rest.iter().take(4).any(|t| t.is_any(&["don't", "doesn't", "can't", "not", "never"])) && !starts("of course")
        {
            return Some((false, 0.7));
        }
        return Some((true, 0.9));
    }
    let padded = format!(" {text} ");
    if [" only members ", " members only ", " only for members ", " just for members ", " only open to members "]
        .iter()
        .any(|p| padded.contains(p))
    {
        return Some((false, 0.8));
    }
    let words: Vec<&str> = text.split(' ').collect();
    if words.iter().any(|w| NEGATIONS.contains(w)) {
        return Some((false, 0.75));
    }
    let affirmations = [
        " we do ",
        " we have ",
        " welcome ",
        " you can ",
        " they can ",
        " allowed ",
        " of course ",
        " you need ",
        " you'll need ",
        " you will need ",
        " you have to ",
        " you must ",
        " required ",
        " we take ",
        " we offer ",
        " we allow ",
        " it is ",
        " it's fine ",
        " they are ",
        " there is ",
        " there's ",
        " do ",
        " definitely ",
        " for sure ",
    ];
    if affirmations.iter().any(|p| padded.contains(p)) {
        return Some((true, 0.7));
    }
    None
}

/// A day of the week, lowercase full name.
pub const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

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

/// A rating on `min..=max`: "seven out of ten", "about a six", "pretty good", "not great".
pub fn scale(tokens: &[Token], min: i64, max: i64) -> Option<(f64, f32)> {
    let in_range = |n: f64| n >= min as f64 && n <= max as f64;
    let numbers: Vec<(usize, f64)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.number.map(|n| (i, n)))
        .filter(|(i, _)| {
            !tokens.get(i + 1).is_some_and(|t| t.is_any(&["days", "weeks", "years", "times", "hours", "am", "pm"]))
        })
        .collect();
    // "seven out of ten": the first number of an "out of" pair
    for window in numbers.windows(2) {
        let (first, second) = (window[0], window[1]);
        if tokens.get(first.0 + 1).is_some_and(|t| t.is("out"))
            && (second.1 - max as f64).abs() < f64::EPSILON
            && in_range(first.1)
        {
            return Some((first.1, 0.95));
        }
    }
    // "six or seven", "six to seven": the middle
    for window in numbers.windows(2) {
        let (first, second) = (window[0], window[1]);
        if second.0 == first.0 + 2
            && tokens[first.0 + 1].is_any(&["or", "to"])
            && in_range(first.1)
            && in_range(second.1)
        {
            return Some(((first.1 + second.1) / 2.0, 0.85));
        }
    }
    if let Some((_, number)) = numbers.iter().find(|(_, n)| in_range(*n)) {
        return Some((*number, 0.9));
    }
    mood_word(tokens, min, max)
}

/// Words of mood, as a fraction of the scale.
fn mood_word(tokens: &[Token], min: i64, max: i64) -> Option<(f64, f32)> {
    const WORDS: &[(&str, f64)] = &[
        ("not too bad", 0.6),
        ("not bad", 0.6),
        ("not great", 0.35),
        ("not good", 0.25),
        ("not so good", 0.3),
        ("not very good", 0.3),
        ("not well", 0.25),
        ("so so", 0.45),
        ("could be better", 0.4),
        ("could be worse", 0.55),
        ("pretty good", 0.75),
        ("really good", 0.85),
        ("very good", 0.85),
        ("fantastic", 0.95),
        ("wonderful", 0.9),
        ("amazing", 0.95),
        ("excellent", 0.9),
        ("great", 0.8),
        ("happy", 0.8),
        ("good", 0.7),
        ("fine", 0.6),
        ("alright", 0.55),
        ("all right", 0.55),
        ("okay", 0.5),
        ("ok", 0.5),
        ("meh", 0.45),
        ("tired", 0.4),
        ("low", 0.3),
        ("down", 0.3),
        ("sad", 0.25),
        ("lonely", 0.25),
        ("bad", 0.25),
        ("awful", 0.1),
        ("terrible", 0.1),
        ("horrible", 0.1),
        ("miserable", 0.1),
        ("depressed", 0.1),
    ];
    let text = format!(" {} ", tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" "));
    let (_, fraction) = WORDS.iter().find(|(word, _)| text.contains(&format!(" {word} ")))?;
    let value = (min as f64 + fraction * (max - min) as f64).round();
    Some((value, 0.6))
}

/// A list option: its name and the phrases that mean it.
pub type ListOption = (String, Vec<String>);

/// Which options an answer names positively and which it names negated:
/// "you need a gi and a waiver" -> ([gi, waiver], []); "no gi needed" -> ([], [gi]).
pub fn list_items(tokens: &[Token], options: &[ListOption]) -> (Vec<String>, Vec<String>) {
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    let mut taken = vec![false; tokens.len()];
    let mut phrases: Vec<(&str, &str)> =
        options.iter().flat_map(|(name, phrases)| phrases.iter().map(move |p| (p.as_str(), name.as_str()))).collect();
    phrases.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.split_whitespace().count()));
    let mut mentions: Vec<(usize, &str, bool)> = Vec::new();
    for (phrase, name) in phrases {
        let length = phrase.split_whitespace().count();
        for start in find_phrase(tokens, phrase) {
            if taken[start..start + length].iter().any(|t| *t) {
                continue;
            }
            taken[start..start + length].iter_mut().for_each(|t| *t = true);
            mentions.push((start, name, is_not_needed(tokens, start, start + length - 1)));
        }
    }
    // in the order they were said; the first mention of an option decides
    mentions.sort_by_key(|(start, _, _)| *start);
    for (_, name, negated) in mentions {
        if positive.iter().chain(negative.iter()).any(|n: &String| n == name) {
            continue;
        }
        if negated {
            negative.push(name.to_owned());
        } else {
            positive.push(name.to_owned());
        }
    }
    (positive, negative)
}

/// True when the answer says there is nothing ("nothing", "no", "nope just show up").
pub fn says_nothing(tokens: &[Token]) -> bool {
    let text = format!(" {} ", tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" "));
    [
        " nothing ",
        " nope ",
        " no requirements ",
        " just show up ",
        " just come in ",
        " just come ",
        " not really ",
        " none ",
        " nah ",
        " that's it ",
        " that's all ",
        " that's about it ",
        " no ",
        " all good ",
        " nothing special ",
        " don't think so ",
    ]
    .iter()
    .any(|p| text.contains(p))
}
