//! The words and phrases a playbook's calls are made of, for the speech recogniser's grammar.

use crate::{FieldType, Playbook};
use std::collections::BTreeSet;

/// Number words up to the thousands (prices, times, scales).
pub const NUMBER_WORDS: &[&str] = &[
    "zero",
    "oh",
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
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "half",
    "quarter",
    "a",
    "an",
];

/// Money words.
pub const MONEY_WORDS: &[&str] = &[
    "dollar",
    "dollars",
    "buck",
    "bucks",
    "cent",
    "cents",
    "free",
    "no charge",
    "nothing",
    "costs",
    "cost",
    "price",
    "fee",
    "fees",
    "pay",
    "charge",
    "included",
    "per",
    "each",
    "cash",
    "card",
    "euro",
    "euros",
    "pound",
    "pounds",
];

/// Days and day groups.
pub const DAY_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mondays",
    "tuesdays",
    "wednesdays",
    "thursdays",
    "fridays",
    "saturdays",
    "sundays",
    "weekday",
    "weekdays",
    "weekend",
    "weekends",
    "every day",
    "daily",
    "through",
    "to",
    "and",
    "except",
];

/// Time-of-day words.
pub const TIME_WORDS: &[&str] = &[
    "noon",
    "midnight",
    "morning",
    "mornings",
    "afternoon",
    "evening",
    "evenings",
    "night",
    "am",
    "pm",
    "a m",
    "p m",
    "o'clock",
    "thirty",
    "fifteen",
    "forty five",
    "half past",
    "quarter past",
    "quarter to",
    "until",
    "till",
    "from",
    "at",
];

/// Words of answering and call handling.
pub const CONVERSATION_WORDS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "sure",
    "correct",
    "right",
    "no",
    "nope",
    "not",
    "don't",
    "do not",
    "we don't",
    "we do",
    "you don't",
    "you do",
    "need",
    "needed",
    "required",
    "bring",
    "hold on",
    "one second",
    "one sec",
    "just a moment",
    "can you repeat that",
    "say that again",
    "sorry",
    "what",
    "pardon",
    "let me get the manager",
    "transfer",
    "hello",
    "speaking",
    "that's wrong",
    "that's right",
    "i can't give out",
    "over the phone",
    "nothing else",
    "that's it",
    "bye",
    "goodbye",
    "thank you",
    "thanks",
    "press",
    "for",
    "leave a message",
    "after the tone",
    "voicemail",
    "not available",
];

/// Builds the vocabulary: generic domain words first, then everything the playbook names.
pub(crate) fn phrases(playbook: &Playbook) -> Vec<String> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    let mut add = |phrase: &str| {
        let cleaned = normalise(phrase);
        if !cleaned.is_empty() {
            set.insert(cleaned);
        }
    };
    for list in [NUMBER_WORDS, CONVERSATION_WORDS] {
        list.iter().for_each(|word| add(word));
    }
    let kinds: BTreeSet<FieldType> = playbook.fields.iter().map(|field| field.kind).collect();
    if kinds.contains(&FieldType::Money) {
        MONEY_WORDS.iter().for_each(|word| add(word));
    }
    if kinds.contains(&FieldType::Schedule) {
        DAY_WORDS.iter().chain(TIME_WORDS).for_each(|word| add(word));
    }
    for field in &playbook.fields {
        field.keywords.iter().for_each(|word| add(word));
        // a list asked for as a need ("does a visitor need anything ...") is answered as one
        let asks_need = field.kind == FieldType::List
            && field.question.as_deref().is_some_and(|q| q.to_lowercase().split_whitespace().any(|w| w == "need"));
        for option in &field.options {
            for phrase in option.phrases() {
                add(&phrase);
                if asks_need {
                    for lead in ["you need", "you'll need", "you need a", "you'll need a"] {
                        add(&format!("{lead} {phrase}"));
                    }
                }
            }
        }
        field.risk_phrases.iter().for_each(|phrase| add(phrase));
        for text in [&field.question, &field.follow_up].into_iter().flatten() {
            // Callees echo the question's words ("the mat fee is ..."): cover each word.
            text.split_whitespace().for_each(&mut add);
        }
    }
    playbook.vocabulary.iter().for_each(|word| add(word));
    set.into_iter().collect()
}

/// Lowercase words without punctuation (what an STT engine emits), `{placeholders}` dropped.
fn normalise(phrase: &str) -> String {
    phrase
        .split_whitespace()
        .filter(|word| !word.contains('{'))
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '-')
                .collect::<String>()
                .to_lowercase()
                .replace('-', " ")
        })
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
