//! The words a callee is likely to say on one call, and the n-gram language model embedded STT
//! builds from them.
//!
//! A [`Vocabulary`] holds what the caller gives it — a playbook's phrases, answer patterns with
//! class slots such as `{price}` or `{time}`, subjects, loose words and pronunciations; the
//! engine itself knows no domain. Building the language model expands each slot with every
//! member of its class (all numbers, prices, times, days), so the model knows "forty nine
//! dollars" because it knows numbers and prices, not because a sentence with that price was
//! listed. Numbers are spelled with [`protocol::spoken`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use protocol::spoken::{normalize, number_to_words, DAYS};

/// Phrases (questions, field descriptions, answer patterns with `{class}` slots), loose words,
/// subjects (the things a caller talks about, e.g. a playbook's `subjects`) that fill `{subject}`,
/// and pronunciations (word -> CMU phones) for words a recogniser's stock dictionary lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub phrases: Vec<String>,
    pub words: BTreeSet<String>,
    pub subjects: Vec<String>,
    pub pronunciations: BTreeMap<String, String>,
}

/// Slot classes a phrase may use, e.g. `"it is {price} a month"` (a playbook validates its
/// patterns against the same list).
pub const SLOT_CLASSES: &[&str] = &["number", "price", "time", "day", "duration", "subject"];

/// Every spoken form of each slot class.
fn class_members() -> HashMap<&'static str, Vec<String>> {
    let mut members: HashMap<&'static str, Vec<String>> = HashMap::new();
    let hundreds = (1..=9).flat_map(|h| [h * 100, h * 100 + 25, h * 100 + 49, h * 100 + 50, h * 100 + 99]);
    let numbers: Vec<String> = (0..=100).chain(hundreds.clone()).chain([1000]).map(number_to_words).collect();
    members.insert("number", numbers);

    let mut prices = Vec::new();
    for dollars in (1..=100).chain((100..=990).step_by(10)).chain(hundreds) {
        let spoken = number_to_words(dollars);
        prices.push(format!("{spoken} dollars"));
        prices.push(format!("{spoken} bucks"));
        prices.push(format!("{spoken} ninety nine"));
        prices.push(format!("{spoken} dollars and ninety nine cents"));
        prices.push(format!("{spoken} fifty"));
        prices.push(format!("{spoken} dollars and fifty cents"));
    }
    prices.push("free".to_string());
    prices.push("nothing".to_string());
    members.insert("price", prices);

    let mut times = Vec::new();
    for hour in 1..=12 {
        let spoken = number_to_words(hour);
        for half_of_day in ["a m", "p m", "in the morning", "in the evening", "at night"] {
            times.push(format!("{spoken} {half_of_day}"));
            times.push(format!("{spoken} thirty {half_of_day}"));
            times.push(format!("{spoken} fifteen {half_of_day}"));
            times.push(format!("{spoken} forty five {half_of_day}"));
        }
        times.push(spoken.clone());
        times.push(format!("{spoken} o'clock"));
        times.push(format!("{spoken} thirty"));
        times.push(format!("half past {spoken}"));
    }
    times.extend(["noon", "midnight", "twelve noon", "five a m", "ten p m"].map(String::from));
    members.insert("time", times);

    let mut days: Vec<String> = DAYS.iter().map(|day| day.to_string()).collect();
    days.extend(DAYS.iter().map(|day| format!("{day}s")));
    days.extend(["weekdays", "weekends", "the weekend", "every day", "today", "tomorrow"].map(String::from));
    members.insert("day", days);

    let mut durations = Vec::new();
    for count in 1..=24 {
        let spoken = number_to_words(count);
        let plural = if count == 1 { "" } else { "s" };
        for unit in ["day", "week", "month", "year"] {
            durations.push(format!("{spoken} {unit}{plural}"));
        }
    }
    durations.extend(["a month", "a year", "a week", "thirty days", "twelve months"].map(String::from));
    members.insert("duration", durations);
    members
}

