//! Media Streams WebSocket messages (REFERENCE.md §1): `connected`, `start`, `media`, `dtmf`,
//! `mark`, `stop` from Twilio; `media`, `mark`, `clear` to Twilio.
//!
//! Decoding is one pass over the JSON into a flat raw struct, then a check that the fields the
//! event needs are present and well-formed. Unknown *fields* are ignored (Twilio adds fields
//! without notice); an unknown *event* is [`TwilioDecodeError::UnknownEvent`], which callers count.
//! The `media` payload stays base64 text borrowed from the frame until
//! [`Media::decode_payload_into`] writes the μ-law bytes into the caller's reused buffer.

use crate::ids::{AccountSid, CallSid, StreamSid};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a Media Streams message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TwilioDecodeError {
    #[error("malformed json: {0}")]
    MalformedJson(String),
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    #[error("event {event} lacks field {field}")]
    MissingField { event: &'static str, field: &'static str },
    #[error("field {field} is not a number: {value:?}")]
    BadNumber { field: &'static str, value: String },
    #[error("field {field} has an unknown value {value:?}")]
    BadValue { field: &'static str, value: String },
    #[error("media payload is not valid base64")]
    BadBase64,
}

impl TwilioDecodeError {
    /// A short stable label for metrics (`malformed_json`, `unknown_event`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            TwilioDecodeError::MalformedJson(_) => "malformed_json",
            TwilioDecodeError::UnknownEvent(_) => "unknown_event",
            TwilioDecodeError::MissingField { .. } => "missing_field",
            TwilioDecodeError::BadNumber { .. } => "bad_number",
            TwilioDecodeError::BadValue { .. } => "bad_value",
            TwilioDecodeError::BadBase64 => "bad_base64",
        }
    }
}

/// Audio track of a `media` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    Inbound,
    Outbound,
}

impl Track {
    fn parse(field: &'static str, value: &str) -> Result<Track, TwilioDecodeError> {
        match value {
            "inbound" | "inbound_track" => Ok(Track::Inbound),
            "outbound" | "outbound_track" => Ok(Track::Outbound),
            other => Err(TwilioDecodeError::BadValue { field, value: other.to_owned() }),
        }
    }

    /// The name `media.track` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Inbound => "inbound",
            Track::Outbound => "outbound",
        }
    }
}

/// `start.mediaFormat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    pub encoding: String,
    pub sample_rate: u32,
    pub channels: u32,
}

impl Default for MediaFormat {
    fn default() -> Self {
        MediaFormat { encoding: "audio/x-mulaw".into(), sample_rate: 8000, channels: 1 }
    }
}

/// `connected`: the first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    pub protocol: String,
    pub version: String,
}

/// `start`: stream metadata, sent once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    pub sequence_number: u64,
    pub stream_sid: StreamSid,
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
    pub tracks: Vec<Track>,
    pub media_format: MediaFormat,
    pub custom_parameters: BTreeMap<String, String>,
}

/// `media`: one chunk of caller audio; the payload is still base64, borrowed from the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media<'a> {
    pub sequence_number: u64,
    pub stream_sid: Cow<'a, str>,
    pub track: Track,
    pub chunk: u64,
    /// Milliseconds since the stream started.
    pub timestamp_ms: u64,
    pub payload_base64: Cow<'a, str>,
}

impl Media<'_> {
    /// Decodes the base64 payload into `out` (cleared first; its capacity is reused).
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), TwilioDecodeError> {
        out.clear();
        BASE64.decode_vec(self.payload_base64.as_bytes(), out).map_err(|_| TwilioDecodeError::BadBase64)
    }
}

/// `dtmf`: the caller pressed a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dtmf {
    pub sequence_number: u64,
    pub stream_sid: StreamSid,
    pub track: Track,
    pub digit: String,
}

/// `mark` from Twilio: the audio queued before the mark has played (or was cleared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkEcho {
    pub sequence_number: u64,
    pub stream_sid: StreamSid,
    pub name: String,
}

/// `stop`: the last message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub sequence_number: u64,
    pub stream_sid: StreamSid,
    pub account_sid: AccountSid,
    pub call_sid: CallSid,
}

