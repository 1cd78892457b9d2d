//! How a person says numbers, prices, times and days out loud ("six thirty p m").

/// The value of one number word below one hundred ("seven" -> 7, "forty" -> 40).
pub fn word_value(word: &str) -> Option<u64> {
    speech::vocabulary::word_value(word).map(u64::from)
}

/// A whole number in words (`125` -> "one hundred twenty five").
pub fn number(value: u64) -> String {
    speech::vocabulary::number_to_words(u32::try_from(value).unwrap_or(u32::MAX))
}

/// A price in words (`25.0` -> "twenty five dollars", `12.5` -> "twelve fifty").
pub fn money(amount: f64) -> String {
    let dollars = amount.trunc() as u64;
    let cents = ((amount - amount.trunc()) * 100.0).round() as u64;
    match (dollars, cents) {
        (0, 0) => "free".to_owned(),
        (d, 0) => format!("{} dollars", number(d)),
        (d, c) => format!("{} {}", number(d), number(c)),
    }
}

/// A clock time `HH:MM` (24 h) as said aloud: "six thirty p m", "noon", "ten a m".
pub fn time(hh_mm: &str) -> String {
    let Some((h, m)) = hh_mm.split_once(':') else {
        return hh_mm.to_owned();
    };
    let (Ok(hour), Ok(minute)) = (h.trim().parse::<u32>(), m.trim().parse::<u32>()) else {
        return hh_mm.to_owned();
    };
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
        1..=9 => format!(" oh {}", number(minute as u64)),
        m => format!(" {}", number(m as u64)),
    };
    format!("{}{minutes} {suffix}", number(hour12 as u64))
}

/// Joins words as a person lists them: "a, b and c".
pub fn list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_times_and_prices_read_aloud() {
        assert_eq!(number(0), "zero");
        assert_eq!(number(25), "twenty five");
        assert_eq!(number(140), "one hundred forty");
        assert_eq!(money(25.0), "twenty five dollars");
        assert_eq!(money(12.5), "twelve fifty");
        assert_eq!(money(0.0), "free");
        assert_eq!(time("18:30"), "six thirty p m");
        assert_eq!(time("12:00"), "noon");
        assert_eq!(time("09:05"), "nine oh five a m");
        assert_eq!(time("00:15"), "twelve fifteen a m");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
