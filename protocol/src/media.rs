//! Messages between the gateway and a media worker: `media.assign`, `media.in.<streamSid>`,
//! `media.out.<streamSid>`.
//!
//! Audio never travels as JSON or base64 inside the cluster. Each message on `media.in` and
//! `media.out` starts with one kind byte: [`KIND_AUDIO`] is followed (inbound) by an 8-byte
//! header (sequence number and media timestamp, big-endian u32 each) and the raw μ-law bytes,
//! (outbound) by the raw μ-law bytes alone; [`KIND_EVENT`] is followed by a small versioned JSON
//! event. One subscription per call per direction carries both.

use crate::ids::{CallId, CallSid, StreamSid};
use crate::version::{current_version, decode_json, encode_json, BusDecodeError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// First byte of an audio frame.
pub const KIND_AUDIO: u8 = 1;
/// First byte of a JSON event.
pub const KIND_EVENT: u8 = 2;
/// Bytes before the payload of an inbound audio frame.
pub const INBOUND_AUDIO_HEADER_LEN: usize = 9;

/// Which way the call was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Outbound,
    Inbound,
}

/// Request on `media.assign`: take this stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaAssignRequest {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub stream_sid: StreamSid,
    pub call_sid: CallSid,
    pub playbook: String,
    #[serde(default)]
    pub direction: Direction,
    /// The `<Parameter>` pairs and call context (gym name, timezone, ...).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
}

/// Reply on `media.assign`: which worker took it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaAssignReply {
    #[serde(default = "current_version")]
    pub v: u32,
    pub worker_id: String,
}

/// A stream event the gateway forwards on `media.in.<streamSid>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The stream has started (sent once, right after assignment).
    Start {
        call_id: CallId,
        call_sid: CallSid,
        stream_sid: StreamSid,
        #[serde(default)]
        custom_parameters: BTreeMap<String, String>,
    },
    /// The callee pressed a key.
    Dtmf { digit: String },
    /// Twilio echoed a mark: the audio before it has been played (or cleared).
    Mark { name: String },
    /// The stream has ended (Twilio `stop`, or the WebSocket closed).
    Stop { reason: String },
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    #[serde(default = "current_version")]
    v: u32,
    #[serde(flatten)]
    body: T,
}

/// One decoded `media.in` message; audio borrows the payload.
#[derive(Debug, PartialEq)]
pub enum MediaIn<'a> {
    Audio { sequence: u32, timestamp_ms: u32, payload: &'a [u8] },
    Event(StreamEvent),
}

/// Writes an inbound audio frame into `out` (cleared first, so the buffer can be reused).
pub fn encode_inbound_audio(sequence: u32, timestamp_ms: u32, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(INBOUND_AUDIO_HEADER_LEN + payload.len());
    out.push(KIND_AUDIO);
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Encodes a stream event for `media.in`.
pub fn encode_stream_event(event: &StreamEvent) -> Vec<u8> {
    let mut out = vec![KIND_EVENT];
    out.extend(encode_json(&Versioned { v: current_version(), body: event }));
    out
}

/// Decodes one `media.in` message.
pub fn decode_media_in(bytes: &[u8]) -> Result<MediaIn<'_>, BusDecodeError> {
    match bytes.first() {
        None => Err(BusDecodeError::Empty),
        Some(&KIND_AUDIO) => {
            if bytes.len() < INBOUND_AUDIO_HEADER_LEN {
                return Err(BusDecodeError::Truncated(bytes.len()));
            }
            let sequence = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
            let timestamp_ms = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
            Ok(MediaIn::Audio { sequence, timestamp_ms, payload: &bytes[INBOUND_AUDIO_HEADER_LEN..] })
        }
        Some(&KIND_EVENT) => {
            let versioned: Versioned<StreamEvent> = decode_json(&bytes[1..])?;
            Ok(MediaIn::Event(versioned.body))
        }
        Some(&other) => Err(BusDecodeError::UnknownKind(other)),
    }
}

