//! What a simulated callee says back: it recognises which of the playbook's questions the agent
//! asked (by the field's keywords and question words), answers from its facts in its own words,
//! confirms or corrects read-backs, and plays its behaviours (IVR menu, voicemail, hold,
//! transfer, refusal, interruption, an alarming remark).

use super::rng::SplitMix64;
use super::said::{self, spoken_value};
use super::{parse_day, Persona, ScheduleFact};
use playbook::{FieldSpec, FieldType, Playbook};
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
    /// Picks the phrasings of this call.
    rng: SplitMix64,
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
/// How long a persona waits after its goodbye for the caller to hang up before it does.
pub const GOODBYE_WAIT_MS: u64 = 2500;
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

/// Farewells a closing line ends with. Not a bare "bye": the ear makes one of other words ("A
/// yes or no is fine." heard "yes or no with bye").
const FAREWELLS: &[&str] = &["have a great day", "that's all i needed", "goodbye", "take care"];

/// True when one of [`FAREWELLS`] is among the last words of `text`.
fn ends_with_farewell(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let tail = words[words.len().saturating_sub(6)..].join(" ");
    FAREWELLS.iter().any(|cue| contains_phrase(&tail, cue))
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
            rng: SplitMix64::new(0),
        }
        .with_seed(None)
    }

    /// Picks this call's phrasings from `seed`, or from the persona's own `seed`, or from its
    /// name when neither is given (the same phrasings every call).
    pub fn with_seed(mut self, call_seed: Option<u64>) -> Responder {
        let seed = self.persona.seed.or(call_seed).unwrap_or_else(|| SplitMix64::seed_from(&self.persona.name));
        self.rng = SplitMix64::new(seed);
        self
    }

    /// One of `own` (the persona's lines), or `default` when it has none.
    fn line(&mut self, own: &[String], default: &str) -> String {
        if own.is_empty() {
            return default.to_owned();
        }
        own[self.rng.below(own.len())].clone()
    }

    fn greeting(&mut self) -> String {
        self.persona.greeting.pick(&mut self.rng)
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
            _ => vec![PersonaAction::Say(self.greeting())],
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
            vec![PersonaAction::Pause { ms: 600 }, PersonaAction::Say(self.greeting())]
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
        // what comes after a value acknowledged in passing is the question; a read-back asks for
        // a yes, and only what follows its "is that right?" can ask for more (a schedule read
        // back names days and classes, which is no question about the schedule)
        let read_back = self.is_read_back(&text);
        let question = if read_back { after_read_back(&text) } else { after_noted(&text) };
        // a line that ends with a farewell asks nothing more, whatever the ear made of its start
        // ("No problem, let's move on. That's all I needed. Thanks so much, have a great day!"
        // heard "nope drop in what did you want that's all i needed ..." was answered with the
        // drop-in price, and the call ended without a goodbye)
        let farewell = ends_with_farewell(&text);
        let asked = if question.is_empty() || farewell { None } else { self.asked_field(question) };

        if read_back {
            replies.push(self.confirm_read_back(&text));
        } else if let Some(correction) = self.correct_noted(&text) {
            // a wrong value acknowledged in passing: say so, naming what it was about
            replies.push(correction);
        }
        // "does a visitor need to book ahead?": a yes or a no about one option of a list
        // A question that names another field by its own words is about that field, whatever option
        // it ends on ("sorry tuesday the sure need a drop in visitors from other gi and" for
        // "... do you take drop-in visitors from other gyms?", tuning seeds 593, 603)
        let option_asked = if read_back || question.is_empty() || farewell {
            None
        } else {
            self.option_question(question).filter(|(field, _)| {
                asked
                    .as_ref()
                    .is_none_or(|a| a.name == *field || !a.keywords.iter().any(|k| contains_phrase(question, k)))
            })
        };
        if let Some((field, has)) = option_asked {
            replies.push(if has { "Yes, they do.".into() } else { "No, they don't.".into() });
            self.answered.insert(field.clone());
            self.last_answered = vec![field];
        } else if let Some(field) = asked {
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
                let lines = self.persona.lines.clone();
                return vec![
                    PersonaAction::Say(self.line(&lines.hold, "Can you hold on one second?")),
                    PersonaAction::Pause { ms: 3000 },
                    PersonaAction::Say(self.line(&lines.back, "Okay, thanks for waiting. What did you want to know?")),
                ];
            }
            // a question about two things ("how much is a drop-in, and is there a mat fee?")
            // gets both answers
            let also = if self.persona.behaviour.partial { Vec::new() } else { self.also_asked(question, &field) };
            self.last_answered.clear();
            let part = if read_back { None } else { self.schedule_part(&field, after_noted(&text)) };
            if let Some(said) = part {
                // "which days ...?" or "what times ... on monday?": that part of the timetable
                replies.push(said);
                self.answered.insert(field.name.clone());
                self.last_answered.push(field.name.clone());
            } else if let Some((said, fields)) = self.together_answer(&field) {
                // one answer that gives several facts (in its own order)
                replies.push(said);
                for name in fields {
                    self.answered.insert(name.clone());
                    self.last_answered.push(name);
                }
            } else {
                replies.push(self.answer_field(&field));
                self.answered.insert(field.name.clone());
                self.last_answered.push(field.name.clone());
            }
            let given = self.last_answered.clone();
            for field in also.into_iter().filter(|f| !given.contains(&f.name)) {
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
                let goodbye = self.persona.lines.goodbye.clone();
                // a person says goodbye and leaves the hanging up to the caller, for a moment
                return vec![
                    PersonaAction::Say(self.line(&goodbye, "You're welcome. Bye!")),
                    PersonaAction::Pause { ms: GOODBYE_WAIT_MS },
                    PersonaAction::Hangup,
                ];
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
                    let say_again = self.persona.lines.say_again.clone();
                    replies.push(self.line(&say_again, "Sorry, I didn't catch that. Could you say it again?"));
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
        // a bare "right" asks for a yes only at the end of the line: "One more thing before I go,
        // I didn't catch it earlier. What should a visitor bring ...?" heard "okay one more the
        // before right open ... what should a visitor bring ..." was answered as a read-back
        // (tuning seed 552, second run)
        let last_words: Vec<&str> = text.split_whitespace().rev().take(3).collect();
        let ends_with_right = last_words.iter().any(|w| w.trim_end_matches('?') == "right");
        READ_BACK_CUES.iter().any(|cue| {
            let plain = cue.trim_end_matches('?');
            if plain == "right" {
                ends_with_right
            } else {
                contains_phrase(text, cue) || text.contains(plain)
            }
        })
            // "so <a value>" with its cue lost; "so I didn't quite get that, what would a visitor
            // pay?" (a re-ask heard with "sorry" cut short) asks a question instead
            || (text.starts_with("so ") && self.asked_field(text).is_none())
    }

    /// The field whose question the agent asked, by keyword and question-word overlap.
    fn asked_field(&self, text: &str) -> Option<FieldSpec> {
        // "else" with the words of what was just answered ("does a visitor need anything else,
        // like a waiver?") asks for more of it, as a person hears it right after answering
        if contains_phrase(text, "else") {
            let more_of_the_last = self.playbook.fields.iter().find(|field| {
                self.last_answered.contains(&field.name)
                    && (field.keywords.iter().any(|k| contains_phrase(text, k))
                        || field.options.iter().flat_map(|o| o.phrases()).any(|p| contains_phrase(text, &p)))
            });
            if let Some(field) = more_of_the_last {
                return Some(field.clone());
            }
        }
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
            // the question, or its other wording when the agent asks again (`follow_up`):
            // whichever the agent's words match better
            let mut best_wording = 0.0f32;
            for question in field.question.iter().chain(field.follow_up.iter()) {
                let question = normalize(question);
                let content: BTreeSet<&str> = question
                    .split(' ')
                    .map(|w| w.trim_matches('?'))
                    .filter(|w| w.len() > 2 && !STOP_WORDS.contains(w))
                    .map(stem)
                    .collect();
                let overlap = content.intersection(&words).count() as f32;
                let mut wording = 1.5 * overlap;
                if !content.is_empty() && overlap / content.len() as f32 > 0.6 {
                    wording += 3.0;
                }
                best_wording = best_wording.max(wording);
            }
            score += best_wording;
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

    /// A question about one option of a list field alone ("does a visitor need to sign a
    /// waiver?"): the field and whether the persona's list has the option. A question naming
    /// several options ("anything, like a gi, a waiver ...?") asks for the list, not this.
    fn option_question(&self, text: &str) -> Option<(String, bool)> {
        // a yes/no question ("okay, does a visitor need ...?", its "does" often heard as "the"),
        // not a wh-question; one that asks for "anything" or gives an example wants the list
        let mut words = text.split(' ').skip_while(|w| {
            ["okay", "ok", "so", "and", "thanks", "great", "perfect", "right", "alright", "sorry", "also", "then"]
                .contains(w)
        });
        let wh_question =
            words.next().is_none_or(|w| ["what", "which", "how", "when", "where", "why", "who"].contains(&w));
        if wh_question || contains_phrase(text, "anything") || contains_phrase(text, "example") {
            return None;
        }
        let mut named: Vec<(&FieldSpec, &str)> = Vec::new();
        for field in self.playbook.fields.iter().filter(|f| f.kind == FieldType::List) {
            for option in &field.options {
                if option.phrases().iter().any(|p| contains_phrase(text, p)) {
                    named.push((field, option.name()));
                }
            }
        }
        let [(field, option)] = named.as_slice() else { return None };
        if self.persona.behaviour.refuse.contains(&field.name) {
            return None;
        }
        let items = self.fact(&field.name).and_then(Value::as_sequence).cloned().unwrap_or_default();
        let has = items.iter().any(|item| item.as_str() == Some(*option));
        Some((field.name.clone(), has))
    }

    fn fact(&self, name: &str) -> Option<&Value> {
        self.persona.facts.get(name).filter(|v| !v.is_null())
    }

    /// `field`'s fact as this persona says it (money in its currency).
    fn spoken(&self, field: &FieldSpec, value: &Value) -> String {
        spoken_value(field, value, self.persona.terms.currency())
    }

    /// A template with `{value}` (the field's fact) and `{<field>}` (any fact) filled in.
    fn fill(&self, template: &str, field: Option<&FieldSpec>) -> String {
        let mut text = template.to_owned();
        if let Some(field) = field {
            let value = self.fact(&field.name).map(|v| self.spoken(field, v)).unwrap_or_default();
            text = text.replace("{value}", &value);
        }
        for spec in &self.playbook.fields {
            let key = format!("{{{}}}", spec.name);
            if text.contains(&key) {
                let value = self.fact(&spec.name).map(|v| self.spoken(spec, v)).unwrap_or_default();
                text = text.replace(&key, &value);
            }
        }
        if let Some(condition) = &self.persona.terms.mat_fee_condition {
            text = text.replace("{condition}", condition);
        }
        text
    }

    /// The persona's answer giving `field` together with other facts, when it has one and not
    /// all of those facts were given yet; with the fields it gives.
    fn together_answer(&mut self, field: &FieldSpec) -> Option<(String, Vec<String>)> {
        let refused = &self.persona.behaviour.refuse;
        let together = self
            .persona
            .together
            .iter()
            .find(|t| {
                t.fields.contains(&field.name)
                    && !t.fields.iter().all(|name| self.answered.contains(name))
                    && !t.fields.iter().any(|name| refused.contains(name))
            })?
            .clone();
        let template = together.say.pick(&mut self.rng);
        Some((self.fill(&template, Some(field)), together.fields))
    }

    /// Part of a schedule, when the question asks for part of it: its days ("which days of the
    /// week do you have classes?", no times asked) or one day's classes (one day named).
    fn schedule_part(&self, field: &FieldSpec, question: &str) -> Option<String> {
        if field.kind != FieldType::Schedule || self.persona.behaviour.refuse.contains(&field.name) {
            return None;
        }
        let entries: Vec<ScheduleFact> = self
            .fact(&field.name)?
            .as_sequence()?
            .iter()
            .filter_map(|i| serde_norway::from_value(i.clone()).ok())
            .collect();
        let asks_days = contains_phrase(question, "which days") || contains_phrase(question, "what days");
        let asks_times = ["times", "what time", "when", "hours"].iter().any(|w| contains_phrase(question, w));
        if asks_days && !asks_times {
            return Some(said::days_sentence(&entries));
        }
        let mut days: Vec<usize> = question.split(' ').filter_map(|w| parse_day(w.trim_end_matches('s'))).collect();
        days.dedup();
        match days.as_slice() {
            [day] if !asks_days => Some(said::day_sentence(&entries, *day)),
            _ => None,
        }
    }

    fn answer_field(&mut self, field: &FieldSpec) -> String {
        let lines = self.persona.lines.clone();
        if self.persona.behaviour.refuse.contains(&field.name) {
            return self.line(
                &lines.refusal,
                "Sorry, I can't give that out over the phone. You'd have to come by the front desk.",
            );
        }
        let Some(value) = self.fact(&field.name).cloned() else {
            return self.line(&lines.unsure, "Hmm, I'm honestly not sure about that one.");
        };
        if let Some(phrasings) = self.persona.answers.get(&field.name).cloned() {
            let template = phrasings.pick(&mut self.rng);
            return self.fill(&template, Some(field));
        }
        let spoken_value = self.spoken(field, &value);
        let terms = &self.persona.terms;
        match field.kind {
            FieldType::YesNo => {
                if value.as_bool() == Some(true) {
                    "Yes, we do.".into()
                } else {
                    "No, we don't, sorry.".into()
                }
            }
            FieldType::Money if field.name == "drop_in_price" && terms.no_drop_in_price => {
                self.fill("We don't really have a drop in price, you just pay the {mat_fee} mat fee.", None)
            }
            FieldType::Money if field.name == "drop_in_price" && terms.first_class_free => {
                if value.as_f64() == Some(0.0) {
                    "Your first class is free.".into()
                } else {
                    format!("Your first class is free, and after that it's {spoken_value}.")
                }
            }
            FieldType::Money if field.name == "mat_fee" && value.as_f64() != Some(0.0) => {
                match &terms.mat_fee_condition {
                    Some(condition) => format!("There's a {spoken_value} mat fee, but only {condition}."),
                    None => format!("It's {spoken_value}."),
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
    fn answer_named(&mut self, field: &FieldSpec) -> String {
        let topic = field.keywords.first().map(|k| normalize(k)).unwrap_or_else(|| spoken_name(&field.name));
        // a conditional fee is said with its condition
        let own_words = field.name == "mat_fee" && self.persona.terms.mat_fee_condition.is_some();
        match (field.kind, self.fact(&field.name).and_then(|v| v.as_f64())) {
            _ if self.persona.behaviour.refuse.contains(&field.name) || own_words => self.answer_field(field),
            (FieldType::Money, Some(amount)) => {
                if amount == 0.0 {
                    format!("And no {topic}.")
                } else {
                    format!("And the {topic} is {}.", self.spoken(field, &Value::from(amount)))
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

/// The part of a read-back after its last cue ("is that right", "did i get that right"), else
/// after its last "right" (a cue heard in part: "to day get that right"); nothing when it has
/// neither (a read-back whose cue was lost asks nothing more).
fn after_read_back(text: &str) -> &str {
    // the ear's text keeps its question marks ("is that right?"): found as words without them
    let plain = text.replace('?', " ");
    READ_BACK_CUES
        .iter()
        .filter(|cue| !cue.ends_with('?'))
        .filter_map(|cue| find_last_phrase(&plain, cue).map(|at| at + cue.len()))
        .max()
        .or_else(|| find_last_phrase(&plain, "right").map(|at| at + "right".len()))
        .map_or("", |end| text[end.min(text.len())..].trim_start())
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

#[path = "read_back.rs"]
mod read_back;

#[cfg(test)]
#[path = "responder_tests.rs"]
mod tests;
