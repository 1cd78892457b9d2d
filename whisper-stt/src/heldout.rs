//! The WER bench's held-out gym sentences (`data/heldout_gym_sentences.txt`), kept out of every
//! vocabulary, prompt and sentence set the recognisers are tuned with (the test below checks).

/// The sentence file, one sentence a line (`#` comments).
pub const HELDOUT_GYM_SENTENCES_FILE: &str = include_str!("../data/heldout_gym_sentences.txt");

/// The held-out sentences.
pub fn heldout_gym_sentences() -> Vec<&'static str> {
    HELDOUT_GYM_SENTENCES_FILE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn heldout_sentences_appear_in_no_vocabulary_prompt_or_sentence_set() {
        let sentences = heldout_gym_sentences();
        assert!(sentences.len() >= 20, "{} sentences", sentences.len());
        let normalized = |text: &str| protocol::spoken::normalize(text).join(" ");
        let mut tuned_with: HashSet<String> = HashSet::new();
        let mut prompts = Vec::new();
        let playbooks = playbook::PlaybookSet::built_in().expect("shipped playbooks");
        let ids = playbooks.ids();
        assert!(ids.len() >= 2, "both shipped playbooks: {ids:?}");
        for id in &ids {
            let playbook = playbooks.get(id).expect("listed playbook");
            let hints = playbook.recognition_hints();
            let vocabulary = speech::Vocabulary::from_hints(&hints);
            tuned_with.extend(vocabulary.training_sentences().iter().map(|words| words.join(" ")));
            tuned_with.extend(hints.words.iter().map(|words| normalized(words)));
            prompts.push(normalized(&crate::provider::prompt_text(&vocabulary)));
        }
        tuned_with.extend(speech::evaluation::wer_sentences().into_iter().map(normalized));
        tuned_with.extend(speech::evaluation::playbook_questions().into_iter().map(normalized));
        for sentence in sentences {
            let sentence = normalized(sentence);
            assert!(!tuned_with.contains(&sentence), "held-out sentence is tuned with: {sentence}");
            for prompt in &prompts {
                assert!(!prompt.contains(&sentence), "held-out sentence is in a prompt: {sentence}");
            }
        }
    }
}
