//! Simulated callees: a persona file (YAML) holds a gym's facts and how its receptionist talks;
//! a [`Responder`] turns what the persona heard the agent say into what it says back.
//!
//! The persona hears the agent only through the audio the gateway sends (see [`voice`]), as a
//! person would; nothing here reads the system's internal messages.
//!
//! A persona file:
//! ```yaml
//! name: Atlas front desk            # label for logs
//! gym_name: Atlas Jiu Jitsu         # goes into the call context
//! playbook: gym-dropin              # which playbook's fields the facts answer
//! greeting: Atlas Jiu Jitsu, this is Jess.
//! facts:                            # typed by the playbook's fields
//!   drop_in_offered: true
//!   drop_in_price: 30               # money: a number, 0 for free
//!   mat_fee: 0
//!   class_schedule:                 # schedule: day, start, end (HH:MM, 24 h), class_type
//!     - { day: monday, start: "18:00", end: "19:30", class_type: gi }
//!   requirements: [gi, waiver]      # list: option names of the field
//! answers:                          # optional: this receptionist's own words per field ({value})
//!   drop_in_price: Drop ins are {value}, cash or card.
//! behaviour:                        # all optional
//!   refuse: [drop_in_price]         # will not give these over the phone
//!   hold: true                      # asks the agent to hold once, then comes back
//!   interrupt: true                 # talks over the agent's first long sentence
//!   transfer: true                  # hands the call to "the manager" once
//!   ivr: { menu: "Thanks for calling. Press one for the front desk.", digit: "1" }
//!   voicemail: "You've reached Atlas. Leave a message after the tone."
//!   alarming: I fell last night and I can't get up   # companion: said after the mood question
//! ```

pub mod grade;
pub mod hook;
mod responder;
pub mod voice;

pub use responder::{PersonaAction, Responder};

use playbook::FieldType;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An IVR menu the call meets before a person.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    /// What the menu says.
    pub menu: String,
    /// The key that reaches a person.
    pub digit: String,
}

/// How this callee behaves.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default)]
    pub refuse: Vec<String>,
    #[serde(default)]
    pub hold: bool,
    #[serde(default)]
    pub interrupt: bool,
    #[serde(default)]
    pub transfer: bool,
    #[serde(default)]
    pub ivr: Option<IvrMenu>,
    /// A voicemail greeting: nobody answers, the greeting plays and a tone follows.
    #[serde(default)]
    pub voicemail: Option<String>,
    /// Said once, after the persona has answered the first question (companion calls).
    #[serde(default)]
    pub alarming: Option<String>,
}

/// One persona file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub name: String,
    /// The callee's organisation or name; put in the call context as `gym_name`.
    pub gym_name: String,
    #[serde(default = "default_playbook")]
    pub playbook: String,
    /// IANA timezone of the callee.
    #[serde(default)]
    pub timezone: Option<String>,
    pub greeting: String,
    #[serde(default)]
    pub facts: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Extra call context (e.g. `callee_name`, `caller_org`).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
}

fn default_playbook() -> String {
    playbook::DEFAULT_PLAYBOOK.to_owned()
}

/// Why a persona file was refused; the message names the file, line and field.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct PersonaError {
    pub file: PathBuf,
    /// 0 when the problem has no single line (a missing file).
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl Persona {
    /// Reads and validates a persona file against the playbook its facts answer.
    pub fn load(path: impl AsRef<Path>, playbooks: &playbook::PlaybookSet) -> Result<Persona, PersonaError> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|e| PersonaError {
            file: path.to_owned(),
            line: 0,
            field: "(file)".into(),
            message: format!("cannot read: {e}"),
        })?;
        Persona::from_yaml(path, &source, playbooks)
    }

    /// Parses and validates persona YAML; `file` names it in errors.
    pub fn from_yaml(
        file: impl AsRef<Path>,
        source: &str,
        playbooks: &playbook::PlaybookSet,
    ) -> Result<Persona, PersonaError> {
        let file = file.as_ref().to_owned();
        let persona: Persona = serde_norway::from_str(source).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            let text = e.to_string();
            // serde reports the path of the bad field first ("facts.x: ..."), when it has one
            let (field, message) = match text.split_once(": ") {
                Some((path, rest)) if !path.contains(' ') => (path.to_owned(), rest.to_owned()),
                _ => ("(document)".to_owned(), text.clone()),
            };
            PersonaError { file: file.clone(), line, field, message }
        })?;
        let error = |field: &str, message: String| PersonaError {
            file: file.clone(),
            line: line_of(source, field),
            field: field.to_owned(),
            message,
        };
        let playbook = playbooks.get(&persona.playbook).map_err(|e| error("playbook", e.to_string()))?;
        for (name, value) in &persona.facts {
            let Some(spec) = playbook.field(name) else {
                let known: Vec<&str> = playbook.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(error(
                    &format!("facts.{name}"),
                    format!("playbook {} has no field {name:?} (fields: {})", playbook.id, known.join(", ")),
                ));
            };
            check_fact(spec, value).map_err(|message| error(&format!("facts.{name}"), message))?;
        }
        for name in persona.answers.keys().chain(&persona.behaviour.refuse) {
            if playbook.field(name).is_none() {
                return Err(error(name, format!("playbook {} has no field {name:?}", playbook.id)));
            }
        }
        if let Some(ivr) = &persona.behaviour.ivr {
            if ivr.digit.len() != 1 || !ivr.digit.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') {
                return Err(error("behaviour.ivr.digit", format!("{:?} is not one key (0-9, * or #)", ivr.digit)));
            }
        }
        Ok(persona)
    }

    /// The call context a dialer or test passes with the call (gym name, timezone, extras).
    pub fn call_context(&self) -> BTreeMap<String, String> {
        let mut context = self.context.clone();
        context.insert("gym_name".into(), self.gym_name.clone());
        if let Some(tz) = &self.timezone {
            context.insert("timezone".into(), tz.clone());
        }
        context
    }
}

