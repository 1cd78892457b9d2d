//! Word error rate measurement for the embedded recognizer: the repository's sentence set and
//! an edit-distance WER, shared by the WER test and the `speech-wer-bench` example. The
//! sentences are a gym front desk's; the vocabulary they are decoded with comes from the gym
//! playbook (`playbooks/gym-dropin.yaml`), never from this crate.

/// The measurement file: sentences above `---`, playbook-style questions below.
pub const WER_SENTENCES_FILE: &str = include_str!("../data/wer_sentences.txt");

/// Sentences to speak and recognize (not used to build the language model).
pub fn wer_sentences() -> Vec<&'static str> {
    section(0)
}

/// Playbook-style questions that join the vocabulary, as a playbook's field questions would.
pub fn playbook_questions() -> Vec<&'static str> {
    section(1)
}

fn section(index: usize) -> Vec<&'static str> {
    WER_SENTENCES_FILE
        .split("\n---\n")
        .nth(index)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// Word-level edit distance (substitutions + deletions + insertions) and reference length.
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> (usize, usize) {
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, reference_word) in reference.iter().enumerate() {
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, hypothesis_word) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(reference_word != hypothesis_word);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    (previous[hypothesis.len()], reference.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn word_errors_count_edits() {
        assert_eq!(word_errors(&words("a b c"), &words("a b c")), (0, 3));
        assert_eq!(word_errors(&words("a b c"), &words("a x c")), (1, 3));
        assert_eq!(word_errors(&words("a b c"), &words("a c")), (1, 3));
        assert_eq!(word_errors(&words("a b c"), &words("a b c d e")), (2, 3));
        assert_eq!(word_errors(&words("a b"), &words("")), (2, 2));
    }

    #[test]
    fn sentence_set_is_large_enough_and_apart_from_the_vocabulary() {
        let sentences = wer_sentences();
        assert!(sentences.len() >= 20);
        let playbooks = playbook::PlaybookSet::built_in().expect("shipped playbooks");
        let gym = playbooks.get("gym-dropin").expect("gym playbook");
        let patterns = crate::Vocabulary::from_hints(&gym.recognition_hints()).with_phrases(playbook_questions());
        let expanded: std::collections::HashSet<String> =
            patterns.training_sentences().iter().map(|sentence| sentence.join(" ")).collect();
        for sentence in sentences {
            let normalized = protocol::spoken::normalize(sentence).join(" ");
            assert!(!expanded.contains(&normalized), "measurement sentence is a training line: {sentence}");
        }
    }
}
