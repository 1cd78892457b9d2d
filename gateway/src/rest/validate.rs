//! Reads and checks a `POST /v1/calls` body field by field, so each error names its field.

use super::error::ApiError;
use chrono_tz::Tz;
use protocol::calls::CallRequest;
use serde_json::{Map, Value};

/// Fields `POST /v1/calls` accepts.
pub const CALL_FIELDS: &[&str] = CallRequest::FIELDS;

/// True for `+` followed by 8 to 15 digits, the first not 0 (ITU-T E.164).
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// `Mon-Fri 09:00-17:00`, `Sat,Sun 10:00-14:00` or `09:00-17:00` (the dialer's grammar).
pub fn is_calling_window(text: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |name: &str| DAYS.iter().position(|d| name.to_ascii_lowercase().starts_with(d) && name.len() >= 3);
    let time = |t: &str| t == "24:00" || chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok();
    let parts: Vec<&str> = text.split_whitespace().collect();
    let (days, hours) = match parts.as_slice() {
        [hours] => (None, *hours),
        [days, hours] => (Some(*days), *hours),
        _ => return false,
    };
    if let Some(days) = days {
        let ok = days.split(',').all(|item| match item.split_once('-') {
            Some((from, to)) => matches!((day(from), day(to)), (Some(a), Some(b)) if a <= b),
            None => day(item).is_some(),
        });
        if !ok {
            return false;
        }
    }
    match hours.split_once('-') {
        Some((open, close)) => time(open) && time(close) && (close == "24:00" || open < close),
        None => false,
    }
}

fn optional_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Some(_) => Err(ApiError::bad_request(Some(field), "invalid_type", format!("{field} must be a string"))),
    }
}

fn required_string(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    optional_string(body, field)?
        .ok_or_else(|| ApiError::invalid(field, "missing_field", format!("{field} is required")))
}

