//! One more question for a list field whose answer said more than it named.
//!
//! "You'll need to bring a gi and <words the recogniser got wrong>" names one option of four and
//! says a second thing that named none. Noting "gi" and going on loses the second requirement,
//! and a callee seldom corrects an acknowledgement that is right as far as it goes (tuning seeds
//! 300-339: 8 of the 10 wrong requirement lists were an option said and misheard, "sign the
//! liability form" as "time the liability form", "text us beforehand" as "text of it all"). So
//! when a part of the answer names no option, the agent asks once about the
//! options not named (the field's `more`: "Does a visitor need anything else, like waiver, rank or
//! booking ahead?") and adds what the reply names to the list. The parts are the answer's clauses (split at punctuation and at
//! "and", "also", "plus") of two words or more; one that names no option on its own (read by the
//! same extraction as the whole answer) is a part not understood: structure, not keywords. An
//! answer that named no option ("nothing really, just show up") is not asked about again.
//!
//! Asked together, the options not named came back as the whole answer again, garbled the same
//! way (tuning seeds 304, 332, 335, ev300c: "... and sign up the day before" heard "tie up my
//! name before" twice, booking ahead lost). When each of those options has its own yes/no
//! `question` in the playbook ("Does a visitor need to book ahead?"), they are asked one at a
//! time instead: a yes is easy to hear where the option's own words were not. A yes adds the
//! option, a no leaves it out, whatever the reply names joins the list; a reply that is neither
//! (a question, a hold, an answer about something else) ends the questions and is heard as usual.

use playbook::{FieldSpec, FieldType};
use protocol::results::FieldStatus;
use serde_json::Value;
use std::time::Instant;

use super::questions::ask_next;
use crate::conversation::{Action, Conversation, Phase, WRAP_UP_MS};
use crate::extract::{self, intent::Intent, values};

/// The follow-up of a list field without its own `more`.
const DEFAULT_MORE: &str = "Anything else, like {options}?";

/// Time one yes/no question about an option takes (the question and a short answer): the
/// options are asked one at a time only when all of them fit before the call's wrap-up.
const OPTION_MS: u64 = 12_000;

/// True when `count` yes/no questions about options fit before the call's wrap-up.
fn options_fit(conversation: &Conversation, count: usize) -> bool {
    let limit_ms = conversation.limits().max_duration_s.saturating_mul(1000);
    conversation.state.media_ms + OPTION_MS * count as u64 + WRAP_UP_MS < limit_ms
}

/// The follow-up for `field` after `answer` (see [`question`]), with the options it asks about
/// one at a time (the first is in the question; empty when they are asked about together).
pub(super) struct MoreQuestion {
    pub text: String,
    pub one_at_a_time: Vec<String>,
}

