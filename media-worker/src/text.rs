//! Text helpers for speaking: split a reply into sentences (each synthesized on its own, so the
//! first audio leaves early) and estimate which words of a sentence were heard.

/// Splits `text` into sentences at `.`, `!`, `?` or `;` followed by a space (or the end).
/// Numbers such as `19.99` stay whole; empty pieces are dropped.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if matches!(byte, b'.' | b'!' | b'?' | b';') {
            let at_end = index + 1 == bytes.len();
            let followed_by_space = bytes.get(index + 1).is_some_and(|b| b.is_ascii_whitespace());
            if at_end || followed_by_space {
                push_trimmed(&mut out, &text[start..=index]);
                start = index + 1;
            }
        }
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn push_trimmed(out: &mut Vec<String>, piece: &str) {
    let piece = piece.trim();
    if piece.chars().any(|c| c.is_alphanumeric()) {
        out.push(piece.to_owned());
    }
}

/// The first words of `text` in proportion to `fraction` (0..=1) of its audio played.
pub fn heard_prefix(text: &str, fraction: f64) -> String {
    if fraction >= 1.0 {
        return text.to_owned();
    }
    if fraction <= 0.0 {
        return String::new();
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let count = (words.len() as f64 * fraction).round() as usize;
    words[..count.min(words.len())].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_sentence_ends_but_not_inside_numbers() {
        assert_eq!(
            sentences("Hi, this is Sam. A drop-in is $19.99! Do you need a gi? "),
            vec!["Hi, this is Sam.", "A drop-in is $19.99!", "Do you need a gi?"]
        );
        assert_eq!(sentences("no punctuation at all"), vec!["no punctuation at all"]);
        assert!(sentences("  ...  ").is_empty());
    }

    #[test]
    fn heard_prefix_follows_the_fraction() {
        let text = "one two three four";
        assert_eq!(heard_prefix(text, 0.0), "");
        assert_eq!(heard_prefix(text, 0.5), "one two");
        assert_eq!(heard_prefix(text, 0.74), "one two three");
        assert_eq!(heard_prefix(text, 1.0), text);
    }
}