fn subject_members(subjects: &[String]) -> Vec<String> {
    let mut members: Vec<String> =
        subjects.iter().map(|subject| normalize(subject).join(" ")).filter(|subject| !subject.is_empty()).collect();
    members.sort();
    members.dedup();
    members
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        Vocabulary::default()
    }

    /// The vocabulary of a playbook's calls: its words loose (they decode better than as phrases:
    /// 8.2% against 10.1% WER on `speech/tests/embedded_stt_wer.rs`, flite voices), its answer
    /// patterns as phrases, its subjects and pronunciations. The one way every caller builds it.
    pub fn from_hints(hints: &protocol::hints::RecognitionHints) -> Vocabulary {
        Vocabulary::new()
            .with_words(hints.words.iter().cloned())
            .with_phrases(hints.answer_patterns.iter().cloned())
            .with_subjects(hints.subjects.iter().cloned())
            .with_pronunciations(hints.pronunciations.iter().map(|(word, phones)| (word.clone(), phones.clone())))
    }

    /// Add a phrase (a playbook question, a field description, or a pattern with `{class}` slots).
    pub fn with_phrase(mut self, phrase: impl Into<String>) -> Vocabulary {
        self.phrases.push(phrase.into());
        self
    }

    pub fn with_phrases<I, S>(mut self, phrases: I) -> Vocabulary
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.phrases.extend(phrases.into_iter().map(Into::into));
        self
    }

    pub fn with_words<I, S>(mut self, words: I) -> Vocabulary
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.words.extend(words.into_iter().map(|word| word.into().to_lowercase()));
        self
    }

    /// Add subjects (things the caller talks about, e.g. a playbook's `subjects`).
    pub fn with_subjects<I, S>(mut self, subjects: I) -> Vocabulary
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subjects.extend(subjects.into_iter().map(Into::into));
        self
    }

    /// Add pronunciations (word -> phones in the CMU phone set, e.g. `("quokka", "K W AA K AH")`), used
    /// for words the recogniser's stock dictionary lacks. A word given twice keeps the first.
    pub fn with_pronunciations<I, W, P>(mut self, pronunciations: I) -> Vocabulary
    where
        I: IntoIterator<Item = (W, P)>,
        W: Into<String>,
        P: Into<String>,
    {
        for (word, phones) in pronunciations {
            self.pronunciations.entry(word.into().to_lowercase()).or_insert_with(|| phones.into());
        }
        self
    }

    /// Merge another vocabulary into this one (this one's pronunciation of a word wins).
    pub fn merge(mut self, other: &Vocabulary) -> Vocabulary {
        self.phrases.extend(other.phrases.iter().cloned());
        self.words.extend(other.words.iter().cloned());
        self.subjects.extend(other.subjects.iter().cloned());
        for (word, phones) in &other.pronunciations {
            self.pronunciations.entry(word.clone()).or_insert_with(|| phones.clone());
        }
        self
    }

    /// Training sentences for the language model: every phrase with its slots expanded over the
    /// members of their classes (each member appears at least once per slot).
    pub fn training_sentences(&self) -> Vec<Vec<String>> {
        self.weighted_training_sentences().into_iter().map(|(words, _)| words).collect()
    }

    /// [`Vocabulary::training_sentences`] with the count each contributes: a phrase's expansions
    /// share one phrase's weight.
    pub fn weighted_training_sentences(&self) -> Vec<(Vec<String>, f64)> {
        let mut members = class_members();
        members.insert("subject", subject_members(&self.subjects));
        let mut sentences = Vec::new();
        let mut seen = BTreeSet::new();
        for phrase in &self.phrases {
            if !seen.insert(phrase.trim().to_lowercase()) {
                continue;
            }
            let pieces = split_slots(phrase);
            let slot_sizes: Vec<usize> = pieces
                .iter()
                .filter_map(|piece| match piece {
                    Piece::Slot(class) => Some(members.get(class.as_str()).map_or(0, Vec::len)),
                    Piece::Text(_) => None,
                })
                .collect();
            let expansions = slot_sizes.iter().copied().max().unwrap_or(1).max(1);
            for expansion in 0..expansions {
                let mut text = String::new();
                let mut slot_index = 0usize;
                for piece in &pieces {
                    match piece {
                        Piece::Text(words) => text.push_str(words),
                        Piece::Slot(class) => {
                            if let Some(list) = members.get(class.as_str()).filter(|list| !list.is_empty()) {
                                // Different slots walk their classes at different strides.
                                let stride = [1usize, 7, 13][slot_index % 3];
                                text.push_str(&list[(expansion * stride + slot_index * 3) % list.len()]);
                            }
                            slot_index += 1;
                        }
                    }
                    text.push(' ');
                }
                let words = normalize(&text);
                if !words.is_empty() {
                    sentences.push((words, PHRASE_WEIGHT / expansions as f64));
                }
            }
        }
        sentences
    }

    /// Every word the recognizer may output.
    pub fn all_words(&self) -> BTreeSet<String> {
        self.words_of(&self.weighted_training_sentences())
    }

    /// The loose words plus every word of `sentences` (this vocabulary's training sentences).
    pub fn words_of(&self, sentences: &[(Vec<String>, f64)]) -> BTreeSet<String> {
        let mut words: BTreeSet<String> = self.words.iter().flat_map(|word| normalize(word)).collect();
        for (sentence, _) in sentences {
            words.extend(sentence.iter().cloned());
        }
        words
    }

    /// A back-off trigram language model in ARPA format over [`Vocabulary::all_words`], trained on
    /// [`Vocabulary::training_sentences`] with absolute discounting; every word keeps some unigram
    /// probability so callers may say them in orders the phrases did not show.
    pub fn to_arpa(&self) -> String {
        let sentences = self.weighted_training_sentences();
        build_arpa_from(&sentences, &self.words_of(&sentences))
    }
}

