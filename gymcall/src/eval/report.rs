//! What `gymcall eval` measured: one [`CallReport`] per persona and the [`EvalReport`] over all
//! of them (accuracy per persona and per field, dead air, endings, call length), printed as a
//! table and written as JSON.

use serde::Serialize;
use simulator::persona::grade::Grade;
use simulator::persona::timeline::{EndedBy, Span};
use std::collections::BTreeMap;

/// One persona's call.
#[derive(Clone, Debug, Serialize)]
pub struct CallReport {
    pub file: String,
    pub persona: String,
    pub voice: String,
    /// The call produced a result.
    pub completed: bool,
    /// The result's outcome (`completed`, `partial`, ...), or why there is none.
    pub outcome: String,
    pub required_correct: usize,
    pub required_total: usize,
    pub fields: Vec<FieldReport>,
    /// Agent silences over 3 s while it held the line (media time).
    pub dead_air: Vec<Span>,
    /// The agent said the playbook's closing line.
    pub closing_line: bool,
    /// The agent hung up after the persona's goodbye had been said.
    pub hangup_after_goodbye: bool,
    pub ended_by: Option<EndedBy>,
    /// Media time from answer to hang-up.
    pub call_length_s: f64,
    pub error: Option<String>,
    /// The conversation in media time: what the callee said (its script), what the agent heard
    /// of it, what the agent said and what the callee heard of that. JSON only: where a wrong
    /// field came from.
    pub conversation: Vec<ConversationLine>,
}

/// One line of [`CallReport::conversation`].
#[derive(Clone, Debug, Serialize)]
pub struct ConversationLine {
    pub at_ms: u64,
    /// `callee said`, `agent heard`, `agent said` or `callee heard`.
    pub who: &'static str,
    pub text: String,
}

/// One field of one call.
#[derive(Clone, Debug, Serialize)]
pub struct FieldReport {
    pub field: String,
    pub required: bool,
    pub expected: String,
    pub got: String,
    pub correct: bool,
}

impl FieldReport {
    pub fn from_grade(grade: &Grade) -> Vec<FieldReport> {
        grade
            .fields
            .iter()
            .map(|f| FieldReport {
                field: f.field.clone(),
                required: f.required,
                expected: f.expected.clone(),
                got: f.got.clone(),
                correct: f.correct,
            })
            .collect()
    }
}

/// Correct out of total.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Score {
    pub correct: usize,
    pub total: usize,
    /// Percent, one decimal.
    pub percent: f64,
}

impl Score {
    fn add(&mut self, correct: bool) {
        self.total += 1;
        self.correct += usize::from(correct);
        self.percent = (1000.0 * self.correct as f64 / self.total as f64).round() / 10.0;
    }
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub personas_dir: String,
    pub jobs: usize,
    pub calls: usize,
    pub completed_calls: usize,
    /// Required fields correct over every call.
    pub required_fields: Score,
    pub per_field: BTreeMap<String, Score>,
    /// Required fields correct per callee voice (the agent's recogniser hears some far better).
    pub per_voice: BTreeMap<String, Score>,
    /// The agent's recogniser and voice.
    pub agent_stt: String,
    pub agent_tts: String,
    pub dead_air_threshold_ms: u64,
    pub dead_air_silences: usize,
    pub calls_with_dead_air: usize,
    pub closing_line_calls: usize,
    pub hangup_after_goodbye_calls: usize,
    pub mean_call_length_s: f64,
    pub max_call_length_s: f64,
    pub per_call: Vec<CallReport>,
}

impl EvalReport {
    pub fn new(
        personas_dir: String,
        jobs: usize,
        (agent_stt, agent_tts): (String, String),
        dead_air_threshold_ms: u64,
        per_call: Vec<CallReport>,
    ) -> EvalReport {
        let mut required_fields = Score::default();
        let mut per_field: BTreeMap<String, Score> = BTreeMap::new();
        let mut per_voice: BTreeMap<String, Score> = BTreeMap::new();
        for call in &per_call {
            for field in call.fields.iter().filter(|f| f.required) {
                required_fields.add(field.correct);
                per_field.entry(field.field.clone()).or_default().add(field.correct);
                per_voice.entry(call.voice.clone()).or_default().add(field.correct);
            }
        }
        let lengths: Vec<f64> = per_call.iter().map(|c| c.call_length_s).collect();
        EvalReport {
            personas_dir,
            jobs,
            calls: per_call.len(),
            completed_calls: per_call.iter().filter(|c| c.completed).count(),
            required_fields,
            per_field,
            per_voice,
            agent_stt,
            agent_tts,
            dead_air_threshold_ms,
            dead_air_silences: per_call.iter().map(|c| c.dead_air.len()).sum(),
            calls_with_dead_air: per_call.iter().filter(|c| !c.dead_air.is_empty()).count(),
            closing_line_calls: per_call.iter().filter(|c| c.closing_line).count(),
            hangup_after_goodbye_calls: per_call.iter().filter(|c| c.hangup_after_goodbye).count(),
            mean_call_length_s: round1(lengths.iter().sum::<f64>() / lengths.len().max(1) as f64),
            max_call_length_s: round1(lengths.iter().copied().fold(0.0, f64::max)),
            per_call,
        }
    }

    /// The table `gymcall eval` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{:<44} {:>8} {:>8} {:>6} {:>7} {:>7} {:>7}  voice\n",
            "persona", "fields", "outcome", "dead", "closing", "hangup", "length"
        ));
        for call in &self.per_call {
            out.push_str(&format!(
                "{:<44} {:>8} {:>8} {:>6} {:>7} {:>7} {:>6.1}s  {}\n",
                truncate(&call.persona, 44),
                format!("{}/{}", call.required_correct, call.required_total),
                truncate(&call.outcome, 8),
                call.dead_air.len(),
                yes_no(call.closing_line),
                yes_no(call.hangup_after_goodbye),
                call.call_length_s,
                call.voice,
            ));
        }
        out.push_str("\nper field (required, correct/total):\n");
        for (field, score) in &self.per_field {
            out.push_str(&format!("  {field:<18} {:>3}/{:<3} {:5.1}%\n", score.correct, score.total, score.percent));
        }
        out.push_str("per callee voice (required, correct/total):\n");
        for (voice, score) in &self.per_voice {
            out.push_str(&format!("  {voice:<26} {:>3}/{:<3} {:5.1}%\n", score.correct, score.total, score.percent));
        }
        out.push_str(&format!(
            "\nthe agent heard with {} and spoke with {}\nrequired fields correct: {}/{} = {:.1}% over {} calls ({} with a result)\n",
            self.agent_stt,
            self.agent_tts,
            self.required_fields.correct,
            self.required_fields.total,
            self.required_fields.percent,
            self.calls,
            self.completed_calls
        ));
        out.push_str(&format!(
            "dead air (agent silent > {} s while holding the line): {} silences in {} of {} calls\n",
            self.dead_air_threshold_ms / 1000,
            self.dead_air_silences,
            self.calls_with_dead_air,
            self.calls
        ));
        out.push_str(&format!(
            "endings: closing line in {} of {} calls, agent hung up after the goodbye in {} of {}\n",
            self.closing_line_calls, self.calls, self.hangup_after_goodbye_calls, self.calls
        ));
        out.push_str(&format!(
            "call length: mean {:.1} s, longest {:.1} s\n",
            self.mean_call_length_s, self.max_call_length_s
        ));
        out
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(std::iter::once('…')).collect()
    }
}
