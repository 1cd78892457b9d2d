//! Loading, validation errors and vocabulary of playbooks.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MINIMAL: &str = r#"id: tiny
name: Tiny
persona:
  agent_name: Sam
  caller_org: Test Org
disclosure: I'm an automated assistant calling on behalf of {caller_org}.
goal: Find the price.
closing: Thanks, bye.
fields:
  - name: open
    type: yes_no
    description: Open?
    required: true
    question: Are you open?
  - name: price
    type: money
    description: Price.
    required: true
    question: How much?
limits:
  max_duration_s: 60
  max_turns: 10
  silence_timeout_s: 5
voicemail:
  action: hang_up
"#;

#[test]
fn shipped_playbooks_load_and_validate() {
    let set = PlaybookSet::built_in().unwrap();
    assert_eq!(set.ids(), vec!["companion-checkin".to_owned(), "gym-dropin".to_owned()]);
    let gym = set.get("").unwrap();
    assert_eq!(gym.id, "gym-dropin");
    let price = gym.field("drop_in_price").unwrap();
    assert_eq!(price.kind, FieldType::Money);
    assert_eq!(price.depends_on.as_ref().unwrap().field, "drop_in_offered");
    let schedule = gym.field("class_schedule").unwrap();
    assert!(schedule.options.iter().any(|o| o.name() == "no-gi"));
    let companion = set.get("companion-checkin").unwrap();
    assert_eq!(companion.field("mood").unwrap().scale, Some(ScaleRange { min: 1, max: 10 }));
    assert_eq!(companion.field("risk").unwrap().kind, FieldType::Risk);
    assert!(matches!(gym.voicemail, Voicemail::LeaveMessage { .. }));
}

#[test]
fn files_on_disk_match_the_built_in_copies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks");
    let from_disk = PlaybookSet::load_dir(&dir).unwrap();
    let built_in = PlaybookSet::built_in().unwrap();
    for id in built_in.ids() {
        assert_eq!(from_disk.get(&id).unwrap(), built_in.get(&id).unwrap());
    }
}

#[test]
fn disclosure_is_templated_from_the_call_context() {
    let set = PlaybookSet::built_in().unwrap();
    let gym = set.get("gym-dropin").unwrap();
    let context = BTreeMap::from([("gym_name".to_owned(), "Atos HQ".to_owned())]);
    let line = gym.disclosure_for(&context);
    assert!(line.contains("automated assistant with Open Mat Finder"), "{line}");
    assert!(line.ends_with("calling about drop-in classes. This call may be recorded."), "{line}");
    let companion = set.get("companion-checkin").unwrap();
    let values = companion.template_context(&BTreeMap::from([("callee_name".to_owned(), "Ann".to_owned())]));
    assert_eq!(render(&companion.opening, &values), "How are you doing today, Ann?");
    let companion = set.get("companion-checkin").unwrap();
    let context = BTreeMap::from([("caller_org".to_owned(), "Sunny Days Care".to_owned())]);
    assert!(companion.disclosure_for(&context).contains("on behalf of Sunny Days Care"));
}

#[test]
fn minimal_playbook_loads() {
    let playbook = Playbook::from_yaml("tiny.yaml", MINIMAL).unwrap();
    assert_eq!(playbook.voicemail, Voicemail::HangUp);
    assert_eq!(playbook.limits.silence_reprompts, 2);
}

fn error_of(source: &str) -> PlaybookError {
    Playbook::from_yaml("playbooks/x.yaml", source).unwrap_err()
}

#[test]
fn unknown_field_type_names_file_line_and_field() {
    let source = MINIMAL.replace("type: money", "type: monye");
    let error = error_of(&source);
    let text = error.to_string();
    assert_eq!(error.line, Some(16), "{text}");
    assert_eq!(error.field, "fields[1].type", "{text}");
    assert!(text.starts_with("playbooks/x.yaml:16: fields[1].type: unknown type `monye`"), "{text}");
    assert!(text.contains("money") && text.contains("yes_no"), "lists the expected types: {text}");
}

