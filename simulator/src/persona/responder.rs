//! What a simulated callee says back: it recognises which of the playbook's questions the agent
//! asked (by the field's keywords and question words), answers from its facts in its own words,
//! confirms or corrects read-backs, and plays its behaviours (IVR menu, voicemail, hold,
//! transfer, refusal, interruption, an alarming remark).

use super::{parse_day, parse_minutes, Persona, ScheduleFact};
use playbook::{FieldSpec, FieldType, Playbook};
use protocol::spoken;
use serde_norway::Value;
use std::collections::BTreeSet;

/// Something the persona does.
#[derive(Clone, Debug, PartialEq)]
pub enum PersonaAction {
    /// Speak this sentence.
    Say(String),
    /// Stay quiet for this long (on hold, fetching the manager).
    Pause { ms: u64 },
    /// A voicemail tone.
    Beep,
    /// Hang up.
    Hangup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ivr,
    Voicemail,
    Talking,
    Ended,
}

/// The persona's side of the conversation, driven by what it heard.
pub struct Responder {
    persona: Persona,
    playbook: Playbook,
    phase: Phase,
    answered: BTreeSet<String>,
    held: bool,
    transferred: bool,
    alarmed: bool,
    interrupted: bool,
    misunderstood: u32,
    /// The fields last answered: what an acknowledgement in passing ("thirty dollars, got it")
    /// is about.
    last_answered: Vec<String>,
}

const READ_BACK_CUES: &[&str] = &[
    "is that right",
    "did i get that right",
    "to confirm",
    "just to confirm",
    "is that correct",
    "did i get that",
    "have i got that right",
    "right?",
];
/// The agent acknowledging a value in passing (implicit confirmation): the value comes right
/// before the cue ("thirty dollars for a drop in got it").
const NOTED_CUES: &[&str] = &["got it", "noted"];
const CLOSING_CUES: &[&str] =
    &["have a great day", "goodbye", "bye", "take care", "that's everything", "that is everything"];
const STOP_WORDS: &[&str] = &[
    "the", "and", "you", "your", "for", "that", "this", "with", "what", "does", "there", "have", "any", "are", "is",
    "do", "can", "could", "would", "like", "about", "tell", "me", "how", "our", "a", "an", "of", "on", "in", "to",
    "or", "it", "be", "if", "so", "look", "looks", "during", "which", "anything", "else", "before", "should", "know",
    "need", "some",
];

fn normalize(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' || c == '?' { c } else { ' ' })
        .collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    let phrase = normalize(phrase);
    if phrase.is_empty() {
        return false;
    }
    let padded = format!(" {} ", haystack.replace('?', " "));
    padded.contains(&format!(" {} ", phrase.replace('?', "")))
}

impl Responder {
    pub fn new(persona: Persona, playbook: Playbook) -> Responder {
        let phase = if persona.behaviour.voicemail.is_some() {
            Phase::Voicemail
        } else if persona.behaviour.ivr.is_some() {
            Phase::Ivr
        } else {
            Phase::Talking
        };
        Responder {
            persona,
            playbook,
            phase,
            answered: BTreeSet::new(),
            held: false,
            transferred: false,
            alarmed: false,
            interrupted: false,
            misunderstood: 0,
            last_answered: Vec::new(),
        }
    }

    pub fn persona(&self) -> &Persona {
        &self.persona
    }

    /// True once the persona has hung up (or its voicemail has ended).
    pub fn has_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// True while an IVR menu waits for a key.
    pub fn waiting_for_digit(&self) -> bool {
        self.phase == Phase::Ivr
    }

    /// What happens when the call is answered.
    pub fn answer(&mut self) -> Vec<PersonaAction> {
        match self.phase {
            Phase::Voicemail => {
                let greeting = self.persona.behaviour.voicemail.clone().unwrap_or_default();
                vec![PersonaAction::Say(greeting), PersonaAction::Beep]
            }
            Phase::Ivr => {
                let menu = self.persona.behaviour.ivr.as_ref().map(|i| i.menu.clone()).unwrap_or_default();
                vec![PersonaAction::Say(menu)]
            }
            _ => vec![PersonaAction::Say(self.persona.greeting.clone())],
        }
    }

