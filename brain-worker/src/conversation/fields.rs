//! Record updates: extracted values applied to the fields (with evidence and `field` events),
//! fields set directly, and `depends_on` settled both ways.

use protocol::calls::CallEventKind;

use super::mechanics::Conversation;
use super::messages::Action;
use crate::extract::Extraction;
use playbook::FieldType;
use protocol::results::{Evidence, FieldStatus};
use serde_json::Value;

impl Conversation {
    /// Applies extracted values: a known value replaces an unknown or a less confident one;
    /// refusals and not-applicable settle unknown fields. Returns `field` events and the names
    /// of fields that changed.
    pub fn apply(&mut self, extractions: &[Extraction], turn: usize) -> (Vec<Action>, Vec<String>) {
        let mut actions = Vec::new();
        let mut changed = Vec::new();
        let evidence_text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
        for extraction in extractions {
            let Some(current) = self.state.fields.get_mut(&extraction.field) else { continue };
            let replace = match (current.status, extraction.status) {
                (FieldStatus::Unknown, _) => true,
                (_, FieldStatus::Known) if current.status != FieldStatus::Known => true,
                (FieldStatus::Known, FieldStatus::Known) => {
                    // items or an amount named after a none was noted ("no" to "does a visitor
                    // need anything?", then "you'll need a gi and a waiver"): the later, more
                    // specific answer stands, even when said in passing
                    let kind = self.playbook.field(&extraction.field).map(|f| f.kind);
                    let fills_a_none = matches!(kind, Some(FieldType::List | FieldType::Money))
                        && crate::extract::says_none(&current.value)
                        && !crate::extract::says_none(&extraction.value);
                    current.value != extraction.value
                        && (fills_a_none || extraction.confidence >= current.confidence - 0.05)
                }
                _ => false,
            };
            if !replace {
                continue;
            }
            current.status = extraction.status;
            current.value = extraction.value.clone();
            current.confidence = extraction.confidence;
            current.evidence.push(Evidence { turn, text: evidence_text.clone() });
            changed.push(extraction.field.clone());
            actions.push(Action::Event {
                kind: CallEventKind::Field,
                detail: serde_json::json!({
                    "field": extraction.field,
                    "status": extraction.status,
                    "value": extraction.value,
                    "confidence": extraction.confidence,
                })
                .to_string(),
            });
        }
        actions.extend(self.settle_dependencies(turn));
        (actions, changed)
    }

    /// Sets a field directly (a correction or an LLM tool call).
    pub fn set_field(
        &mut self,
        name: &str,
        status: FieldStatus,
        value: Value,
        confidence: f32,
        turn: Option<usize>,
    ) -> Vec<Action> {
        let Some(current) = self.state.fields.get_mut(name) else { return Vec::new() };
        current.status = status;
        current.value = value.clone();
        current.confidence = confidence;
        if let Some(turn) = turn {
            let text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
            if !current.evidence.iter().any(|e| e.turn == turn) {
                current.evidence.push(Evidence { turn, text });
            }
        }
        let mut actions = vec![Action::Event {
            kind: CallEventKind::Field,
            detail: serde_json::json!({ "field": name, "status": status, "value": value, "confidence": confidence })
                .to_string(),
        }];
        actions.extend(self.settle_dependencies(turn.unwrap_or(0)));
        actions
    }

    /// A field whose condition is false becomes `not_applicable` ("we don't do drop-ins" settles
    /// the price); a known dependent value implies its condition ("drop-ins are $20" means they
    /// are offered).
    fn settle_dependencies(&mut self, turn: usize) -> Vec<Action> {
        let mut actions = Vec::new();
        for field in &self.playbook.fields {
            let Some(dependency) = &field.depends_on else { continue };
            let expected = yaml_to_json(&dependency.equals);
            let condition = self.state.fields.get(&dependency.field).cloned().unwrap_or_default();
            let this = self.state.fields.get(&field.name).cloned().unwrap_or_default();
            if condition.status == FieldStatus::Known && condition.value != expected {
                if this.status != FieldStatus::NotApplicable {
                    if let Some(entry) = self.state.fields.get_mut(&field.name) {
                        entry.status = FieldStatus::NotApplicable;
                        entry.value = Value::Null;
                        entry.confidence = condition.confidence;
                        actions.push(Action::Event {
                            kind: CallEventKind::Field,
                            detail: serde_json::json!({ "field": field.name, "status": "not_applicable" }).to_string(),
                        });
                    }
                }
            } else if condition.status == FieldStatus::NotApplicable && this.status == FieldStatus::Unknown {
                if let Some(entry) = self.state.fields.get_mut(&field.name) {
                    entry.status = FieldStatus::NotApplicable;
                }
            } else if this.status == FieldStatus::Known && condition.status == FieldStatus::Unknown {
                let text = self.state.transcript.get(turn).map(|t| t.text.clone()).unwrap_or_default();
                if let Some(entry) = self.state.fields.get_mut(&dependency.field) {
                    entry.status = FieldStatus::Known;
                    entry.value = expected.clone();
                    entry.confidence = 0.7;
                    entry.evidence.push(Evidence { turn, text });
                    actions.push(Action::Event {
                        kind: CallEventKind::Field,
                        detail: serde_json::json!({ "field": dependency.field, "status": "known", "value": expected, "implied_by": field.name }).to_string(),
                    });
                }
            }
        }
        actions
    }
}

/// A YAML scalar as JSON (for `depends_on.equals`).
pub fn yaml_to_json(value: &serde_norway::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
