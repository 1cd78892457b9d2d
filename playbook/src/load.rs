//! Loading playbooks: parse and validate one ([`Playbook::from_yaml`], [`Playbook::load`]) with
//! errors that name the file, line and field, and [`PlaybookSet`], every playbook of a directory
//! over the built-in copies of the shipped ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::lines::LineFinder;
use crate::model::*;
use crate::vocabulary;

/// Longest call a playbook may ask for: Twilio ends a call after four hours.
pub const MAX_CALL_DURATION_S: u64 = 14_400;

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
        if self.limits.max_duration_s > MAX_CALL_DURATION_S {
            return Err(invalid(
                lines.key("max_duration_s", limits_line),
                "limits.max_duration_s".into(),
                format!("at most {MAX_CALL_DURATION_S} s (four hours, Twilio's longest call)"),
            ));
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

        if !(0.0..=1.0).contains(&self.confirm_heard_below) {
            return Err(invalid(
                lines.key("confirm_heard_below", 0),
                "confirm_heard_below".into(),
                format!("{} is not a confidence between 0 and 1", self.confirm_heard_below),
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
            if field.kind != FieldType::List && field.options.iter().any(|option| !option.frames().is_empty()) {
                return Err(invalid(
                    at("options"),
                    path("options"),
                    format!("frames are read for the options of a list field only, not of a {}", type_name(field.kind)),
                ));
            }
            if field.options.iter().any(|option| option.question().is_some_and(|q| q.trim().is_empty())) {
                return Err(invalid(
                    at("options"),
                    path("options"),
                    "an option's question is empty: leave it out to ask about the options together".to_owned(),
                ));
            }
            if field.kind != FieldType::List && field.options.iter().any(|option| option.question().is_some()) {
                return Err(invalid(
                    at("options"),
                    path("options"),
                    format!(
                        "an option's question is asked for the options of a list field only, not of a {}",
                        type_name(field.kind)
                    ),
                ));
            }
            if let Some(below) = field.confirm_heard_below.filter(|below| !(0.0..=1.0).contains(below)) {
                return Err(invalid(
                    at("confirm_heard_below"),
                    path("confirm_heard_below"),
                    format!("{below} is not a confidence between 0 and 1"),
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
            if let Some(more) = &field.more {
                let problem = if field.kind != FieldType::List || field.options.is_empty() {
                    Some("`more` is asked only for a list field with options".to_owned())
                } else if !more.contains("{options}") {
                    Some(format!("{more:?} has no {{options}} for the options not named yet"))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(invalid(at("more"), path("more"), problem));
                }
            }
            if let Some(by_day) = &field.by_day {
                let problem = if field.kind != FieldType::Schedule {
                    Some(format!("`by_day` asks a schedule one day at a time; this is a {}", type_name(field.kind)))
                } else if by_day.days.trim().is_empty() {
                    Some("`by_day.days` is empty: it asks which days have classes".to_owned())
                } else if !by_day.day.contains("{day}") {
                    Some(format!("{:?} has no {{day}} for the day asked about", by_day.day))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(invalid(at("by_day"), path("by_day"), problem));
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
