//! What the callee is doing with an utterance besides answering: asking us to hold, to repeat,
//! transferring, refusing, correcting, confirming, saying goodbye; and what a machine is doing:
//! an IVR menu or a voicemail greeting.

use super::text::{has_phrase, tokenize};

/// A conversational move recognised in an utterance.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// "hold on", "one sec", "let me check".
    Hold,
    /// "can you repeat that", "sorry what".
    Repeat,
    /// "let me get the manager", "i'll transfer you".
    Transfer,
    /// "i can't give out pricing over the phone".
    Refusal,
    /// "i don't know", "not sure".
    DontKnow,
    /// "press 1 for the front desk": the digit to press.
    IvrMenu { digit: String },
    /// "leave a message after the tone".
    Voicemail,
    /// "bye", "i have to go".
    Goodbye,
    /// "who is this", "what is this about".
    WhoIsThis,
}

fn any_phrase(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has_phrase(text, p))
}

const HOLD: &[&str] = &[
    "hold on",
    "hang on",
    "one sec",
    "one second",
    "a sec",
    "a second",
    "just a moment",
    "one moment",
    "a moment",
    "just a minute",
    "give me a sec",
    "give me a second",
    "bear with me",
    "let me check",
    "let me look",
    "let me see",
    "let me find",
    "let me pull",
    "wait a moment",
    "hold please",
    "please hold",
    "hold the line",
    "just a sec",
];
/// What people say coming back to the phone after a wait. Heard whether or not the hold before
/// it was ("can you hold on a sec?" heard "can you vote on a fake?").
const BACK: &[&str] = &[
    "i'm back",
    "i am back",
    "im back",
    "thanks for waiting",
    "thank you for waiting",
    "thanks for holding",
    "thank you for holding",
    "sorry for the wait",
    "sorry about the wait",
    "sorry to keep you waiting",
    "sorry for keeping you",
];

/// True when the callee says they are back after a wait and gives no yes or no after saying so:
/// "Okay, I'm back. Go ahead." is no answer to the question asked before the wait ("okay" is no
/// yes there); "Thanks for holding, so yeah, we take drop-ins" still answers.
pub fn back_from_wait(normalised_text: &str) -> bool {
    let padded = format!(" {normalised_text} ");
    let Some(end) =
        BACK.iter().filter_map(|phrase| padded.rfind(&format!(" {phrase} ")).map(|at| at + phrase.len() + 1)).max()
    else {
        return false;
    };
    const YES_NO: &[&str] = &["yes", "yeah", "yep", "yup", "sure", "no", "nope", "not", "don't", "can't", "we"];
    !padded[end..].split_whitespace().any(|word| YES_NO.contains(&word))
}

/// Hold phrases that are also how people start an answer while they think.
const THINKING_ALOUD: &[&str] = &["let me see"];
/// What may follow a thinking-aloud phrase that still asks to hold ("let me see, um").
const HOLD_FILLERS: &[&str] = &["um", "umm", "uh", "er", "erm", "hmm", "well", "so", "okay", "ok", "oh", "now"];
/// Words a hold request may end with ("hang on, let me grab the schedule for you").
const HOLD_TAIL_WORDS: usize = 6;

/// A hold request ends what the callee says: someone who goes to check stops talking. A hold
/// phrase followed by a longer answer, or by an amount, is a filler ("let me see, it's forty five
/// quid", "let me see, ten dollars for the mat fee"), and the answer is read as usual.
fn asks_to_hold(text: &str) -> bool {
    let padded = format!(" {text} ");
    HOLD.iter().any(|phrase| {
        let Some(at) = padded.rfind(&format!(" {phrase} ")) else { return false };
        // the words after it, as the number reader sees them ("twenty five" is one amount)
        let tail = tokenize(&padded[at + phrase.len() + 2..]);
        // "let me see" is how people start to think aloud: a hold only when nothing but fillers
        // follow it ("Let me see, just yourself, really" heard as "Let me see your L reality.",
        // tuning seed 355, was a hold, and the agent waited for an answer already given)
        if THINKING_ALOUD.contains(phrase) && !tail.iter().all(|t| t.is_any(HOLD_FILLERS)) {
            return false;
        }
        tail.len() <= HOLD_TAIL_WORDS
            && !tail
                .iter()
                .any(|t| t.number.is_some() || t.is_any(&["dollars", "pounds", "euros", "bucks", "quid", "free"]))
    })
}

