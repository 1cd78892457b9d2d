//! Which options of a list an answer names, positively or negated, and answers that say
//! there is nothing.

use super::negation::is_not_needed;
use crate::extract::text::{find_phrase_forms, Token};

/// A list option: its name and the phrases that mean it.
pub type ListOption = (String, Vec<String>);

/// Which options an answer names positively and which it names negated:
/// "you need a gi and a waiver" -> `([gi, waiver], [])`; "no gi needed" -> `([], [gi])`. The
/// words of an option's phrases count in their other forms too ("books ahead" for "book ahead").
pub fn list_items(tokens: &[Token], options: &[ListOption]) -> (Vec<String>, Vec<String>) {
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    let mut taken = vec![false; tokens.len()];
    let mut phrases: Vec<(&str, &str)> =
        options.iter().flat_map(|(name, phrases)| phrases.iter().map(move |p| (p.as_str(), name.as_str()))).collect();
    phrases.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.split_whitespace().count()));
    let mut mentions: Vec<(usize, &str, bool)> = Vec::new();
    for (phrase, name) in phrases {
        let length = phrase.split_whitespace().count();
        for start in find_phrase_forms(tokens, phrase) {
            if taken[start..start + length].iter().any(|t| *t) {
                continue;
            }
            taken[start..start + length].iter_mut().for_each(|t| *t = true);
            mentions.push((start, name, is_not_needed(tokens, start, start + length - 1)));
        }
    }
    // in the order they were said; the first mention of an option decides
    mentions.sort_by_key(|(start, _, _)| *start);
    for (_, name, negated) in mentions {
        if positive.iter().chain(negative.iter()).any(|n: &String| n == name) {
            continue;
        }
        if negated {
            negative.push(name.to_owned());
        } else {
            positive.push(name.to_owned());
        }
    }
    (positive, negative)
}

/// Options led into by one of their frames ("bring your own juice": gi) where the two words
/// after the frame name no option and the frame is not negated ("you don't have to bring your
/// own ..."), in the order said. `frames` pairs each option's name with its frames.
pub fn framed_items(tokens: &[Token], frames: &[ListOption], options: &[ListOption]) -> Vec<String> {
    let named_at = |at: usize| {
        options
            .iter()
            .flat_map(|(_, phrases)| phrases)
            .any(|phrase| find_phrase_forms(tokens, phrase).into_iter().any(|start| (at..at + 2).contains(&start)))
    };
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (name, leads) in frames {
        for frame in leads {
            let length = frame.split_whitespace().count();
            for start in find_phrase_forms(tokens, frame) {
                let after = start + length;
                if after < tokens.len() && !named_at(after) && !is_not_needed(tokens, start, after - 1) {
                    found.push((start, name));
                }
            }
        }
    }
    found.sort_by_key(|(start, _)| *start);
    let mut names: Vec<String> = Vec::new();
    for (_, name) in found {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// True when the answer says there is nothing ("nothing", "no", "nope just show up").
pub fn says_nothing(tokens: &[Token]) -> bool {
    let text = format!(" {} ", tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" "));
    [
        " nothing ",
        " nope ",
        " no requirements ",
        " just show up ",
        " just come in ",
        " just come ",
        " just yourself ",
        " just bring yourself ",
        " just you ",
        " not really ",
        " none ",
        " nah ",
        " that's it ",
        " that's all ",
        " that's about it ",
        " no ",
        " all good ",
        " nothing special ",
        " don't think so ",
    ]
    .iter()
    .any(|p| text.contains(p))
}
