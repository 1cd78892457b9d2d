//! Rule-based extraction: turns one callee utterance into field values typed by the playbook.
//! General rules over normalised tokens (numbers folded, negation scoped to its clause), not a
//! list of known sentences: STT output is lowercase, unpunctuated, with numbers as words.
//!
//! - [`text`]: tokenising and number folding.
//! - [`values`]: money, yes/no, days, times, ranges, schedules, scales, list items.
//! - [`intent`]: hold / repeat / transfer / refusal / IVR / voicemail / confirmation.
//! - [`extract`]: the field-aware layer the policies call.

pub mod intent;
pub mod text;
pub mod values;

use playbook::{spoken, FieldSpec, FieldType, Playbook};
use protocol::results::FieldStatus;
use serde_json::{json, Value};
use text::Token;
use values::{ClassSlot, MoneyMention};

/// One field value found in an utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Extraction {
    pub field: String,
    pub status: FieldStatus,
    pub value: Value,
    pub confidence: f32,
}

impl Extraction {
    pub(crate) fn known(field: &FieldSpec, value: Value, confidence: f32) -> Extraction {
        Extraction { field: field.name.clone(), status: FieldStatus::Known, value, confidence }
    }
}

/// Everything an utterance tells about the playbook's fields. `asked` is the field the agent
/// just asked for: its answer may be bare ("twenty", "yes"); other fields are picked up only
/// when the callee names them ("the mat fee is ten", "we don't do drop-ins").
pub fn extract(playbook: &Playbook, utterance: &str, asked: Option<&str>) -> Vec<Extraction> {
    let tokens = text::tokenize(utterance);
    let normalised = text::normalised(utterance);
    let intents = intent::intents(&normalised);
    let mut found: Vec<Extraction> = Vec::new();
    let asked_spec = asked.and_then(|name| playbook.field(name));

    // Money first, attributed across every money field by the words next to each amount.
    let mentions = values::money_mentions(&tokens);
    let money_fields: Vec<&FieldSpec> = playbook.fields.iter().filter(|f| f.kind == FieldType::Money).collect();
    let control = intents.iter().any(|i| !matches!(i, intent::Intent::Refusal | intent::Intent::Goodbye));
    if !mentions.is_empty() && !money_fields.is_empty() {
        // "hold on one sec": a bare number in a hold / repeat request is not an answer
        let mentions: Vec<MoneyMention> = mentions.into_iter().filter(|m| m.explicit || !control).collect();
        // "I can't give that out ... the mat fee is fifteen": an amount that names no field is
        // not the refused answer
        let refused = intents.contains(&intent::Intent::Refusal);
        let bare_answer_to = asked_spec.filter(|_| !refused);
        let (mentions, corrected) = without_corrected(&tokens, mentions, &money_fields);
        // the other price a two-part question asked about ("how much is a drop-in, and is there
        // a mat fee?"), when it asked about one
        let other_asked = bare_answer_to.and_then(|asked| {
            let others: Vec<&FieldSpec> =
                also_asked(playbook, asked).into_iter().filter(|f| f.kind == FieldType::Money).collect();
            match others.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        });
        let mut money = attribute_money(&tokens, &mentions, &money_fields, bare_answer_to, other_asked);
        if corrected {
            // a corrected amount is read back for a yes, never acknowledged in passing
            for extraction in &mut money {
                extraction.confidence = extraction.confidence.min(0.6);
            }
        }
        found.extend(money);
    }
    // "no mat fee", "we don't charge a mat fee": a fee named and negated is zero
    let opens_with_yes = intent::opens_with_plain_yes(&normalised);
    for field in &money_fields {
        if found.iter().any(|e| e.field == field.name) {
            continue;
        }
        // "Yes, now that I'm not a mat fee" to "is there a mat fee?": a yes and a "none" at
        // once is no answer (asked again), not a free mat
        if opens_with_yes && asked_spec.is_some_and(|asked| asked.name == field.name) {
            continue;
        }
        if said_to_be_none(&tokens, field) {
            found.push(Extraction::known(field, json!({ "amount": 0.0, "currency": "USD" }), 0.8));
        }
    }

    // "How much is a drop-in, and is there a mat fee?" answered "no, there's no charge for
    // that": a none said with a negation, naming neither part, may answer either. Read back,
    // never noted.
    if let Some(field) = asked_spec.filter(|f| f.kind == FieldType::Money) {
        doubt_a_none_to_a_two_part_question(playbook, field, &tokens, &normalised, &mut found);
    }

    // Asked for a fee, told there is none in words the rules do not know ("there's no mapie",
    // "no extra fee for the mask": the fee's own name misheard): none, at a confidence that
    // has it read back for a yes.
    if let Some(field) = asked_spec.filter(|f| f.kind == FieldType::Money) {
        let control = intents.iter().any(|i| !matches!(i, intent::Intent::Goodbye));
        if !control && !opens_with_yes && mentions_none(&found, &tokens) && values::no_fee_said(&tokens) {
            found.push(Extraction::known(field, json!({ "amount": 0.0, "currency": "USD" }), 0.6));
        }
    }

    for field in &playbook.fields {
        if found.iter().any(|e| e.field == field.name) {
            continue;
        }
        let is_asked = asked_spec.is_some_and(|a| a.name == field.name);
        let extraction = match field.kind {
            FieldType::Money => None,
            FieldType::Risk => risk(field, &normalised, utterance),
            // "no gi is Thursday and Friday at six thirty in the morning", said to "does a
            // visitor need anything?" (the gym still giving its classes): a none read from an
            // answer that gives classes on days is a class type's name, not a requirement
            FieldType::List if is_asked => answer(field, &tokens, &normalised, utterance)
                .filter(|e| !(says_none(&e.value) && gives_classes(playbook, &tokens))),
            _ if is_asked => answer(field, &tokens, &normalised, utterance),
            _ => unsolicited(field, &tokens, &normalised),
        };
        if let Some(extraction) = extraction {
            found.push(extraction);
        }
    }

    if let Some(field) = asked_spec {
        let answered = found.iter().any(|e| e.field == field.name);
        if !answered && intents.contains(&intent::Intent::Refusal) {
            found.push(Extraction {
                field: field.name.clone(),
                status: FieldStatus::Refused,
                value: Value::Null,
                confidence: 0.8,
            });
        }
    }
    found
}

