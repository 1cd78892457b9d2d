//! The model's `record_field` tool call applied to the conversation, its value coerced into the
//! field's format (money, yes/no, numbers, lists).

use crate::conversation::{Action, Conversation};
use crate::extract;
use playbook::FieldType;
use protocol::results::FieldStatus;
use serde_json::{json, Value};

/// Applies a `record_field` call, normalising the value to the field's type. Returns the
/// events and the tool result text.
pub(super) fn record_field(
    conversation: &mut Conversation,
    arguments: &Value,
    turn: Option<usize>,
) -> (Vec<Action>, String) {
    let Some(name) = arguments.get("name").and_then(Value::as_str) else {
        return (Vec::new(), "error: missing name".into());
    };
    let Some(field) = conversation.playbook.field(name).cloned() else {
        return (Vec::new(), format!("error: unknown field {name}"));
    };
    let status = match arguments.get("status").and_then(Value::as_str).unwrap_or("known") {
        "refused" => FieldStatus::Refused,
        "not_applicable" => FieldStatus::NotApplicable,
        "unknown" => FieldStatus::Unknown,
        _ => FieldStatus::Known,
    };
    let raw = arguments.get("value").cloned().unwrap_or(Value::Null);
    let value = if status == FieldStatus::Known { normalise_value(&field, raw) } else { Value::Null };
    if status == FieldStatus::Known && value.is_null() {
        return (Vec::new(), "error: value does not fit the field type".into());
    }
    let confidence =
        arguments.get("confidence").and_then(Value::as_f64).map(|c| c as f32).unwrap_or(0.85).clamp(0.0, 1.0);
    (conversation.set_field(name, status, value, confidence, turn), "ok".into())
}

/// Coerces a model-given value into the field's format.
fn normalise_value(field: &playbook::FieldSpec, value: Value) -> Value {
    match (field.kind, &value) {
        (FieldType::Money, Value::Number(n)) => json!({ "amount": n.as_f64().unwrap_or(0.0), "currency": "USD" }),
        (FieldType::Money, Value::Object(map)) if map.get("amount").is_some_and(Value::is_number) => {
            json!({ "amount": map["amount"].as_f64().unwrap_or(0.0), "currency": map.get("currency").and_then(Value::as_str).unwrap_or("USD") })
        }
        (FieldType::Money, Value::String(text)) => {
            let tokens = extract::text::tokenize(text);
            extract::values::money_mentions(&tokens)
                .first()
                .map(|m| json!({ "amount": m.money.amount, "currency": m.money.currency }))
                .unwrap_or(Value::Null)
        }
        (FieldType::Money, _) => Value::Null,
        (FieldType::YesNo, Value::Bool(_)) => value,
        (FieldType::YesNo, Value::String(text)) => {
            extract::values::yes_no(&extract::text::tokenize(text)).map(|(b, _)| Value::Bool(b)).unwrap_or(Value::Null)
        }
        (FieldType::YesNo, _) => Value::Null,
        (FieldType::Scale | FieldType::Number, Value::Number(_)) => value,
        (FieldType::Scale | FieldType::Number, Value::String(text)) => {
            text.trim().parse::<f64>().ok().map(|n| json!(n)).unwrap_or(Value::Null)
        }
        (FieldType::Schedule | FieldType::List, Value::Array(_)) => value,
        (FieldType::List, Value::String(text)) => json!([text]),
        (_, Value::Null) => Value::Null,
        _ => value,
    }
}