const REPEAT: &[&str] = &[
    "repeat that",
    "repeat the question",
    "say that again",
    "say again",
    "come again",
    "pardon",
    "sorry what",
    "what was that",
    "didn't catch",
    "didn't hear",
    "couldn't hear",
    "can you repeat",
    "could you repeat",
    "one more time",
    "what did you say",
    "excuse me",
    "huh",
];
const TRANSFER: &[&str] = &[
    "get the manager",
    "get my manager",
    "get the owner",
    "get someone",
    "get somebody",
    "transfer you",
    "put you through",
    "grab the",
    "grab someone",
    "let me get",
    "i'll get",
    "connect you",
    "pass you",
    "hand you over",
    "talk to the manager",
    "speak to the manager",
    "put you on with",
];
const REFUSAL: &[&str] = &[
    "can't give out",
    "cannot give out",
    "can't give that",
    "don't give out",
    "don't give that",
    "not allowed to",
    "not able to share",
    "can't share",
    "cannot share",
    "don't share",
    "can't tell you",
    "cannot tell you",
    "won't say",
    "rather not",
    "prefer not",
    "not over the phone",
    "over the phone",
    "say on the phone",
    "give on the phone",
    "ask at the front desk",
    "ask at the desk",
    "can't discuss",
    "not at liberty",
    "that's private",
    "confidential",
    "come in and ask",
    "come in to ask",
    "have to come in",
    "need to come in",
    "ask in person",
    "in person only",
    "no comment",
    "can't disclose",
    "not supposed to",
    "none of your business",
];
const DONT_KNOW: &[&str] = &[
    "i don't know",
    "don't know",
    "not sure",
    "no idea",
    "i'm not certain",
    "couldn't tell you",
    "no clue",
    "beats me",
];
const VOICEMAIL: &[&str] = &[
    "leave a message",
    "leave your message",
    "after the tone",
    "after the beep",
    "at the tone",
    "not available to take your call",
    "can't take your call",
    "cannot take your call",
    "unable to take your call",
    "reached the voicemail",
    "voicemail",
    "voice mail",
    "mailbox",
    "record your message",
    "we'll get back to you",
    "we will get back to you",
    "leave your name",
];
const GOODBYE: &[&str] = &[
    "goodbye",
    "good bye",
    "bye bye",
    "have to go",
    "gotta go",
    "got to go",
    "hang up now",
    "stop calling",
    "not interested",
];
const WHO: &[&str] = &[
    "who is this",
    "who's this",
    "who is calling",
    "who's calling",
    "what is this about",
    "what's this about",
    "is this a robot",
    "are you a robot",
    "are you a real person",
];

/// IVR choices we want, best first: a person at the front desk.
const IVR_PREFERENCES: &[&str] = &[
    "front desk",
    "reception",
    "receptionist",
    "speak to",
    "talk to",
    "staff",
    "someone",
    "operator",
    "general",
    "information",
    "info",
    "classes",
    "schedule",
    "membership",
    "new members",
    "all other",
    "anything else",
    "everything else",
    "other",
];