/// True when `tokens` give classes on days by a schedule field of `playbook`: a day named and a
/// class with its start time read.
fn gives_classes(playbook: &Playbook, tokens: &[Token]) -> bool {
    playbook.fields.iter().filter(|f| f.kind == FieldType::Schedule).any(|field| {
        !values::days_in(tokens).is_empty() && !values::schedule(tokens, &class_types(field)).slots.is_empty()
    })
}

/// The options of list `field` that a word of `utterance` sounds like without being one of
/// their phrases: a one-word phrase of five letters or more, a third of its letters changed at
/// most ("waymer" for "waiver"). For a correction of a list read back, where the callee names
/// items: "No, it's waymer." to "So for requirements: nothing special?" (tuning seed 556).
pub fn options_sounding_like(field: &FieldSpec, utterance: &str) -> Vec<String> {
    let tokens = text::tokenize(utterance);
    let mut found: Vec<String> = Vec::new();
    for option in &field.options {
        let near = option.phrases().iter().filter(|p| !p.contains(' ') && p.len() >= 5).any(|phrase| {
            tokens.iter().map(|t| t.word.as_str()).filter(|w| w.len() >= 4 && w.is_ascii()).any(|word| {
                let distance = values::edit_distance(word, phrase);
                distance > 0 && distance <= phrase.len() / 3 && word.as_bytes()[0] == phrase.as_bytes()[0]
            })
        });
        if near && !found.iter().any(|f| f == option.name()) {
            found.push(option.name().to_owned());
        }
    }
    found
}

/// The options of list `field` that `utterance` names only to say they are not needed ("you
/// don't need to sign a waiver").
pub fn negated_options(field: &FieldSpec, utterance: &str) -> Vec<String> {
    if field.kind != FieldType::List {
        return Vec::new();
    }
    let tokens = text::tokenize(utterance);
    let (positive, negative) = values::list_items(&tokens, &options(field));
    negative.into_iter().filter(|name| !positive.contains(name)).collect()
}

/// True when a field's value says "none": false, an empty list or text, an amount of zero.
pub fn says_none(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Array(items) => items.is_empty(),
        Value::String(text) => text.trim().is_empty(),
        Value::Object(_) => value.get("amount").and_then(Value::as_f64) == Some(0.0),
        _ => false,
    }
}

/// True when `words` (normalised) name `field` by one of its keywords.
pub fn names(field: &FieldSpec, words: &str) -> bool {
    field.keywords.iter().any(|keyword| text::has_phrase(words, &text::normalised(keyword)))
}

/// The fields other than `asked` that its question names by their keywords ("How much is a
/// drop-in, and is there a mat fee?" names the mat fee): the question asks about them too.
fn also_asked<'a>(playbook: &'a Playbook, asked: &FieldSpec) -> Vec<&'a FieldSpec> {
    let Some(question) = asked.question.as_deref().map(text::normalised) else { return Vec::new() };
    playbook.fields.iter().filter(|f| f.name != asked.name && names(f, &question)).collect()
}