/// Parses and validates a call request. `known_playbooks` are the playbook ids accepted;
/// `default_playbook` is used when the request names none.
pub fn call_request(body: &[u8], known_playbooks: &[String], default_playbook: &str) -> Result<CallRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(None, "invalid_json", format!("the body is not valid JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request(None, "invalid_json", "the body must be a JSON object"));
    };
    if let Some(unknown) = body.keys().find(|k| !CALL_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(unknown, "unknown_field", format!("{unknown} is not a field of a call request")));
    }
    let phone_number = required_string(&body, "phone_number")?;
    if !is_e164(&phone_number) {
        return Err(ApiError::invalid(
            "phone_number",
            "invalid_phone_number",
            "phone_number must be in E.164 form: '+', country code and number, 8 to 15 digits (e.g. +14155550123)",
        ));
    }
    let gym_name = required_string(&body, "gym_name")?;
    if gym_name.chars().count() > 200 {
        return Err(ApiError::invalid("gym_name", "too_long", "gym_name must be at most 200 characters"));
    }
    let country = optional_string(&body, "country")?;
    if let Some(country) = &country {
        if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(ApiError::invalid(
                "country",
                "invalid_country",
                "country must be an ISO 3166-1 alpha-2 code such as US",
            ));
        }
    }
    let timezone = optional_string(&body, "timezone")?;
    if let Some(timezone) = &timezone {
        if timezone.parse::<Tz>().is_err() {
            return Err(ApiError::invalid(
                "timezone",
                "invalid_timezone",
                format!("timezone {timezone:?} is not an IANA timezone name (e.g. America/New_York)"),
            ));
        }
    }
    let preferred_language = optional_string(&body, "preferred_language")?;
    if let Some(language) = &preferred_language {
        let ok = language.len() <= 35
            && language
                .split('-')
                .all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(ApiError::invalid(
                "preferred_language",
                "invalid_language",
                "preferred_language must be a BCP 47 language tag such as en-US",
            ));
        }
    }
    let playbook = optional_string(&body, "playbook")?.unwrap_or_else(|| default_playbook.to_owned());
    if !known_playbooks.contains(&playbook) {
        return Err(ApiError::invalid(
            "playbook",
            "unknown_playbook",
            format!("playbook {playbook:?} is not known; known playbooks: {}", known_playbooks.join(", ")),
        ));
    }
    let not_before = optional_string(&body, "not_before")?;
    if let Some(not_before) = &not_before {
        if chrono::DateTime::parse_from_rfc3339(not_before).is_err() {
            return Err(ApiError::invalid(
                "not_before",
                "invalid_time",
                "not_before must be an RFC 3339 time such as 2026-05-01T09:00:00-04:00",
            ));
        }
    }
    let calling_window = optional_string(&body, "calling_window")?;
    if let Some(window) = &calling_window {
        if !is_calling_window(window) {
            return Err(ApiError::invalid(
                "calling_window",
                "invalid_calling_window",
                "calling_window must look like \"Mon-Fri 09:00-17:00\" (local time of the callee)",
            ));
        }
    }
    let result_webhook = optional_string(&body, "result_webhook")?;
    if let Some(url) = &result_webhook {
        if let Err(problem) = protocol::webhook::check_url(url) {
            return Err(ApiError::invalid(
                "result_webhook",
                "invalid_webhook_url",
                format!("result_webhook {problem}"),
            ));
        }
    }
    Ok(CallRequest {
        phone_number,
        gym_name,
        country,
        timezone,
        preferred_language,
        playbook,
        not_before,
        calling_window,
        result_webhook,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["gym-dropin".to_owned(), "companion-checkin".to_owned()]
    }

    fn field_of(body: &str) -> (u16, Option<String>) {
        let error = call_request(body.as_bytes(), &known(), "gym-dropin").unwrap_err();
        (error.status.as_u16(), error.field)
    }

    #[test]
    fn accepts_a_full_request_and_defaults_the_playbook() {
        let request = call_request(
            br#"{"phone_number":"+14155550123","gym_name":"Ten Point","country":"US","timezone":"America/Los_Angeles","preferred_language":"en-US","not_before":"2026-05-01T09:00:00-07:00","calling_window":"Mon-Fri 10:00-20:00"}"#,
            &known(),
            "gym-dropin",
        )
        .unwrap();
        assert_eq!(request.playbook, "gym-dropin");
        assert_eq!(request.timezone.as_deref(), Some("America/Los_Angeles"));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_of(r#"{"gym_name":"x"}"#), (422, Some("phone_number".into())));
        assert_eq!(field_of(r#"{"phone_number":"4155550123","gym_name":"x"}"#), (422, Some("phone_number".into())));
        assert_eq!(field_of(r#"{"phone_number":14155550123,"gym_name":"x"}"#), (400, Some("phone_number".into())));
        assert_eq!(field_of(r#"{"phone_number":"+14155550123"}"#), (422, Some("gym_name".into())));
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","timezone":"Mars/Olympus"}"#),
            (422, Some("timezone".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","playbook":"nope"}"#),
            (422, Some("playbook".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","country":"usa"}"#),
            (422, Some("country".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","not_before":"tomorrow"}"#),
            (422, Some("not_before".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","calling_window":"always"}"#),
            (422, Some("calling_window".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","colour":"red"}"#),
            (422, Some("colour".into()))
        );
        assert_eq!(
            field_of(r#"{"phone_number":"+14155550123","gym_name":"x","result_webhook":"ftp://example.com/x"}"#),
            (422, Some("result_webhook".into()))
        );
        let long = format!(
            r#"{{"phone_number":"+14155550123","gym_name":"x","result_webhook":"https://example.com/{}"}}"#,
            "a".repeat(3000)
        );
        assert_eq!(field_of(&long), (422, Some("result_webhook".into())));
        assert_eq!(field_of("not json"), (400, None));
    }

    #[test]
    fn e164_and_windows() {
        assert!(is_e164("+14155550123") && is_e164("+442071838750"));
        assert!(
            !is_e164("+0123456789") && !is_e164("+1415") && !is_e164("+1415555012345678") && !is_e164("+1 415 555")
        );
        assert!(
            is_calling_window("Mon-Fri 09:00-17:00")
                && is_calling_window("09:00-24:00")
                && is_calling_window("Sat,Sun 10:00-12:00")
        );
        assert!(
            !is_calling_window("17:00-09:00")
                && !is_calling_window("Fri-Mon 09:00-17:00")
                && !is_calling_window("Mon 9-5")
        );
    }
}