/// The intents in an utterance, strongest first (an IVR menu or voicemail before anything else).
pub fn intents(normalised_text: &str) -> Vec<Intent> {
    let text = normalised_text;
    let mut found = Vec::new();
    if let Some(digit) = ivr_choice(text) {
        found.push(Intent::IvrMenu { digit });
    }
    if any_phrase(text, VOICEMAIL) {
        found.push(Intent::Voicemail);
    }
    if any_phrase(text, TRANSFER) {
        found.push(Intent::Transfer);
    }
    // "I can't say on the phone", "we don't do that on the phone": not given on a call
    let on_the_phone = any_phrase(text, &["on the phone", "over the phone", "by phone"])
        && any_phrase(text, &["can't", "cannot", "don't", "won't", "not", "couldn't"]);
    if any_phrase(text, REFUSAL) || on_the_phone {
        found.push(Intent::Refusal);
    }
    if asks_to_hold(text) {
        found.push(Intent::Hold);
    }
    if any_phrase(text, REPEAT) || text == "what" || text == "sorry" || text == "what sorry" {
        found.push(Intent::Repeat);
    }
    if any_phrase(text, DONT_KNOW) {
        found.push(Intent::DontKnow);
    }
    if any_phrase(text, WHO) {
        found.push(Intent::WhoIsThis);
    }
    // a lone "bye" only as a short farewell: speech engines hear "bye" in "back", "by", "i"
    let short_bye = text.split_whitespace().count() <= 3 && text.ends_with("bye");
    if any_phrase(text, GOODBYE) || short_bye {
        found.push(Intent::Goodbye);
    }
    found
}

/// A spoken key. Speech engines write the homophones ("press to", "press for", "won").
fn digit_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "won" => "1",
        "to" | "too" => "2",
        "for" | "fore" => "4",
        "ate" => "8",
        "0" | "zero" | "oh" => "0",
        "1" | "one" => "1",
        "2" | "two" => "2",
        "3" | "three" => "3",
        "4" | "four" => "4",
        "5" | "five" => "5",
        "6" | "six" => "6",
        "7" | "seven" => "7",
        "8" | "eight" => "8",
        "9" | "nine" => "9",
        "star" => "*",
        "pound" | "hash" => "#",
        _ => return None,
    })
}

/// The menu options of an IVR prompt: ("1", "for the front desk") ... Both "press 1 for X" and
/// "for X press 1" orders.
pub fn ivr_options(text: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let is_press = |w: &&str| matches!(*w, "press" | "dial" | "push");
    let presses: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| is_press(w) && words.get(i + 1).is_some_and(|d| digit_word(d).is_some()))
        .map(|(i, _)| i)
        .collect();
    let Some(&first_press) = presses.first() else { return Vec::new() };
    // "press 1 for X, press 2 for Y" or "for X press 1, for Y press 2"
    let last_press = presses[presses.len() - 1];
    let press_first =
        !words[..first_press].iter().any(|w| matches!(*w, "for" | "to" | "if")) || words.len() > last_press + 2;
    let mut options = Vec::new();
    for (n, &index) in presses.iter().enumerate() {
        let Some(digit) = words.get(index + 1).and_then(|w| digit_word(w)) else { continue };
        let description = if press_first {
            let end = presses.get(n + 1).copied().unwrap_or(words.len());
            words[index + 2..end].join(" ")
        } else {
            let start = if n == 0 { 0 } else { presses[n - 1] + 2 };
            words[start..index].join(" ")
        };
        options.push((digit.to_owned(), description));
    }
    options
}

/// The digit to press in an IVR prompt, preferring a person at the front desk.
pub fn ivr_choice(text: &str) -> Option<String> {
    let options = ivr_options(text);
    if options.is_empty() {
        return None;
    }
    for preference in IVR_PREFERENCES {
        if let Some((digit, _)) = options.iter().find(|(_, description)| has_phrase(description, preference)) {
            return Some(digit.clone());
        }
    }
    options.first().map(|(digit, _)| digit.clone())
}

/// A reply to a read-back that opens with a yes and then says it is wrong ("yes, not right",
/// "yeah, that's wrong"), without a "no" of its own: a person does not say that, a recogniser
/// makes it ("that's" heard as "not"), so it is neither a yes nor a no. A reply with a "no" of
/// its own ("yeah, no, it's twenty") is not conflicted.
pub fn confirmation_conflicted(normalised_text: &str) -> bool {
    opens_with_plain_yes(normalised_text) && confirmation(normalised_text) == Some(false)
}

