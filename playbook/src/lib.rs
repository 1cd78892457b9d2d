//! Playbooks: what a call is for, which fields it collects and how the agent talks, loaded from
//! YAML, validated with errors that name the file, line and field, and turned into the vocabulary
//! the speech recogniser should cover. No network I/O.
//!
//! - [`Playbook`] and its parts ([`FieldSpec`], [`FieldType`], [`Limits`], [`Voicemail`] ...).
//! - [`Playbook::from_yaml`] / [`Playbook::load`]: parse + validate.
//! - [`PlaybookSet`]: every playbook of a directory, falling back to the built-in copies of the
//!   shipped playbooks so a binary works from any working directory.
//! - What the speech recogniser should expect: [`Playbook::vocabulary_phrases`] (words and
//!   phrases), [`Playbook::answer_patterns`] (answers with `{price}`, `{time}` ... slots),
//!   [`Playbook::subjects`] (what fills `{subject}`) and [`Playbook::pronunciations`] (words the
//!   stock dictionary lacks). The domain lives here, so a new playbook needs no engine change.

mod template;
mod vocabulary;

pub use template::render;
pub use vocabulary::{CMU_PHONES, SLOT_CLASSES};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Id of the playbook used when a call request names none.
pub const DEFAULT_PLAYBOOK: &str = "gym-dropin";

/// The shipped playbooks, compiled in: `(file name, YAML)`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("gym-dropin.yaml", include_str!("../../playbooks/gym-dropin.yaml")),
    ("companion-checkin.yaml", include_str!("../../playbooks/companion-checkin.yaml")),
];

/// One playbook: a call's purpose, the agent's voice and the fields to collect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Stable id, the name call requests use (`gym-dropin`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    pub persona: Persona,
    /// First words of every call: who is calling, that it is an automated assistant, for whom.
    /// A template (`{agent_name}`, `{caller_org}`, `{gym_name}` ...).
    pub disclosure: String,
    pub goal: String,
    /// Said right after the disclosure, before the first question.
    #[serde(default)]
    pub opening: String,
    pub closing: String,
    /// Greeting for an inbound call (the callee rang us).
    #[serde(default)]
    pub inbound_greeting: String,
    pub fields: Vec<FieldSpec>,
    pub limits: Limits,
    pub voicemail: Voicemail,
    /// When the dialer may call (callee's local time).
    #[serde(default)]
    pub calling_window: CallingWindow,
    /// Extra words the recogniser should know (domain terms).
    #[serde(default)]
    pub vocabulary: Vec<String>,
    /// What callees answer, as patterns with slots (`"a day pass is {price}"`; slots:
    /// [`SLOT_CLASSES`]), so the recogniser knows every price or time in them, not one example.
    #[serde(default)]
    pub answer_patterns: Vec<String>,
    /// The things callees talk about ("day pass", "open mat"), filling `{subject}` slots.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// How to say words the recogniser's stock dictionary lacks: word -> phones in the CMU phone
    /// set ([`CMU_PHONES`]), e.g. `jiu: JH UW`.
    #[serde(default)]
    pub pronunciations: BTreeMap<String, String>,
    /// A value understood with less confidence than this (0-1) is read back with the field's
    /// `read_back` question and confirmed before going on, even when the field has `noted`.
    #[serde(default = "default_confirm_below")]
    pub confirm_below: f32,
}

fn default_confirm_below() -> f32 {
    0.7
}

/// Who the agent is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub agent_name: String,
    /// On whose behalf the agent calls; may itself be a template filled from the call context.
    pub caller_org: String,
    /// How the agent talks (a hint for the LLM policy's system prompt).
    #[serde(default)]
    pub style: String,
}