#[test]
fn missing_key_and_misspelled_key_are_named() {
    let error = error_of(&MINIMAL.replace("goal: Find the price.\n", ""));
    assert!(error.to_string().contains("missing field `goal`"), "{error}");
    assert!(error.to_string().starts_with("playbooks/x.yaml:"), "{error}");

    let error = error_of(
        &MINIMAL.replace("    required: true\n    question: How much?", "    requird: true\n    question: How much?"),
    );
    assert_eq!(error.field, "fields[1]", "{error}");
    assert_eq!(error.line, Some(18), "{error}");
    assert!(error.message.contains("unknown field `requird`"), "{error}");
}

#[test]
fn semantic_errors_name_line_and_field() {
    let error = error_of(&MINIMAL.replace("name: price", "name: open"));
    assert_eq!((error.line, error.field.as_str()), (Some(15), "fields[1].name"), "{error}");
    assert!(error.message.contains("duplicate field name"), "{error}");

    let error = error_of(&MINIMAL.replace("    question: How much?\n", ""));
    assert_eq!((error.line, error.field.as_str()), (Some(15), "fields[1].question"), "{error}");

    let source = MINIMAL.replace(
        "    question: How much?\n",
        "    question: How much?\n    depends_on: { field: opne, equals: true }\n",
    );
    let error = error_of(&source);
    assert_eq!((error.line, error.field.as_str()), (Some(20), "fields[1].depends_on.field"), "{error}");
    assert!(error.message.contains("\"opne\""), "{error}");

    let source =
        MINIMAL.replace("    question: How much?\n", "    question: How much?\n    confirm_heard_below: 1.5\n");
    let error = error_of(&source);
    assert_eq!((error.line, error.field.as_str()), (Some(20), "fields[1].confirm_heard_below"), "{error}");
    assert!(error.message.contains("1.5 is not a confidence between 0 and 1"), "{error}");

    let source = MINIMAL.replace(
        "    question: How much?\n",
        "    question: How much?\n    options:\n      - { name: cash, frames: [pay in] }\n",
    );
    let error = error_of(&source);
    assert_eq!(error.field, "fields[1].options", "{error}");
    assert!(error.message.contains("frames are read for the options of a list field only"), "{error}");
    // so is an option's own yes/no question
    let source = MINIMAL.replace(
        "    question: How much?\n",
        "    question: How much?\n    options:\n      - { name: cash, question: Do you take cash? }\n",
    );
    let error = error_of(&source);
    assert_eq!(error.field, "fields[1].options", "{error}");
    assert!(error.message.contains("an option's question is asked for the options of a list field only"), "{error}");
    // and an empty one is no question (it was ignored without a word)
    let source = MINIMAL.replace(
        "    question: How much?\n",
        "    question: How much?\n    options:\n      - { name: cash, question: \"  \" }\n",
    );
    let error = error_of(&source);
    assert_eq!(error.field, "fields[1].options", "{error}");
    assert!(error.message.contains("an option's question is empty"), "{error}");

    // `by_day` is for a schedule, and its day question names the day
    let source = MINIMAL.replace(
        "    question: How much?\n",
        "    question: How much?\n    by_day: { days: Which days?, day: What times? }\n",
    );
    let error = error_of(&source);
    assert_eq!((error.line, error.field.as_str()), (Some(20), "fields[1].by_day"), "{error}");
    assert!(error.message.contains("this is a money"), "{error}");
    let schedule = MINIMAL.replace("    type: money\n", "    type: schedule\n");
    let error = error_of(&schedule.replace(
        "    question: How much?\n",
        "    question: How much?\n    by_day: { days: Which days?, day: What times? }\n",
    ));
    assert!(error.message.contains("has no {day}"), "{error}");
    let fine = schedule.replace(
        "    question: How much?\n",
        "    question: When?\n    by_day: { days: Which days?, day: \"What times on {day}?\" }\n",
    );
    assert!(Playbook::from_yaml("playbooks/x.yaml", &fine).is_ok());

    let error = error_of(&MINIMAL.replace("silence_timeout_s: 5", "silence_timeout_s: 0"));
    assert_eq!((error.line, error.field.as_str()), (Some(23), "limits.silence_timeout_s"), "{error}");

    // a duration the brain's millisecond clock could not hold is refused, not wrapped
    let error = error_of(&MINIMAL.replace("max_duration_s: 60", "max_duration_s: 18446744073709551615"));
    assert_eq!(error.field, "limits.max_duration_s", "{error}");
    assert!(error.message.contains("at most 14400"), "{error}");

    let error = error_of(&MINIMAL.replace("I'm an automated assistant calling", "I'm calling"));
    assert_eq!((error.line, error.field.as_str()), (Some(6), "disclosure"), "{error}");

    let source = MINIMAL.replace("    type: money\n", "    type: scale\n    scale: { min: 10, max: 1 }\n");
    let error = error_of(&source);
    assert_eq!(error.field, "fields[1].scale", "{error}");
    assert_eq!(error.line, Some(17), "{error}");
}