    /// A key press heard on the line (an IVR menu listens for it).
    pub fn on_digit(&mut self, digit: char) -> Vec<PersonaAction> {
        let Some(ivr) = &self.persona.behaviour.ivr else {
            return Vec::new();
        };
        if self.phase != Phase::Ivr {
            return Vec::new();
        }
        if ivr.digit.starts_with(digit) {
            self.phase = Phase::Talking;
            vec![PersonaAction::Pause { ms: 600 }, PersonaAction::Say(self.persona.greeting.clone())]
        } else {
            vec![PersonaAction::Say("Sorry, that is not a valid option.".into()), PersonaAction::Say(ivr.menu.clone())]
        }
    }

    /// Called once the agent has been talking for a while without pausing: a persona that
    /// interrupts says something now.
    pub fn interruption(&mut self) -> Option<String> {
        if self.persona.behaviour.interrupt && !self.interrupted && self.phase == Phase::Talking {
            self.interrupted = true;
            return Some("Sorry, sorry, who is this?".to_owned());
        }
        None
    }

    /// What the persona says after hearing the agent say `heard` (one utterance).
    pub fn on_agent_said(&mut self, heard: &str) -> Vec<PersonaAction> {
        let text = normalize(heard);
        match self.phase {
            Phase::Ended | Phase::Voicemail => return Vec::new(),
            Phase::Ivr => {
                // a menu repeats itself when the caller talks instead of pressing a key
                self.misunderstood += 1;
                let menu = self.persona.behaviour.ivr.as_ref().map(|i| i.menu.clone()).unwrap_or_default();
                return if self.misunderstood <= 3 { vec![PersonaAction::Say(menu)] } else { Vec::new() };
            }
            Phase::Talking => {}
        }
        if text.is_empty() {
            return Vec::new();
        }
        let mut replies: Vec<String> = Vec::new();
        // what comes after a value acknowledged in passing is the question
        let asked = self.asked_field(after_noted(&text));

        if self.is_read_back(&text) {
            replies.push(self.confirm_read_back(&text));
        } else if let Some(correction) = self.correct_noted(&text) {
            // a wrong value acknowledged in passing: say so, naming what it was about
            replies.push(correction);
        }
        if let Some(field) = asked {
            if self.persona.behaviour.transfer && !self.transferred {
                self.transferred = true;
                return vec![
                    PersonaAction::Say("Oh, I'm not sure about that. Hold on, let me get the manager for you.".into()),
                    PersonaAction::Pause { ms: 2500 },
                    PersonaAction::Say(format!(
                        "Hi, this is the manager at {}. What did you want to know?",
                        self.persona.gym_name
                    )),
                ];
            }
            if self.persona.behaviour.hold && !self.held {
                self.held = true;
                return vec![
                    PersonaAction::Say("Can you hold on one second?".into()),
                    PersonaAction::Pause { ms: 3000 },
                    PersonaAction::Say("Okay, thanks for waiting. What did you want to know?".into()),
                ];
            }
            // a question about two things ("how much is a drop-in, and is there a mat fee?")
            // gets both answers
            let also = self.also_asked(&text, &field);
            self.last_answered.clear();
            replies.push(self.answer_field(&field));
            self.answered.insert(field.name.clone());
            self.last_answered.push(field.name.clone());
            for field in also {
                replies.push(self.answer_named(&field));
                self.answered.insert(field.name.clone());
                self.last_answered.push(field.name.clone());
            }
            if let (Some(alarming), false) = (&self.persona.behaviour.alarming, self.alarmed) {
                self.alarmed = true;
                replies.push(alarming.clone());
            }
        } else if replies.is_empty() {
            if CLOSING_CUES.iter().any(|cue| contains_phrase(&text, cue)) {
                self.phase = Phase::Ended;
                return vec![PersonaAction::Say("You're welcome. Bye!".into()), PersonaAction::Hangup];
            }
            if contains_phrase(&text, "anything else") {
                replies.push(self.other_info());
            } else if self.is_introduction(&text) {
                replies.push(format!("Yes, this is {}. Sure, go ahead.", self.persona.gym_name));
            } else if text.contains("hello") || text.contains("are you there") || text.contains("still there") {
                replies.push("Yes, I'm here.".into());
            } else if looks_like_a_question(&text) {
                self.misunderstood += 1;
                if self.misunderstood <= 2 {
                    replies.push("Sorry, I didn't catch that. Could you say it again?".into());
                }
            }
            // anything else ("sure, take your time", "thanks") needs no answer
        }
        replies.into_iter().map(PersonaAction::Say).collect()
    }

    fn is_introduction(&self, text: &str) -> bool {
        ["automated assistant", "calling on behalf", "is this", "quick question", "few questions", "questions about"]
            .iter()
            .any(|cue| contains_phrase(text, cue))
    }