enum Piece {
    Text(String),
    Slot(String),
}

fn split_slots(phrase: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = phrase;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|close| open + close) else {
            break;
        };
        let class = &rest[open + 1..close];
        if !SLOT_CLASSES.contains(&class) {
            pieces.push(Piece::Text(rest[..=close].replace(['{', '}'], " ")));
            rest = &rest[close + 1..];
            continue;
        }
        pieces.push(Piece::Text(rest[..open].to_string()));
        pieces.push(Piece::Slot(class.to_string()));
        rest = &rest[close + 1..];
    }
    pieces.push(Piece::Text(rest.to_string()));
    pieces
}

const SENTENCE_START: &str = "<s>";
const SENTENCE_END: &str = "</s>";
/// Total count each phrase contributes, spread over its slot expansions, so a pattern with a
/// slot of 900 prices weighs no more than a plain phrase.
const PHRASE_WEIGHT: f64 = 6.0;
/// Count each loose word gets as a unigram.
const LOOSE_WORD_COUNT: f64 = 1.0;

/// A word n-gram as word ids, padded with `u32::MAX` past its order.
type Gram = [u32; 3];
const NO_WORD: u32 = u32::MAX;

fn gram(words: &[u32]) -> Gram {
    let mut gram = [NO_WORD; 3];
    gram[..words.len()].copy_from_slice(words);
    gram
}

