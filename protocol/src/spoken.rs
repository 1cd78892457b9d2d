//! How text is said aloud, in one place for every service: number words and their values,
//! prices and clock times spelled as a person says them, transcripts normalised to spoken words,
//! and where a sentence ends (the unit the agent synthesises and streams).
//!
//! Pure text functions, no I/O. The recogniser's vocabulary, the brain's extraction, the media
//! worker's sentence streaming, the TTS providers and the simulated callee all use these; the
//! simulated callee keeps its own *understanding* of what it hears on purpose (an independent
//! check of the agent), but says numbers with these words.

/// Number words below twenty, by value.
pub const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// Tens words by their tens digit (`TENS[4]` is "forty"); the first two are empty.
pub const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/// Days of the week, Monday first, as transcripts write them.
pub const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// Every word a spoken number may be made of (for a recogniser's vocabulary): the units, teens
/// and tens, "hundred", "thousand", "oh" (as in "six oh five"), "half", "quarter", "a", "an".
pub fn number_words() -> impl Iterator<Item = &'static str> {
    ONES.iter()
        .chain(TENS.iter().filter(|t| !t.is_empty()))
        .copied()
        .chain(["oh", "hundred", "thousand", "half", "quarter", "a", "an"])
}

/// The value of one number word below one hundred ("seven" -> 7, "forty" -> 40; the common
/// misspelling "fourty" too).
pub fn word_value(word: &str) -> Option<u32> {
    if let Some(position) = ONES.iter().position(|o| *o == word) {
        return Some(position as u32);
    }
    if word == "fourty" {
        return Some(40);
    }
    TENS.iter().position(|t| !t.is_empty() && *t == word).map(|p| p as u32 * 10)
}

/// A whole number below one million in words ("one hundred twenty nine"); larger numbers are
/// written with digits.
pub fn number_to_words(number: u32) -> String {
    if number < 20 {
        return ONES[number as usize].to_string();
    }
    if number < 100 {
        let tens = TENS[(number / 10) as usize];
        return match number % 10 {
            0 => tens.to_string(),
            units => format!("{tens} {}", ONES[units as usize]),
        };
    }
    if number < 1000 {
        let hundreds = format!("{} hundred", ONES[(number / 100) as usize]);
        return match number % 100 {
            0 => hundreds,
            rest => format!("{hundreds} {}", number_to_words(rest)),
        };
    }
    if number < 1_000_000 {
        let thousands = format!("{} thousand", number_to_words(number / 1000));
        return match number % 1000 {
            0 => thousands,
            rest => format!("{thousands} {}", number_to_words(rest)),
        };
    }
    number.to_string()
}

/// A price in words (`25.0` -> "twenty five dollars", `12.5` -> "twelve fifty", `0.0` -> "free").
pub fn money(amount: f64) -> String {
    let amount = if amount.is_finite() { amount.max(0.0) } else { 0.0 };
    let dollars = u32::try_from(amount.trunc() as u64).unwrap_or(u32::MAX);
    let cents = ((amount - amount.trunc()) * 100.0).round() as u32;
    match (dollars, cents) {
        (0, 0) => "free".to_owned(),
        (d, 0) => format!("{} dollars", number_to_words(d)),
        (d, c) => format!("{} {}", number_to_words(d), number_to_words(c)),
    }
}

/// A clock time `HH:MM` (24 h) as said aloud: "six thirty p m", "noon", "ten a m". Text that is
/// not such a time is returned as it is.
pub fn time(hh_mm: &str) -> String {
    let Some((h, m)) = hh_mm.split_once(':') else {
        return hh_mm.to_owned();
    };
    let (Ok(hour), Ok(minute)) = (h.trim().parse::<u32>(), m.trim().parse::<u32>()) else {
        return hh_mm.to_owned();
    };
    if hour > 23 || minute > 59 {
        return hh_mm.to_owned();
    }
    if hour == 12 && minute == 0 {
        return "noon".to_owned();
    }
    let suffix = if hour < 12 { "a m" } else { "p m" };
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let minutes = match minute {
        0 => String::new(),
        1..=9 => format!(" oh {}", number_to_words(minute)),
        m => format!(" {}", number_to_words(m)),
    };
    format!("{}{minutes} {suffix}", number_to_words(hour12))
}

/// Joins items as a person lists them: "a, b and c".
pub fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Lowercase words of a text, with digits, prices ("$49.99") and clock times ("6:30pm") spelled
/// out as a caller would say them, and punctuation other than apostrophes dropped: what a
/// recogniser would write for the text read aloud.
pub fn normalize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for raw in text.split_whitespace() {
        let token = raw.to_lowercase();
        let token = token.trim_matches(|c: char| !(c.is_alphanumeric() || c == '$' || c == '\'' || c == ':'));
        if token.is_empty() {
            continue;
        }
        words.extend(spell_token(token));
    }
    words
}