#[test]
fn broken_yaml_is_an_error_not_a_panic() {
    for source in ["", "- just\n- a list", "id: [unclosed", "\u{0}\u{1}", "fields: 3"] {
        let error = error_of(source);
        assert_eq!(error.kind, PlaybookErrorKind::Syntax, "{source:?}: {error}");
    }
}

#[test]
fn directory_overrides_built_ins_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yaml"), MINIMAL).unwrap();
    let set = PlaybookSet::load_dir(dir.path()).unwrap();
    assert_eq!(set.ids(), vec!["companion-checkin", "gym-dropin", "tiny"]);
    let missing = PlaybookSet::load_dir(dir.path().join("nope")).unwrap();
    assert_eq!(missing.ids().len(), 2);
    assert_eq!(set.get("nope").unwrap_err().kind, PlaybookErrorKind::NotFound);

    std::fs::write(dir.path().join("bad.yaml"), MINIMAL.replace("max_turns: 10", "max_turns: many")).unwrap();
    let error = PlaybookSet::load_dir(dir.path()).unwrap_err();
    assert!(error.file.ends_with("bad.yaml"), "{error}");
    assert_eq!(error.field, "limits.max_turns", "{error}");
}

#[test]
fn vocabulary_covers_fields_and_domain_words() {
    let set = PlaybookSet::built_in().unwrap();
    let words = set.get("gym-dropin").unwrap().vocabulary_phrases();
    for expected in
        ["no gi", "open mat", "waiver", "mat fee", "twenty", "bucks", "wednesday", "noon", "hold on", "jiu jitsu"]
    {
        assert!(words.iter().any(|w| w == expected), "missing {expected:?}");
    }
    assert!(words.iter().all(|w| w == &w.to_lowercase() && !w.contains('{') && !w.contains('?')));
    let companion = set.get("companion-checkin").unwrap().vocabulary_phrases();
    assert!(companion.iter().any(|w| w == "lonely"));
    assert!(!companion.iter().any(|w| w == "wednesday"), "no schedule field, no day words");
    // a list asked for as a need is answered as one; other lists are not
    assert!(words.iter().any(|w| w == "you'll need a gi"));
    assert!(!companion.iter().any(|w| w.starts_with("you need")));
}

