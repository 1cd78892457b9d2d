//! The ways a receptionist says things: fillers, self-corrections, afterthoughts, times said
//! casually or the British way ("half seven", "quarter past six", "noon"), ranges ("from six till
//! half seven"), amounts in words in three currencies. Each function picks one way with the
//! generator's random source, so a seed gives the same words every time.

use protocol::spoken::number_to_words;
use simulator::persona::rng::SplitMix64;

const FILLERS: &[&str] =
    &["", "", "", "", "Um, ", "Uh, ", "So, ", "Let me see, ", "Yeah, so ", "Okay so ", "Right, ", "Oh, ", "Hmm, "];

/// A sentence with a filler in front, sometimes.
pub fn with_filler(rng: &mut SplitMix64, sentence: &str) -> String {
    let filler = *rng.pick(FILLERS);
    if filler.is_empty() {
        return sentence.to_owned();
    }
    let mut chars = sentence.chars();
    let rest = match chars.next() {
        Some(first) if !sentence.starts_with("I ") && !sentence.starts_with("I'") => {
            first.to_lowercase().chain(chars).collect::<String>()
        }
        _ => sentence.to_owned(),
    };
    format!("{filler}{rest}")
}

/// `amount` in `currency` in words, one of several ways: "twenty five dollars", "twenty-five
/// bucks", "twelve pounds fifty", "twelve fifty", "fifteen euros".
pub fn money(rng: &mut SplitMix64, amount: f64, currency: &str) -> String {
    let whole = amount.trunc() as u32;
    let cents = ((amount - amount.trunc()) * 100.0).round() as u32;
    let (units, unit_one, slang): (&str, &str, &[&str]) = match currency {
        "GBP" => ("pounds", "pound", &["quid"]),
        "EUR" => ("euros", "euro", &[]),
        _ => ("dollars", "dollar", &["bucks"]),
    };
    let number = number_to_words(whole);
    if cents > 0 {
        return match rng.below(2) {
            0 => format!("{number} {units} {}", number_to_words(cents)),
            _ => format!("{number} {} {units}", number_to_words(cents)),
        };
    }
    let units = if whole == 1 { unit_one } else { units };
    match rng.below(6) {
        0 if !slang.is_empty() => format!("{number} {}", rng.pick(slang)),
        1 if whole > 20 && !whole.is_multiple_of(10) => format!("{} {units}", number.replacen(' ', "-", 1)),
        _ => format!("{number} {units}"),
    }
}

/// An amount said before a noun: "a five dollar mat fee", "a ten pound mat fee".
pub fn money_before_noun(rng: &mut SplitMix64, amount: f64, currency: &str) -> String {
    let said = money(rng, amount, currency);
    for (plural, singular) in [
        (" dollars", " dollar"),
        (" bucks", " dollar"),
        (" pounds", " pound"),
        (" quid", " pound"),
        (" euros", " euro"),
    ] {
        if let Some(at) = said.find(plural) {
            return format!("{}{singular}{}", &said[..at], &said[at + plural.len()..]);
        }
    }
    said
}

/// A clock time `minutes` after midnight said aloud, one of several ways.
pub fn time(rng: &mut SplitMix64, minutes: u32, with_part_of_day: bool) -> String {
    let (hour, minute) = (minutes / 60, minutes % 60);
    if hour == 12 && minute == 0 {
        return rng.pick(&["noon", "twelve noon", "midday", "twelve"]).to_string();
    }
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let next12 = hour12 % 12 + 1;
    let part = if !with_part_of_day {
        ""
    } else if hour < 12 {
        *rng.pick(&[" a m", " in the morning", " a m"])
    } else if hour < 17 {
        *rng.pick(&[" p m", " in the afternoon"])
    } else {
        *rng.pick(&[" p m", " in the evening", " p m"])
    };
    let h = number_to_words(hour12);
    match minute {
        0 => match rng.below(3) {
            0 if part.is_empty() => format!("{h} o'clock"),
            _ => format!("{h}{part}"),
        },
        30 => match rng.below(4) {
            0 => format!("half {h}{}", if part.is_empty() { "" } else { part }),
            1 => format!("half past {h}{part}"),
            _ => format!("{h} thirty{part}"),
        },
        15 => match rng.below(2) {
            0 => format!("quarter past {h}{part}"),
            _ => format!("{h} fifteen{part}"),
        },
        45 => match rng.below(2) {
            0 => format!("quarter to {}{part}", number_to_words(next12)),
            _ => format!("{h} forty five{part}"),
        },
        m => format!("{h} {}{part}", number_to_words(m)),
    }
}

