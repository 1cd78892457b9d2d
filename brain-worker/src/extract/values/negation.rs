//! Negation scope ("we don't do drop ins", "a gi is optional") and yes/no answers.

use crate::extract::text::{find_phrase, tokenize, Token};

/// Words that negate what follows them within a clause.
const NEGATIONS: &[&str] = &[
    "no",
    "not",
    "don't",
    "doesn't",
    "didn't",
    "never",
    "isn't",
    "aren't",
    "can't",
    "cannot",
    "won't",
    "nope",
    "nah",
    "without",
    "neither",
    "nor",
    "shouldn't",
    "wouldn't",
];

/// Words that split an utterance into clauses for negation scope ("only": "no drop-in price,
/// only the mat fee" says there is a mat fee, tuning seed 611).
const CLAUSE_BREAKS: &[&str] =
    &["but", "and", "just", "only", "so", "also", "plus", "then", "although", "though", "however", "or", "except"];

/// A clause is the run of tokens between clause breaks around `position`.
fn clause_bounds(tokens: &[Token], position: usize) -> (usize, usize) {
    let start = tokens[..position].iter().rposition(|t| t.is_any(CLAUSE_BREAKS)).map(|i| i + 1).unwrap_or(0);
    let end =
        tokens[position..].iter().position(|t| t.is_any(CLAUSE_BREAKS)).map(|i| position + i).unwrap_or(tokens.len());
    (start, end)
}

/// Phrases after a thing that say it is not the case ("drop ins aren't allowed").
const NEGATIVE_AFTER: &[&str] = &[
    "not allowed",
    "aren't allowed",
    "isn't allowed",
    "not offered",
    "isn't offered",
    "aren't offered",
    "not available",
    "isn't available",
    "aren't available",
];

/// Phrases after a requirement that say it is not needed ("a gi is optional").
const NOT_NEEDED_AFTER: &[&str] = &[
    "not required",
    "isn't required",
    "aren't required",
    "not needed",
    "isn't needed",
    "aren't needed",
    "not necessary",
    "isn't necessary",
    "optional",
    "doesn't matter",
    "don't matter",
    "is fine",
    "are fine",
    "is okay",
    "are okay",
    "welcome",
    "not a problem",
    "isn't a problem",
    "no problem",
];

/// True when any of `tokens` is a negation word.
pub fn has_negation(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| t.is_any(NEGATIONS))
}

/// Whether the mention at `start..=end` is negated in its clause: a negation before it
/// ("we don't do drop ins") or a negative phrase after it ("drop ins aren't allowed").
pub fn is_negated(tokens: &[Token], start: usize, end: usize) -> bool {
    negated_with(tokens, start, end, NEGATIVE_AFTER, &[])
}

/// Like [`is_negated`] for a requirement: also "a gi is optional", "any rank is welcome".
pub fn is_not_needed(tokens: &[Token], start: usize, end: usize) -> bool {
    let all: Vec<&str> = NEGATIVE_AFTER.iter().chain(NOT_NEEDED_AFTER).copied().collect();
    negated_with(tokens, start, end, &all, &["any", "all"])
}

fn negated_with(tokens: &[Token], start: usize, end: usize, after_phrases: &[&str], before_words: &[&str]) -> bool {
    let (clause_start, clause_end) = clause_bounds(tokens, start);
    let before = &tokens[clause_start..start];
    let negated_before = (clause_start..start).any(|i| is_negation_at(tokens, i))
        || start.checked_sub(1).is_some_and(|i| i >= clause_start && tokens[i].is_any(before_words));
    let after: Vec<&str> = tokens[(end + 1).min(clause_end)..clause_end].iter().map(|t| t.word.as_str()).collect();
    let after_text = format!(" {} ", after.join(" "));
    let negated_after = after_phrases.iter().any(|p| after_text.contains(&format!(" {p} ")))
        || after.first().is_some_and(|w| ["isn't", "aren't", "not"].contains(w));
    let _ = before;
    negated_before || negated_after
}

/// Nouns naming what something costs: "no drop-in price" is about a price, not about drop-ins.
const PRICE_NOUNS: &[&str] =
    &["price", "prices", "pricing", "fee", "fees", "rate", "rates", "cost", "costs", "charge", "charges"];

/// Whether the `length` words of a phrase at `start` are followed by a price noun ("drop in
/// price", "drop in fee").
pub fn names_price(tokens: &[Token], start: usize, length: usize) -> bool {
    tokens.get(start + length).is_some_and(|t| t.is_any(PRICE_NOUNS))
}

