//! Grades a call's result against the persona's facts: what a user of the result would have
//! learned right, field by field.
//!
//! The v2 terms: money facts are in the persona's `terms.currency`, and a price above zero is
//! right only with that currency (a result without one counts as USD); with `first_class_free`
//! the drop-in price is what a visit costs after the free first class (the fact); with
//! `no_drop_in_price` it is free (the fact is 0) and the mat fee is the fact; a
//! `mat_fee_condition` is not graded, the amount is.

use super::{Persona, ScheduleFact};
use playbook::{FieldType, Playbook};
use protocol::results::{CallResult, FieldStatus};
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// One field's grade.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldGrade {
    pub field: String,
    pub required: bool,
    pub expected: String,
    pub got: String,
    pub correct: bool,
}

/// The grade of one result.
#[derive(Clone, Debug, PartialEq)]
pub struct Grade {
    pub fields: Vec<FieldGrade>,
}

impl Grade {
    /// (correct, total) over the playbook's required fields.
    pub fn required_score(&self) -> (usize, usize) {
        let required: Vec<&FieldGrade> = self.fields.iter().filter(|f| f.required).collect();
        (required.iter().filter(|f| f.correct).count(), required.len())
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for field in &self.fields {
            writeln!(
                f,
                "  {} {:<16} expected {:<40} got {}",
                if field.correct { "ok " } else { "BAD" },
                field.field,
                field.expected,
                field.got
            )?;
        }
        Ok(())
    }
}

fn depends_on_no_drop_ins(persona: &Persona, playbook: &Playbook, field: &playbook::FieldSpec) -> bool {
    let Some(dependency) = &field.depends_on else { return false };
    let Some(fact) = persona.facts.get(&dependency.field) else { return false };
    playbook.field(&dependency.field).is_some() && fact != &dependency.equals
}

/// Compares `result` with what `persona` knows, for every field of `playbook`.
pub fn grade(persona: &Persona, playbook: &Playbook, result: &CallResult) -> Grade {
    let mut fields = Vec::new();
    for spec in &playbook.fields {
        let got = result.fields.get(&spec.name).cloned().unwrap_or_default();
        let got_text = format!("{:?} {}", got.status, got.value);
        let (expected, correct) = if persona.behaviour.voicemail.is_some() {
            ("not known (voicemail)".to_owned(), got.status != FieldStatus::Known)
        } else if spec.kind == FieldType::Risk {
            let flagged = persona.behaviour.alarming.is_some();
            let got_flagged =
                got.status == FieldStatus::Known && got.value.get("flagged").and_then(Json::as_bool) == Some(true);
            (format!("flagged={flagged}"), got_flagged == flagged)
        } else if persona.behaviour.refuse.contains(&spec.name) {
            ("refused".to_owned(), got.status == FieldStatus::Refused)
        } else if depends_on_no_drop_ins(persona, playbook, spec) {
            ("not_applicable".to_owned(), got.status == FieldStatus::NotApplicable)
        } else {
            match persona.facts.get(&spec.name).filter(|v| !v.is_null()) {
                None => ("unknown".to_owned(), got.status != FieldStatus::Known || !spec.required),
                Some(fact) => {
                    let matches = got.status == FieldStatus::Known
                        && value_matches(spec.kind, fact, &got.value, persona.terms.currency());
                    (format!("{fact:?}").replace("Number(", "").replace(')', ""), matches)
                }
            }
        };
        fields.push(FieldGrade { field: spec.name.clone(), required: spec.required, expected, got: got_text, correct });
    }
    Grade { fields }
}

fn day_index(day: &str) -> Option<usize> {
    super::parse_day(day)
}

