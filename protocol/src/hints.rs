//! What a speech recogniser should expect on a call, as plain data: the playbook writes it
//! (`playbook::Playbook::recognition_hints`), the recogniser reads it
//! (`speech::Vocabulary::from_hints`), and neither crate depends on the other.

use std::collections::BTreeMap;

/// A playbook's hints for the recogniser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecognitionHints {
    /// Words and phrases of the playbook (field keywords, options, questions, its `vocabulary`
    /// and the generic words of a call), lowercase without punctuation. Taken as loose words.
    pub words: Vec<String>,
    /// What callees answer, with `{slot}`s (`{price}`, `{time}`, `{day}`, `{subject}` ...).
    /// Taken as phrases, so their word order is learnt.
    pub answer_patterns: Vec<String>,
    /// What fills `{subject}`.
    pub subjects: Vec<String>,
    /// Word -> CMU phones, for words the recogniser's stock dictionary lacks.
    pub pronunciations: BTreeMap<String, String>,
}