    fn is_read_back(&self, text: &str) -> bool {
        READ_BACK_CUES.iter().any(|cue| contains_phrase(text, cue) || text.contains(&cue.replace('?', "")))
            || text.starts_with("so ")
    }

    /// The field whose question the agent asked, by keyword and question-word overlap.
    fn asked_field(&self, text: &str) -> Option<FieldSpec> {
        let words: BTreeSet<&str> = text.split(' ').map(|w| stem(w.trim_matches('?'))).collect();
        let mut best: Option<(f32, &FieldSpec)> = None;
        for field in &self.playbook.fields {
            if field.question.is_none() || field.kind == FieldType::Risk {
                continue;
            }
            let mut score = 0.0f32;
            for keyword in &field.keywords {
                if contains_phrase(text, keyword) {
                    score += normalize(keyword).split(' ').count() as f32;
                }
            }
            if let Some(question) = &field.question {
                let question = normalize(question);
                let content: BTreeSet<&str> = question
                    .split(' ')
                    .map(|w| w.trim_matches('?'))
                    .filter(|w| w.len() > 2 && !STOP_WORDS.contains(w))
                    .map(stem)
                    .collect();
                let overlap = content.intersection(&words).count() as f32;
                score += 1.5 * overlap;
                if !content.is_empty() && overlap / content.len() as f32 > 0.6 {
                    score += 3.0;
                }
            }
            // a question already answered is less likely asked again unless clearly so
            if self.answered.contains(&field.name) {
                score *= 0.6;
            }
            let question_like = text.contains('?')
                || ["how much", "what", "is there", "do you", "does", "any", "could you", "can you", "which", "when"]
                    .iter()
                    .any(|cue| contains_phrase(text, cue));
            if !question_like {
                score *= 0.5;
            }
            if score >= 2.5 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, field));
            }
        }
        best.map(|(_, field)| field.clone())
    }

    fn fact(&self, name: &str) -> Option<&Value> {
        self.persona.facts.get(name).filter(|v| !v.is_null())
    }

    fn answer_field(&self, field: &FieldSpec) -> String {
        if self.persona.behaviour.refuse.contains(&field.name) {
            return "Sorry, I can't give that out over the phone. You'd have to come by the front desk.".into();
        }
        let Some(value) = self.fact(&field.name) else {
            return "Hmm, I'm honestly not sure about that one.".into();
        };
        let spoken_value = spoken_value(field, value);
        if let Some(template) = self.persona.answers.get(&field.name) {
            return template.replace("{value}", &spoken_value);
        }
        match field.kind {
            FieldType::YesNo => {
                if value.as_bool() == Some(true) {
                    "Yes, we do.".into()
                } else {
                    "No, we don't, sorry.".into()
                }
            }
            FieldType::Money => {
                if value.as_f64() == Some(0.0) {
                    "No, there's no charge for that.".into()
                } else {
                    format!("It's {spoken_value}.")
                }
            }
            FieldType::Schedule => format!("We have {spoken_value}."),
            FieldType::List => {
                if spoken_value.is_empty() {
                    "No, nothing special. Just show up.".into()
                } else {
                    format!("You'll need {spoken_value}.")
                }
            }
            FieldType::Scale | FieldType::Number => format!("I'd say about a {spoken_value}."),
            _ => format!("{spoken_value}."),
        }
    }

    /// An answer that says what it is about, for the second part of a two-part question
    /// ("and no mat fee", "and the mat fee is ten dollars").
    fn answer_named(&self, field: &FieldSpec) -> String {
        let topic = field.keywords.first().map(|k| normalize(k)).unwrap_or_else(|| spoken_name(&field.name));
        match (field.kind, self.fact(&field.name).and_then(|v| v.as_f64())) {
            _ if self.persona.behaviour.refuse.contains(&field.name) => self.answer_field(field),
            (FieldType::Money, Some(amount)) => {
                if amount == 0.0 {
                    format!("And no {topic}.")
                } else {
                    format!("And the {topic} is {}.", spoken_value(field, &Value::from(amount)))
                }
            }
            _ => self.answer_field(field),
        }
    }

    fn other_info(&self) -> String {
        match self.fact("other_info").and_then(|v| v.as_str()) {
            Some(info) => info.to_owned(),
            None => "No, I think that's it.".into(),
        }
    }

    /// Yes when what the agent read back agrees with the facts, else a correction. The persona's
    /// own ear is a recogniser that confuses "fifteen" and "fifty", so such a pair counts as a
    /// match (a person would not mishear it).
    fn confirm_read_back(&self, text: &str) -> String {
        for field in &self.playbook.fields {
            if !self.read_back_mentions(field, text) {
                continue;
            }
            if let Some(right) = self.disagreement(field, text) {
                return match field.kind {
                    FieldType::Schedule => format!("No, not quite. We have {right}."),
                    _ => format!("No, it's {right}."),
                };
            }
        }
        "Yes, that's right.".into()
    }

    /// A correction when the agent acknowledged the last answer in passing with a wrong value
    /// ("fifty dollars for a drop in, got it" when it is fifteen is fine to the ear; "twenty" is not).
    fn correct_noted(&self, text: &str) -> Option<String> {
        let cue_at = NOTED_CUES.iter().filter_map(|cue| find_last_phrase(text, cue)).max()?;
        let noted = &text[..cue_at];
        let several = self.last_answered.len() > 1;
        self.last_answered.iter().filter_map(|name| self.playbook.field(name)).find_map(|field| {
            // of two answers noted together, each is checked where it is named
            if several && !field.keywords.iter().any(|k| contains_phrase(noted, k)) {
                return None;
            }
            let topic = field.keywords.first().map(|k| normalize(k)).unwrap_or_else(|| spoken_name(&field.name));
            if self.persona.behaviour.refuse.contains(&field.name) {
                // a value it never gave: only a number said back is worth objecting to
                return (!numbers_in(noted).is_empty())
                    .then(|| format!("No, sorry, I can't give out the {topic} over the phone."));
            }
            let right = match field.kind {
                // only what it clearly heard wrong: its own ear drops words a person would not
                FieldType::Schedule => self.schedule_clearly_wrong(noted)?,
                _ => self.disagreement(field, noted)?,
            };
            Some(match field.kind {
                FieldType::Schedule => format!("No, not quite, our classes are {right}."),
                _ => format!("No, sorry, the {topic} is {right}."),
            })
        })
    }

    /// The schedule, spoken, when `text` names a day without classes or misses most class days.
    fn schedule_clearly_wrong(&self, text: &str) -> Option<String> {
        let value = self.fact("class_schedule").or_else(|| {
            self.playbook.fields.iter().find(|f| f.kind == FieldType::Schedule).and_then(|f| self.fact(&f.name))
        })?;
        let entries: Vec<ScheduleFact> = value
            .as_sequence()
            .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
            .unwrap_or_default();
        let class_days: BTreeSet<usize> = entries.iter().filter_map(|e| parse_day(&e.day)).collect();
        let heard_days: BTreeSet<usize> = text.split(' ').filter_map(|w| parse_day(w.trim_end_matches('s'))).collect();
        let wrong_day = heard_days.iter().any(|d| !class_days.contains(d));
        let missing = class_days.difference(&heard_days).count();
        // start hours: most of them must be there ("at one" for a class at noon is wrong)
        let heard_numbers = numbers_in(text);
        let hours: BTreeSet<u32> = entries.iter().filter_map(|e| parse_minutes(&e.start)).map(|m| m / 60).collect();
        let hours_heard = hours
            .iter()
            .filter(|&&hour| {
                let hour12 = match hour % 12 {
                    0 => 12,
                    h => h,
                } as f64;
                heard_numbers.iter().any(|n| same_number_to_the_ear(*n, hour12))
                    || (hour == 12 && text.contains("noon"))
                    || (hour == 0 && text.contains("midnight"))
            })
            .count();
        let wrong_hours = hours_heard * 2 < hours.len();
        (wrong_day || missing * 2 > class_days.len() || wrong_hours).then(|| schedule_sentence(&entries))
    }

    /// Other fields a question asks about besides `primary`: not yet answered, and named by a
    /// telling keyword of their own (one `primary` does not share) after any acknowledgement.
    fn also_asked(&self, text: &str, primary: &FieldSpec) -> Vec<FieldSpec> {
        let question = after_noted(text);
        self.playbook
            .fields
            .iter()
            .filter(|f| f.name != primary.name && f.question.is_some() && f.kind != FieldType::Risk)
            .filter(|f| !self.answered.contains(&f.name))
            .filter(|f| {
                f.keywords.iter().any(|k| {
                    let k = normalize(k);
                    // a telling phrase ("mat fee", "schedule"), not a word any question has ("class")
                    let telling = k.contains(' ') || k.len() >= 8;
                    telling && !primary.keywords.iter().any(|p| normalize(p) == k) && contains_phrase(question, &k)
                })
            })
            .cloned()
            .collect()
    }

    /// The right value, spoken, when `text` says something about `field` that disagrees with the
    /// facts; `None` when it agrees (or says nothing checkable).
    fn disagreement(&self, field: &FieldSpec, text: &str) -> Option<String> {
        let heard_numbers = numbers_in(text);
        match field.kind {
            FieldType::Money | FieldType::Scale if !heard_numbers.is_empty() => {
                let amount = self.fact(&field.name).and_then(|v| v.as_f64())?;
                (amount > 0.0 && !heard_numbers.iter().any(|n| same_number_to_the_ear(*n, amount)))
                    .then(|| spoken_value(field, &Value::from(amount)))
            }
            FieldType::Money => {
                // "free" said back for a price that is not
                let amount = self.fact(&field.name).and_then(|v| v.as_f64())?;
                (amount > 0.0 && contains_phrase(text, "free")).then(|| spoken_value(field, &Value::from(amount)))
            }
            FieldType::Schedule => {
                let value = self.fact(&field.name)?;
                let entries: Vec<ScheduleFact> = value
                    .as_sequence()
                    .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
                    .unwrap_or_default();
                (!schedule_read_back_agrees(text, &heard_numbers, &entries)).then(|| schedule_sentence(&entries))
            }
            _ => None,
        }
    }

    /// True when a read-back is about `field` (its keywords, or its read-back wording).
    fn read_back_mentions(&self, field: &FieldSpec, text: &str) -> bool {
        field.keywords.iter().any(|k| contains_phrase(text, k))
            || field.read_back.as_ref().is_some_and(|r| {
                let stem = normalize(r.split('{').next().unwrap_or(""));
                !stem.is_empty() && text.contains(&stem)
            })
    }
}