/// The first line that mentions the last segment of a field path, for error messages.
fn line_of(source: &str, field: &str) -> usize {
    let key = field.rsplit('.').next().unwrap_or(field);
    source
        .lines()
        .position(|line| line.trim_start().starts_with(&format!("{key}:")))
        .map(|index| index + 1)
        .unwrap_or(0)
}

fn check_fact(spec: &playbook::FieldSpec, value: &serde_norway::Value) -> Result<(), String> {
    use serde_norway::Value;
    match (spec.kind, value) {
        (_, Value::Null) => Ok(()),
        (FieldType::Money | FieldType::Number | FieldType::Scale, Value::Number(_)) => Ok(()),
        (FieldType::YesNo, Value::Bool(_)) => Ok(()),
        (FieldType::Text | FieldType::Enum | FieldType::Risk, Value::String(_)) => Ok(()),
        (FieldType::List, Value::Sequence(items)) => {
            let options: Vec<&str> = spec.options.iter().map(|o| o.name()).collect();
            for item in items {
                match item.as_str() {
                    Some(name) if options.is_empty() || options.contains(&name) => {}
                    _ => return Err(format!("{item:?} is not one of {}", options.join(", "))),
                }
            }
            Ok(())
        }
        (FieldType::Schedule, Value::Sequence(items)) => {
            for item in items {
                let entry: Result<ScheduleFact, _> = serde_norway::from_value(item.clone());
                let entry = entry.map_err(|e| format!("schedule entry {item:?}: {e}"))?;
                if parse_day(&entry.day).is_none() {
                    return Err(format!("unknown day {:?}", entry.day));
                }
                for time in [&entry.start, &entry.end] {
                    if parse_minutes(time).is_none() {
                        return Err(format!("time {time:?} is not HH:MM"));
                    }
                }
            }
            Ok(())
        }
        (kind, value) => Err(format!("{value:?} does not fit a {kind:?} field")),
    }
}

/// One class of a persona's schedule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFact {
    pub day: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub class_type: Option<String>,
}

/// `monday` / `mon` -> 0 ..= 6.
pub fn parse_day(day: &str) -> Option<usize> {
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let day = day.trim().to_lowercase();
    DAYS.iter().position(|d| *d == day || (day.len() >= 3 && d.starts_with(&day)))
}

/// `HH:MM` -> minutes after midnight.
pub fn parse_minutes(hh_mm: &str) -> Option<u32> {
    let (h, m) = hh_mm.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbooks() -> playbook::PlaybookSet {
        playbook::PlaybookSet::built_in().expect("built-in playbooks load")
    }

    #[test]
    fn a_valid_persona_loads() {
        let yaml = "name: t\ngym_name: Test Gym\ngreeting: Hello\nfacts:\n  drop_in_offered: true\n  drop_in_price: 20\n  requirements: [gi]\n";
        let persona = Persona::from_yaml("t.yaml", yaml, &playbooks()).unwrap();
        assert_eq!(persona.call_context()["gym_name"], "Test Gym");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let yaml =
            "name: t\ngym_name: Test Gym\ngreeting: Hello\nfacts:\n  drop_in_offered: true\n  drop_in_prize: 20\n";
        let error = Persona::from_yaml("gyms/t.yaml", yaml, &playbooks()).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("gyms/t.yaml:6: facts.drop_in_prize:"), "{text}");

        let yaml = "name: t\ngym_name: Test Gym\ngreeting: Hello\nfacts:\n  drop_in_price: twenty\n";
        let text = Persona::from_yaml("t.yaml", yaml, &playbooks()).unwrap_err().to_string();
        assert!(text.contains("t.yaml:5: facts.drop_in_price"), "{text}");

        let yaml = "name: t\ngym_name: G\ngreeting: Hi\nbehaviour:\n  hold: yes please\n";
        let error = Persona::from_yaml("t.yaml", yaml, &playbooks()).unwrap_err();
        assert_eq!(error.line, 5, "{error}");

        let yaml = "name: t\ngym_name: G\ngreeting: Hi\nfacts:\n  class_schedule:\n    - { day: funday, start: '18:00', end: '19:00' }\n";
        let text = Persona::from_yaml("t.yaml", yaml, &playbooks()).unwrap_err().to_string();
        assert!(text.contains("facts.class_schedule") && text.contains("funday"), "{text}");
    }
}