/// Whether a price named at `start` (the `length` words of its phrase, then a price noun) is said
/// not to exist ("no drop-in price", "we don't really have a drop in fee"), as opposed to not
/// given ("I can't give out the drop in price").
pub fn says_no_price(tokens: &[Token], start: usize, length: usize) -> bool {
    if !names_price(tokens, start, length) || !is_negated(tokens, start, start + length) {
        return false;
    }
    let (from, to) = clause_bounds(tokens, start);
    let refusal = ["give", "share", "tell", "say", "quote", "discuss", "disclose", "allowed", "phone", "sure", "know"];
    let clause = &tokens[from..to];
    !clause.iter().any(|t| t.is_any(&refusal))
        && tokens[from..start].iter().any(|t| t.is_any(&["no", "have", "there's", "is", "any", "charge"]))
}

/// True when an answer to "is there a fee?" says there is none without naming the fee in words
/// the rules know: a generic charge word negated ("no extra fee for the mask", "we don't charge
/// anything") or a short reply that is only "there's no <something>" ("there's no messy").
pub fn no_fee_said(tokens: &[Token]) -> bool {
    let generic = ["fee", "fees", "charge", "extra", "cost", "anything", "nothing"];
    let negated_generic = tokens
        .iter()
        .enumerate()
        .any(|(i, t)| t.is_any(&generic) && (t.is_any(&["nothing"]) || is_negated(tokens, i, i)));
    if negated_generic {
        return true;
    }
    // after fillers: "there's no X", "there is no X", "no X" with X one or two words
    let words: Vec<&str> = tokens
        .iter()
        .map(|t| t.word.as_str())
        .skip_while(|w| LEADING_FILLERS.contains(w) || ["okay", "ok", "right", "yeah", "no"].contains(w))
        .collect();
    let rest = match words.as_slice() {
        ["there's", "no", rest @ ..] | ["there", "is", "no", rest @ ..] | ["theres", "no", rest @ ..] => rest,
        _ => return false,
    };
    (1..=2).contains(&rest.len())
}

/// `tokens` without the clauses that negate a price of one of `phrases` ("we don't really have a
/// drop in price, you just pay the mat fee"): such a clause says there is no separate price, not
/// that the thing is not offered.
pub fn without_negated_price(tokens: &[Token], phrases: &[String]) -> Vec<Token> {
    let mut dropped = vec![false; tokens.len()];
    for phrase in phrases {
        let length = phrase.split_whitespace().count();
        for start in find_phrase(tokens, phrase) {
            if names_price(tokens, start, length) && is_negated(tokens, start, start + length) {
                let (from, to) = clause_bounds(tokens, start);
                dropped[from..to].iter_mut().for_each(|d| *d = true);
            }
        }
    }
    tokens.iter().zip(dropped).filter(|(_, dropped)| !dropped).map(|(t, _)| t.clone()).collect()
}

/// A negation word that really negates: not the "no" of "no problem" / "no worries".
fn is_negation_at(tokens: &[Token], index: usize) -> bool {
    let word = |offset: usize| tokens.get(index + offset).map(|t| t.word.as_str());
    if !tokens[index].is_any(NEGATIONS) {
        return false;
    }
    !matches!(
        (word(0), word(1), word(2)),
        (Some("no"), Some("problem" | "worries" | "doubt"), _) | (Some("not"), Some("a"), Some("problem"))
    )
}

const YES_STARTS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "yea",
    "ya",
    "sure",
    "absolutely",
    "definitely",
    "certainly",
    "correct",
    "right",
    "exactly",
    "uh huh",
    "mhm",
    "mm hmm",
    "of course",
    "you bet",
    "totally",
    "indeed",
    "affirmative",
    "we do",
    "we sure do",
    "that's right",
    "that's correct",
    "ok",
    "okay",
];
const NO_STARTS: &[&str] = &[
    "no",
    "nope",
    "nah",
    "not really",
    "unfortunately not",
    "negative",
    "not at all",
    "we don't",
    "we do not",
    "not anymore",
    "never",
];
/// Fillers before an answer; they say neither yes nor no.
const LEADING_FILLERS: &[&str] = &["um", "umm", "uh", "uhm", "erm", "er", "hmm", "hm", "mm", "oh", "ah", "well", "so"];

const SOFTENERS: &[&str] = &["no problem", "no worries", "not a problem", "no no problem", "no need"];

