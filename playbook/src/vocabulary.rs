//! The words, answer patterns, subjects and pronunciations a playbook gives the speech
//! recogniser: generic call handling and the words of its field types here, the domain in the
//! playbook's own `vocabulary`, `answer_patterns`, `subjects` and `pronunciations`.

use crate::lines::LineFinder;
use crate::model::{FieldType, Playbook, PlaybookError};
use protocol::spoken::{number_words, DAYS};
use std::collections::BTreeSet;
use std::path::Path;

/// Slot classes an answer pattern may use (`"it is {price} a month"`); the recogniser expands
/// each over every member of its class (`subject`: the playbook's `subjects`).
pub const SLOT_CLASSES: &[&str] = &["number", "price", "time", "day", "duration", "subject"];

/// The CMU phone set (stress-free) `pronunciations` are written in.
pub const CMU_PHONES: &[&str] = &[
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K",
    "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
];

/// Answers every call may hear, whatever the playbook: yes and no, hold and repeat, and the
/// phone line itself (menus, voicemail, transfer).
const CALL_PATTERNS: &[&str] = &[
    "{number}",
    "yes",
    "no",
    "yes we do",
    "no we don't",
    "yes you need to",
    "no you don't need to",
    "i'm not sure",
    "let me check",
    "hold on a second",
    "can you repeat that",
    "sorry what was that",
    "thank you",
    "goodbye",
    "you're welcome",
    "have a good day",
    "thank you for calling",
    "press {number}",
    "to speak with someone press {number}",
    "please hold",
    "one moment please",
    "you have reached",
    "we can't come to the phone right now",
    "please leave a message after the tone",
    "please leave a message after the beep",
    "let me get the manager",
    "let me transfer you",
    "this is the manager",
    "thanks for waiting",
    "what did you want to know",
    "who is this",
];

/// How a price is said, for playbooks with a `money` field.
const PRICE_PATTERNS: &[&str] = &[
    "{price}",
    "{price} a month",
    "{price} per month",
    "{price} a year",
    "{price} an hour",
    "{price} per hour",
    "{price} a session",
    "{price} per session",
    "it is {price}",
    "it's {price} a month",
    "the price is {price}",
    "that would be {price}",
];

/// How days and times are said, for playbooks with a `schedule` field.
const SCHEDULE_PATTERNS: &[&str] = &[
    "{time}",
    "at {time}",
    "from {time} to {time}",
    "we open at {time}",
    "we close at {time}",
    "we are open from {time} until {time}",
    "{day}",
    "on {day}",
    "{day} through {day}",
    "{day} and {day}",
    "{day} at {time}",
    "every {day} at {time}",
    "{day} from {time} to {time}",
];

/// Small words of any answer, so a callee may put the others together in any order.
const COMMON_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "around", "at", "before", "between", "but", "can",
    "can't", "do", "does", "doesn't", "don't", "each", "every", "for", "from", "has", "have", "hello", "hi", "in",
    "is", "it", "it's", "just", "less", "more", "no", "nope", "not", "of", "okay", "on", "only", "or", "our", "please",
    "right", "so", "some", "sure", "than", "thanks", "that", "that's", "the", "there", "there's", "they", "through",
    "till", "to", "today", "tomorrow", "uh", "um", "until", "we", "we're", "well", "will", "with", "without", "would",
    "yeah", "yes", "you", "you're", "your",
];

