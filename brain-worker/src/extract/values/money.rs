//! Money said in an answer: "$25", "twenty five dollars and fifty cents", "twelve fifty", "free",
//! with whether it is a recurring (membership) price.

use crate::extract::text::{find_phrase, Token};
use serde::{Deserialize, Serialize};

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
    /// "the first class is free": an offer for a first visit, not the price of every drop-in.
    pub first_visit: bool,
}

pub(super) fn currency_of(word: &str) -> Option<&'static str> {
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

/// True when the tokens name a currency (a word or a sign).
pub fn names_currency(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| currency_of(&t.word).is_some())
}

/// "Seventeen fifty" written by a recogniser as "1750": four digits whose first two make a price
/// and last two its cents are read as that price (17.50), not as a thousand-dollar class.
fn folded_price(token: &Token, amount: f64) -> f64 {
    let written_as_one_number = token.digits && token.clock.is_none() && amount.fract() == 0.0;
    if written_as_one_number && (1000.0..10_000.0).contains(&amount) {
        amount / 100.0
    } else {
        amount
    }
}

/// Every money amount in the tokens, in order.
pub fn money_mentions(tokens: &[Token]) -> Vec<MoneyMention> {
    let mut mentions = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        // "$25", "€ 10"
        // (a sign is one character, not one byte: "£" and "€" are two and three)
        if let Some(currency) =
            currency_of(&token.word).filter(|_| token.word.chars().count() == 1 || token.word == "usd")
        {
            if let Some(amount) = tokens.get(index + 1).and_then(|t| t.number) {
                let (amount, end) = with_cents(tokens, index + 1, folded_price(&tokens[index + 1], amount));
                mentions.push(mention(tokens, amount, currency, index, end, true));
                index = end + 1;
                continue;
            }
        }
        if let Some(amount) = token.number {
            // "25 dollars", "twenty bucks", "twenty five dollars and fifty cents"
            if let Some(currency) = tokens.get(index + 1).and_then(|t| currency_of(&t.word)) {
                let (amount, end) = with_cents(tokens, index + 1, folded_price(token, amount));
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
                // "twenty seven fifty euros": the currency after the cents is the amount's
                match tokens.get(index + 2).and_then(|t| currency_of(&t.word)) {
                    Some(currency) => {
                        mentions.push(mention(tokens, amount + cents / 100.0, currency, index, index + 2, true));
                        index += 3;
                    }
                    None => {
                        mentions.push(mention(tokens, amount + cents / 100.0, "USD", index, index + 1, false));
                        index += 2;
                    }
                }
                continue;
            }
            // "one five": an amount said digit by digit (as when correcting a read-back) is fifteen
            if let (Some(tens), Some(unit), false) =
                (spelled_digit(tokens, index).filter(|d| *d > 0), spelled_digit(tokens, index + 1), time_context)
            {
                // not "two three times a week"
                let counted = is_count(tokens, index + 1);
                if !counted && tokens.get(index + 2).is_none_or(|t| t.number.is_none() && t.clock.is_none()) {
                    let currency = tokens.get(index + 2).and_then(|t| currency_of(&t.word));
                    let end = if currency.is_some() { index + 2 } else { index + 1 };
                    let explicit = currency.is_some();
                    mentions.push(mention(
                        tokens,
                        f64::from(tens * 10 + unit),
                        currency.unwrap_or("USD"),
                        index,
                        end,
                        explicit,
                    ));
                    index = end + 1;
                    continue;
                }
            }
            if looks_like_time(tokens, index) {
                // "six thirty": the minutes are part of the time too
                if tokens.get(index + 1).is_some_and(|t| t.number.is_some_and(|m| (10.0..60.0).contains(&m))) {
                    index += 1;
                }
            } else if !is_count(tokens, index) {
                mentions.push(mention(tokens, folded_price(token, amount), "USD", index, index, false));
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
                first_visit: *phrase == "free"
                    && (first_visit_before(tokens, start) || price_follows_after(tokens, end)),
            });
        }
    }
    mentions.sort_by_key(|m| m.start);
    in_one_currency(&mut mentions);
    mentions
}

