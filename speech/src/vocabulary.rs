//! The words a callee is likely to say on one call, and the grammar embedded STT builds from them.

use std::collections::BTreeSet;

/// Phrases (questions, field descriptions, expected answers) plus single domain words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub phrases: Vec<String>,
    pub words: BTreeSet<String>,
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        Vocabulary::default()
    }

    /// General words for a gym front desk: numbers, prices, days, times, membership words.
    pub fn gym_domain() -> Vocabulary {
        Vocabulary::default()
    }

    /// Add a phrase (e.g. a playbook question or field description); its words join the vocabulary.
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
        self.words.extend(words.into_iter().map(Into::into));
        self
    }

    /// Merge another vocabulary into this one.
    pub fn merge(mut self, other: &Vocabulary) -> Vocabulary {
        self.phrases.extend(other.phrases.iter().cloned());
        self.words.extend(other.words.iter().cloned());
        self
    }
}