#[test]
fn recogniser_hints_come_from_the_playbook() {
    let set = PlaybookSet::built_in().unwrap();
    let gym = set.get("gym-dropin").unwrap();
    let patterns = gym.answer_patterns();
    for expected in
        ["a day pass is {price}", "{price} a month", "{day} at {time}", "press {number}", "you can rent a gi"]
    {
        assert!(patterns.iter().any(|p| p == expected), "missing pattern {expected:?}");
    }
    assert_eq!(patterns.iter().collect::<BTreeSet<_>>().len(), patterns.len(), "each pattern once");
    assert!(gym.subjects().iter().any(|s| s == "day pass"));
    assert_eq!(gym.pronunciations().get("jiu").map(String::as_str), Some("JH UW"));
    let words = gym.vocabulary_phrases();
    for expected in ["crossfit", "waiver", "the", "o'clock"] {
        assert!(words.iter().any(|w| w == expected), "missing word {expected:?}");
    }

    // no money or schedule field: no price or day patterns, but the phone line and its own answers
    let companion = set.get("companion-checkin").unwrap();
    let patterns = companion.answer_patterns();
    assert!(patterns.iter().any(|p| p == "please leave a message after the tone"));
    assert!(patterns.iter().any(|p| p == "{number} out of ten"));
    assert!(!patterns.iter().any(|p| p.contains("{price}") || p.contains("{day}") || p.contains("{subject}")));
    assert!(companion.subjects().is_empty() && companion.pronunciations().is_empty());
}

#[test]
fn recogniser_hint_errors_name_line_and_field() {
    let with = |extra: &str| format!("{MINIMAL}{extra}");
    let error = error_of(&with("answer_patterns:\n  - it is free\n  - \"it is {prise}\"\n"));
    assert_eq!((error.line, error.field.as_str()), (Some(28), "answer_patterns[1]"), "{error}");
    assert!(error.message.contains("unknown slot {prise}") && error.message.contains("price"), "{error}");

    let error = error_of(&with("answer_patterns: [\"the {subject} is {price}\"]\n"));
    assert_eq!((error.line, error.field.as_str()), (Some(26), "answer_patterns[0]"), "{error}");
    assert!(error.message.contains("no `subjects`"), "{error}");
    let source = with("subjects: [day pass]\nanswer_patterns: [\"the {subject} is {price}\"]\n");
    assert!(Playbook::from_yaml("x.yaml", &source).is_ok());

    let error = error_of(&with("answer_patterns:\n  - \"at {time\"\n"));
    assert_eq!(error.field, "answer_patterns[0]", "{error}");
    assert!(error.message.contains("without its `}`"), "{error}");

    let error = error_of(&with("pronunciations:\n  gi: G IY\n  jiu: JH UX\n"));
    assert_eq!((error.line, error.field.as_str()), (Some(28), "pronunciations.jiu"), "{error}");
    assert!(error.message.contains("\"UX\" is not a CMU phone"), "{error}");
    let error = error_of(&with("pronunciations:\n  Jiu: JH UW\n"));
    assert_eq!((error.line, error.field.as_str()), (Some(27), "pronunciations.Jiu"), "{error}");
    let error = error_of(&with("subjects: [day pass, \"{price}\"]\n"));
    assert_eq!(error.field, "subjects[1]", "{error}");
}

#[test]
fn more_is_refused_off_a_list_with_options_or_without_its_placeholder() {
    let error =
        error_of(&MINIMAL.replace("    question: How much?", "    question: How much?\n    more: Anything else?"));
    assert_eq!(error.field, "fields[1].more", "{error}");
    assert!(error.message.contains("only for a list field with options"), "{error}");

    let list = MINIMAL.replace(
        "    type: money\n    description: Price.\n    required: true\n    question: How much?",
        "    type: list\n    description: Needs.\n    required: true\n    question: What do I need?\n    \
         more: Anything else?\n    options: [gi, waiver]",
    );
    let error = error_of(&list);
    assert_eq!(error.field, "fields[1].more", "{error}");
    assert!(error.message.contains("{options}"), "{error}");
    let fixed = list.replace("more: Anything else?", "more: \"Anything else, like {options}?\"");
    assert!(Playbook::from_yaml("playbooks/x.yaml", &fixed).is_ok());
}