/// Lowers to read-back confidence a none given to `asked` by a reply with a negation in it ("no,
/// there's no charge for that", "yeah, so no, there's no extra fee for the mats") when its
/// question also asked about another field, the reply names neither by its keywords, and nothing
/// was found for the other: "How much is X, and is there Y?" answered "there's no ..." is as
/// likely about Y (a plain "it's free" answers the "how much" and stays as it is). Said back ("So
/// a drop-in is free, is that right?"), the callee says which.
fn doubt_a_none_to_a_two_part_question(
    playbook: &Playbook,
    asked: &FieldSpec,
    tokens: &[Token],
    normalised: &str,
    found: &mut [Extraction],
) {
    if !values::has_negation(tokens) {
        return;
    }
    let others = also_asked(playbook, asked);
    if others.is_empty() || others.iter().any(|o| found.iter().any(|e| e.field == o.name)) {
        return;
    }
    if names(asked, normalised) || others.iter().any(|o| names(o, normalised)) {
        return;
    }
    for extraction in found.iter_mut().filter(|e| e.field == asked.name) {
        if extraction.value.get("amount").and_then(Value::as_f64) == Some(0.0) {
            extraction.confidence = extraction.confidence.min(0.6);
        }
    }
}

/// True when nothing was found yet and no number was said.
fn mentions_none(found: &[Extraction], tokens: &[Token]) -> bool {
    found.is_empty() && tokens.iter().all(|t| t.number.is_none())
}

/// The value of the field that was asked, from a direct answer.
fn answer(field: &FieldSpec, tokens: &[Token], normalised: &str, utterance: &str) -> Option<Extraction> {
    let intents = intent::intents(normalised);
    let only_control = intents.iter().any(|i| {
        matches!(
            i,
            intent::Intent::Hold
                | intent::Intent::Repeat
                | intent::Intent::Transfer
                | intent::Intent::Refusal
                | intent::Intent::DontKnow
                | intent::Intent::Voicemail
                | intent::Intent::IvrMenu { .. }
        )
    });
    match field.kind {
        FieldType::YesNo => {
            let extraction = match unsolicited(field, tokens, normalised) {
                Some(extraction) => extraction,
                None => {
                    if only_control && !starts_with_yes_no(normalised) {
                        return None;
                    }
                    // a question back ("Sorry about that, what did you need?" after a hold) is
                    // no answer to a yes/no question, whatever words in it read as one (tuning
                    // seeds 304 and 333: "... What did you need?" read as a yes, then as a no
                    // said with regret, confirmed a misheard "no" and ended the survey)
                    if utterance.trim_end().ends_with('?') && !starts_with_yes_no(normalised) {
                        return None;
                    }
                    // "no drop-in price, you just pay the mat fee" is no answer to "do you take drop-ins"
                    let kept = values::without_negated_price(tokens, &spoken_keywords(field));
                    let (answer, confidence) = values::yes_no(&kept)?;
                    Extraction::known(field, Value::Bool(answer), confidence)
                }
            };
            // "We don't do drop ins, it's members only, sorry" heard as "We going through
            // drop-ins, it's member-only, sorry": the recogniser loses a "don't" far more often
            // than a callee says yes with regret and no yes-word. A no, less sure (a gatekeeping
            // no is confirmed before it settles anything).
            if extraction.value == Value::Bool(true) && values::regretful(tokens) {
                return Some(Extraction::known(field, Value::Bool(false), REGRETFUL_NO));
            }
            Some(extraction)
        }
        FieldType::Schedule => schedule_answer(field, tokens, 0.75),
        FieldType::List => {
            let (mut positive, negative) = values::list_items(tokens, &options(field));
            // "you'll need to bring your own juice": a gi, by the words that lead into it, read
            // back for a yes
            let framed: Vec<String> = values::framed_items(tokens, &frames(field), &options(field))
                .into_iter()
                .filter(|name| !positive.contains(name) && !negative.contains(name))
                .collect();
            if !framed.is_empty() {
                positive.extend(framed);
                return Some(Extraction::known(field, json!(positive), FRAMED_ITEM));
            }
            if !positive.is_empty() {
                return Some(Extraction::known(field, json!(positive), 0.8));
            }
            if values::says_nothing(tokens) {
                return Some(Extraction::known(field, json!([]), 0.7));
            }
            // only options said not to be needed ("you don't need to let us know"): nothing, but
            // read back, not noted in passing: one misheard word makes it ("You just need to let
            // us know in advance." heard "You not need to let us know in the man's.", tuning seed
            // 532, was noted as nothing needed)
            if !negative.is_empty() {
                return Some(Extraction::known(field, json!([]), NOTHING_BY_NEGATION));
            }
            if field.options.is_empty() && !only_control && !normalised.is_empty() {
                return Some(Extraction::known(field, json!([utterance.trim()]), 0.5));
            }
            None
        }
        FieldType::Enum => {
            let (positive, _) = values::list_items(tokens, &options(field));
            positive.first().map(|name| Extraction::known(field, json!(name), 0.8))
        }
        FieldType::Scale => {
            let range = field.scale?;
            let (value, confidence) = values::scale(tokens, range.min, range.max)?;
            Some(Extraction::known(field, number_value(value), confidence))
        }
        FieldType::Number => {
            let number = tokens.iter().find_map(|t| t.number)?;
            Some(Extraction::known(field, number_value(number), 0.8))
        }
        FieldType::Text => {
            if only_control {
                return None;
            }
            // "(I think) that's it" says there is nothing more; it is also a confirmation word,
            // so it is read before the check below
            if values::says_nothing(tokens) && tokens.len() <= 6 {
                return Some(Extraction::known(field, json!("nothing else"), 0.7));
            }
            // "yes that's right" is a confirmation of something earlier, not this answer
            if intent::confirmation(normalised) == Some(true) && tokens.len() <= 4 {
                return None;
            }
            (!normalised.is_empty()).then(|| Extraction::known(field, json!(utterance.trim()), 0.6))
        }
        FieldType::Money | FieldType::Risk => None,
    }
}