/// One field to collect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Key in the result (`drop_in_price`); letters, digits and `_`.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub description: String,
    #[serde(default)]
    pub required: bool,
    /// The question that asks for it. Optional only for fields never asked directly (`risk`).
    #[serde(default)]
    pub question: Option<String>,
    /// Asked when the first answer did not give the value.
    #[serde(default)]
    pub follow_up: Option<String>,
    /// Question confirming the value understood (`{value}`): "So a drop-in is {value}, is that
    /// right?". The agent waits for a yes or a correction (explicit confirmation).
    #[serde(default)]
    pub read_back: Option<String>,
    /// Statement acknowledging the value in passing, said before the next question (implicit
    /// confirmation, one turn shorter): "A drop-in is {value}, got it.". A correction in the
    /// callee's next reply is still taken. Used instead of `read_back` unless the value is
    /// uncertain (below the playbook's `confirm_below`).
    #[serde(default)]
    pub noted: Option<String>,
    /// The field only matters when another field has this value (e.g. the price only when
    /// drop-ins are offered); otherwise it becomes `not_applicable`.
    #[serde(default)]
    pub depends_on: Option<Dependency>,
    /// Choices: class types of a `schedule`, items of a `list`, values of an `enum`.
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// Range of a `scale` field.
    #[serde(default)]
    pub scale: Option<ScaleRange>,
    /// Words that show a statement is about this field (attributes unsolicited answers).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Read-back wording of a `yes_no` value.
    #[serde(default)]
    pub yes_phrase: Option<String>,
    #[serde(default)]
    pub no_phrase: Option<String>,
    /// `risk` fields: phrases that raise the flag, and the note attached when it is raised.
    #[serde(default)]
    pub risk_phrases: Vec<String>,
    #[serde(default)]
    pub escalation_note: Option<String>,
}

/// The type of a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// An amount of money: `{"amount": 25.0, "currency": "USD"}`; `0` means free.
    Money,
    /// `true` / `false`.
    YesNo,
    /// Free text, the callee's words.
    Text,
    /// A list of `{day, start, end, class_type}`.
    Schedule,
    /// A number.
    Number,
    /// A number within `scale.min ..= scale.max` (mood 1-10).
    Scale,
    /// One of `options`.
    Enum,
    /// Any of `options` (a list of names).
    List,
    /// Raised when the callee says something alarming: `{"flagged": bool, "escalation_note", "said"}`.
    Risk,
}

impl FieldType {
    /// Every type name as written in YAML.
    pub const NAMES: &'static [&'static str] =
        &["money", "yes_no", "text", "schedule", "number", "scale", "enum", "list", "risk"];
}

/// `depends_on: { field: drop_in_offered, equals: true }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub field: String,
    pub equals: serde_norway::Value,
}

/// One choice of an `enum` / `list` / `schedule` field: a bare name or a name with the phrases
/// that mean it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionSpec {
    Name(String),
    WithPhrases {
        name: String,
        #[serde(default)]
        phrases: Vec<String>,
    },
}

impl OptionSpec {
    pub fn name(&self) -> &str {
        match self {
            OptionSpec::Name(name) | OptionSpec::WithPhrases { name, .. } => name,
        }
    }

    /// The phrases that mean this option; a bare name means itself (with `-`/`_` read as spaces).
    pub fn phrases(&self) -> Vec<String> {
        match self {
            OptionSpec::Name(name) => vec![spoken(name)],
            OptionSpec::WithPhrases { name, phrases } if phrases.is_empty() => vec![spoken(name)],
            OptionSpec::WithPhrases { phrases, .. } => phrases.iter().map(|p| spoken(p)).collect(),
        }
    }
}

/// How a name is spoken: lowercase, `-` and `_` as spaces (`no-gi` -> `no gi`).
pub fn spoken(name: &str) -> String {
    name.to_lowercase().replace(['-', '_'], " ")
}

/// `scale: { min: 1, max: 10 }`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRange {
    pub min: i64,
    pub max: i64,
}

/// When a call must end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_duration_s: u64,
    pub max_turns: u32,
    /// Silence (no callee speech while the agent waits) before a re-prompt.
    pub silence_timeout_s: u64,
    /// Re-prompts after silence before the agent gives up and ends the call.
    #[serde(default = "default_silence_reprompts")]
    pub silence_reprompts: u32,
}

fn default_silence_reprompts() -> u32 {
    2
}

/// What to do when a voicemail greeting answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Voicemail {
    /// Leave a short message (a template), then hang up.
    LeaveMessage { message: String },
    /// Hang up without a message.
    HangUp,
}

/// The callee-local hours the dialer may call in (front-desk hours by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallingWindow {
    /// `mon` ... `sun`.
    pub days: Vec<Weekday>,
    /// `HH:MM`, callee-local.
    pub start: String,
    pub end: String,
}

impl Default for CallingWindow {
    fn default() -> Self {
        CallingWindow {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            start: "10:00".into(),
            end: "18:00".into(),
        }
    }
}

impl CallingWindow {
    /// Start and end as minutes after midnight (validated on load).
    pub fn minutes(&self) -> (u32, u32) {
        (parse_hh_mm(&self.start).unwrap_or(0), parse_hh_mm(&self.end).unwrap_or(24 * 60))
    }
}

/// A day of the week in a calling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