/// Money words.
const MONEY_WORDS: &[&str] = &[
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

/// Day groups and the words between days (the days themselves come from [`DAYS`]).
const DAY_GROUP_WORDS: &[&str] =
    &["weekday", "weekdays", "weekend", "weekends", "every day", "daily", "through", "to", "and", "except"];
/// Time-of-day words.
const TIME_WORDS: &[&str] = &[
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
const CONVERSATION_WORDS: &[&str] = &[
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

/// Builds the vocabulary: generic words first (numbers, small words, call handling, the words
/// of the field types), then everything the playbook names.
pub(crate) fn phrases(playbook: &Playbook) -> Vec<String> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    let mut add = |phrase: &str| {
        let cleaned = normalise(phrase);
        if !cleaned.is_empty() {
            set.insert(cleaned);
        }
    };
    number_words().chain(COMMON_WORDS.iter().copied()).chain(CONVERSATION_WORDS.iter().copied()).for_each(&mut add);
    let kinds = field_kinds(playbook);
    if kinds.contains(&FieldType::Money) {
        MONEY_WORDS.iter().for_each(|word| add(word));
    }
    if kinds.contains(&FieldType::Schedule) {
        for day in DAYS {
            add(day);
            add(&format!("{day}s"));
        }
        DAY_GROUP_WORDS.iter().chain(TIME_WORDS).for_each(|word| add(word));
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

/// Answer patterns with `{slot}`s: generic call handling, the patterns of the playbook's field
/// types (prices for `money`, days and times for `schedule`), then the playbook's own; each once.
pub(crate) fn answer_patterns(playbook: &Playbook) -> Vec<String> {
    let kinds = field_kinds(playbook);
    let mut generic: Vec<&str> = CALL_PATTERNS.to_vec();
    if kinds.contains(&FieldType::Money) {
        generic.extend(PRICE_PATTERNS);
    }
    if kinds.contains(&FieldType::Schedule) {
        generic.extend(SCHEDULE_PATTERNS);
    }
    // What a callee is listed as saying (a risk field's phrases) is an answer too: as a phrase the
    // recogniser learns its word order, not only its words.
    let listed = playbook.fields.iter().flat_map(|field| field.risk_phrases.iter().map(String::as_str));
    let mut seen = BTreeSet::new();
    generic
        .into_iter()
        .chain(listed)
        .chain(playbook.answer_patterns.iter().map(String::as_str))
        .filter(|pattern| seen.insert(pattern.trim().to_lowercase()))
        .map(str::to_owned)
        .collect()
}

fn field_kinds(playbook: &Playbook) -> BTreeSet<FieldType> {
    playbook.fields.iter().map(|field| field.kind).collect()
}

/// Checks `answer_patterns` (known slots, `{subject}` only with `subjects`), `subjects` and
/// `pronunciations` (lowercase words, CMU phones).
pub(crate) fn validate(playbook: &Playbook, file: &Path, lines: &LineFinder<'_>) -> Result<(), PlaybookError> {
    let invalid = |line: Option<usize>, field: String, message: String| PlaybookError {
        file: file.to_path_buf(),
        line,
        field,
        message,
        kind: crate::model::PlaybookErrorKind::Invalid,
    };
    for (index, pattern) in playbook.answer_patterns.iter().enumerate() {
        let line = lines.list_item("answer_patterns", index).or_else(|| lines.top_key("answer_patterns"));
        let field = format!("answer_patterns[{index}]");
        if pattern.trim().is_empty() {
            return Err(invalid(line, field, "an answer pattern is empty".into()));
        }
        for slot in slots(pattern) {
            match slot {
                Err(message) => return Err(invalid(line, field, message)),
                Ok(name) if !SLOT_CLASSES.contains(&name) => {
                    return Err(invalid(
                        line,
                        field,
                        format!("unknown slot {{{name}}} (known: {})", SLOT_CLASSES.join(", ")),
                    ))
                }
                Ok("subject") if playbook.subjects.is_empty() => {
                    return Err(invalid(line, field, "uses {subject} but the playbook lists no `subjects`".into()))
                }
                Ok(_) => {}
            }
        }
    }
    for (index, subject) in playbook.subjects.iter().enumerate() {
        let line = lines.list_item("subjects", index).or_else(|| lines.top_key("subjects"));
        if subject.trim().is_empty() || subject.contains(['{', '}']) {
            return Err(invalid(
                line,
                format!("subjects[{index}]"),
                format!("{subject:?} is not a subject (words, no slots)"),
            ));
        }
    }
    let pronunciations_line = lines.top_key("pronunciations").unwrap_or(0);
    for (word, phones) in &playbook.pronunciations {
        let line = lines.key(word, pronunciations_line).or(Some(pronunciations_line)).filter(|line| *line > 0);
        let field = format!("pronunciations.{word}");
        if word.is_empty() || !word.chars().all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '\'') {
            return Err(invalid(
                line,
                field,
                format!("{word:?} is not a word as the recogniser writes it (lowercase letters, digits, ')"),
            ));
        }
        if phones.split_whitespace().next().is_none() {
            return Err(invalid(line, field, "needs phones (CMU phone set, e.g. \"JH UW\")".into()));
        }
        if let Some(unknown) = phones.split_whitespace().find(|phone| !CMU_PHONES.contains(phone)) {
            return Err(invalid(
                line,
                field,
                format!("{unknown:?} is not a CMU phone (known: {})", CMU_PHONES.join(" ")),
            ));
        }
    }
    Ok(())
}

/// The slot names of a pattern, in order, or why a `{` is not closed.
fn slots(pattern: &str) -> Vec<Result<&str, String>> {
    let mut found = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            found.push(Err("a `}` without its `{`".to_owned()));
            break;
        }
        let Some(close) = rest[open..].find('}').map(|close| open + close) else {
            found.push(Err("a `{` without its `}`".to_owned()));
            break;
        };
        found.push(Ok(rest[open + 1..close].trim()));
        rest = &rest[close + 1..];
    }
    found
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
impl Playbook {
    /// Everything the speech recogniser should expect on this playbook's calls, in one value
    /// (`speech::Vocabulary::from_hints` reads it).
    pub fn recognition_hints(&self) -> protocol::hints::RecognitionHints {
        protocol::hints::RecognitionHints {
            words: self.vocabulary_phrases(),
            answer_patterns: self.answer_patterns(),
            subjects: self.subjects().to_vec(),
            pronunciations: self.pronunciations().clone(),
        }
    }

    /// Every word and phrase the speech recogniser should cover for this playbook: the field
    /// keywords, option phrases and questions, the playbook's `vocabulary`, plus the generic
    /// words (numbers, small words, yes/no, call handling; money, days and times when a field
    /// needs them). Lowercase, without punctuation or slots.
    pub fn vocabulary_phrases(&self) -> Vec<String> {
        phrases(self)
    }

    /// What callees answer, with `{slot}`s ([`SLOT_CLASSES`]): generic call handling (yes/no,
    /// hold, voicemail, phone menus), price patterns when a field is `money`, day and time
    /// patterns when one is a `schedule`, then the playbook's `answer_patterns`.
    pub fn answer_patterns(&self) -> Vec<String> {
        answer_patterns(self)
    }
}