/// Confidence of a yes-reading said with the words of a refusal, taken as a no.
const REGRETFUL_NO: f32 = 0.6;

fn spoken_keywords(field: &FieldSpec) -> Vec<String> {
    field.keywords.iter().map(|k| spoken(k)).collect()
}

/// True when the reply opens with a yes or a no ("of course, ..."): an answer, even when a hold
/// word comes later in it ("of course, we get visitors all the time" heard as "... a moment time").
fn starts_with_yes_no(normalised: &str) -> bool {
    let first = normalised.split(' ').next().unwrap_or("");
    ["yes", "yeah", "yep", "no", "nope", "nah", "sure", "absolutely", "definitely", "certainly"].contains(&first)
        || normalised == "of course"
        || normalised.starts_with("of course ")
}

/// A field the callee mentions on their own: a yes/no keyword with its polarity ("we don't do
/// drop-ins"), a schedule with class words, required items named with a need word.
fn unsolicited(field: &FieldSpec, tokens: &[Token], normalised: &str) -> Option<Extraction> {
    match field.kind {
        FieldType::YesNo => {
            let mut verdict: Option<bool> = None;
            for keyword in &field.keywords {
                let keyword = spoken(keyword);
                let length = keyword.split_whitespace().count();
                for start in text::find_phrase(tokens, &keyword) {
                    // "we don't really have a drop-in price": about a price, not about drop-ins
                    if values::names_price(tokens, start, length) && values::is_negated(tokens, start, start + length) {
                        continue;
                    }
                    let positive = !values::is_negated(tokens, start, start + length - 1);
                    // the first clear mention decides
                    verdict.get_or_insert(positive);
                }
            }
            verdict.map(|answer| Extraction::known(field, Value::Bool(answer), 0.75))
        }
        FieldType::Schedule => {
            let mentions_class = ["class", "classes", "schedule"].iter().any(|w| text::has_phrase(normalised, w))
                || field.options.iter().any(|o| o.phrases().iter().any(|p| text::has_phrase(normalised, p)));
            if !mentions_class {
                return None;
            }
            let has_days = !values::days_in(tokens).is_empty();
            schedule_answer(field, tokens, 0.6).filter(|_| has_days)
        }
        FieldType::List if !field.options.is_empty() => {
            let need_words = [
                "need",
                "needs",
                "bring",
                "required",
                "require",
                "have to",
                "must",
                "sign",
                "make sure",
                "book",
                "reserve",
                "register",
            ];
            if !need_words.iter().any(|w| text::has_phrase(normalised, w)) {
                return None;
            }
            let (positive, _) = values::list_items(tokens, &options(field));
            (!positive.is_empty()).then(|| Extraction::known(field, json!(positive), 0.6))
        }
        _ => None,
    }
}

fn risk(field: &FieldSpec, normalised: &str, utterance: &str) -> Option<Extraction> {
    let phrase = field.risk_phrases.iter().map(|p| text::normalised(p)).find(|p| text::has_phrase(normalised, p))?;
    Some(Extraction::known(
        field,
        json!({
            "flagged": true,
            "escalation_note": field.escalation_note.clone().unwrap_or_default(),
            "matched": phrase,
            "said": utterance.trim(),
        }),
        0.9,
    ))
}

/// The value of a risk field when nothing alarming was said during the call.
pub fn risk_clear() -> Value {
    json!({ "flagged": false })
}

/// True when `tokens` name the money `field` and say it does not exist: "no mat fee", "we don't
/// charge a mat fee", and "no drop-in price, you just pay the mat fee" (a price named and
/// negated).
fn said_to_be_none(tokens: &[Token], field: &FieldSpec) -> bool {
    field.keywords.iter().map(|k| spoken(k)).any(|keyword| {
        let length = keyword.split_whitespace().count();
        let names_fee = keyword.contains("fee") || keyword.contains("charge");
        text::find_phrase(tokens, &keyword).into_iter().any(|start| {
            (names_fee && values::is_negated(tokens, start, start + length - 1))
                || values::says_no_price(tokens, start, length)
        })
    })
}