/// ARPA back-off trigram model over `vocabulary` trained on weighted `sentences`
/// (see [`Vocabulary::to_arpa`]). Witten-Bell smoothing works with fractional counts.
pub fn build_arpa_from(sentences: &[(Vec<String>, f64)], vocabulary: &BTreeSet<String>) -> String {
    // Word ids: <s>, </s>, then the vocabulary and any other word the sentences use.
    let mut names: Vec<String> = vec![SENTENCE_START.to_string(), SENTENCE_END.to_string()];
    let mut ids: HashMap<String, u32> = HashMap::from([(SENTENCE_START.to_string(), 0), (SENTENCE_END.to_string(), 1)]);
    let mut id_of = |word: &str, names: &mut Vec<String>| -> u32 {
        if let Some(id) = ids.get(word) {
            return *id;
        }
        let id = names.len() as u32;
        names.push(word.to_string());
        ids.insert(word.to_string(), id);
        id
    };
    let (start_id, end_id) = (0u32, 1u32);

    let mut counts: [HashMap<Gram, f64>; 3] = [HashMap::new(), HashMap::new(), HashMap::new()];
    for word in vocabulary {
        let id = id_of(word, &mut names);
        *counts[0].entry(gram(&[id])).or_default() += LOOSE_WORD_COUNT;
    }
    counts[0].entry(gram(&[end_id])).or_default();
    let mut padded: Vec<u32> = Vec::new();
    for (sentence, weight) in sentences {
        padded.clear();
        padded.push(start_id);
        for word in sentence {
            padded.push(id_of(word, &mut names));
        }
        padded.push(end_id);
        for &word in &padded[1..] {
            *counts[0].entry(gram(&[word])).or_default() += weight;
        }
        for (order, table) in counts.iter_mut().enumerate().skip(1) {
            for window in padded.windows(order + 1) {
                *table.entry(gram(window)).or_default() += weight;
            }
        }
    }

    // probability[n][gram]: interpolated with the lower order; backoff[n][history of order n+1].
    let mut probability: [HashMap<Gram, f64>; 3] = [HashMap::new(), HashMap::new(), HashMap::new()];
    let mut backoff: [HashMap<Gram, f64>; 3] = [HashMap::new(), HashMap::new(), HashMap::new()];
    // Unigrams: add-one, so every vocabulary word stays reachable.
    let unigram_total: f64 = counts[0].values().sum();
    let unigram_types = counts[0].len() as f64;
    for (key, count) in &counts[0] {
        probability[0].insert(*key, (count + 1.0) / (unigram_total + unigram_types));
    }
    for order in 1..3 {
        let mut histories: HashMap<Gram, (f64, f64)> = HashMap::new();
        for (key, count) in &counts[order] {
            let entry = histories.entry(gram(&key[..order])).or_default();
            entry.0 += count;
            entry.1 += 1.0;
        }
        let mut seen_mass: HashMap<Gram, (f64, f64)> = HashMap::new();
        let mut computed = Vec::with_capacity(counts[order].len());
        for (key, count) in &counts[order] {
            let history = gram(&key[..order]);
            let (total, followers) = histories[&history];
            let lower = lower_probability(&key[1..=order], &probability, &backoff);
            let value = (count + followers * lower) / (total + followers);
            let entry = seen_mass.entry(history).or_default();
            entry.0 += value;
            entry.1 += lower;
            computed.push((*key, value));
        }
        probability[order].extend(computed);
        for (history, (seen, lower_seen)) in seen_mass {
            backoff[order - 1].insert(history, (1.0 - seen).max(1e-12) / (1.0 - lower_seen).max(1e-12));
        }
    }

    let log = |value: f64| value.max(1e-99).log10();
    let text_of = |key: &Gram| {
        key.iter().take_while(|&&id| id != NO_WORD).map(|&id| names[id as usize].as_str()).collect::<Vec<_>>().join(" ")
    };
    let mut arpa = String::new();
    let _ = writeln!(arpa, "\\data\\");
    let _ = writeln!(arpa, "ngram 1={}", probability[0].len() + 1); // plus <s>
    let _ = writeln!(arpa, "ngram 2={}", probability[1].len());
    let _ = writeln!(arpa, "ngram 3={}", probability[2].len());
    for (order, grams) in probability.iter().enumerate() {
        let _ = writeln!(arpa, "\n\\{}-grams:", order + 1);
        if order == 0 {
            let start_backoff = backoff[0].get(&gram(&[start_id])).copied().unwrap_or(1.0);
            let _ = writeln!(arpa, "-99.0000\t{SENTENCE_START}\t{:.4}", log(start_backoff));
        }
        let mut lines: Vec<(String, f64, Option<f64>)> = grams
            .iter()
            .map(|(key, value)| (text_of(key), *value, if order < 2 { backoff[order].get(key).copied() } else { None }))
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        for (words, value, weight) in lines {
            match weight {
                Some(weight) => {
                    let _ = writeln!(arpa, "{:.4}\t{words}\t{:.4}", log(value), log(weight));
                }
                None => {
                    let _ = writeln!(arpa, "{:.4}\t{words}", log(value));
                }
            }
        }
    }
    let _ = writeln!(arpa, "\n\\end\\");
    arpa
}