fn value_matches(kind: FieldType, fact: &serde_norway::Value, got: &Json, currency: &str) -> bool {
    match kind {
        FieldType::Money => {
            let want = fact.as_f64().unwrap_or(f64::NAN);
            let have = got.get("amount").and_then(Json::as_f64).or_else(|| got.as_f64());
            let have_currency = got.get("currency").and_then(Json::as_str).unwrap_or("USD");
            have.is_some_and(|h| (h - want).abs() < 0.01) && (want == 0.0 || have_currency == currency)
        }
        FieldType::Number | FieldType::Scale => {
            let want = fact.as_f64().unwrap_or(f64::NAN);
            got.as_f64().is_some_and(|h| (h - want).abs() <= 1.0)
        }
        FieldType::YesNo => got.as_bool() == fact.as_bool(),
        FieldType::List | FieldType::Enum => {
            let want: BTreeSet<String> = match fact {
                serde_norway::Value::Sequence(items) => {
                    items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()
                }
                other => other.as_str().map(|s| BTreeSet::from([s.to_owned()])).unwrap_or_default(),
            };
            let have: BTreeSet<String> = match got {
                Json::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
                Json::String(s) => BTreeSet::from([s.clone()]),
                _ => BTreeSet::new(),
            };
            want == have
        }
        FieldType::Schedule => {
            let want: BTreeSet<(usize, String)> = fact
                .as_sequence()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| serde_norway::from_value::<ScheduleFact>(i.clone()).ok())
                        .filter_map(|s| Some((day_index(&s.day)?, s.start)))
                        .collect()
                })
                .unwrap_or_default();
            let have: BTreeSet<(usize, String)> = got
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| {
                            Some((day_index(i.get("day")?.as_str()?)?, i.get("start")?.as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            want == have
        }
        FieldType::Text | FieldType::Risk => !got.is_null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::results::{CallOutcome, FieldResult};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn result(fields: Vec<(&str, FieldStatus, Json)>) -> CallResult {
        CallResult {
            v: 1,
            call_id: "c_1".into(),
            call_sid: None,
            playbook: "gym-dropin".into(),
            outcome: CallOutcome::Completed,
            fields: fields
                .into_iter()
                .map(|(name, status, value)| {
                    (name.to_owned(), FieldResult { status, value, evidence: vec![], confidence: 0.9 })
                })
                .collect::<BTreeMap<_, _>>(),
            transcript: vec![],
            latency: Default::default(),
            started_at: String::new(),
            ended_at: String::new(),
            notes: vec![],
        }
    }

    #[test]
    fn grades_each_field_against_the_facts() {
        let playbooks = playbook::PlaybookSet::built_in().unwrap();
        let persona =
            Persona::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../personas/atlas-bjj.yaml"), &playbooks).unwrap();
        let playbook = playbooks.get("gym-dropin").unwrap();
        let good = result(vec![
            ("drop_in_offered", FieldStatus::Known, json!(true)),
            ("drop_in_price", FieldStatus::Known, json!({"amount": 30.0, "currency": "USD"})),
            ("mat_fee", FieldStatus::Known, json!({"amount": 0.0, "currency": "USD"})),
            (
                "class_schedule",
                FieldStatus::Known,
                json!([
                    {"day": "monday", "start": "18:00", "end": "19:30", "class_type": "gi"},
                    {"day": "wednesday", "start": "18:00", "end": "19:30", "class_type": "gi"},
                    {"day": "saturday", "start": "10:00", "end": "12:00", "class_type": "open mat"}
                ]),
            ),
            ("requirements", FieldStatus::Known, json!(["gi", "waiver"])),
        ]);
        let grade = grade(&persona, playbook, &good);
        assert_eq!(grade.required_score(), (5, 5), "{grade}");

        let wrong = result(vec![
            ("drop_in_offered", FieldStatus::Known, json!(true)),
            ("drop_in_price", FieldStatus::Known, json!({"amount": 13.0, "currency": "USD"})),
            ("requirements", FieldStatus::Known, json!(["gi"])),
        ]);
        let grade = super::grade(&persona, playbook, &wrong);
        assert_eq!(grade.required_score(), (1, 5), "{grade}");
    }

    #[test]
    fn money_in_another_currency_needs_that_currency() {
        let playbooks = playbook::PlaybookSet::built_in().unwrap();
        let yaml = "name: t\ngym_name: G\ngreeting: Hi\nterms: { currency: GBP }\nfacts:\n  drop_in_offered: true\n  drop_in_price: 12\n  mat_fee: 0\n";
        let persona = Persona::from_yaml("t.yaml", yaml, &playbooks).unwrap();
        let playbook = playbooks.get("gym-dropin").unwrap();
        let graded = |price: Json| {
            let r = result(vec![
                ("drop_in_price", FieldStatus::Known, price),
                ("mat_fee", FieldStatus::Known, json!({"amount": 0.0, "currency": "USD"})),
            ]);
            let g = grade(&persona, playbook, &r);
            (g.fields[1].correct, g.fields[2].correct)
        };
        assert_eq!(graded(json!({"amount": 12.0, "currency": "GBP"})), (true, true));
        assert_eq!(graded(json!({"amount": 12.0, "currency": "USD"})), (false, true));
        assert_eq!(graded(json!({"amount": 12.0})), (false, true));
    }

    #[test]
    fn every_shipped_persona_loads() {
        let playbooks = playbook::PlaybookSet::built_in().unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../personas");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Persona::load(&path, &playbooks).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
        assert!(count >= 7, "only {count} personas");
    }
}