/// Gives each money amount to a field: the field whose keyword sits closest to it in the same
/// stretch of speech, else the field that was asked (unless the answer says the asked price does
/// not exist).
///
/// Amounts next to a field's name are given first, the others after: "No, there's no extra fee
/// for the mats. Okay, so drop-ins are $20." (the mat fee named in words that are not its
/// keywords) gave the none to the drop-in asked about and lost the $20 said with its name (tuning
/// seed 561). An amount that names no field then goes to the field asked, or, when that one
/// was named with another amount, to the one other price the question asked about (`other_asked`),
/// to be read back.
fn attribute_money(
    tokens: &[Token],
    mentions: &[MoneyMention],
    fields: &[&FieldSpec],
    asked: Option<&FieldSpec>,
    other_asked: Option<&FieldSpec>,
) -> Vec<Extraction> {
    let asked_money = asked.filter(|f| f.kind == FieldType::Money);
    // "We don't really have a drop in price. You just pay the $20 max." (the mat fee's name
    // misheard): an amount that names no field is not the price of the field asked when the same
    // answer says that price does not exist. It is the one other price there is, if there is
    // one, and read back for a yes.
    let (unnamed_goes_to, guessed) = match asked_money {
        Some(asked) if said_to_be_none(tokens, asked) => {
            let mut others = fields.iter().filter(|f| f.name != asked.name && !said_to_be_none(tokens, f));
            match (others.next(), others.next()) {
                (Some(other), None) => (Some(*other), true),
                _ => (None, false),
            }
        }
        other => (other, false),
    };
    // (a free first class is no price said: "your first class is free, after that it's twenty
    // five" with the currency misheard still gives the twenty five)
    let has_explicit = mentions.iter().any(|m| m.explicit && !m.recurring && !m.first_visit);
    let mut found: Vec<Extraction> = Vec::new();
    let mut named_first = vec![false; mentions.len()];
    // for each of `found`: given in pass 0 (said with its field's name)
    let mut found_named: Vec<bool> = Vec::new();
    // pass 0 gives the amounts said next to a field's name, pass 1 the others
    for (pass, (position, mention)) in (0..2).flat_map(|pass| mentions.iter().enumerate().map(move |item| (pass, item)))
    {
        if pass == 1 && named_first[position] {
            continue;
        }
        if mention.recurring && mentions.iter().any(|m| !m.recurring) {
            continue;
        }
        // "the first class is free, after that it's twenty": the twenty is the drop-in price
        if mention.first_visit && mentions.iter().any(|m| !m.recurring && !m.first_visit) {
            continue;
        }
        let previous_end = position.checked_sub(1).map(|p| mentions[p].end + 1).unwrap_or(0);
        let next_start = mentions.get(position + 1).map(|m| m.start).unwrap_or(tokens.len());
        let mut best: Option<(usize, &FieldSpec)> = None;
        let mut best_gap = usize::MAX;
        // a field already given an amount in this utterance does not take a second one
        for field in fields.iter().filter(|f| !found.iter().any(|e| e.field == f.name)) {
            for keyword in &field.keywords {
                let keyword = spoken(keyword);
                let length = keyword.split_whitespace().count();
                for start in text::find_phrase(tokens, &keyword) {
                    let (distance, gap) = if start + length <= mention.start && start >= previous_end {
                        // not a fee named in a sentence that ended before the amount, nor one
                        // said to be none ("No, no mat fee. Fifteen pounds for a class.")
                        if text::sentence_ends_between(tokens, start + length - 1, mention.start)
                            && values::is_negated(tokens, start, start + length - 1)
                        {
                            continue;
                        }
                        let gap = mention.start - (start + length);
                        (gap, gap)
                    } else if start > mention.end && start < next_start {
                        // a keyword after the amount ("ten for the mat fee") counts a bit less;
                        // not when it leads into the next amount ("twenty five, and the mat fee is
                        // ten") or is negated ("fifteen dollars and no mat fee")
                        // (unless the next amount has its own field named right after it: "nothing
                        // on top, right, we charge 17.50 for a drop-in")
                        let next_named_after = mentions
                            .get(position + 1)
                            .is_some_and(|next| field_named_after(tokens, fields, &field.name, next.end, 3));
                        let gap = start - mention.end - 1;
                        // (but "a $20 mat fee, it's $40": an amount right before a fee's name is
                        // that fee's)
                        // (nor when a sentence ends between them: "ten dollars for the mat
                        // fee. So, it's free")
                        let leads_next = gap > 0
                            && next_start < tokens.len()
                            && next_start - (start + length) <= 3
                            && !next_named_after
                            && !text::sentence_ends_between(tokens, start + length - 1, next_start);
                        // "ten for the mat fee" links the two; "free for visitors, we just charge
                        // a mat fee" is about something else
                        // (a negation before the amount is the amount's own: "no, nothing on top")
                        let negated_between = values::has_negation(&tokens[mention.end + 1..start]);
                        if leads_next || gap > 3 || negated_between {
                            continue;
                        }
                        (gap + 2, gap)
                    } else {
                        continue;
                    };
                    if distance <= 8 && best.is_none_or(|(d, _)| distance < d) {
                        best = Some((distance, field));
                        best_gap = gap;
                    }
                }
            }
        }
        if pass == 0 {
            if best.is_none() {
                continue;
            }
            named_first[position] = true;
        }
        if has_explicit && !mention.explicit && best.is_none() {
            continue;
        }
        // "... only the mat fee, which is ten dollars. And the mat fee is ten dollars.": an
        // amount said again right after the name of a field that already has it is that field
        // said again, not an answer to the question asked
        if best.is_none() && restates_found(tokens, mention, previous_end, fields, &found) {
            continue;
        }
        let unnamed = best.is_none();
        // the asked price named with another amount: an unnamed one is the other price asked
        // about, if it is another amount and that price has none yet
        let asked_named_with = |field: &FieldSpec| {
            found
                .iter()
                .zip(&found_named)
                .find(|(e, named)| **named && e.field == field.name)
                .map(|(e, _)| e.value.clone())
        };
        let diverted = unnamed_goes_to
            .filter(|_| unnamed && !guessed)
            .and_then(|asked| asked_named_with(asked))
            .filter(|value| value.get("amount").and_then(Value::as_f64) != Some(mention.money.amount))
            .and_then(|_| other_asked)
            .filter(|other| !found.iter().any(|e| e.field == other.name));
        let Some(field) = best.map(|(_, f)| f).or(diverted).or(unnamed_goes_to) else { continue };
        // a bare number answers the question asked, or a field named right next to it
        // ("the mat fee is ten", "fifteen for the mat fee"), never a two-number time
        let is_asked = asked_money.is_some_and(|asked| asked.name == field.name);
        if !mention.explicit && !is_asked && (best_gap > 2 || mention.start != mention.end) {
            continue;
        }
        if let Some(earlier) = found.iter_mut().find(|e| e.field == field.name) {
            // "It's 45 euros, <no sorry misheard>, 40 euros": a second amount for the same price,
            // neither said with a field's name, is read back for a yes, not noted in passing
            // (tuning seed 634)
            // (a "no ... fee" beside a price is no second price: "It's thirty five euros. No,
            // there's no extra fee for the mats.")
            let earlier_amount = earlier.value.get("amount").and_then(Value::as_f64).unwrap_or(0.0);
            let other_amount =
                earlier_amount > 0.0 && mention.money.amount > 0.0 && earlier_amount != mention.money.amount;
            if unnamed && mention.explicit && other_amount {
                earlier.confidence = earlier.confidence.min(0.6);
            }
            continue;
        }
        let confidence = match (mention.explicit, best.is_some()) {
            // "the first class is free" and nothing else: free, read back to be sure
            _ if mention.first_visit => 0.6,
            _ if diverted.is_some() => 0.6,
            _ if unnamed && guessed => 0.6,
            (true, true) => 0.9,
            (true, false) => 0.85,
            (false, _) => 0.6,
        };
        found.push(Extraction::known(
            field,
            json!({ "amount": mention.money.amount, "currency": mention.money.currency }),
            confidence,
        ));
        found_named.push(pass == 0);
    }
    found
}