fn spell_token(token: &str) -> Vec<String> {
    let split = |text: &str| text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    if let Some(amount) = token.strip_prefix('$') {
        let (dollars, cents) = amount.split_once('.').unwrap_or((amount, ""));
        let dollars: String = dollars.chars().filter(|c| c.is_ascii_digit()).collect();
        if let Ok(dollars) = dollars.parse::<u32>() {
            let mut spoken = format!("{} dollars", number_to_words(dollars));
            if let Ok(cents) = cents.parse::<u32>() {
                if cents > 0 {
                    spoken = format!("{} {}", number_to_words(dollars), number_to_words(cents));
                }
            }
            return split(&spoken);
        }
    }
    let (body, suffix) = if let Some(body) = token.strip_suffix("am") {
        (body, Some("a m"))
    } else if let Some(body) = token.strip_suffix("pm") {
        (body, Some("p m"))
    } else {
        (token, None)
    };
    if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == ':') {
        let mut spoken = Vec::new();
        let (hours, minutes) = body.split_once(':').unwrap_or((body, ""));
        if let Ok(hours) = hours.parse::<u32>() {
            spoken.extend(split(&number_to_words(hours)));
            match minutes.parse::<u32>() {
                Ok(0) => spoken.push("o'clock".to_string()),
                Ok(minutes) if minutes < 10 => spoken.extend(split(&format!("oh {}", number_to_words(minutes)))),
                Ok(minutes) => spoken.extend(split(&number_to_words(minutes))),
                Err(_) => {}
            }
            if let Some(suffix) = suffix {
                spoken.extend(split(suffix));
            }
            return spoken;
        }
    }
    match token {
        "a.m." | "a.m" => split("a m"),
        "p.m." | "p.m" => split("p m"),
        _ => {
            let cleaned: String = token.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect();
            if cleaned.is_empty() {
                Vec::new()
            } else {
                vec![cleaned]
            }
        }
    }
}

/// Byte index just past the first complete sentence of `text`, or `None` while it may still be
/// streaming. A sentence ends at `.`, `!`, `?` or `;` followed by whitespace; a `.` only once two
/// or more words precede it, so "Dr. Smith" and "$7.50" stay whole.
pub fn sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        let mark_then_space =
            matches!(byte, b'.' | b'!' | b'?' | b';') && bytes.get(index + 1).is_some_and(|b| b.is_ascii_whitespace());
        if mark_then_space && (*byte != b'.' || text[..index].split_whitespace().count() >= 2) {
            return Some(index + 1);
        }
    }
    None
}

/// Splits a complete text into sentences (see [`sentence_end`]; the end of the text ends the
/// last one). Pieces without a letter or digit are dropped.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(end) = sentence_end(rest) {
        push_sentence(&mut out, &rest[..end]);
        rest = rest[end..].trim_start();
    }
    push_sentence(&mut out, rest);
    out
}

fn push_sentence(out: &mut Vec<String>, piece: &str) {
    let piece = piece.trim();
    if piece.chars().any(char::is_alphanumeric) {
        out.push(piece.to_owned());
    }
}

/// The first words of `text` in proportion to `fraction` (0..=1) of its audio played: what the
/// callee heard of a sentence cut off by a barge-in.
pub fn heard_prefix(text: &str, fraction: f64) -> String {
    if fraction >= 1.0 {
        return text.to_owned();
    }
    if fraction.is_nan() || fraction <= 0.0 {
        return String::new();
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let count = (words.len() as f64 * fraction).round() as usize;
    words[..count.min(words.len())].join(" ")
}

/// "six thirty a m" -> "six thirty a.m" (and "p m" -> "p.m") after a number, as a person says
/// them: espeak-ng and flite read a lone "a" as the article, "six thirty uh em", which a
/// listener hears as "six thirty m". An "a" or "p" not after a number stays a word.
pub fn join_clock_suffixes(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        let next = words.get(index + 1).copied().unwrap_or("");
        let next_core = next.trim_end_matches(|c: char| !c.is_alphanumeric());
        let previous_is_number = out.last().is_some_and(|previous| ends_with_number(previous));
        if matches!(word.to_ascii_lowercase().as_str(), "a" | "p")
            && next_core.eq_ignore_ascii_case("m")
            && previous_is_number
        {
            let trail = &next[next_core.len()..];
            out.push(format!("{}.m{trail}", word.to_ascii_lowercase()));
            index += 2;
        } else {
            out.push(word.to_owned());
            index += 1;
        }
    }
    out.join(" ")
}