/// A price list is in one currency: an amount said bare in an answer whose other amounts all
/// name the same currency is in that one ("A drop-in is 30, oh, there's a 10-pound mat fee", for
/// "thirty quid ... a ten pound mat fee", was read back as thirty dollars: tuning seed 344).
fn in_one_currency(mentions: &mut [MoneyMention]) {
    let mut named = mentions.iter().filter(|m| m.explicit && m.money.amount > 0.0).map(|m| m.money.currency.clone());
    let Some(currency) = named.next() else { return };
    if named.any(|other| other != currency) {
        return;
    }
    for mention in mentions.iter_mut().filter(|m| !m.explicit) {
        mention.money.currency = currency.clone();
    }
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
        // "seventeen pounds fifty", "twenty two euros fifty": the cents said after the currency
        // (not "ten dollars, fifteen dollars", not a time or a count after it)
        let said_after = next == currency_index + 1
            && (10.0..100.0).contains(&cents)
            && tokens.get(next).is_some_and(|t| t.clock.is_none())
            && !tokens.get(next + 1).is_some_and(|t| {
                currency_of(&t.word).is_some() || t.is_any(&["am", "pm", "a", "p", "o'clock", "minutes", "percent"])
            })
            && !is_count(tokens, next);
        if said_after {
            return (amount + cents / 100.0, next);
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
    MoneyMention {
        money: Money { amount, currency: currency.into() },
        start,
        end,
        explicit,
        recurring,
        first_visit: false,
    }
}

/// A digit said as a word on its own ("one", "five"; not "15" and not "fifteen").
fn spelled_digit(tokens: &[Token], index: usize) -> Option<u32> {
    let token = tokens.get(index)?;
    let value = token.number.filter(|n| !token.digits && n.fract() == 0.0 && *n < 10.0)?;
    token.tens_and_unit.is_none().then_some(value as u32)
}

/// "your first class is free", "first visit free", "the trial class is free": a free offer for a
/// first visit, said within five words before "free".
fn first_visit_before(tokens: &[Token], free: usize) -> bool {
    tokens[free.saturating_sub(5)..free].iter().any(|t| t.is_any(&["first", "1st", "trial", "intro", "introductory"]))
}

/// "free, and after that it's twenty five": a "free" followed within three words by "after" (and
/// a money amount later) is an offer for a first visit, whatever the recogniser made of the
/// words before it ("your third class in free and after now, it's twenty five" for "your first
/// class is free, and after that ...", tuning seed 312). Whether an amount follows is for the
/// caller: without one the free stays, read back.
fn price_follows_after(tokens: &[Token], free_end: usize) -> bool {
    tokens.iter().skip(free_end + 1).take(3).any(|t| t.is_any(&["after", "afterwards", "thereafter"]))
}

/// True when the number at `index` reads as a time of day ("at six", "six thirty", "6 pm").
fn looks_like_time(tokens: &[Token], index: usize) -> bool {
    let before = index.checked_sub(1).map(|i| tokens[i].word.as_str());
    let after = tokens.get(index + 1).map(|t| t.word.as_str());
    // the end of a range of times ("from eleven to twelve", "between six and seven"): tuning
    // seed 610's "From 11 to 12, Mat fee." was a mat fee of 12
    let range_end = index >= 3
        && matches!(before, Some("to" | "and" | "till" | "until"))
        && tokens[index - 2].number.is_some()
        && tokens[index - 3].is_any(&["from", "between"]);
    range_end
        || matches!(before, Some("at" | "from" | "between" | "until" | "till" | "til" | "by" | "around"))
        || matches!(after, Some("am" | "pm" | "o'clock" | "oclock" | "in" | "thirty" | "fifteen"))
        || tokens.get(index + 1).is_some_and(|t| t.number.is_some_and(|m| (10.0..60.0).contains(&m)))
}

/// True when the number counts things ("two classes", "three times", "one of").
pub(super) fn is_count(tokens: &[Token], index: usize) -> bool {
    tokens.get(index + 1).is_some_and(|t| {
        t.is_any(&[
            "classes", "class", "times", "time", "days", "day", "weeks", "week", "months", "month", "people", "of",
            "more", "minutes", "hours", "hour", "year", "years", "kids", "belts", "stripes", "out", "sec", "second",
            "seconds", "moment", "minute", "percent", "thing", "more",
        ])
    })
}