/// True when `mention` comes within three words after the name of a field `found` already gave
/// the same amount to (and after the amount before it, from `previous_end`).
fn restates_found(
    tokens: &[Token],
    mention: &MoneyMention,
    previous_end: usize,
    fields: &[&FieldSpec],
    found: &[Extraction],
) -> bool {
    let same_amount = |field: &FieldSpec| {
        found.iter().any(|e| {
            e.field == field.name && e.value.get("amount").and_then(Value::as_f64) == Some(mention.money.amount)
        })
    };
    fields.iter().filter(|field| same_amount(field)).any(|field| {
        field.keywords.iter().any(|keyword| {
            let keyword = spoken(keyword);
            let length = keyword.split_whitespace().count();
            text::find_phrase(tokens, &keyword).into_iter().any(|start| {
                start >= previous_end && start + length <= mention.start && mention.start - (start + length) <= 3
            })
        })
    })
}

/// "Forty five quid, no sorry, forty pounds": an amount said again within a few words after a
/// correction word ("sorry", "I mean", "actually" ... or a bare "no") replaces the one before it, unless a field
/// is named between them (two fields' amounts). Returns the amounts left and whether one was
/// replaced.
fn without_corrected(
    tokens: &[Token],
    mentions: Vec<MoneyMention>,
    fields: &[&FieldSpec],
) -> (Vec<MoneyMention>, bool) {
    let names_field = |from: usize, to: usize| {
        fields.iter().any(|field| {
            field.keywords.iter().any(|keyword| {
                text::find_phrase(tokens, &spoken(keyword)).into_iter().any(|start| start >= from && start < to)
            })
        })
    };
    let mut kept: Vec<MoneyMention> = Vec::with_capacity(mentions.len());
    let mut corrected = false;
    for mention in mentions {
        let replaces = kept.last().is_some_and(|last| {
            // (mentions may touch: "twenty five fifty")
            let Some(between) = tokens.get(last.end + 1..mention.start) else { return false };
            // a bare "no" between two amounts is a correction too, when the second is an amount
            // ("twenty five dollars, no sorry, twenty dollars" with "sorry" heard "hurry",
            // "salary" or "far": tuning seeds 504, 521, 537), not "it's twenty, no, nothing more"
            let says_no = between.iter().any(|t| t.is("no")) && mention.money.amount > 0.0;
            between.len() <= 4
                && (between.iter().any(|t| t.is_any(values::CORRECTIONS)) || says_no)
                && !names_field(last.end + 1, mention.start)
        });
        if replaces {
            kept.pop();
            corrected = true;
        }
        kept.push(mention);
    }
    (kept, corrected)
}