/// True when a reply opens with a yes ("yes", "yeah", "yep", "absolutely", "of course") and has
/// no "no" / "nope" / "nah" anywhere: whatever negation comes later ("can't", "not") is more
/// likely the recogniser's than the callee's.
pub fn opens_with_plain_yes(normalised_text: &str) -> bool {
    let words: Vec<&str> = normalised_text.split_whitespace().collect();
    let opens = match words.as_slice() {
        ["of", "course", ..] => true,
        [first, ..] => {
            ["yes", "yeah", "yep", "yup", "correct", "exactly", "absolutely", "definitely", "sure"].contains(first)
        }
        [] => false,
    };
    opens && !words.iter().any(|word| ["no", "nope", "nah"].contains(word))
}

/// Confirmation of a read-back: Some(true) "yes that's right", Some(false) "no that's wrong".
pub fn confirmation(normalised_text: &str) -> Option<bool> {
    let text = normalised_text;
    let wrong = [
        "that's wrong",
        "that's not right",
        "that's not correct",
        "not quite",
        "not right",
        "no it's",
        "no it is",
        "no that's",
        "actually",
        "incorrect",
        "you got it wrong",
        "wrong",
        "not exactly",
        "no no",
    ];
    if any_phrase(text, &wrong) || text == "no" || text.starts_with("no ") || text.starts_with("nope") {
        return Some(false);
    }
    let right = [
        "yes",
        "yeah",
        "yep",
        "yup",
        "correct",
        "that's right",
        "right",
        "exactly",
        "sure",
        "uh huh",
        "mhm",
        "you got it",
        "sounds right",
        "that's it",
        "perfect",
        "ok",
        "okay",
    ];
    if any_phrase(text, &right) {
        return Some(true);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::text::normalised;

    fn intents_of(text: &str) -> Vec<Intent> {
        intents(&normalised(text))
    }

    #[test]
    fn ivr_menus_pick_the_front_desk() {
        assert_eq!(
            ivr_choice(&normalised("Thanks for calling. Press 1 for billing, press 2 for the front desk.")),
            Some("2".into())
        );
        assert_eq!(
            ivr_choice(&normalised("for membership press three for the front desk press one")),
            Some("1".into())
        );
        assert_eq!(
            ivr_choice(&normalised("press nine to hear these options again press zero for the operator")),
            Some("0".into())
        );
        assert_eq!(ivr_choice(&normalised("we are open until nine")), None);
        // as a speech engine writes it: "one" heard as "walk", "two" as "to"
        assert_eq!(
            ivr_choice(&normalised("thank you for call in closed hold on but clock for membership trial is press walk for the front desk press to")),
            Some("2".into())
        );
        assert_eq!(ivr_choice(&normalised("press for for billing press won for the front desk")), Some("1".into()));
    }

    #[test]
    fn conversational_moves() {
        assert_eq!(intents_of("hold on one sec"), vec![Intent::Hold]);
        assert_eq!(intents_of("um let me see"), vec![Intent::Hold]);
        assert_eq!(intents_of("let me check"), vec![Intent::Hold]);
        assert_eq!(intents_of("let me check the schedule for you"), vec![Intent::Hold]);
        // tuning seed 355: "Let me see, just yourself, really." heard as "Let me see your L reality."
        assert_eq!(intents_of("Let me see your L reality."), vec![]);
        assert_eq!(intents_of("sorry can you repeat that"), vec![Intent::Repeat]);
        assert!(intents_of("hang on let me get the manager").contains(&Intent::Transfer));
        assert!(intents_of("I can't give out pricing over the phone").contains(&Intent::Refusal));
        assert!(
            intents_of("Hi you've reached Atos, please leave a message after the tone").contains(&Intent::Voicemail)
        );
        assert!(intents_of("i'm not sure honestly").contains(&Intent::DontKnow));
        assert_eq!(intents_of("twenty five dollars"), vec![]);
        assert!(intents_of("okay bye").contains(&Intent::Goodbye));
        assert!(intents_of("thanks goodbye now").contains(&Intent::Goodbye));
        assert!(!intents_of("sorry about that i'm bye what was the question").contains(&Intent::Goodbye));
        assert_eq!(confirmation("no it's twenty"), Some(false));
        assert_eq!(confirmation("yes that's right"), Some(true));
        assert_eq!(confirmation("monday"), None);
    }
}
