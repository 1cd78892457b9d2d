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

use playbook::{FieldSpec, FieldType};
use serde_json::Value;

use crate::conversation::Conversation;

/// The follow-up of a list field without its own `more`.
const DEFAULT_MORE: &str = "Anything else, like {options}?";

/// The follow-up question for `field` after `answer`, when a part of the answer (not a filler)
/// names no option, the answer named at least one, some were not named, and the field was not
/// asked about again already.
pub(super) fn question(conversation: &Conversation, field: &FieldSpec, answer: &str) -> Option<String> {
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
    let others: Vec<String> = field
        .options
        .iter()
        .map(|option| option.name().to_owned())
        .filter(|name| !named.contains(name))
        .map(|name| playbook::spoken(&name))
        .collect();
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
    let template = field.more.as_deref().unwrap_or(DEFAULT_MORE);
    Some(template.replace("{options}", &spoken_list(&others)))
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