/// True when a money field other than `except` is named within `gap` words after `end` ("17.50
/// for a drop-in").
fn field_named_after(tokens: &[Token], fields: &[&FieldSpec], except: &str, end: usize, gap: usize) -> bool {
    fields.iter().filter(|f| f.name != except).any(|field| {
        field.keywords.iter().any(|keyword| {
            text::find_phrase(tokens, &spoken(keyword)).into_iter().any(|start| start > end && start - end - 1 <= gap)
        })
    })
}

/// Below the playbooks' usual `confirm_below`: a list's "nothing" said only by negating an
/// option is read back.
const NOTHING_BY_NEGATION: f32 = 0.65;

/// Below the playbooks' usual `confirm_below`: a schedule read more than one way is read back
/// for a yes, never acknowledged in passing.
const UNSURE_SCHEDULE: f32 = 0.55;

/// A schedule from an answer. One the rules cannot settle is read back (an unsure reading, at a
/// lower confidence) or left for the question to be asked again (an implausible one: nothing).
fn schedule_answer(field: &FieldSpec, tokens: &[Token], confidence: f32) -> Option<Extraction> {
    let found = values::schedule(tokens, &class_types(field));
    if found.slots.is_empty() {
        return None;
    }
    let confidence = match found.doubt {
        None => confidence,
        Some(values::Doubt::Unsure(_)) => confidence.min(UNSURE_SCHEDULE),
        Some(values::Doubt::Implausible(_)) => return None,
    };
    Some(Extraction::known(field, schedule_value(&found.slots), confidence))
}

/// One day's classes from the answer to "what times are your classes on {day}?" (`day`: 0 is
/// Monday): every class it gives is on that day, whatever day the recogniser made of its words
/// (the question named it). `Some(empty)` when the answer says there are none, `None` when it
/// gives nothing readable.
pub fn day_classes(field: &FieldSpec, day: usize, utterance: &str) -> Option<Vec<ClassSlot>> {
    let name = values::DAYS.get(day)?;
    // the whole timetable again (classes on several days): only the day asked about counts
    let tokens = text::tokenize(utterance);
    let alone = values::schedule(&tokens, &class_types(field));
    let mut days_given: Vec<&str> = alone.slots.iter().map(|slot| slot.day.as_str()).collect();
    days_given.sort_unstable();
    days_given.dedup();
    let found = if days_given.len() > 1 {
        let slots = alone.slots.iter().filter(|slot| slot.day == *name).cloned().collect();
        values::Schedule { slots, doubt: alone.doubt.clone() }
    } else {
        values::schedule(&text::tokenize(&format!("{name} {utterance}")), &class_types(field))
    };
    if matches!(found.doubt, Some(values::Doubt::Implausible(_))) {
        return None;
    }
    if days_given.len() > 1 && found.slots.is_empty() {
        return None;
    }
    let mut classes: Vec<ClassSlot> = Vec::new();
    for mut slot in found.slots {
        slot.day = (*name).to_owned();
        if !classes.iter().any(|c| c.start == slot.start) {
            classes.push(slot);
        }
    }
    if !classes.is_empty() {
        return Some(classes);
    }
    let said_none = values::says_nothing(&tokens) || tokens.iter().any(|t| t.is("closed"));
    said_none.then(Vec::new)
}

fn class_types(field: &FieldSpec) -> Vec<values::ClassType> {
    field.options.iter().map(|o| (o.name().to_owned(), o.phrases())).collect()
}

fn options(field: &FieldSpec) -> Vec<values::ListOption> {
    field.options.iter().map(|o| (o.name().to_owned(), o.phrases())).collect()
}