/// True when `rest` (an answer after its leading yes-word) holds another yes-word or an
/// affirmation ("sure", "of course", "welcome", "you can").
fn affirms_again(rest: &[Token]) -> bool {
    let text = format!(" {} ", rest.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" "));
    rest.iter().any(|t| t.is_any(&["yes", "yeah", "yep", "sure", "absolutely", "definitely", "certainly"]))
        || [" of course ", " welcome ", " you can ", " we do ", " we take ", " come on by ", " come in "]
            .iter()
            .any(|p| text.contains(p))
}

/// Words with which people turn a request down, whatever the request.
const REGRETS: &[&str] = &[
    "unfortunately",
    "sorry",
    "afraid",
    "regret",
    "regrettably",
    "members only",
    "member only",
    "only members",
    "only for members",
    "just for members",
    "not at the moment",
    "not right now",
    "not anymore",
    "no longer",
];

/// Words that say yes whatever else is said ("sure, come by, sorry about the noise").
const PLAIN_YES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "absolutely",
    "definitely",
    "certainly",
    "of course",
    "welcome",
    "come on by",
    "no problem",
];

/// True when a reply holds the words of a refusal ("unfortunately", "sorry", "members only")
/// and no yes-word: a yes read from it ("Unfortunately, you can defy up for a membership" for
/// "Unfortunately not, you'd have to sign up for a membership") lost its negation to the
/// recogniser.
pub fn regretful(tokens: &[Token]) -> bool {
    let text = format!(" {} ", tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" "));
    let has = |phrase: &&str| text.contains(&format!(" {phrase} "));
    REGRETS.iter().any(has) && !PLAIN_YES.iter().any(has)
}

/// A yes or no in the answer, with a confidence. A leading "yes"/"no" decides; otherwise a
/// negation ("we don't do drop-ins", "you don't need one") means no and an affirmation
/// ("we do", "they're welcome") means yes.
pub fn yes_no(tokens: &[Token]) -> Option<(bool, f32)> {
    let text = tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
    let mut text = format!(" {text} ");
    for softener in SOFTENERS {
        text = text.replace(&format!(" {softener} "), " ");
    }
    // what people say before they answer ("um, absolutely, come on by")
    let mut text = text.trim();
    while let Some(rest) = LEADING_FILLERS
        .iter()
        .find_map(|f| text.strip_prefix(f).filter(|rest| rest.is_empty() || rest.starts_with(' ')).map(str::trim_start))
    {
        text = rest;
    }
    if text.is_empty() {
        return None;
    }
    let starts = |phrase: &str| text == phrase || text.starts_with(&format!("{phrase} "));
    if NO_STARTS.iter().any(|p| starts(p)) {
        return Some((false, 0.9));
    }
    if YES_STARTS.iter().any(|p| starts(p)) {
        // "yeah we don't do that" -> no
        let rest: Vec<Token> = tokenize(text).into_iter().skip(1).collect();
        // "right, no, sorry", "yeah, no": an opener, then the answer
        // ("yeah, so no, sorry, we're members only": fillers between the opener and the answer)
        let no_next = rest
            .iter()
            .find(|t| !t.is_any(&["so", "well", "um", "uh", "hmm", "okay", "ok", "oh"]))
            .is_some_and(|t| t.is_any(&["no", "nope", "nah"]));
        if (no_next || rest.iter().take(4).any(|t| t.is_any(&["don't", "doesn't", "can't", "not", "never"])))
            && !starts("of course")
        {
            // ... unless the rest also says yes in other words ("right, sure, visit and not all
            // way welcome" for "right, sure, visitors are always welcome"): the two disagree, so
            // this settles nothing and the question is asked again
            if affirms_again(&rest) {
                return None;
            }
            return Some((false, 0.7));
        }
        return Some((true, 0.9));
    }
    let padded = format!(" {text} ");
    if [" only members ", " members only ", " only for members ", " just for members ", " only open to members "]
        .iter()
        .any(|p| padded.contains(p))
    {
        return Some((false, 0.8));
    }
    let words: Vec<&str> = text.split(' ').collect();
    if words.iter().any(|w| NEGATIONS.contains(w)) {
        return Some((false, 0.75));
    }
    let affirmations = [
        " we do ",
        " we have ",
        " welcome ",
        " you can ",
        " they can ",
        " allowed ",
        " of course ",
        " you need ",
        " you'll need ",
        " you will need ",
        " you have to ",
        " you must ",
        " required ",
        " we take ",
        " we offer ",
        " we allow ",
        " it is ",
        " it's fine ",
        " they are ",
        " there is ",
        " there's ",
        " do ",
        " definitely ",
        " for sure ",
    ];
    if affirmations.iter().any(|p| padded.contains(p)) {
        return Some((true, 0.7));
    }
    None
}