/// A message Twilio sends on the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundMessage<'a> {
    Connected(Connected),
    Start(Start),
    Media(Media<'a>),
    Dtmf(Dtmf),
    Mark(MarkEcho),
    Stop(Stop),
}

impl InboundMessage<'_> {
    /// The event name on the wire.
    pub fn event(&self) -> &'static str {
        match self {
            InboundMessage::Connected(_) => "connected",
            InboundMessage::Start(_) => "start",
            InboundMessage::Media(_) => "media",
            InboundMessage::Dtmf(_) => "dtmf",
            InboundMessage::Mark(_) => "mark",
            InboundMessage::Stop(_) => "stop",
        }
    }

    /// The streamSid the message names (`connected` names none).
    pub fn stream_sid(&self) -> Option<&str> {
        match self {
            InboundMessage::Connected(_) => None,
            InboundMessage::Start(m) => Some(m.stream_sid.as_str()),
            InboundMessage::Media(m) => Some(&m.stream_sid),
            InboundMessage::Dtmf(m) => Some(m.stream_sid.as_str()),
            InboundMessage::Mark(m) => Some(m.stream_sid.as_str()),
            InboundMessage::Stop(m) => Some(m.stream_sid.as_str()),
        }
    }
}

/// A message we send to Twilio on a bidirectional stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboundMessage<'a> {
    /// Audio to queue; base64 of raw μ-law.
    Media {
        stream_sid: Cow<'a, str>,
        payload_base64: Cow<'a, str>,
    },
    Mark {
        stream_sid: Cow<'a, str>,
        name: Cow<'a, str>,
    },
    Clear {
        stream_sid: Cow<'a, str>,
    },
}

impl OutboundMessage<'_> {
    /// The streamSid the message names.
    pub fn stream_sid(&self) -> &str {
        match self {
            OutboundMessage::Media { stream_sid, .. }
            | OutboundMessage::Mark { stream_sid, .. }
            | OutboundMessage::Clear { stream_sid } => stream_sid,
        }
    }

    /// Decodes the base64 payload of a `media` message into `out` (cleared first).
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), TwilioDecodeError> {
        out.clear();
        match self {
            OutboundMessage::Media { payload_base64, .. } => {
                BASE64.decode_vec(payload_base64.as_bytes(), out).map_err(|_| TwilioDecodeError::BadBase64)
            }
            _ => Ok(()),
        }
    }

    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        let raw = match self {
            OutboundMessage::Media { stream_sid, payload_base64 } => {
                OutRaw { event: "media", stream_sid, media: Some(OutMedia { payload: payload_base64 }), mark: None }
            }
            OutboundMessage::Mark { stream_sid, name } => {
                OutRaw { event: "mark", stream_sid, media: None, mark: Some(OutMark { name }) }
            }
            OutboundMessage::Clear { stream_sid } => OutRaw { event: "clear", stream_sid, media: None, mark: None },
        };
        serde_json::to_string(&raw).unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutRaw<'a> {
    event: &'static str,
    stream_sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<OutMedia<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<OutMark<'a>>,
}

#[derive(Serialize)]
struct OutMedia<'a> {
    payload: &'a str,
}

#[derive(Serialize)]
struct OutMark<'a> {
    name: &'a str,
}

/// Writes the JSON of an outbound `media` message carrying `audio` (raw μ-law) into `out`
/// (cleared first), without building intermediate strings.
pub fn encode_outbound_media_into(stream_sid: &str, audio: &[u8], out: &mut String) {
    out.clear();
    out.push_str("{\"event\":\"media\",\"streamSid\":");
    push_json_string(stream_sid, out);
    out.push_str(",\"media\":{\"payload\":\"");
    BASE64.encode_string(audio, out);
    out.push_str("\"}}");
}

