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
//!
//! Format v2 (every key optional; a v1 file is a v2 file): `greeting` and each `answers` entry may
//! be a list of phrasings, one picked at random each time from a per-call seed (`seed`, else the
//! CallSid). Templates take `{value}` and `{<field>}` (any fact, spoken).
//! ```yaml
//! greeting: [Atlas, Jess speaking., "Hi, Atlas Jiu Jitsu!"]
//! seed: 7                           # the same phrasings on every call (else one per CallSid)
//! voice: espeak-ng:en-us+f2         # or flite:slt / flite:rms / flite:awb; never the agent's kal
//! line_noise_snr_db: 25             # white noise on the line, this far below the speech
//! terms:                            # how the money facts are meant (see grade.rs)
//!   currency: GBP                   # USD (default), GBP or EUR
//!   first_class_free: true          # the first class is free; drop_in_price is what later ones cost
//!   no_drop_in_price: true          # no price of its own, just the mat fee (drop_in_price must be 0)
//!   mat_fee_condition: only if you stay for open mat   # the mat fee applies only sometimes
//! together:                         # one answer giving several facts, in any order
//!   - fields: [mat_fee, drop_in_price]
//!     say: ["Mat fee's {mat_fee}, and a class is {drop_in_price}."]
//! lines:                            # the receptionist's own words (lists of phrasings)
//!   goodbye: [Cheers, bye!]         # after the agent's closing line
//!   hold: [Hang on one sec.]        # asks the agent to hold (with behaviour.hold)
//!   back: [Sorry about that, what did you need?]
//!   refusal: [I can't say over the phone.]
//!   say_again: [Sorry, say again?]  # when it did not catch a question
//!   unsure: [No idea, sorry.]       # a question about a fact it does not have
//! behaviour:
//!   partial: true                   # a two-part question gets only its first part answered
//! ```

pub mod grade;
pub mod hook;
pub mod mouth;
mod responder;
pub mod rng;
mod said;
pub mod timeline;
pub mod voice;

pub use responder::{PersonaAction, Responder};

use playbook::FieldType;
use serde::{Deserialize, Serialize};
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
    /// Answers only the first part of a question about two things.
    #[serde(default)]
    pub partial: bool,
}

/// One phrasing or several (a v1 file has one).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Phrasings {
    One(String),
    Many(Vec<String>),
}

impl Phrasings {
    /// Every phrasing.
    pub fn all(&self) -> &[String] {
        match self {
            Phrasings::One(one) => std::slice::from_ref(one),
            Phrasings::Many(many) => many,
        }
    }

    /// One phrasing picked with `rng` (the empty string for an empty list).
    pub fn pick(&self, rng: &mut rng::SplitMix64) -> String {
        let all = self.all();
        if all.is_empty() {
            return String::new();
        }
        all[rng.below(all.len())].clone()
    }
}

/// The receptionist's own words for the parts of a call that are not answers.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lines {
    #[serde(default)]
    pub goodbye: Vec<String>,
    #[serde(default)]
    pub hold: Vec<String>,
    #[serde(default)]
    pub back: Vec<String>,
    #[serde(default)]
    pub refusal: Vec<String>,
    #[serde(default)]
    pub say_again: Vec<String>,
    #[serde(default)]
    pub unsure: Vec<String>,
}

/// How the money facts are meant.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// USD (default), GBP or EUR: the currency of every money fact.
    #[serde(default)]
    pub currency: Option<String>,
    /// The first class is free; `drop_in_price` is what a visit costs after it.
    #[serde(default)]
    pub first_class_free: bool,
    /// No drop-in price of its own, a visitor pays only the mat fee (`drop_in_price` is 0).
    #[serde(default)]
    pub no_drop_in_price: bool,
    /// The mat fee applies only in this case; its amount is still the fact.
    #[serde(default)]
    pub mat_fee_condition: Option<String>,
}

/// Currencies a persona may price in.
pub const CURRENCIES: &[&str] = &["USD", "GBP", "EUR"];

impl Terms {
    pub fn currency(&self) -> &str {
        self.currency.as_deref().unwrap_or("USD")
    }
}

/// One answer giving several facts at once.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Together {
    pub fields: Vec<String>,
    pub say: Phrasings,
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
    pub greeting: Phrasings,
    #[serde(default)]
    pub facts: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    pub answers: BTreeMap<String, Phrasings>,
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Extra call context (e.g. `callee_name`, `caller_org`).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    /// The per-call seed of the phrasings picked; none = one per call from its CallSid.
    #[serde(default)]
    pub seed: Option<u64>,
    /// `espeak-ng:<voice>` or `flite:<voice>`; none = the simulator's own voice.
    #[serde(default)]
    pub voice: Option<String>,
    /// White noise on the line, this many dB below the speech.
    #[serde(default)]
    pub line_noise_snr_db: Option<f32>,
    #[serde(default)]
    pub terms: Terms,
    #[serde(default)]
    pub together: Vec<Together>,
    #[serde(default)]
    pub lines: Lines,
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
        for together in &persona.together {
            if let Some(name) = together.fields.iter().find(|name| playbook.field(name).is_none()) {
                return Err(error("together", format!("playbook {} has no field {name:?}", playbook.id)));
            }
            if together.fields.is_empty() || together.say.all().is_empty() {
                return Err(error("together", "each entry needs fields and at least one phrasing".into()));
            }
        }
        check_v2(&persona).map_err(|(field, message)| error(field, message))?;
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

/// The v2 keys' own rules: a known voice, a sane noise level, a known currency, terms that agree
/// with the facts, no empty phrasing lists.
fn check_v2(persona: &Persona) -> Result<(), (&'static str, String)> {
    if let Some(voice) = &persona.voice {
        mouth::VoiceSpec::parse(voice).map_err(|message| ("voice", message))?;
    }
    if let Some(snr) = persona.line_noise_snr_db {
        if !(0.0..=80.0).contains(&snr) {
            return Err(("line_noise_snr_db", format!("{snr} is not between 0 and 80 dB")));
        }
    }
    let currency = persona.terms.currency();
    if !CURRENCIES.contains(&currency) {
        return Err(("currency", format!("{currency:?} is not one of {}", CURRENCIES.join(", "))));
    }
    let price = persona.facts.get("drop_in_price").and_then(|v| v.as_f64());
    if persona.terms.no_drop_in_price && price.is_some_and(|p| p != 0.0) {
        return Err(("no_drop_in_price", "needs drop_in_price: 0 (the visitor pays only the mat fee)".into()));
    }
    if persona.greeting.all().is_empty() || persona.answers.values().any(|a| a.all().is_empty()) {
        return Err(("greeting", "a list of phrasings needs at least one".into()));
    }
    Ok(())
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