/// A class from `start` to `end` (minutes): "from six to half seven", "six till seven thirty p m",
/// "at six", "between six and seven".
pub fn range(rng: &mut SplitMix64, start: u32, end: u32) -> String {
    let part_on_start = rng.chance(0.5);
    let from = time(rng, start, part_on_start);
    let part_on_end = !part_on_start && rng.chance(0.6);
    let to = time(rng, end, part_on_end);
    match rng.below(6) {
        0 => format!("from {from} to {to}"),
        1 => format!("from {from} till {to}"),
        2 => format!("{from} to {to}"),
        3 => format!("between {from} and {to}"),
        4 => format!("at {from}, until {to}"),
        _ => format!("at {}", time(rng, start, true)),
    }
}

const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Days (0 = Monday) as a list: "Monday and Wednesday", "Mondays, Wednesdays and Fridays".
pub fn days(rng: &mut SplitMix64, days: &[usize]) -> String {
    if days == [0, 1, 2, 3, 4] && rng.chance(0.5) {
        return rng.pick(&["every weekday", "Monday to Friday", "Monday through Friday"]).to_string();
    }
    let plural = rng.chance(0.4);
    let names: Vec<String> =
        days.iter().map(|&d| if plural { format!("{}s", DAY_NAMES[d]) } else { DAY_NAMES[d].to_owned() }).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// A class type as said: "gi", "no gi", "open mat", "kids".
pub fn class_name(class_type: &str) -> String {
    class_type.replace('-', " ")
}

/// One time-group of a schedule as a clause: class, days and time in one of several orders.
pub fn schedule_clause(rng: &mut SplitMix64, class_type: &str, day_list: &[usize], start: u32, end: u32) -> String {
    let class = class_name(class_type);
    let when_days = days(rng, day_list);
    let when = range(rng, start, end);
    let class_word = if class.ends_with("mat") { class.clone() } else { format!("{class} class") };
    let article = if class_word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    match rng.below(5) {
        0 => format!("{class} is {when_days} {when}"),
        1 => format!("{when_days} we've got {class} {when}"),
        2 => format!("on {when_days} there's {article} {class_word} {when}"),
        3 => format!("there's {class} on {when_days}, {when}"),
        _ => format!("{when_days}, {when}, that's {class}"),
    }
}

/// "Bring a gi" and friends: what a visitor must do, in a receptionist's words.
pub fn requirement(rng: &mut SplitMix64, name: &str) -> String {
    let options: &[&str] = match name {
        "gi" => &["bring a gi", "bring your own gi", "wear a clean gi", "have a gi, we're gi only"],
        "waiver" => &["sign a waiver", "fill out a waiver", "fill in the release form", "sign the liability form"],
        "rank" => &["be at least a blue belt", "have some experience, blue belt and up", "be a blue belt or higher"],
        "booking_ahead" => {
            &["book ahead online", "text us beforehand", "let us know in advance", "sign up the day before"]
        }
        other => return other.replace('_', " "),
    };
    rng.pick(options).to_string()
}

/// A sentence of several requirements; sometimes the last comes as an afterthought.
pub fn requirements_sentence(rng: &mut SplitMix64, names: &[String]) -> String {
    if names.is_empty() {
        let none =
            ["Nothing really, just show up.", "No, nothing special.", "Just yourself, really.", "Nope, just turn up."];
        let sentence = *rng.pick(&none);
        return with_filler(rng, sentence);
    }
    let parts: Vec<String> = names.iter().map(|n| requirement(rng, n)).collect();
    let sentence = match (parts.len(), rng.below(3)) {
        (1, _) => format!("You just need to {}.", parts[0]),
        (n, 0) if n >= 2 => {
            format!("You'll need to {}. Oh, and {}.", parts[..n - 1].join(", and "), parts[n - 1])
        }
        (n, _) => format!("You'll need to {} and {}.", parts[..n - 1].join(", "), parts[n - 1]),
    };
    with_filler(rng, &sentence)
}

/// The first letter in upper case.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_ranges_and_money_come_in_several_forms() {
        let mut rng = SplitMix64::new(5);
        let forms: std::collections::BTreeSet<String> = (0..60).map(|_| time(&mut rng, 18 * 60 + 30, true)).collect();
        assert!(forms.iter().any(|f| f.starts_with("half")) && forms.iter().any(|f| f.contains("thirty")), "{forms:?}");
        // 12:00 is one of the noon forms (each call draws one), and over 20 draws more than one
        let noons: std::collections::BTreeSet<String> = (0..20).map(|_| time(&mut rng, 12 * 60, false)).collect();
        assert!(
            noons.iter().all(|said| ["noon", "twelve noon", "midday", "twelve"].contains(&said.as_str())),
            "{noons:?}"
        );
        assert!(noons.len() >= 2, "{noons:?}");
        let amounts: std::collections::BTreeSet<String> = (0..40).map(|_| money(&mut rng, 25.0, "USD")).collect();
        assert!(amounts.contains("twenty five dollars") && amounts.len() >= 2, "{amounts:?}");
        assert!(money(&mut rng, 12.5, "GBP").contains("twelve") && money(&mut rng, 12.5, "GBP").contains("fifty"));
        assert_eq!(days(&mut SplitMix64::new(1), &[0]).trim_end_matches('s'), "Monday");
    }
}
