//! The playbook itself: [`Playbook`] and its parts ([`FieldSpec`], [`FieldType`], [`Limits`],
//! [`Voicemail`] ...) as they are read from YAML, and the questions a call asks of them.

use serde::{Deserialize, Serialize};

use crate::template::render;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

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
    /// A value heard in a transcript the recogniser was less sure of than this (0-1, its own
    /// confidence in the words: Whisper's mean token probability, Deepgram's `confidence`,
    /// PocketSphinx's posterior probability; each on its own scale) is read back too, however
    /// plainly the words gave it: the words themselves may be misheard. 0 turns it off.
    /// Recognisers that give no confidence (OpenAI's transcription API) are not affected.
    #[serde(default = "default_confirm_heard_below")]
    pub confirm_heard_below: f32,
}

fn default_confirm_below() -> f32 {
    0.7
}

fn default_confirm_heard_below() -> f32 {
    DEFAULT_CONFIRM_HEARD_BELOW
}

/// The default [`Playbook::confirm_heard_below`]: off. Measured on tuning calls (persona seeds
/// 340-379, Whisper tiny.en): at 0.6 the survey got 148 of 200 fields against 154 without it (the
/// schedule gained 3, prices and requirements lost 9 to the extra read-backs); see the README.
pub const DEFAULT_CONFIRM_HEARD_BELOW: f32 = 0.0;

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
    /// Offered after the question when it is asked again ("For example, twenty dollars, or
    /// free."). Without one, the agent offers an example made from the field's type.
    #[serde(default)]
    pub example: Option<String>,
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
    /// For a `list` with options: asked once when an answer had a part that named none of them
    /// (`{options}`: the options not named yet): "Does a visitor need anything else, like
    /// {options}?". Without one: "Anything else, like {options}?".
    #[serde(default)]
    pub more: Option<String>,
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
    /// This field's own `confirm_heard_below` (0-1), in place of the playbook's: a schedule, many
    /// words that must all be heard right, can be read back when the recogniser doubts them while
    /// a price heard with the same doubt is noted in passing.
    #[serde(default)]
    pub confirm_heard_below: Option<f32>,
    /// For a `schedule`: asked one day at a time when its read-back was corrected twice and the
    /// correction still came out wrong (a long timetable on a bad line is heard with a slip in
    /// each telling; a day's classes are a short answer). Off without it.
    #[serde(default)]
    pub by_day: Option<ByDay>,
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

/// `by_day: { days: "Which days of the week do you have classes?", day: "What times are your
/// classes on {day}?" }`: the two questions of a schedule asked one day at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByDay {
    /// Asks which days have classes.
    pub days: String,
    /// Asks for one day's classes; `{day}` is the day ("Monday").
    pub day: String,
}

/// `depends_on: { field: drop_in_offered, equals: true }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub field: String,
    pub equals: serde_norway::Value,
}

/// One choice of an `enum` / `list` / `schedule` field: a bare name or a name with the phrases
/// that mean it, and (for a `list`) the words that lead into it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionSpec {
    Name(String),
    WithPhrases {
        name: String,
        #[serde(default)]
        phrases: Vec<String>,
        /// Words said before this option ("bring your own" for a gi, "be at least" for a rank):
        /// in an answer to the field's question, when the words after them name no option (the
        /// option's own word misheard: "bring your own juice"), the option is taken as said, less
        /// surely, so the value is read back.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        frames: Vec<String>,
        /// A yes/no question about this option alone ("Does a visitor need to book ahead?"):
        /// when an answer to a `list` field said something that named no option, the options not
        /// named that have one are asked about one at a time (a yes is heard where the option's
        /// own words were not); without, the field's `more` question asks about them together.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
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
            OptionSpec::WithPhrases { name, phrases, .. } if phrases.is_empty() => vec![spoken(name)],
            OptionSpec::WithPhrases { phrases, .. } => phrases.iter().map(|p| spoken(p)).collect(),
        }
    }

    /// The yes/no question about this option alone, if it has one.
    pub fn question(&self) -> Option<&str> {
        match self {
            OptionSpec::Name(_) => None,
            OptionSpec::WithPhrases { question, .. } => question.as_deref(),
        }
    }

    /// The words that lead into this option (see [`OptionSpec::WithPhrases`]), spoken.
    pub fn frames(&self) -> Vec<String> {
        match self {
            OptionSpec::Name(_) => Vec::new(),
            OptionSpec::WithPhrases { frames, .. } => frames.iter().map(|f| spoken(f)).collect(),
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

pub(crate) fn parse_hh_mm(text: &str) -> Option<u32> {
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

    /// What fills the `{subject}` slot of the answer patterns.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// The words of the playbook's trade a person at the other end of the line knows: each asked
    /// field's first keyword and its options' spoken names ("drop in", "mat fee", "gi", "no gi",
    /// "open mat", "waiver", ...), each once, in the playbook's order; never a line of it.
    pub fn trade_words(&self) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for field in self.fields.iter().filter(|field| field.question.is_some()) {
            let options = field.options.iter().map(|option| spoken(option.name()));
            for term in field.keywords.first().cloned().into_iter().chain(options) {
                if !term.trim().is_empty() && !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
        terms
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