/// An instruction the media worker sends the gateway on `media.out.<streamSid>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutEvent {
    /// Ask Twilio to echo `name` once the audio sent before it has played.
    Mark { name: String },
    /// Drop all queued audio (barge-in).
    Clear,
    /// End the call: the gateway closes the stream (and the call ends with it).
    Hangup { reason: String },
}

/// One decoded `media.out` message; audio borrows the payload.
#[derive(Debug, PartialEq)]
pub enum MediaOut<'a> {
    Audio(&'a [u8]),
    Event(OutEvent),
}

/// Writes an outbound audio message into `out` (cleared first).
pub fn encode_outbound_audio(payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(1 + payload.len());
    out.push(KIND_AUDIO);
    out.extend_from_slice(payload);
}

/// Encodes an outbound event for `media.out`.
pub fn encode_out_event(event: &OutEvent) -> Vec<u8> {
    let mut out = vec![KIND_EVENT];
    out.extend(encode_json(&Versioned { v: current_version(), body: event }));
    out
}

/// Decodes one `media.out` message.
pub fn decode_media_out(bytes: &[u8]) -> Result<MediaOut<'_>, BusDecodeError> {
    match bytes.first() {
        None => Err(BusDecodeError::Empty),
        Some(&KIND_AUDIO) => Ok(MediaOut::Audio(&bytes[1..])),
        Some(&KIND_EVENT) => {
            let versioned: Versioned<OutEvent> = decode_json(&bytes[1..])?;
            Ok(MediaOut::Event(versioned.body))
        }
        Some(&other) => Err(BusDecodeError::UnknownKind(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_audio_round_trips_without_json() {
        let mut buf = Vec::new();
        encode_inbound_audio(7, 140, &[0xFF; 160], &mut buf);
        assert_eq!(buf.len(), 169);
        assert_eq!(
            decode_media_in(&buf).unwrap(),
            MediaIn::Audio { sequence: 7, timestamp_ms: 140, payload: &[0xFF; 160] }
        );
    }

    #[test]
    fn events_round_trip() {
        let event = StreamEvent::Dtmf { digit: "5".into() };
        let bytes = encode_stream_event(&event);
        assert_eq!(decode_media_in(&bytes).unwrap(), MediaIn::Event(event));
        let out = OutEvent::Mark { name: "u3".into() };
        assert_eq!(decode_media_out(&encode_out_event(&out)).unwrap(), MediaOut::Event(out));
        assert_eq!(decode_media_out(&encode_out_event(&OutEvent::Clear)).unwrap(), MediaOut::Event(OutEvent::Clear));
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        assert_eq!(decode_media_in(&[]), Err(BusDecodeError::Empty));
        assert_eq!(decode_media_in(&[1, 0, 0]), Err(BusDecodeError::Truncated(3)));
        assert_eq!(decode_media_in(&[9, 1]), Err(BusDecodeError::UnknownKind(9)));
        assert!(matches!(decode_media_in(b"\x02{not json"), Err(BusDecodeError::Malformed(_))));
        assert!(matches!(decode_media_in(b"\x02{\"v\":1,\"type\":\"warp\"}"), Err(BusDecodeError::Malformed(_))));
        assert_eq!(decode_media_out(b"\x02{\"v\":2,\"type\":\"clear\"}"), Err(BusDecodeError::Version(2)));
    }

    #[test]
    fn assign_request_round_trips() {
        let request = MediaAssignRequest {
            v: 1,
            call_id: CallId::from("c_1"),
            stream_sid: StreamSid::from("MZ1"),
            call_sid: CallSid::from("CA1"),
            playbook: "gym-dropin".into(),
            direction: Direction::Outbound,
            context: BTreeMap::from([("gym_name".into(), "Atlas BJJ".into())]),
        };
        let bytes = encode_json(&request);
        assert_eq!(decode_json::<MediaAssignRequest>(&bytes).unwrap(), request);
    }
}