fn push_json_string(value: &str, out: &mut String) {
    match serde_json::to_string(value) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

// ---- decoding ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    sequence_number: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stream_sid: Option<Cow<'a, str>>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    start: Option<RawStart>,
    #[serde(borrow, default)]
    media: Option<RawMedia<'a>>,
    #[serde(default)]
    dtmf: Option<RawDtmf>,
    #[serde(default)]
    mark: Option<RawMark>,
    #[serde(default)]
    stop: Option<RawStop>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStart {
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    stream_sid: Option<String>,
    #[serde(default)]
    call_sid: Option<String>,
    #[serde(default)]
    tracks: Vec<String>,
    #[serde(default)]
    media_format: Option<MediaFormat>,
    #[serde(default)]
    custom_parameters: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawMedia<'a> {
    #[serde(borrow, default)]
    track: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    chunk: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawDtmf {
    #[serde(default)]
    track: Option<String>,
    #[serde(default)]
    digit: Option<String>,
}

#[derive(Deserialize)]
struct RawMark {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStop {
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    call_sid: Option<String>,
}

fn require<T>(value: Option<T>, event: &'static str, field: &'static str) -> Result<T, TwilioDecodeError> {
    value.ok_or(TwilioDecodeError::MissingField { event, field })
}

fn number(field: &'static str, value: &str) -> Result<u64, TwilioDecodeError> {
    value.parse::<u64>().map_err(|_| TwilioDecodeError::BadNumber { field, value: value.chars().take(40).collect() })
}

fn sequence(raw: &Option<Cow<'_, str>>, event: &'static str) -> Result<u64, TwilioDecodeError> {
    let value = require(raw.as_deref(), event, "sequenceNumber")?;
    number("sequenceNumber", value)
}

fn truncated(value: &str) -> String {
    value.chars().take(40).collect()
}

/// Decodes one text frame Twilio sent.
pub fn decode_inbound(text: &str) -> Result<InboundMessage<'_>, TwilioDecodeError> {
    let raw: RawMessage<'_> =
        serde_json::from_str(text).map_err(|e| TwilioDecodeError::MalformedJson(e.to_string()))?;
    match raw.event.as_ref() {
        "connected" => Ok(InboundMessage::Connected(Connected {
            protocol: require(raw.protocol, "connected", "protocol")?,
            version: require(raw.version, "connected", "version")?,
        })),
        "start" => {
            let start = require(raw.start, "start", "start")?;
            let stream_sid = match (start.stream_sid, raw.stream_sid) {
                (Some(sid), _) => sid,
                (None, Some(sid)) => sid.into_owned(),
                (None, None) => return Err(TwilioDecodeError::MissingField { event: "start", field: "streamSid" }),
            };
            let tracks = start.tracks.iter().map(|t| Track::parse("start.tracks", t)).collect::<Result<Vec<_>, _>>()?;
            Ok(InboundMessage::Start(Start {
                sequence_number: sequence(&raw.sequence_number, "start")?,
                stream_sid: StreamSid::from(stream_sid),
                account_sid: AccountSid::from(require(start.account_sid, "start", "start.accountSid")?),
                call_sid: CallSid::from(require(start.call_sid, "start", "start.callSid")?),
                tracks,
                media_format: start.media_format.unwrap_or_default(),
                custom_parameters: start.custom_parameters,
            }))
        }
        "media" => {
            let media = require(raw.media, "media", "media")?;
            let track = match media.track.as_deref() {
                Some(t) => Track::parse("media.track", t)?,
                None => Track::Inbound,
            };
            Ok(InboundMessage::Media(Media {
                sequence_number: sequence(&raw.sequence_number, "media")?,
                stream_sid: require(raw.stream_sid, "media", "streamSid")?,
                track,
                chunk: number("media.chunk", require(media.chunk.as_deref(), "media", "media.chunk")?)?,
                timestamp_ms: number(
                    "media.timestamp",
                    require(media.timestamp.as_deref(), "media", "media.timestamp")?,
                )?,
                payload_base64: require(media.payload, "media", "media.payload")?,
            }))
        }
        "dtmf" => {
            let dtmf = require(raw.dtmf, "dtmf", "dtmf")?;
            let track = match dtmf.track.as_deref() {
                Some(t) => Track::parse("dtmf.track", t)?,
                None => Track::Inbound,
            };
            Ok(InboundMessage::Dtmf(Dtmf {
                sequence_number: sequence(&raw.sequence_number, "dtmf")?,
                stream_sid: StreamSid::from(require(raw.stream_sid, "dtmf", "streamSid")?.into_owned()),
                track,
                digit: require(dtmf.digit, "dtmf", "dtmf.digit")?,
            }))
        }
        "mark" => {
            let mark = require(raw.mark, "mark", "mark")?;
            Ok(InboundMessage::Mark(MarkEcho {
                sequence_number: sequence(&raw.sequence_number, "mark")?,
                stream_sid: StreamSid::from(require(raw.stream_sid, "mark", "streamSid")?.into_owned()),
                name: require(mark.name, "mark", "mark.name")?,
            }))
        }
        "stop" => {
            let stop = require(raw.stop, "stop", "stop")?;
            Ok(InboundMessage::Stop(Stop {
                sequence_number: sequence(&raw.sequence_number, "stop")?,
                stream_sid: StreamSid::from(require(raw.stream_sid, "stop", "streamSid")?.into_owned()),
                account_sid: AccountSid::from(require(stop.account_sid, "stop", "stop.accountSid")?),
                call_sid: CallSid::from(require(stop.call_sid, "stop", "stop.callSid")?),
            }))
        }
        other => Err(TwilioDecodeError::UnknownEvent(truncated(other))),
    }
}

/// Decodes one text frame sent *to* Twilio (the simulator plays Twilio with this).
pub fn decode_outbound(text: &str) -> Result<OutboundMessage<'_>, TwilioDecodeError> {
    let raw: RawMessage<'_> =
        serde_json::from_str(text).map_err(|e| TwilioDecodeError::MalformedJson(e.to_string()))?;
    match raw.event.as_ref() {
        "media" => {
            let media = require(raw.media, "media", "media")?;
            Ok(OutboundMessage::Media {
                stream_sid: require(raw.stream_sid, "media", "streamSid")?,
                payload_base64: require(media.payload, "media", "media.payload")?,
            })
        }
        "mark" => {
            let mark = require(raw.mark, "mark", "mark")?;
            Ok(OutboundMessage::Mark {
                stream_sid: require(raw.stream_sid, "mark", "streamSid")?,
                name: Cow::Owned(require(mark.name, "mark", "mark.name")?),
            })
        }
        "clear" => Ok(OutboundMessage::Clear { stream_sid: require(raw.stream_sid, "clear", "streamSid")? }),
        other => Err(TwilioDecodeError::UnknownEvent(truncated(other))),
    }
}

// ---- encoding what Twilio sends (for the simulator) ----

impl InboundMessage<'_> {
    /// The JSON text Twilio would send for this message.
    pub fn to_json(&self) -> String {
        use serde_json::json;
        let value = match self {
            InboundMessage::Connected(m) => {
                json!({ "event": "connected", "protocol": m.protocol, "version": m.version })
            }
            InboundMessage::Start(m) => json!({
                "event": "start",
                "sequenceNumber": m.sequence_number.to_string(),
                "start": {
                    "accountSid": m.account_sid,
                    "streamSid": m.stream_sid,
                    "callSid": m.call_sid,
                    "tracks": m.tracks.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                    "mediaFormat": m.media_format,
                    "customParameters": m.custom_parameters,
                },
                "streamSid": m.stream_sid,
            }),
            InboundMessage::Media(m) => json!({
                "event": "media",
                "sequenceNumber": m.sequence_number.to_string(),
                "media": {
                    "track": m.track.as_str(),
                    "chunk": m.chunk.to_string(),
                    "timestamp": m.timestamp_ms.to_string(),
                    "payload": m.payload_base64,
                },
                "streamSid": m.stream_sid,
            }),
            InboundMessage::Dtmf(m) => json!({
                "event": "dtmf",
                "streamSid": m.stream_sid,
                "sequenceNumber": m.sequence_number.to_string(),
                "dtmf": { "track": "inbound_track", "digit": m.digit },
            }),
            InboundMessage::Mark(m) => json!({
                "event": "mark",
                "sequenceNumber": m.sequence_number.to_string(),
                "streamSid": m.stream_sid,
                "mark": { "name": m.name },
            }),
            InboundMessage::Stop(m) => json!({
                "event": "stop",
                "sequenceNumber": m.sequence_number.to_string(),
                "stop": { "accountSid": m.account_sid, "callSid": m.call_sid },
                "streamSid": m.stream_sid,
            }),
        };
        value.to_string()
    }
}