fn parse_hh_mm(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    (hours <= 24 && minutes < 60 && hours * 60 + minutes <= 24 * 60).then_some(hours * 60 + minutes)
}

/// Why a playbook could not be loaded. The display names the file, the line and the field:
/// `playbooks/x.yaml:12: fields[2].type: unknown variant ...`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}{}: {field}: {message}", .file.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct PlaybookError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Path of the offending field (`fields[2].type`), or `(file)` for I/O errors.
    pub field: String,
    pub message: String,
    pub kind: PlaybookErrorKind,
}

/// What kind of failure a [`PlaybookError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaybookErrorKind {
    /// The file could not be read.
    Io,
    /// Not YAML, or not the shape of a playbook.
    Syntax,
    /// Well-formed but inconsistent (duplicate field, dangling dependency ...).
    Invalid,
    /// No playbook with that id.
    NotFound,
}

impl Playbook {
    /// Parses and validates a playbook; `file` only names the source in errors.
    pub fn from_yaml(file: impl AsRef<Path>, source: &str) -> Result<Playbook, PlaybookError> {
        let file = file.as_ref();
        let playbook: Playbook = serde_norway::from_str(source).map_err(|error| syntax_error(file, error))?;
        playbook.validate(file, source)?;
        Ok(playbook)
    }