/// A word without its plural `s` ("classes" and "class" are the same word to the ear here).
fn stem(word: &str) -> &str {
    let word = word.strip_suffix("es").filter(|w| w.ends_with("ss") || w.ends_with("sh")).unwrap_or(word);
    match word.strip_suffix('s') {
        Some(base) if base.len() > 2 && !base.ends_with('s') => base,
        _ => word,
    }
}

/// The part of `text` after the last value acknowledged in passing ("... got it"), or all of it.
fn after_noted(text: &str) -> &str {
    NOTED_CUES
        .iter()
        .filter_map(|cue| find_last_phrase(text, cue).map(|at| at + cue.len()))
        .max()
        .map_or(text, |end| text[end.min(text.len())..].trim_start())
}

/// Byte offset of the last `phrase` in `text` (normalised words), on word boundaries.
fn find_last_phrase(text: &str, phrase: &str) -> Option<usize> {
    let padded = format!(" {text} ");
    padded.rfind(&format!(" {phrase} "))
}

/// A field name as words (`mat_fee` -> `mat fee`).
fn spoken_name(name: &str) -> String {
    name.replace('_', " ")
}

/// Numbers a recogniser confuses: 13-19 with 30-90.
fn same_number_to_the_ear(heard: f64, fact: f64) -> bool {
    if (heard - fact).abs() < 0.01 {
        return true;
    }
    let teen_pair = |a: f64, b: f64| (13.0..=19.0).contains(&a) && ((a - 10.0) * 10.0 - b).abs() < 0.01;
    teen_pair(heard, fact) || teen_pair(fact, heard)
}