fn frames(field: &FieldSpec) -> Vec<values::ListOption> {
    field.options.iter().map(|o| (o.name().to_owned(), o.frames())).filter(|(_, f)| !f.is_empty()).collect()
}

/// Below the playbooks' usual `confirm_below`: an option taken from the words that lead into it
/// is read back for a yes.
const FRAMED_ITEM: f32 = 0.6;

fn schedule_value(slots: &[ClassSlot]) -> Value {
    serde_json::to_value(slots).unwrap_or(Value::Null)
}

fn number_value(number: f64) -> Value {
    if number.fract() == 0.0 {
        json!(number as i64)
    } else {
        json!(number)
    }
}

/// How the agent says a value back: "25 dollars", "free", "gi on monday and wednesday from
/// 18:00 to 19:30", "a gi and a waiver".
pub fn describe(field: &FieldSpec, value: &Value) -> String {
    match field.kind {
        FieldType::Money => {
            let amount = value.get("amount").and_then(Value::as_f64).unwrap_or(0.0);
            let currency = value.get("currency").and_then(Value::as_str).unwrap_or("USD");
            if amount == 0.0 {
                return "free".into();
            }
            let unit = match currency {
                "EUR" => "euros",
                "GBP" => "pounds",
                _ => "dollars",
            };
            if amount.fract() == 0.0 {
                format!("{} {unit}", amount as i64)
            } else {
                format!("{amount:.2} {unit}")
            }
        }
        FieldType::YesNo => match value.as_bool() {
            Some(true) => field.yes_phrase.clone().unwrap_or_else(|| "yes".into()),
            Some(false) => field.no_phrase.clone().unwrap_or_else(|| "no".into()),
            None => "not sure".into(),
        },
        FieldType::Schedule => {
            let slots: Vec<ClassSlot> = serde_json::from_value(value.clone()).unwrap_or_default();
            describe_schedule(&slots)
        }
        FieldType::List => {
            let items: Vec<String> =
                value.as_array().map(|a| a.iter().filter_map(Value::as_str).map(spoken).collect()).unwrap_or_default();
            if items.is_empty() {
                "nothing special".into()
            } else {
                join_words(&items)
            }
        }
        FieldType::Risk => {
            if value.get("flagged").and_then(Value::as_bool) == Some(true) {
                "something worrying".into()
            } else {
                "nothing worrying".into()
            }
        }
        _ => match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        },
    }
}

/// Like [`describe`], shorter where a value is long to say: a schedule as days and start times
/// only ("monday and wednesday at 6 PM; saturday at 10 AM"), for acknowledging it in passing.
pub fn describe_brief(field: &FieldSpec, value: &Value) -> String {
    if field.kind != FieldType::Schedule {
        return describe(field, value);
    }
    let slots: Vec<ClassSlot> = serde_json::from_value(value.clone()).unwrap_or_default();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for slot in &slots {
        match groups.iter_mut().find(|(start, _)| *start == slot.start) {
            Some((_, days)) if !days.contains(&slot.day) => days.push(slot.day.clone()),
            Some(_) => {}
            None => groups.push((slot.start.clone(), vec![slot.day.clone()])),
        }
    }
    groups
        .iter()
        .map(|(start, days)| format!("{} at {}", join_words(days), spoken_time(start)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "9 PM", "6:30 PM", "noon".
pub fn spoken_time(hh_mm: &str) -> String {
    let (hours, minutes) = hh_mm.split_once(':').unwrap_or((hh_mm, "00"));
    let hours: u32 = hours.parse().unwrap_or(0);
    let minutes: u32 = minutes.parse().unwrap_or(0);
    if hours == 12 && minutes == 0 {
        return "noon".into();
    }
    let suffix = if hours >= 12 { "PM" } else { "AM" };
    let display = match hours % 12 {
        0 => 12,
        h => h,
    };
    if minutes == 0 {
        format!("{display} {suffix}")
    } else {
        format!("{display}:{minutes:02} {suffix}")
    }
}

fn describe_schedule(slots: &[ClassSlot]) -> String {
    // Group days that share a time and class type.
    // (start, end, class type) -> days
    type SlotKey = (String, Option<String>, Option<String>);
    let mut groups: Vec<(SlotKey, Vec<String>)> = Vec::new();
    for slot in slots {
        let key = (slot.start.clone(), slot.end.clone(), slot.class_type.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, days)) => days.push(slot.day.clone()),
            None => groups.push((key, vec![slot.day.clone()])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|((start, end, class_type), days)| {
            let class = class_type.as_deref().map(spoken).unwrap_or_else(|| "class".into());
            let time = match end {
                Some(end) => format!("from {} to {}", spoken_time(start), spoken_time(end)),
                None => format!("at {}", spoken_time(start)),
            };
            format!("{class} on {} {time}", join_words(days))
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod price_tests;
#[cfg(test)]
mod schedule_tests;
#[cfg(test)]
mod tests;
