//! Ratings on a scale: "seven out of ten", "six or seven", "pretty good".

use crate::extract::text::Token;

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
