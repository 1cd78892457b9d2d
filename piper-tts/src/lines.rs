//! The agent's lines of a playbook as a call would say them, for the voice's benchmark and its
//! understood-voice test: disclosure, opening, every question, follow-up and example, read-backs
//! and noted lines with a value of the field's type written as the brain writes values
//! ("30 dollars", "6:30 PM"), closing, voicemail message and inbound greeting.

use std::collections::BTreeMap;

use playbook::{FieldSpec, FieldType, Playbook, Voicemail};

/// The call context the lines are filled with (a gym and a companion-call callee).
pub fn example_context() -> BTreeMap<String, String> {
    [("gym_name", "Atlas Jiu Jitsu"), ("callee_name", "Margaret")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Every line the agent of `playbook` says, templates filled, empty ones and repeats left out.
pub fn agent_lines(playbook: &Playbook, context: &BTreeMap<String, String>) -> Vec<String> {
    let mut values = playbook.template_context(context);
    let mut templates = vec![playbook.disclosure.clone(), playbook.opening.clone()];
    for field in &playbook.fields {
        templates.extend(field.question.iter().cloned());
        templates.extend(field.follow_up.iter().cloned());
        templates.extend(field.example.iter().cloned());
        for line in field.read_back.iter().chain(field.noted.iter()) {
            templates.push(line.replace("{value}", &example_value(field)));
        }
    }
    templates.push(playbook.closing.clone());
    if let Voicemail::LeaveMessage { message } = &playbook.voicemail {
        templates.push(message.clone());
    }
    templates.push(playbook.inbound_greeting.clone());
    values.retain(|_, value| !value.contains('{'));
    let mut lines: Vec<String> = Vec::new();
    for template in templates {
        let line = playbook::render(&template, &values).trim().to_owned();
        if !line.is_empty() && !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// A value of the field's type, written as the brain writes it back.
fn example_value(field: &FieldSpec) -> String {
    let option = |index: usize| field.options.get(index).map(|option| playbook::spoken(option.name()));
    match field.kind {
        FieldType::Money if field.name.contains("mat") => "10 dollars".into(),
        FieldType::Money => "30 dollars".into(),
        FieldType::Schedule => "gi on monday and wednesday from 6:30 PM to 8 PM".into(),
        FieldType::List => match (option(0), option(1)) {
            (Some(first), Some(second)) => format!("{first} and {second}"),
            (Some(first), None) => first,
            _ => "a waiver".into(),
        },
        FieldType::Scale => field.scale.map_or(7, |scale| (scale.min + scale.max * 2) / 3).to_string(),
        FieldType::Number => "3".into(),
        FieldType::Enum => option(0).unwrap_or_else(|| "the first one".into()),
        FieldType::YesNo => field.yes_phrase.clone().unwrap_or_else(|| "yes".into()),
        FieldType::Text | FieldType::Risk => "the parking".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gym_playbook_lines_are_filled_in() {
        let source = include_str!("../../playbooks/gym-dropin.yaml");
        let playbook = Playbook::from_yaml("playbooks/gym-dropin.yaml", source).expect("shipped playbook");
        let lines = agent_lines(&playbook, &example_context());
        assert!(lines.iter().all(|line| !line.contains('{')), "{lines:#?}");
        assert!(lines.iter().any(|line| line.starts_with("Hi, this is Sam, an automated assistant")), "{lines:#?}");
        assert!(lines.contains(&"So a drop-in is 30 dollars, is that right?".to_owned()), "{lines:#?}");
        assert!(lines.contains(&"Mat fee 10 dollars, got it.".to_owned()), "{lines:#?}");
        assert!(lines.iter().any(|line| line.contains("6:30 PM")), "{lines:#?}");
    }
}
