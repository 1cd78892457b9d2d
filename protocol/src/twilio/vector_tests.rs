//! Checks every vector of `shared/twilio/vectors.json` (signatures, body hashes, Media Streams
//! examples). The file is read at test time; a missing file fails the tests.

use super::media_streams::{decode_inbound, decode_outbound, InboundMessage, OutboundMessage, Track};
use super::signature::{body_hash_matches, validate_request, SignedBody};
use serde_json::Value;

const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/twilio/vectors.json");

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS_PATH).unwrap_or_else(|e| {
        panic!("twilio test vectors missing at {VECTORS_PATH}: {e} (this test needs ../shared/twilio/vectors.json next to the workspace)")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{VECTORS_PATH} is not valid JSON: {e}"))
}

fn params_of(vector: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match &vector["params"] {
        Value::Object(map) => {
            for (name, value) in map {
                match value {
                    Value::String(s) => out.push((name.clone(), s.clone())),
                    Value::Array(values) => {
                        for v in values {
                            out.push((name.clone(), v.as_str().expect("param value string").to_owned()));
                        }
                    }
                    other => panic!("unexpected param value {other}"),
                }
            }
        }
        Value::Array(pairs) => {
            for pair in pairs {
                out.push((
                    pair[0].as_str().expect("pair name").to_owned(),
                    pair[1].as_str().expect("pair value").to_owned(),
                ));
            }
        }
        Value::Null => {}
        other => panic!("unexpected params {other}"),
    }
    out
}

#[test]
fn every_signature_vector_gives_the_expected_verdict() {
    let vectors = vectors();
    let list = vectors["signature_vectors"].as_array().expect("signature_vectors array");
    assert_eq!(list.len(), 29, "REFERENCE.md promises 29 signature vectors");
    let mut failures = Vec::new();
    for vector in list {
        let id = vector["id"].as_str().expect("id");
        let token = vector["auth_token"].as_str().expect("auth_token");
        let url = vector["url"].as_str().expect("url");
        let header = vector["signature"].as_str();
        let expected = vector["expect_valid"].as_bool().expect("expect_valid");
        let verdict = match vector["kind"].as_str().expect("kind") {
            "form" => {
                let params = params_of(vector);
                validate_request(token, url, SignedBody::Form(&params), header)
            }
            "json_body" => {
                let body = vector["body"].as_str().expect("body");
                validate_request(token, url, SignedBody::Raw(body.as_bytes()), header)
            }
            other => panic!("vector {id}: unknown kind {other}"),
        };
        if verdict != expected {
            failures.push(format!("{id}: expected {expected}, got {verdict}"));
        }
    }
    assert!(failures.is_empty(), "signature vectors failed: {failures:#?}");
}

#[test]
fn every_body_hash_vector_gives_the_expected_verdict() {
    let vectors = vectors();
    let list = vectors["body_hash_vectors"].as_array().expect("body_hash_vectors array");
    assert!(!list.is_empty());
    for vector in list {
        let id = vector["id"].as_str().expect("id");
        let body = vector["body"].as_str().expect("body");
        let hash = vector["sha256_hex"].as_str().expect("sha256_hex");
        let expected = vector["expect_match"].as_bool().expect("expect_match");
        assert_eq!(body_hash_matches(body.as_bytes(), hash), expected, "body hash vector {id}");
    }
}

#[test]
fn media_streams_examples_decode_to_the_right_types() {
    let vectors = vectors();
    let from_twilio = vectors["media_streams"]["from_twilio"].as_array().expect("from_twilio");
    let mut seen = Vec::new();
    for example in from_twilio {
        let text = example["json"].to_string();
        let message = decode_inbound(&text).unwrap_or_else(|e| panic!("{}: {e}", example["name"]));
        let expected_event = example["json"]["event"].as_str().expect("event");
        assert_eq!(message.event(), expected_event);
        match &message {
            InboundMessage::Connected(c) => assert_eq!((c.protocol.as_str(), c.version.as_str()), ("Call", "1.0.0")),
            InboundMessage::Start(s) => {
                assert_eq!(s.sequence_number, 1);
                assert_eq!(s.stream_sid.as_str(), "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
                assert_eq!(s.call_sid.as_str(), "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
                assert_eq!(s.account_sid.as_str(), "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
                assert_eq!(s.tracks, vec![Track::Inbound]);
                assert_eq!(s.media_format.sample_rate, 8000);
                assert_eq!(s.media_format.encoding, "audio/x-mulaw");
                assert_eq!(s.custom_parameters.get("FirstName").map(String::as_str), Some("Jane"));
                assert_eq!(s.custom_parameters.len(), 3);
            }
            InboundMessage::Media(m) => {
                assert_eq!(m.timestamp_ms, 5);
                assert!(m.payload_base64.starts_with("no+JhoaJjpz"));
                match m.track {
                    Track::Outbound => assert_eq!((m.sequence_number, m.chunk), (3, 1)),
                    Track::Inbound => assert_eq!((m.sequence_number, m.chunk), (4, 2)),
                }
            }
            InboundMessage::Dtmf(d) => {
                assert_eq!(d.digit, "1");
                assert_eq!(d.track, Track::Inbound);
                assert_eq!(d.sequence_number, 5);
            }
            InboundMessage::Mark(m) => assert_eq!((m.name.as_str(), m.sequence_number), ("my label", 4)),
            InboundMessage::Stop(s) => {
                assert_eq!(s.call_sid.as_str(), "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
                assert_eq!(s.sequence_number, 5);
            }
        }
        seen.push(expected_event.to_owned());
    }
    for event in ["connected", "start", "media", "dtmf", "mark", "stop"] {
        assert!(seen.iter().any(|e| e == event), "no {event} example decoded");
    }

    let to_twilio = vectors["media_streams"]["to_twilio"].as_array().expect("to_twilio");
    let mut kinds = Vec::new();
    for example in to_twilio {
        let text = example["json"].to_string();
        let message = decode_outbound(&text).unwrap_or_else(|e| panic!("{}: {e}", example["name"]));
        assert_eq!(message.stream_sid(), "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
        kinds.push(match message {
            OutboundMessage::Media { payload_base64, .. } => {
                assert_eq!(payload_base64, "a3242sa...");
                "media"
            }
            OutboundMessage::Mark { name, .. } => {
                assert_eq!(name, "my label");
                "mark"
            }
            OutboundMessage::Clear { .. } => "clear",
        });
    }
    assert_eq!(kinds, vec!["media", "mark", "clear"]);
}