/// Writes the JSON of an inbound `media` message (as Twilio sends it) into `out`, cleared first.
pub fn encode_inbound_media_into(
    stream_sid: &str,
    sequence_number: u64,
    chunk: u64,
    timestamp_ms: u64,
    audio: &[u8],
    out: &mut String,
) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "{{\"event\":\"media\",\"sequenceNumber\":\"{sequence_number}\",\"media\":{{\"track\":\"inbound\",\"chunk\":\"{chunk}\",\"timestamp\":\"{timestamp_ms}\",\"payload\":\"");
    BASE64.encode_string(audio, out);
    out.push_str("\"},\"streamSid\":");
    push_json_string(stream_sid, out);
    out.push('}');
}

/// Base64 of raw bytes (standard alphabet, padded), as Media Streams payloads use.
pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "MZ0123456789abcdef0123456789abcdef";

    #[test]
    fn media_payload_decodes_into_reused_buffer() {
        let audio: Vec<u8> = (0..160).map(|i| i as u8).collect();
        let mut text = String::new();
        encode_inbound_media_into(SID, 7, 6, 100, &audio, &mut text);
        let InboundMessage::Media(media) = decode_inbound(&text).unwrap() else { panic!("not media") };
        assert_eq!((media.sequence_number, media.chunk, media.timestamp_ms), (7, 6, 100));
        assert_eq!(media.stream_sid, SID);
        let mut buf = Vec::with_capacity(200);
        media.decode_payload_into(&mut buf).unwrap();
        assert_eq!(buf, audio);
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        assert!(matches!(decode_inbound("{nope"), Err(TwilioDecodeError::MalformedJson(_))));
        assert_eq!(
            decode_inbound(r#"{"event":"warp","streamSid":"MZ1"}"#),
            Err(TwilioDecodeError::UnknownEvent("warp".into()))
        );
        assert_eq!(
            decode_inbound(
                r#"{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"chunk":"1","timestamp":"0"}}"#
            ),
            Err(TwilioDecodeError::MissingField { event: "media", field: "media.payload" })
        );
        assert!(matches!(
            decode_inbound(
                r#"{"event":"media","sequenceNumber":"x","streamSid":"MZ1","media":{"chunk":"1","timestamp":"0","payload":""}}"#
            ),
            Err(TwilioDecodeError::BadNumber { field: "sequenceNumber", .. })
        ));
        let bad_b64 = r#"{"event":"media","sequenceNumber":"2","streamSid":"MZ1","media":{"chunk":"1","timestamp":"0","payload":"!!!"}}"#;
        let InboundMessage::Media(media) = decode_inbound(bad_b64).unwrap() else { panic!("not media") };
        assert_eq!(media.decode_payload_into(&mut Vec::new()), Err(TwilioDecodeError::BadBase64));
        assert!(matches!(decode_inbound("[1,2]"), Err(TwilioDecodeError::MalformedJson(_))));
    }

    #[test]
    fn outbound_messages_round_trip() {
        let mut text = String::new();
        encode_outbound_media_into(SID, &[0xFF, 0x7F, 0x00], &mut text);
        let decoded = decode_outbound(&text).unwrap();
        let mut audio = Vec::new();
        decoded.decode_payload_into(&mut audio).unwrap();
        assert_eq!(audio, vec![0xFF, 0x7F, 0x00]);
        for message in [
            OutboundMessage::Mark { stream_sid: SID.into(), name: "u\"1".into() },
            OutboundMessage::Clear { stream_sid: SID.into() },
        ] {
            assert_eq!(decode_outbound(&message.to_json()).unwrap(), message);
        }
    }

    #[test]
    fn inbound_messages_round_trip_through_json() {
        let start = InboundMessage::Start(Start {
            sequence_number: 1,
            stream_sid: StreamSid::from(SID),
            account_sid: AccountSid::from("AC1"),
            call_sid: CallSid::from("CA1"),
            tracks: vec![Track::Inbound],
            media_format: MediaFormat::default(),
            custom_parameters: BTreeMap::from([("call_id".into(), "c_1".into())]),
        });
        assert_eq!(decode_inbound(&start.to_json()).unwrap(), start);
        let stop = InboundMessage::Stop(Stop {
            sequence_number: 9,
            stream_sid: StreamSid::from(SID),
            account_sid: AccountSid::from("AC1"),
            call_sid: CallSid::from("CA1"),
        });
        assert_eq!(decode_inbound(&stop.to_json()).unwrap(), stop);
    }
}