/// Whether the last word of `word` can end a clock time: a number word ("thirty"), digits ("6",
/// "6:30"), "o'clock" or "noon".
pub fn ends_with_number(word: &str) -> bool {
    let last = word.rsplit(' ').next().unwrap_or("").to_ascii_lowercase();
    word_value(&last).is_some()
        || (last.starts_with(|c: char| c.is_ascii_digit()) && last.chars().all(|c| c.is_ascii_digit() || c == ':'))
        || last == "o'clock"
        || last == "noon"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_words_and_values() {
        assert_eq!(number_to_words(0), "zero");
        assert_eq!(number_to_words(25), "twenty five");
        assert_eq!(number_to_words(140), "one hundred forty");
        assert_eq!(number_to_words(2_019), "two thousand nineteen");
        assert_eq!(word_value("seventeen"), Some(17));
        assert_eq!(word_value("forty"), Some(40));
        assert_eq!(word_value("fourty"), Some(40));
        assert_eq!(word_value("hundred"), None);
        let words: Vec<_> = number_words().collect();
        assert!(words.contains(&"ninety") && words.contains(&"oh") && !words.contains(&""));
    }

    #[test]
    fn prices_times_and_lists_read_aloud() {
        assert_eq!(money(25.0), "twenty five dollars");
        assert_eq!(money(12.5), "twelve fifty");
        assert_eq!(money(0.0), "free");
        assert_eq!(money(f64::NAN), "free");
        assert_eq!(time("18:30"), "six thirty p m");
        assert_eq!(time("12:00"), "noon");
        assert_eq!(time("09:05"), "nine oh five a m");
        assert_eq!(time("00:15"), "twelve fifteen a m");
        assert_eq!(time("25:00"), "25:00");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(list(&["a".into()]), "a");
        assert_eq!(list(&[]), "");
    }

    #[test]
    fn normalize_spells_prices_and_times() {
        assert_eq!(
            normalize("It's $49.99 at 6:30pm, OK?").join(" "),
            "it's forty nine ninety nine at six thirty p m ok"
        );
        assert_eq!(normalize("Classes at 7:00 a.m.").join(" "), "classes at seven o'clock a m");
        assert_eq!(normalize("$25 drop-in").join(" "), "twenty five dollars dropin");
    }

    #[test]
    fn sentences_end_at_marks_followed_by_space() {
        assert_eq!(sentence_end("Great, thanks. And"), Some(14));
        assert_eq!(sentence_end("It is $7.50 per"), None);
        assert_eq!(sentence_end("Ok! Next"), Some(3));
        assert_eq!(sentence_end("Still going"), None);
        assert_eq!(sentence_end("Dr. Smith is in"), None);
    }

    #[test]
    fn complete_text_splits_into_sentences() {
        assert_eq!(
            sentences("Hi, this is Sam. A drop-in is $19.99! Do you need a gi? "),
            vec!["Hi, this is Sam.", "A drop-in is $19.99!", "Do you need a gi?"]
        );
        assert_eq!(
            sentences("It is $49.99 a month. Want to join? Great!"),
            vec!["It is $49.99 a month.", "Want to join?", "Great!"]
        );
        assert_eq!(sentences("no punctuation at all"), vec!["no punctuation at all"]);
        assert!(sentences("  ...  ").is_empty());
        assert!(sentences("   ").is_empty());
    }

    #[test]
    fn heard_prefix_follows_the_fraction() {
        let text = "one two three four";
        assert_eq!(heard_prefix(text, 0.0), "");
        assert_eq!(heard_prefix(text, 0.5), "one two");
        assert_eq!(heard_prefix(text, 0.74), "one two three");
        assert_eq!(heard_prefix(text, 1.0), text);
        assert_eq!(heard_prefix(text, f64::NAN), "");
    }

    #[test]
    fn clock_suffixes_after_a_number_are_joined() {
        assert_eq!(join_clock_suffixes("from nine thirty a m to ten a m."), "from nine thirty a.m to ten a.m.");
        assert_eq!(join_clock_suffixes("six p m, and 7 a m"), "six p.m, and 7 a.m");
        assert_eq!(join_clock_suffixes("at 6:30 P M"), "at 6:30 p.m");
        // an article stays an article
        assert_eq!(join_clock_suffixes("bring a m sized gi"), "bring a m sized gi");
        assert_eq!(join_clock_suffixes("a m"), "a m");
        assert_eq!(join_clock_suffixes(""), "");
    }
}