/// The follow-up question for `field` after `answer`, when a part of the answer (not a filler)
/// names no option, the answer named at least one, some were not named, and the field was not
/// asked about again already: the first option's own question when every option not named has
/// one and there is time to ask each, else the field's `more` question about them together.
pub(super) fn question(conversation: &Conversation, field: &FieldSpec, answer: &str) -> Option<MoreQuestion> {
    if field.kind != FieldType::List || field.options.is_empty() {
        return None;
    }
    if conversation.state.more_items_asked.contains(&field.name) {
        return None;
    }
    let named: Vec<String> = conversation
        .state
        .fields
        .get(&field.name)
        .and_then(|f| f.value.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let not_named: Vec<&playbook::OptionSpec> =
        field.options.iter().filter(|option| !named.iter().any(|n| n == option.name())).collect();
    let others: Vec<String> = not_named.iter().map(|option| playbook::spoken(option.name())).collect();
    if named.is_empty() || others.is_empty() {
        return None;
    }
    let names_an_option = |part: &str| {
        crate::extract::extract(&conversation.playbook, part, Some(&field.name)).iter().any(|extraction| {
            extraction.field == field.name && extraction.value.as_array().is_some_and(|items| !items.is_empty())
        })
    };
    // "let me see, you just need ..." : a hold phrase inside an answer is a filler
    let filler = |part: &str| {
        crate::extract::intent::intents(&crate::extract::text::normalised(part))
            .contains(&crate::extract::intent::Intent::Hold)
    };
    if !parts(answer).iter().any(|part| !names_an_option(part) && !filler(part)) {
        return None;
    }
    let fits = options_fit(conversation, not_named.len());
    if fits && not_named.iter().all(|option| option.question().is_some()) {
        let first = not_named[0].question().unwrap_or_default().to_owned();
        return Some(MoreQuestion {
            text: first,
            one_at_a_time: not_named.iter().map(|option| option.name().to_owned()).collect(),
        });
    }
    let template = field.more.as_deref().unwrap_or(DEFAULT_MORE);
    Some(MoreQuestion { text: template.replace("{options}", &spoken_list(&others)), one_at_a_time: Vec::new() })
}

/// For a list answer that named options only to say they are not needed ("You not need to fill
/// out a waiver.", the recogniser's "not" for "just": tuning seeds 532, 556), each of those
/// options' own yes/no question, one at a time: a yes is easy to hear, and a "nothing" read back
/// was agreed to by a callee who heard it wrong. `None` when the value is not "nothing", an
/// option has no question, the field was asked about again already or there is no time.
pub(super) fn negated_question(conversation: &Conversation, field: &FieldSpec, answer: &str) -> Option<MoreQuestion> {
    if conversation.state.more_items_asked.contains(&field.name) {
        return None;
    }
    let nothing =
        conversation.state.fields.get(&field.name).and_then(|f| f.value.as_array().map(Vec::is_empty)).unwrap_or(false);
    if !nothing {
        return None;
    }
    let negated = extract::negated_options(field, answer);
    let questions: Vec<&str> = negated
        .iter()
        .filter_map(|name| field.options.iter().find(|o| o.name() == name.as_str())?.question())
        .collect();
    let fits = options_fit(conversation, negated.len());
    if negated.is_empty() || questions.len() != negated.len() || !fits {
        return None;
    }
    Some(MoreQuestion { text: questions[0].to_owned(), one_at_a_time: negated })
}

/// For a list field asked twice with nothing it could read in either answer, each option's own
/// yes/no question, one at a time, before it is given up: "So, you just need to have a gi, we're
/// gi only." heard "So you just need the family, we're the only..." and the same again to the
/// question in other words (tuning seed 608, ev580b), and the list was left unknown. A yes is
/// easy to hear where the option's own words were not. `None` when the field is no list, an
/// option has no question, the field was asked about so already or there is no time.
pub(super) fn unheard_question(conversation: &Conversation, field: &FieldSpec) -> Option<MoreQuestion> {
    if field.kind != FieldType::List || field.options.is_empty() {
        return None;
    }
    if conversation.state.more_items_asked.contains(&field.name) {
        return None;
    }
    let fits = options_fit(conversation, field.options.len());
    let first = field.options.first()?.question()?.to_owned();
    if !fits || field.options.iter().any(|option| option.question().is_none()) {
        return None;
    }
    Some(MoreQuestion { text: first, one_at_a_time: field.options.iter().map(|o| o.name().to_owned()).collect() })
}

/// Opens the follow-up `question` about list `field` (what it adds joins the value it has now);
/// returns the line that asks it.
pub(super) fn begin(conversation: &mut Conversation, field: &str, question: MoreQuestion) -> String {
    let before = conversation.state.fields.get(field).map(|f| f.value.clone());
    conversation.state.more_items = before.map(|value| (field.to_owned(), value));
    conversation.state.more_items_asked.push(field.to_owned());
    conversation.state.more_options = question.one_at_a_time;
    question.text
}

/// The question open about one option, for a re-prompt.
pub(super) fn current(conversation: &Conversation) -> Option<String> {
    let option = conversation.state.more_options.first()?;
    let (field, _) = conversation.state.more_items.as_ref()?;
    option_question(conversation, field, option)
}

fn option_question(conversation: &Conversation, field: &str, option: &str) -> Option<String> {
    let spec = conversation.playbook.field(field)?;
    spec.options.iter().find(|o| o.name() == option)?.question().map(str::to_owned)
}

/// The reply to a yes/no question about one option (`more_options`): the option joins the list
/// on a yes, what the reply names joins it too, and the next option is asked; after the last,
/// the next question. `None` when no option question is open or the reply is not an answer to
/// it (it is heard as usual then, and the option questions end).
pub(super) fn heard(
    conversation: &mut Conversation,
    now: Instant,
    text: &str,
    words: &str,
    intents: &[Intent],
    turn: usize,
) -> Option<Vec<Action>> {
    let option = conversation.state.more_options.first()?.clone();
    let Some((field, _)) = conversation.state.more_items.clone() else {
        conversation.state.more_options.clear();
        return None;
    };
    if conversation.state.phase != Phase::Asking {
        conversation.state.more_options.clear();
        return None;
    }
    if intents.contains(&Intent::Repeat) {
        let line = option_question(conversation, &field, &option)?;
        return Some(conversation.say(now, &line, false));
    }
    let extractions = extract::extract(&conversation.playbook, text, Some(&field));
    // an answer about something else ("no, not quite, our classes are ..."): heard as usual
    let about_other = extractions.iter().any(|e| e.field != field && e.status == FieldStatus::Known);
    let named: Value = extractions
        .iter()
        .find(|e| e.field == field && e.status == FieldStatus::Known)
        .map(|e| e.value.clone())
        .unwrap_or(Value::Array(Vec::new()));
    let yes = values::yes_no(&extract::text::tokenize(words)).map(|(yes, _)| yes);
    let names_items = named.as_array().is_some_and(|items| !items.is_empty());
    if !intents.is_empty() || about_other || (yes.is_none() && !names_items) || conversation.wrap_up_due(now) {
        // heard as usual: what it names still joins the items (`more_items` stays)
        conversation.state.more_options.clear();
        return None;
    }
    let current = conversation.state.fields.get(&field).map(|f| (f.value.clone(), f.confidence));
    let (before, before_confidence) = current.unwrap_or((Value::Array(Vec::new()), 0.8));
    // a plain yes or no to the option's own question settles it: no read-back of the list after
    // (a "nothing" said only by negating options was below the read-back threshold)
    let confidence = if yes.is_some() { before_confidence.max(0.8) } else { before_confidence };
    let mut items = joined(&before, &named);
    if yes == Some(true) {
        items = joined(&items, &Value::Array(vec![Value::String(option.clone())]));
    }
    conversation.state.notes.push(format!(
        "{field}: asked about {option} alone: {}",
        match yes {
            Some(true) => "yes",
            Some(false) => "no",
            None => "named items",
        }
    ));
    let mut actions = Vec::new();
    if items != before || confidence != before_confidence {
        actions.extend(conversation.set_field(&field, FieldStatus::Known, items, confidence, Some(turn)));
    }
    conversation.state.more_options.remove(0);
    // "no, that's all": no to this one and to the rest
    if ["that's all", "that's it", "that's everything", "nothing else", "nothing more"]
        .iter()
        .any(|phrase| extract::text::has_phrase(words, phrase))
    {
        conversation.state.more_options.clear();
    }
    let next = conversation.state.more_options.first().cloned();
    if let Some(line) = next.and_then(|next| option_question(conversation, &field, &next)) {
        actions.extend(conversation.say(now, &format!("Okay. {line}"), false));
        return Some(actions);
    }
    conversation.state.more_options.clear();
    conversation.state.more_items = None;
    actions.extend(ask_next(conversation, now, "Okay, thanks. "));
    Some(actions)
}

/// The clauses of `answer` that hold two words or more (split at punctuation and at "and",
/// "also", "plus"), lowercased.
pub(super) fn parts(answer: &str) -> Vec<String> {
    let lowered = answer.to_lowercase();
    let mut parts = Vec::new();
    for clause in lowered.split([',', ';', '.', '!', '?']) {
        let mut piece: Vec<&str> = Vec::new();
        for word in clause.split_whitespace().chain(std::iter::once("and")) {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
            if matches!(bare, "and" | "also" | "plus") {
                if piece.len() >= 2 {
                    parts.push(piece.join(" "));
                }
                piece.clear();
            } else if !bare.is_empty() {
                piece.push(bare);
            }
        }
    }
    parts
}

/// "a", "a or b", "a, b or c".
fn spoken_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The items of `before` then those of `now` not already in it (both JSON arrays).
pub(super) fn joined(before: &Value, now: &Value) -> Value {
    let mut items: Vec<Value> = before.as_array().cloned().unwrap_or_default();
    for item in now.as_array().cloned().unwrap_or_default() {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::{joined, parts, spoken_list};
    use serde_json::json;

    #[test]
    fn parts_are_clauses_of_two_words_or_more() {
        // heard on tuning seed 333 for "you'll need to bring your own gi and sign a waiver"
        assert_eq!(
            parts("You need to bring your own key and hide away."),
            ["you need to bring your own key", "hide away"]
        );
        // seed 304: "bring a gi, be a blue belt or higher and text us beforehand"
        let heard = "You'll need to bring a gi, a blue belt, or higher end test, does the forehand.";
        assert_eq!(parts(heard).len(), 4);
        assert_eq!(
            parts("Um, you'll need to bring a gi and sign a waiver."),
            ["you'll need to bring a gi", "sign a waiver"]
        );
        assert_eq!(parts("Just bring a gi."), ["just bring a gi"]);
        assert!(parts("").is_empty());
    }

    #[test]
    fn the_reply_adds_to_the_items_said_before() {
        assert_eq!(joined(&json!(["gi"]), &json!(["waiver", "gi"])), json!(["gi", "waiver"]));
        assert_eq!(joined(&json!(["gi"]), &json!([])), json!(["gi"]));
        assert_eq!(
            spoken_list(&["waiver".into(), "rank".into(), "booking ahead".into()]),
            "waiver, rank or booking ahead"
        );
        assert_eq!(spoken_list(&["waiver".into()]), "waiver");
    }
}