/// Every class day and start hour of the facts is mentioned in the read-back.
fn schedule_read_back_agrees(text: &str, heard_numbers: &[f64], entries: &[ScheduleFact]) -> bool {
    entries.iter().all(|entry| {
        let day = entry.day.to_lowercase();
        let day_said = text.split(' ').any(|w| w.trim_end_matches('s') == day.trim_end_matches('s'));
        let start = parse_minutes(&entry.start).unwrap_or(0);
        let hour12 = match (start / 60) % 12 {
            0 => 12,
            h => h,
        } as f64;
        let start_said = heard_numbers.iter().any(|n| same_number_to_the_ear(*n, hour12))
            || (start == 12 * 60 && text.contains("noon"))
            || (start == 0 && text.contains("midnight"));
        day_said && start_said
    })
}

/// True when a recognised utterance reads as a question to the callee.
fn looks_like_a_question(text: &str) -> bool {
    let text = format!(" {text} ");
    [
        " how ",
        " what ",
        " which ",
        " when ",
        " where ",
        " is there ",
        " do you ",
        " does ",
        " are you ",
        " can you ",
        " could you ",
        " is it ",
        " is this ",
        " any ",
    ]
    .iter()
    .any(|cue| text.contains(cue))
        || text.contains('?')
}

/// A fact's value in words, as this field type is said aloud.
fn spoken_value(field: &FieldSpec, value: &Value) -> String {
    match field.kind {
        FieldType::Money => value.as_f64().map(spoken::money).unwrap_or_default(),
        FieldType::Number | FieldType::Scale => value
            .as_f64()
            .map(|v| spoken::number_to_words(v.round().clamp(0.0, u32::MAX as f64) as u32))
            .unwrap_or_default(),
        FieldType::YesNo => if value.as_bool() == Some(true) { "yes" } else { "no" }.into(),
        FieldType::List => {
            let names: Vec<String> = value
                .as_sequence()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str())
                        .map(|name| {
                            let phrase = field
                                .options
                                .iter()
                                .find(|o| o.name() == name)
                                .and_then(|o| o.phrases().into_iter().next())
                                .unwrap_or_else(|| playbook::spoken(name));
                            phrase
                        })
                        .collect()
                })
                .unwrap_or_default();
            spoken::list(&names)
        }
        FieldType::Schedule => {
            let entries: Vec<ScheduleFact> = value
                .as_sequence()
                .map(|items| items.iter().filter_map(|i| serde_norway::from_value(i.clone()).ok()).collect())
                .unwrap_or_default();
            schedule_sentence(&entries)
        }
        _ => value.as_str().map(str::to_owned).unwrap_or_else(|| format!("{value:?}")),
    }
}

