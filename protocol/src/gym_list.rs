//! Gym lists: the CSV or JSON file a campaign is made of (one call request per row), read with
//! every mistake named by row and column, and the table of results a campaign writes back. Shared
//! by `gymcall campaign` and the gateway's web console, so both take and give the same columns.
//!
//! Columns / keys: `phone_number`, `gym_name` (required), then any other field of a
//! [`CallRequest`](crate::calls::CallRequest) (`country`, `timezone`, `preferred_language`,
//! `playbook`, `not_before`, `calling_window`).

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// Columns a gym list may have: the fields of a call request.
pub const COLUMNS: &[&str] = crate::calls::CallRequest::FIELDS;

/// A mistake in the gym list, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// 1-based data row (CSV: the header is row 0; JSON: array index + 1).
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "row {}, column {column}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

impl std::error::Error for ListError {}

/// One gym of the list: its row and the request fields (strings, empty ones left out).
#[derive(Clone, Debug, PartialEq)]
pub struct GymRow {
    pub row: usize,
    pub fields: Map<String, Value>,
}

impl GymRow {
    /// The value of a column (empty when the row left it out).
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or_default()
    }
}

/// Splits CSV text into records (RFC 4180: quoted fields, `""` escapes, CRLF or LF).
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, ListError> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut quote_started_row = 0usize;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                quote_started_row = records.len();
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(ListError {
            row: quote_started_row,
            column: None,
            message: "a quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    // Blank lines are not rows.
    Ok(records.into_iter().filter(|r| !(r.len() == 1 && r[0].trim().is_empty())).collect())
}

/// True for `+` followed by 8 to 15 digits, the first not 0 (ITU-T E.164).
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// Checks what can be checked before asking the gateway; collects every mistake.
fn check_rows(rows: &[GymRow]) -> Vec<ListError> {
    let mut errors = Vec::new();
    let mut numbers = std::collections::HashMap::new();
    for row in rows {
        let error = |column: &str, message: String| ListError { row: row.row, column: Some(column.into()), message };
        let phone = row.get("phone_number");
        if phone.is_empty() {
            errors.push(error("phone_number", "is empty".into()));
        } else if !is_e164(phone) {
            errors.push(error("phone_number", format!("{phone:?} is not an E.164 number such as +14155550123")));
        } else if let Some(first) = numbers.insert(phone.to_owned(), row.row) {
            errors.push(error("phone_number", format!("{phone} is already on row {first}")));
        }
        if row.get("gym_name").is_empty() {
            errors.push(error("gym_name", "is empty".into()));
        }
    }
    errors
}

/// Reads a CSV gym list (header row first).
pub fn parse_csv(text: &str) -> Result<Vec<GymRow>, Vec<ListError>> {
    let records = csv_records(text.trim_start_matches('\u{feff}')).map_err(|e| vec![e])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![ListError { row: 0, column: None, message: "the file is empty".into() }]);
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let mut errors = Vec::new();
    for (index, name) in header.iter().enumerate() {
        if !COLUMNS.contains(&name.as_str()) {
            errors.push(ListError {
                row: 0,
                column: Some(name.clone()),
                message: format!("unknown column (column {}); known columns: {}", index + 1, COLUMNS.join(", ")),
            });
        }
    }
    for required in ["phone_number", "gym_name"] {
        if !header.iter().any(|h| h == required) {
            errors.push(ListError {
                row: 0,
                column: Some(required.into()),
                message: "the header has no such column".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut gyms = Vec::new();
    for (index, record) in rows.iter().enumerate() {
        let row = index + 1;
        if record.len() != header.len() {
            errors.push(ListError {
                row,
                column: None,
                message: format!("has {} fields, the header has {}", record.len(), header.len()),
            });
            continue;
        }
        let mut fields = Map::new();
        for (name, value) in header.iter().zip(record) {
            let value = value.trim();
            if !value.is_empty() {
                fields.insert(name.clone(), Value::String(value.to_owned()));
            }
        }
        gyms.push(GymRow { row, fields });
    }
    errors.extend(check_rows(&gyms));
    if errors.is_empty() {
        Ok(gyms)
    } else {
        Err(errors)
    }
}

/// Reads a JSON gym list: an array of objects with the column names as keys.
pub fn parse_json(text: &str) -> Result<Vec<GymRow>, Vec<ListError>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| vec![ListError { row: 0, column: None, message: format!("not valid JSON: {e}") }])?;
    let Value::Array(items) = value else {
        return Err(vec![ListError { row: 0, column: None, message: "expected a JSON array of gyms".into() }]);
    };
    let mut errors = Vec::new();
    let mut gyms = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let row = index + 1;
        let Value::Object(object) = item else {
            errors.push(ListError { row, column: None, message: "is not an object".into() });
            continue;
        };
        let mut fields = Map::new();
        for (key, value) in object {
            if !COLUMNS.contains(&key.as_str()) {
                errors.push(ListError {
                    row,
                    column: Some(key),
                    message: format!("unknown key; known keys: {}", COLUMNS.join(", ")),
                });
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(text) if text.trim().is_empty() => {}
                Value::String(text) => {
                    fields.insert(key, Value::String(text.trim().to_owned()));
                }
                _ => errors.push(ListError { row, column: Some(key), message: "must be a string".into() }),
            }
        }
        gyms.push(GymRow { row, fields });
    }
    errors.extend(check_rows(&gyms));
    if errors.is_empty() {
        Ok(gyms)
    } else {
        Err(errors)
    }
}

/// A short fingerprint of a list's text (FNV-1a, hex): campaigns derive their calls'
/// `Idempotency-Key`s from it, so the same file queued again follows the same calls.
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The fixed columns of a results table, before one column per result field.
pub const RESULT_COLUMNS: &[&str] =
    &["row", "phone_number", "gym_name", "call_id", "status", "attempts", "call_sid", "error", "outcome"];

/// One gym's result as a campaign reports it. `call` is the call as `GET /v1/calls/{id}` shows
/// it (None before it was read); `status` is its status, or `rejected` when it was never queued
/// (then `error` says why).
pub fn result_row(
    gym: &GymRow,
    call_id: Option<&str>,
    status: &str,
    call: Option<&Value>,
    error: Option<String>,
) -> Value {
    json!({
        "row": gym.row,
        "phone_number": gym.get("phone_number"),
        "gym_name": gym.get("gym_name"),
        "call_id": call_id,
        "status": status,
        "attempts": call.and_then(|c| c["attempt_count"].as_u64()).unwrap_or(0),
        "call_sid": call.and_then(|c| c["call_sid"].as_str()),
        "error": error.or_else(|| call.and_then(|c| c["last_error"].as_str()).map(str::to_owned)),
        "outcome": call.and_then(|c| c["result"]["outcome"].as_str()),
        "fields": call.and_then(|c| c["result"].get("fields")).cloned().unwrap_or(Value::Null),
    })
}

fn csv_escape(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn field_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Result rows ([`result_row`]) as CSV: the fixed columns, then one column per result field
/// (its value) in name order.
pub fn results_csv(rows: &[Value]) -> String {
    let fields: BTreeSet<String> =
        rows.iter().filter_map(|r| r["fields"].as_object()).flat_map(|f| f.keys().cloned()).collect();
    let mut header: Vec<String> = RESULT_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    header.extend(fields.iter().cloned());
    let mut out = header.iter().map(|h| csv_escape(h)).collect::<Vec<_>>().join(",") + "\n";
    for row in rows {
        let mut cells: Vec<String> = RESULT_COLUMNS.iter().map(|k| field_text(&row[*k])).collect();
        for field in &fields {
            cells.push(field_text(&row["fields"][field]["value"]));
        }
        out.push_str(&cells.iter().map(|c| csv_escape(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_with_quotes_and_optional_columns() {
        let text = "phone_number,gym_name,timezone\r\n+14155550123,\"Ten Point, SF\",America/Los_Angeles\r\n\n+13035550100,\"The \"\"Mat\"\" Room\",\n";
        let gyms = parse_csv(text).unwrap();
        assert_eq!(gyms.len(), 2);
        assert_eq!(gyms[0].get("gym_name"), "Ten Point, SF");
        assert_eq!(gyms[1].get("gym_name"), "The \"Mat\" Room");
        assert!(!gyms[1].fields.contains_key("timezone"), "empty cells are left out");
        assert_eq!(gyms[1].row, 2);
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        let errors = parse_csv("phone,gym_name\n+14155550123,A\n").unwrap_err();
        assert!(errors.iter().any(|e| e.row == 0 && e.column.as_deref() == Some("phone")));
        assert!(errors.iter().any(|e| e.column.as_deref() == Some("phone_number")));
        let text =
            "phone_number,gym_name\n+14155550123,A\n415-555-0100,B\n+14155550123,C\n+14155550199,\n+1415,D,extra\n";
        let errors = parse_csv(text).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"row 2, column phone_number: \"415-555-0100\" is not an E.164 number such as +14155550123".to_string()
            ),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("row 3, column phone_number") && s.contains("already on row 1")),
            "{shown:?}"
        );
        assert!(shown.contains(&"row 4, column gym_name: is empty".to_string()), "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("row 5: has 3 fields")), "{shown:?}");
        let errors = parse_csv("phone_number,gym_name\n\"+1415,A\n").unwrap_err();
        assert!(errors[0].message.contains("never closed"));
    }

    #[test]
    fn reads_json_and_names_bad_keys() {
        let gyms = parse_json(r#"[{"phone_number":"+14155550123","gym_name":"A","timezone":null},{"phone_number":"+14155550124","gym_name":"B","playbook":"gym-dropin"}]"#).unwrap();
        assert_eq!(gyms.len(), 2);
        assert_eq!(gyms[1].get("playbook"), "gym-dropin");
        let errors = parse_json(r#"[{"phone_number":"+14155550123","gym_name":"A","city":"SF"},{"phone_number":4155550124,"gym_name":"B"},7]"#).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(shown.iter().any(|s| s.starts_with("row 1, column city: unknown key")), "{shown:?}");
        assert!(shown.iter().any(|s| s == "row 2, column phone_number: must be a string"), "{shown:?}");
        assert!(shown.iter().any(|s| s == "row 3: is not an object"), "{shown:?}");
    }
}