    /// Reads, parses and validates one playbook file.
    pub fn load(path: impl AsRef<Path>) -> Result<Playbook, PlaybookError> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|error| PlaybookError {
            file: path.to_path_buf(),
            line: None,
            field: "(file)".into(),
            message: error.to_string(),
            kind: PlaybookErrorKind::Io,
        })?;
        Playbook::from_yaml(path, &source)
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The disclosure line with the call context filled in.
    pub fn disclosure_for(&self, context: &BTreeMap<String, String>) -> String {
        render(&self.disclosure, &self.template_context(context))
    }

    /// The template values of a call: the persona's names, then the call context, so a context
    /// value such as `caller_org` overrides the persona's.
    pub fn template_context(&self, context: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut values = BTreeMap::new();
        values.insert("agent_name".to_owned(), self.persona.agent_name.clone());
        values.insert("gym_name".to_owned(), "your gym".to_owned());
        values.insert("callee_name".to_owned(), "there".to_owned());
        values.insert("caller_org".to_owned(), "our team".to_owned());
        let org = render(&self.persona.caller_org, &values);
        if !org.contains('{') {
            values.insert("caller_org".to_owned(), org);
        }
        for (key, value) in context {
            if !value.trim().is_empty() {
                values.insert(key.clone(), value.clone());
            }
        }
        values
    }

    fn validate(&self, file: &Path, source: &str) -> Result<(), PlaybookError> {
        let lines = LineFinder::new(source);
        let invalid = |line: Option<usize>, field: String, message: String| PlaybookError {
            file: file.to_path_buf(),
            line,
            field,
            message,
            kind: PlaybookErrorKind::Invalid,
        };
        if !is_identifier(&self.id.replace('-', "_")) {
            return Err(invalid(
                lines.key("id", 0),
                "id".into(),
                format!("{:?} is not a valid id (letters, digits, '-' and '_')", self.id),
            ));
        }
        let disclosure = self.disclosure.to_lowercase();
        if !(disclosure.contains("automated")
            || disclosure.contains("virtual assistant")
            || disclosure.contains(" ai "))
        {
            return Err(invalid(
                lines.key("disclosure", 0),
                "disclosure".into(),
                "must say the caller is an automated assistant (e.g. \"I'm an automated assistant calling on behalf of ...\")".into(),
            ));
        }
        if self.fields.is_empty() {
            return Err(invalid(lines.key("fields", 0), "fields".into(), "a playbook needs at least one field".into()));
        }
        let limits_line = lines.key("limits", 0).unwrap_or(0);
        for (key, value) in [
            ("max_duration_s", self.limits.max_duration_s),
            ("max_turns", u64::from(self.limits.max_turns)),
            ("silence_timeout_s", self.limits.silence_timeout_s),
        ] {
            if value == 0 {
                return Err(invalid(
                    lines.key(key, limits_line),
                    format!("limits.{key}"),
                    "must be greater than zero".into(),
                ));
            }
        }
        let window_line = lines.key("calling_window", 0).unwrap_or(0);
        for (key, value) in [("start", &self.calling_window.start), ("end", &self.calling_window.end)] {
            if parse_hh_mm(value).is_none() {
                return Err(invalid(
                    lines.key(key, window_line),
                    format!("calling_window.{key}"),
                    format!("{value:?} is not a time of day (expected \"HH:MM\")"),
                ));
            }
        }
        let (start, end) = self.calling_window.minutes();
        if start >= end {
            return Err(invalid(
                lines.key("end", window_line),
                "calling_window.end".into(),
                format!("{} is not after {}", self.calling_window.end, self.calling_window.start),
            ));
        }

        if !(0.0..=1.0).contains(&self.confirm_below) {
            return Err(invalid(
                lines.key("confirm_below", 0),
                "confirm_below".into(),
                format!("{} is not a confidence between 0 and 1", self.confirm_below),
            ));
        }

        let mut seen = BTreeSet::new();
        for (index, field) in self.fields.iter().enumerate() {
            let field_line = lines.field_item(index);
            let at = |key: &str| lines.key(key, field_line.unwrap_or(0)).or(field_line);
            let path = |key: &str| format!("fields[{index}].{key}");
            if !is_identifier(&field.name) {
                return Err(invalid(
                    field_line,
                    path("name"),
                    format!("{:?} is not a valid field name (letters, digits and '_')", field.name),
                ));
            }
            if !seen.insert(field.name.as_str()) {
                return Err(invalid(field_line, path("name"), format!("duplicate field name {:?}", field.name)));
            }
            if field.kind != FieldType::Risk && field.question.as_deref().is_none_or(|q| q.trim().is_empty()) {
                return Err(invalid(
                    field_line,
                    path("question"),
                    format!("a {} field needs a question to ask", type_name(field.kind)),
                ));
            }
            match field.kind {
                // A list without options collects free items (topics); an enum needs choices.
                FieldType::Enum if field.options.is_empty() => {
                    return Err(invalid(at("type"), path("options"), "an enum field needs options".into()));
                }
                FieldType::Scale => match field.scale {
                    None => {
                        return Err(invalid(
                            at("type"),
                            path("scale"),
                            "a scale field needs `scale: { min, max }`".into(),
                        ))
                    }
                    Some(range) if range.min >= range.max => {
                        return Err(invalid(
                            at("scale"),
                            path("scale"),
                            format!("min {} must be below max {}", range.min, range.max),
                        ))
                    }
                    Some(_) => {}
                },
                FieldType::Risk if field.risk_phrases.is_empty() => {
                    return Err(invalid(
                        at("type"),
                        path("risk_phrases"),
                        "a risk field needs risk_phrases that raise it".into(),
                    ))
                }
                _ => {}
            }
            if let Some(dependency) = &field.depends_on {
                let target = self.fields[..index].iter().find(|f| f.name == dependency.field);
                if target.is_none() {
                    return Err(invalid(
                        at("depends_on"),
                        path("depends_on.field"),
                        format!("{:?} is not a field defined before this one", dependency.field),
                    ));
                }
            }
            for option in &field.options {
                if option.name().trim().is_empty() {
                    return Err(invalid(at("options"), path("options"), "an option has an empty name".into()));
                }
            }
        }
        vocabulary::validate(self, file, &lines)
    }

    /// Every word and phrase the speech recogniser should cover for this playbook: the field
    /// keywords, option phrases and questions, the playbook's `vocabulary`, plus the generic
    /// words (numbers, small words, yes/no, call handling; money, days and times when a field
    /// needs them). Lowercase, without punctuation or slots.
    pub fn vocabulary_phrases(&self) -> Vec<String> {
        vocabulary::phrases(self)
    }

    /// What callees answer, with `{slot}`s ([`SLOT_CLASSES`]): generic call handling (yes/no,
    /// hold, voicemail, phone menus), price patterns when a field is `money`, day and time
    /// patterns when one is a `schedule`, then the playbook's `answer_patterns`.
    pub fn answer_patterns(&self) -> Vec<String> {
        vocabulary::answer_patterns(self)
    }

    /// What fills the `{subject}` slot of the answer patterns.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// Word -> CMU phones, for words the recogniser's stock dictionary lacks.
    pub fn pronunciations(&self) -> &BTreeMap<String, String> {
        &self.pronunciations
    }
}

/// Display name of a field type in YAML.
pub fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Money => "money",
        FieldType::YesNo => "yes_no",
        FieldType::Text => "text",
        FieldType::Schedule => "schedule",
        FieldType::Number => "number",
        FieldType::Scale => "scale",
        FieldType::Enum => "enum",
        FieldType::List => "list",
        FieldType::Risk => "risk",
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(type_name(*self))
    }
}