/// "gi class on monday and wednesday from six p m to seven thirty p m, and open mat on saturday ..."
fn schedule_sentence(entries: &[ScheduleFact]) -> String {
    let mut groups: Vec<(String, String, Option<String>, Vec<usize>)> = Vec::new();
    for entry in entries {
        let Some(day) = parse_day(&entry.day) else { continue };
        match groups
            .iter_mut()
            .find(|(start, end, class, _)| *start == entry.start && *end == entry.end && *class == entry.class_type)
        {
            Some(group) => group.3.push(day),
            None => groups.push((entry.start.clone(), entry.end.clone(), entry.class_type.clone(), vec![day])),
        }
    }
    groups.sort_by_key(|g| (g.3.iter().min().copied(), parse_minutes(&g.0)));
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let parts: Vec<String> = groups
        .iter()
        .map(|(start, end, class, days)| {
            let mut days = days.clone();
            days.sort();
            days.dedup();
            let day_words: Vec<String> = days.iter().map(|d| DAYS[*d].to_owned()).collect();
            let class = class.as_deref().map(playbook::spoken).unwrap_or_else(|| "class".into());
            let class =
                if class.ends_with("mat") || class.ends_with("class") { class } else { format!("{class} class") };
            format!("{class} on {} from {} to {}", spoken::list(&day_words), spoken::time(start), spoken::time(end))
        })
        .collect();
    match parts.len() {
        0 => "no regular classes right now".into(),
        1 => parts[0].clone(),
        n => format!("{}, and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// Numbers spoken in `text` ("twenty five dollars" -> 25, "$30" -> 30).
///
/// Kept apart from the brain's extraction on purpose: the simulated callee checks what the agent
/// understood with an ear of its own, so one parser's mistake is not graded by itself. Only the
/// number words come from `protocol::spoken`, like everywhere else.
fn numbers_in(text: &str) -> Vec<f64> {
    let units = |word: &str| spoken::word_value(word).map(u64::from);
    let mut out = Vec::new();
    let mut current: Option<u64> = None;
    for word in text.split(' ') {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '.');
        if let Ok(n) = word.trim_start_matches('$').parse::<f64>() {
            out.push(n);
            continue;
        }
        match (units(word), word) {
            (Some(n), _) => {
                current = Some(match current {
                    Some(c) if c >= 100 && c % 100 == 0 && n < 100 => c + n,
                    Some(c) if c % 10 == 0 && c % 100 >= 20 && n < 10 => c + n,
                    Some(c) => {
                        out.push(c as f64);
                        n
                    }
                    None => n,
                })
            }
            (None, "hundred") => current = Some(current.unwrap_or(1) * 100),
            (None, "and") if current.is_some_and(|c| c >= 100) => {}
            _ => {
                if let Some(c) = current.take() {
                    out.push(c as f64);
                }
            }
        }
    }
    if let Some(c) = current {
        out.push(c as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responder(yaml: &str) -> Responder {
        let playbooks = playbook::PlaybookSet::built_in().unwrap();
        let persona = Persona::from_yaml("p.yaml", yaml, &playbooks).unwrap();
        let playbook = playbooks.get(&persona.playbook).unwrap().clone();
        Responder::new(persona, playbook)
    }

    const GYM: &str = r#"
name: test
gym_name: Granite Grappling
greeting: Granite Grappling, Kim speaking.
facts:
  drop_in_offered: true
  drop_in_price: 25
  mat_fee: 0
  class_schedule:
    - { day: monday, start: "18:00", end: "19:30", class_type: gi }
    - { day: wednesday, start: "18:00", end: "19:30", class_type: gi }
    - { day: saturday, start: "10:00", end: "12:00", class_type: open mat }
  requirements: [gi, waiver]
"#;

    fn said(actions: &[PersonaAction]) -> String {
        actions
            .iter()
            .filter_map(|a| match a {
                PersonaAction::Say(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn answers_questions_worded_differently_from_the_playbook() {
        let mut r = responder(GYM);
        assert_eq!(said(&r.answer()), "Granite Grappling, Kim speaking.");
        assert!(said(&r.on_agent_said("hi this is sam an automated assistant calling on behalf of open mat finder"))
            .contains("go ahead"));
        assert_eq!(said(&r.on_agent_said("how much does a drop in class cost")), "It's twenty five dollars.");
        assert_eq!(said(&r.on_agent_said("and is there a mat fee on top of that")), "No, there's no charge for that.");
        let schedule = said(&r.on_agent_said("what does your class schedule look like during the week"));
        assert!(schedule.contains("gi class on monday and wednesday from six p m to seven thirty p m"), "{schedule}");
        assert!(schedule.contains("open mat on saturday from ten a m to noon"), "{schedule}");
        let needs = said(&r.on_agent_said("does a visitor need to bring anything like a gi or sign a waiver"));
        assert_eq!(needs, "You'll need gi and waiver.");
        assert!(said(&r.on_agent_said("that's everything thanks so much have a great day")).contains("Bye"));
        assert!(r.has_ended());
    }

    #[test]
    fn confirms_right_read_backs_and_corrects_wrong_ones() {
        let mut r = responder(GYM);
        r.answer();
        assert_eq!(said(&r.on_agent_said("so a drop in is twenty five dollars is that right")), "Yes, that's right.");
        assert_eq!(
            said(&r.on_agent_said("so a drop in is thirty five dollars is that right")),
            "No, it's twenty five dollars."
        );
    }

    #[test]
    fn values_noted_in_passing_are_corrected_only_when_wrong() {
        let mut r = responder(GYM);
        r.answer();
        assert_eq!(said(&r.on_agent_said("how much is a drop in class")), "It's twenty five dollars.");
        // right: no comment, just the answer to the next question
        assert_eq!(
            said(&r.on_agent_said("twenty five dollars for a drop in got it is there a mat fee on top of that")),
            "No, there's no charge for that."
        );
        // wrong: a correction naming what it was about, then the answer
        let mut r = responder(GYM);
        r.answer();
        r.on_agent_said("how much is a drop in class");
        assert_eq!(
            said(&r.on_agent_said("thirty dollars for a drop in got it is there a mat fee on top of that")),
            "No, sorry, the drop in is twenty five dollars. No, there's no charge for that."
        );
        // two answers noted together: each checked where it is named
        let mut r = responder(GYM);
        r.answer();
        r.on_agent_said("how much is a drop in and is there a mat fee");
        let reply = said(&r.on_agent_said(
            "twenty five dollars for a drop in got it mat fee free got it which days and times are your classes",
        ));
        assert!(reply.starts_with("We have gi class"), "{reply}");
        // a schedule noted at the wrong hour is corrected; one with a word misheard is not
        let schedule_gym = GYM.replace("18:00", "12:00").replace("19:30", "13:00");
        let mut r = responder(&schedule_gym);
        r.answer();
        r.on_agent_said("which days and times are your classes");
        let wrong =
            said(&r.on_agent_said("monday and wednesday at one pm saturday at eleven am got it does a visitor need"));
        assert!(wrong.starts_with("No, not quite, our classes are"), "{wrong}");
        let mut r = responder(GYM);
        r.answer();
        r.on_agent_said("which days and times are your classes");
        let misheard = said(
            &r.on_agent_said("monday and wednesday at six pm hundred thirty at ten am got it does a visitor need"),
        );
        assert!(!misheard.contains("not quite"), "{misheard}");
        // a plain "got it" before a question is not a value said back
        let mut r = responder(GYM);
        r.answer();
        r.on_agent_said("how much is a drop in class");
        assert_eq!(said(&r.on_agent_said("got it which days and times are your classes")).matches("No,").count(), 0);
    }

    #[test]
    fn a_question_about_two_things_gets_both_answers() {
        let mut r = responder(GYM);
        r.answer();
        assert_eq!(
            said(&r.on_agent_said("how much is a drop in and is there a mat fee")),
            "It's twenty five dollars. And no mat fee."
        );
        // both were answered: the schedule question is not mistaken for either
        let schedule = said(&r.on_agent_said("which days and times are your classes"));
        assert!(schedule.starts_with("We have gi class on monday"), "{schedule}");
    }

    #[test]
    fn behaviours_hold_transfer_refuse_ivr_voicemail() {
        let mut r = responder(&format!("{GYM}behaviour:\n  hold: true\n  refuse: [drop_in_price]\n"));
        r.answer();
        let first = r.on_agent_said("how much is a drop in class");
        assert!(first.contains(&PersonaAction::Pause { ms: 3000 }), "{first:?}");
        assert!(said(&r.on_agent_said("how much is a drop in class")).contains("can't give that out"));
        // a price it never gave, said back in passing, is objected to without revealing it
        let objection = said(&r.on_agent_said("forty dollars for a drop in got it is there a mat fee on top of that"));
        assert!(objection.starts_with("No, sorry, I can't give out the drop in over the phone."), "{objection}");
        assert!(!objection.contains("forty") && !objection.contains("twenty five"), "{objection}");

        let mut r =
            responder(&format!("{GYM}behaviour:\n  ivr: {{ menu: 'Press one for the front desk', digit: '1' }}\n"));
        assert_eq!(said(&r.answer()), "Press one for the front desk");
        assert!(r.waiting_for_digit());
        assert!(said(&r.on_digit('2')).contains("not a valid option"));
        assert_eq!(said(&r.on_digit('1')), "Granite Grappling, Kim speaking.");

        let mut r = responder(&format!("{GYM}behaviour:\n  voicemail: You have reached Granite. Leave a message.\n"));
        let greeting = r.answer();
        assert!(greeting.contains(&PersonaAction::Beep));
        assert!(r.on_agent_said("how much is a drop in").is_empty());
    }

    #[test]
    fn schedule_read_backs_missing_a_class_are_corrected() {
        let mut r = responder(GYM);
        r.answer();
        let right = said(&r.on_agent_said("i have gi on monday and wednesday from six p m to seven thirty p m and open mat on saturday from ten a m to noon did i get that right"));
        assert_eq!(right, "Yes, that's right.");
        let wrong = said(&r.on_agent_said("i have gi on monday at seven p m did i get that right"));
        assert!(wrong.starts_with("No, not quite. We have gi class on monday and wednesday"), "{wrong}");
    }

    #[test]
    fn acknowledgements_get_no_reply_and_menus_repeat() {
        let mut r = responder(GYM);
        r.answer();
        assert!(r.on_agent_said("sure take your time").is_empty());
        assert!(r.on_agent_said("great thanks").is_empty());
        assert!(said(&r.on_agent_said("what was the thing about the blah")).contains("didn't catch"));
        // its own ear confuses fifteen and fifty; a person would not
        let mut r = responder(&GYM.replace("drop_in_price: 25", "drop_in_price: 15"));
        r.answer();
        assert_eq!(said(&r.on_agent_said("so a drop in is fifty dollars is that right")), "Yes, that's right.");
        assert_eq!(said(&r.on_agent_said("so a drop in is twenty dollars is that right")), "No, it's fifteen dollars.");

        let mut r =
            responder(&format!("{GYM}behaviour:\n  ivr: {{ menu: 'Press one for the front desk', digit: '1' }}\n"));
        r.answer();
        assert_eq!(said(&r.on_agent_said("hi this is sam an automated assistant")), "Press one for the front desk");
    }

    #[test]
    fn spoken_numbers_are_read() {
        assert_eq!(numbers_in("twenty five dollars"), vec![25.0]);
        assert_eq!(numbers_in("it's $30 or one hundred twenty a month"), vec![30.0, 120.0]);
        assert_eq!(numbers_in("forty and five"), vec![40.0, 5.0]);
    }
}