/// P(last word | earlier words) for `words` (1 or 2 ids), backing off through shorter histories.
fn lower_probability(words: &[u32], probability: &[HashMap<Gram, f64>; 3], backoff: &[HashMap<Gram, f64>; 3]) -> f64 {
    let order = words.len() - 1;
    if let Some(value) = probability[order].get(&gram(words)) {
        return *value;
    }
    if order == 0 {
        return 1e-12;
    }
    let history_weight = backoff[order - 1].get(&gram(&words[..order])).copied().unwrap_or(1.0);
    history_weight * lower_probability(&words[1..], probability, backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vocabulary a call with the shipped gym playbook decodes with.
    fn gym_playbook_vocabulary() -> Vocabulary {
        let playbooks = playbook::PlaybookSet::built_in().expect("shipped playbooks");
        let gym = playbooks.get("gym-dropin").expect("gym playbook");
        Vocabulary::from_hints(&gym.recognition_hints())
    }

    #[test]
    fn training_text_spells_numbers_as_said() {
        assert_eq!(number_to_words(0), "zero");
        assert_eq!(number_to_words(49), "forty nine");
        assert_eq!(number_to_words(100), "one hundred");
        assert_eq!(number_to_words(129), "one hundred twenty nine");
        assert_eq!(number_to_words(1500), "one thousand five hundred");
        assert_eq!(normalize("It's $49.99, right?"), vec!["it's", "forty", "nine", "ninety", "nine", "right"]);
        assert_eq!(normalize("$30"), vec!["thirty", "dollars"]);
        assert_eq!(normalize("6:30pm to 9am"), vec!["six", "thirty", "p", "m", "to", "nine", "a", "m"]);
        assert_eq!(normalize("at 7:05"), vec!["at", "seven", "oh", "five"]);
    }

    #[test]
    fn slots_expand_over_their_whole_class() {
        let vocabulary = Vocabulary::new().with_phrase("it is {price} a month");
        let sentences: Vec<String> = vocabulary.training_sentences().iter().map(|words| words.join(" ")).collect();
        assert!(sentences.contains(&"it is forty nine dollars a month".to_string()));
        assert!(sentences.contains(&"it is one hundred forty nine ninety nine a month".to_string()));
        assert!(sentences.iter().all(|sentence| !sentence.contains('{')));
    }

    #[test]
    fn subjects_come_only_from_the_vocabulary() {
        let pattern = Vocabulary::new().with_phrase("the {subject} is free");
        let sentences = |vocabulary: &Vocabulary| -> Vec<String> {
            vocabulary.training_sentences().iter().map(|words| words.join(" ")).collect()
        };
        assert_eq!(sentences(&pattern), vec!["the is free"], "no built-in subjects");
        let with_subjects = pattern.with_subjects(["Day pass", "tea"]);
        assert_eq!(sentences(&with_subjects), vec!["the day pass is free", "the tea is free"]);
    }

    #[test]
    fn playbook_phrases_add_their_words() {
        let vocabulary = gym_playbook_vocabulary().with_phrase("Is there an enrollment fee for the sauna?");
        let words = vocabulary.all_words();
        for word in ["enrollment", "sauna", "forty", "saturday", "p", "dollars"] {
            assert!(words.contains(word), "missing {word}");
        }
        assert_eq!(vocabulary.pronunciations.get("jitsu").map(String::as_str), Some("JH IH T S UW"));
    }

    #[test]
    fn pronunciations_are_kept_and_merged() {
        let first = Vocabulary::new().with_pronunciations([("Quokka", "K W AA K AH"), ("quokka", "K W OW K AH")]);
        assert_eq!(first.pronunciations, BTreeMap::from([("quokka".to_owned(), "K W AA K AH".to_owned())]));
        let other = Vocabulary::new().with_pronunciations([("quokka", "X"), ("numbat", "N AH M B AE T")]);
        let merged = first.merge(&other);
        assert_eq!(merged.pronunciations.get("quokka").map(String::as_str), Some("K W AA K AH"));
        assert_eq!(merged.pronunciations.get("numbat").map(String::as_str), Some("N AH M B AE T"));
    }

    #[test]
    fn playbooks_write_the_slots_this_engine_expands() {
        assert_eq!(SLOT_CLASSES, playbook::SLOT_CLASSES);
    }

    #[test]
    fn arpa_model_is_well_formed() {
        let arpa = Vocabulary::new().with_phrase("{day} at {time}").with_words(["umbrella"]).to_arpa();
        let unigrams: usize = arpa
            .lines()
            .find_map(|line| line.strip_prefix("ngram 1="))
            .and_then(|count| count.parse().ok())
            .expect("unigram count");
        let section = arpa.split("\\1-grams:").nth(1).and_then(|rest| rest.split("\\2-grams:").next()).unwrap_or("");
        assert_eq!(section.lines().filter(|line| !line.trim().is_empty()).count(), unigrams);
        assert!(arpa.contains("\tumbrella"), "loose words are unigrams");
        assert!(arpa.contains("\tmonday at"), "slot members reach the bigrams");
        assert!(arpa.trim_end().ends_with("\\end\\"));
    }
}