fn is_identifier(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn syntax_error(file: &Path, error: serde_norway::Error) -> PlaybookError {
    let line = error.location().map(|location| location.line());
    let text = error.to_string();
    // serde_norway prefixes the path (`fields[2].type: ...`) and suffixes ` at line L column C`.
    let text = match text.rfind(" at line ") {
        Some(position) => text[..position].to_owned(),
        None => text,
    };
    let (field, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path.to_owned(), rest.to_owned()),
        _ => ("(document)".to_owned(), text),
    };
    let message = if message.starts_with("unknown variant") && field.ends_with(".type") {
        message.replace("unknown variant", "unknown type")
    } else {
        message
    };
    PlaybookError { file: file.to_path_buf(), line, field, message, kind: PlaybookErrorKind::Syntax }
}

/// Finds the line of a key in the YAML text, for errors found after parsing.
pub(crate) struct LineFinder<'a> {
    lines: Vec<&'a str>,
}

impl<'a> LineFinder<'a> {
    fn new(source: &'a str) -> Self {
        LineFinder { lines: source.lines().collect() }
    }

    /// 1-based line of the first `key:` at or after line `from` (1-based; 0 = start).
    pub(crate) fn key(&self, key: &str, from: usize) -> Option<usize> {
        let start = from.saturating_sub(1);
        self.lines.iter().enumerate().skip(start).find_map(|(index, line)| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')).then_some(index + 1)
        })
    }

    /// 1-based line of the top-level `key:`.
    pub(crate) fn top_key(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|line| line.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')))
            .map(|index| index + 1)
    }

    /// 1-based line where item `index` of the top-level `fields:` list starts.
    fn field_item(&self, index: usize) -> Option<usize> {
        self.list_item("fields", index)
    }

    /// 1-based line where item `index` of the top-level block list `key:` starts.
    pub(crate) fn list_item(&self, key: &str, index: usize) -> Option<usize> {
        let key_line = self.top_key(key)?;
        let mut item_indent = None;
        let mut count = 0;
        for (offset, line) in self.lines.iter().enumerate().skip(key_line) {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if !line.is_empty() && indent == 0 && !trimmed.starts_with('-') && !trimmed.starts_with('#') {
                break;
            }
            let is_item = trimmed.starts_with("- ") || trimmed == "-";
            if is_item && *item_indent.get_or_insert(indent) == indent {
                if count == index {
                    return Some(offset + 1);
                }
                count += 1;
            }
        }
        None
    }
}

/// The playbooks a service knows, by id.
#[derive(Clone, Debug, Default)]
pub struct PlaybookSet {
    playbooks: BTreeMap<String, Playbook>,
}

impl PlaybookSet {
    /// The built-in copies of the shipped playbooks.
    pub fn built_in() -> Result<PlaybookSet, PlaybookError> {
        let mut set = PlaybookSet::default();
        for (name, source) in BUILT_IN {
            let playbook = Playbook::from_yaml(Path::new("playbooks").join(name), source)?;
            set.playbooks.insert(playbook.id.clone(), playbook);
        }
        Ok(set)
    }

    /// Every `*.yaml` / `*.yml` of `dir`, over the built-in playbooks (a file with the same id
    /// replaces the built-in one). A missing directory gives just the built-ins; an invalid file
    /// is an error.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<PlaybookSet, PlaybookError> {
        let dir = dir.as_ref();
        let mut set = PlaybookSet::built_in()?;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(error) => {
                return Err(PlaybookError {
                    file: dir.to_path_buf(),
                    line: None,
                    field: "(directory)".into(),
                    message: error.to_string(),
                    kind: PlaybookErrorKind::Io,
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
            .collect();
        paths.sort();
        for path in paths {
            let playbook = Playbook::load(&path)?;
            set.playbooks.insert(playbook.id.clone(), playbook);
        }
        Ok(set)
    }

    /// A playbook by id (`None` -> the default).
    pub fn get(&self, id: &str) -> Result<&Playbook, PlaybookError> {
        let id = if id.trim().is_empty() { DEFAULT_PLAYBOOK } else { id };
        self.playbooks.get(id).ok_or_else(|| PlaybookError {
            file: PathBuf::from(format!("{id}.yaml")),
            line: None,
            field: "playbook".into(),
            message: format!("unknown playbook {id:?} (known: {})", self.ids().join(", ")),
            kind: PlaybookErrorKind::NotFound,
        })
    }

    /// Known ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.playbooks.keys().cloned().collect()
    }

    pub fn insert(&mut self, playbook: Playbook) {
        self.playbooks.insert(playbook.id.clone(), playbook);
    }
}

#[cfg(test)]
mod tests;
