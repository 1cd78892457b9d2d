//! What a `completed` call really was, from the result the brain stored on the call record:
//! a voicemail greeting counts as an answering machine, and a callee who asked to be called
//! back at a time ("call back after 6") gets a retry at that time.

use crate::scheduler::CallOutcome;
use crate::window::next_local_time;
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use protocol::results::{CallOutcome as ConversationOutcome, CallResult, FieldStatus};

/// Result fields that carry a call-back time: local `HH:MM` or an RFC 3339 instant.
pub const CALLBACK_FIELDS: &[&str] = &["callback_time", "call_back_at"];

fn parse_callback(text: &str, timezone: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let time = NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M:%S"))
        .ok()?;
    next_local_time(timezone, now, time)
}

/// Refines Twilio's `completed` with the conversation's result (other outcomes pass through).
pub fn refine(outcome: CallOutcome, result: Option<&CallResult>, timezone: Tz, now: DateTime<Utc>) -> CallOutcome {
    let (CallOutcome::Completed, Some(result)) = (outcome, result) else { return outcome };
    match result.outcome {
        ConversationOutcome::Voicemail => CallOutcome::Machine,
        // Everything was collected: no reason to call again.
        ConversationOutcome::Completed => CallOutcome::Completed,
        _ => CALLBACK_FIELDS
            .iter()
            .filter_map(|name| result.fields.get(*name))
            .filter(|field| field.status == FieldStatus::Known)
            .filter_map(|field| field.value.as_str())
            .find_map(|text| parse_callback(text, timezone, now))
            .filter(|at| *at > now)
            .map_or(CallOutcome::Completed, CallOutcome::CallBackAt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::results::FieldResult;

    fn result(outcome: ConversationOutcome, callback: Option<&str>) -> CallResult {
        let mut fields = std::collections::BTreeMap::new();
        if let Some(text) = callback {
            fields.insert(
                "callback_time".to_owned(),
                FieldResult { status: FieldStatus::Known, value: serde_json::json!(text), ..FieldResult::default() },
            );
        }
        CallResult {
            v: 1,
            call_id: "c_1".into(),
            call_sid: None,
            playbook: "gym-dropin".into(),
            outcome,
            fields,
            transcript: Vec::new(),
            latency: Default::default(),
            started_at: String::new(),
            ended_at: String::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn voicemail_and_call_back_later() {
        let now = DateTime::parse_from_rfc3339("2026-07-01T19:00:00Z").unwrap().with_timezone(&Utc); // 14:00 CDT
        let chicago = chrono_tz::America::Chicago;
        let refine_with = |r: Option<&CallResult>| refine(CallOutcome::Completed, r, chicago, now);
        assert_eq!(refine_with(None), CallOutcome::Completed);
        assert_eq!(refine_with(Some(&result(ConversationOutcome::Voicemail, None))), CallOutcome::Machine);
        let six = DateTime::parse_from_rfc3339("2026-07-01T23:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(
            refine_with(Some(&result(ConversationOutcome::Partial, Some("18:00")))),
            CallOutcome::CallBackAt(six)
        );
        assert_eq!(
            refine_with(Some(&result(ConversationOutcome::HungUp, Some("2026-07-01T23:00:00Z")))),
            CallOutcome::CallBackAt(six)
        );
        // Everything collected, or nothing usable: done.
        assert_eq!(refine_with(Some(&result(ConversationOutcome::Completed, Some("18:00")))), CallOutcome::Completed);
        assert_eq!(refine_with(Some(&result(ConversationOutcome::Partial, Some("after six")))), CallOutcome::Completed);
        // Busy stays busy whatever the result says.
        assert_eq!(
            refine(CallOutcome::Busy, Some(&result(ConversationOutcome::Voicemail, None)), chicago, now),
            CallOutcome::Busy
        );
    }
}
