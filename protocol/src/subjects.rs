//! Every NATS subject, queue group, stream and KV bucket name, built in one place.
//!
//! Ids are checked before they go into a subject: a `.`, `*`, `>` or space in an id would
//! change which subscribers match, so [`SubjectError`] rejects them.

use crate::ids::{CallId, StreamSid};

/// Request/reply subject a gateway uses to find a media worker for a stream.
pub const MEDIA_ASSIGN: &str = "media.assign";
/// Queue group the media workers answer `media.assign` in.
pub const MEDIA_QUEUE_GROUP: &str = "media";
/// Request/reply subject a media worker uses to find a brain for a call.
pub const BRAIN_ASSIGN: &str = "brain.assign";
/// Queue group the brain workers answer `brain.assign` in.
pub const BRAIN_QUEUE_GROUP: &str = "brain";
/// Subject of the dial work queue.
pub const DIAL_REQUESTS: &str = "dial.requests";
/// Subject dial-control messages (cancel) travel on, for the dialers.
pub const DIAL_CONTROL_PREFIX: &str = "dial.control";
/// JetStream work-queue stream holding dial requests.
pub const DIAL_STREAM: &str = "DIAL";
/// JetStream stream keeping every `results.>` message.
pub const RESULTS_STREAM: &str = "RESULTS";
/// Wildcard matching every result.
pub const RESULTS_ALL: &str = "results.>";
/// Wildcard matching every lifecycle event.
pub const CALL_EVENTS_ALL: &str = "calls.events.>";
/// Wildcard matching every Twilio status callback.
pub const TWILIO_STATUS_ALL: &str = "twilio.status.>";
/// KV bucket of call records.
pub const KV_CALLS: &str = "calls";
/// KV bucket of live conversation state.
pub const KV_CONVO: &str = "convo";
/// Object bucket of finished call recordings (written by the media worker, served by the gateway).
pub const OBJ_RECORDINGS: &str = "recordings";
/// JetStream work-queue stream of result webhook deliveries.
pub const WEBHOOK_STREAM: &str = "WEBHOOKS";
/// Subject of the result webhook work queue.
pub const WEBHOOK_DELIVERIES: &str = "webhooks.deliveries";

/// Name of a call's stereo WAV in [`OBJ_RECORDINGS`].
pub fn recording_object(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("{}.wav", token(call_id.as_str())?))
}

/// An id that cannot be used as a subject token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("id {0:?} cannot be used in a subject (allowed: letters, digits, '_' and '-')")]
pub struct SubjectError(pub String);

fn token(value: &str) -> Result<&str, SubjectError> {
    if CallId::is_subject_safe(value) {
        Ok(value)
    } else {
        Err(SubjectError(value.to_owned()))
    }
}

/// `media.in.<streamSid>`: gateway -> media worker, audio and stream events.
pub fn media_in(stream_sid: &StreamSid) -> Result<String, SubjectError> {
    Ok(format!("media.in.{}", token(stream_sid.as_str())?))
}

/// `media.out.<streamSid>`: media worker -> gateway, audio, marks, clear, hang-up.
pub fn media_out(stream_sid: &StreamSid) -> Result<String, SubjectError> {
    Ok(format!("media.out.{}", token(stream_sid.as_str())?))
}

/// `media.ctl.<streamSid>`: gateway -> owning media worker liveness pings (request/reply).
pub fn media_ping(stream_sid: &StreamSid) -> Result<String, SubjectError> {
    Ok(format!("media.ping.{}", token(stream_sid.as_str())?))
}

/// `brain.heard.<callId>`: media worker -> brain.
pub fn brain_heard(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("brain.heard.{}", token(call_id.as_str())?))
}

/// `brain.ping.<callId>`: media worker -> the brain running the call, liveness ping
/// (request/reply; no responders means the brain is gone and the call must be re-assigned).
pub fn brain_ping(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("brain.ping.{}", token(call_id.as_str())?))
}

/// `media.say.<callId>`: brain -> media worker.
pub fn media_say(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("media.say.{}", token(call_id.as_str())?))
}

/// `results.<callId>`: brain -> anyone, kept by stream `RESULTS`.
pub fn results(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("results.{}", token(call_id.as_str())?))
}

/// `calls.events.<callId>`: lifecycle events.
pub fn call_events(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("calls.events.{}", token(call_id.as_str())?))
}

/// `twilio.status.<callId>`: gateway -> dialer, Twilio status and AMD callbacks.
pub fn twilio_status(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("twilio.status.{}", token(call_id.as_str())?))
}

/// `dial.control.<callId>`: gateway -> dialers, cancel requests.
pub fn dial_control(call_id: &CallId) -> Result<String, SubjectError> {
    Ok(format!("{DIAL_CONTROL_PREFIX}.{}", token(call_id.as_str())?))
}

/// The last token of a subject (`results.c_1` -> `c_1`).
pub fn last_token(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_subjects() {
        let sid = StreamSid::from("MZ0123");
        let call = CallId::from("c_abc");
        assert_eq!(media_in(&sid).unwrap(), "media.in.MZ0123");
        assert_eq!(media_out(&sid).unwrap(), "media.out.MZ0123");
        assert_eq!(brain_heard(&call).unwrap(), "brain.heard.c_abc");
        assert_eq!(brain_ping(&call).unwrap(), "brain.ping.c_abc");
        assert_eq!(media_say(&call).unwrap(), "media.say.c_abc");
        assert_eq!(results(&call).unwrap(), "results.c_abc");
        assert_eq!(call_events(&call).unwrap(), "calls.events.c_abc");
        assert_eq!(twilio_status(&call).unwrap(), "twilio.status.c_abc");
        assert_eq!(last_token("results.c_abc"), "c_abc");
    }

    #[test]
    fn rejects_ids_that_would_change_matching() {
        for bad in ["a.b", "a*", ">", "a b", ""] {
            assert!(media_in(&StreamSid::from(bad)).is_err(), "{bad}");
            assert!(results(&CallId::from(bad)).is_err(), "{bad}");
        }
    }
}
