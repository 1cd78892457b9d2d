//! `GET /v1/calls/{id}/recording` and `/transcript` against a real nats-server: the WAV a media
//! worker stored in the `recordings` object bucket comes back byte for byte (streamed, several
//! chunks), the transcript as JSON or text, the bearer token is required, and each kind of
//! missing thing is its own 404.

use bus::Bus;
use protocol::calls::CallRecord;
use protocol::version::encode_json;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "test-api-token";

struct Api {
    _nats: testkit::NatsServer,
    bus: Bus,
    gateway: gateway::RunningGateway,
    base: String,
    http: reqwest::Client,
}

async fn start() -> Api {
    let nats = testkit::NatsServer::start().await.expect("nats-server");
    let bus = Bus::connect(&nats.url(), "recordings-test").await.expect("connect");
    let mut config = gateway::Config::for_tests("https://calls.example.com", "twilio-token", &nats.url());
    config.api_token = Some(TOKEN.to_owned());
    let gateway = gateway::start(config, bus.clone()).await.expect("gateway starts");
    let base = format!("http://{}", gateway.local_addr());
    Api { _nats: nats, bus, gateway, base, http: reqwest::Client::new() }
}

/// Stores a call record as the dialer and brain leave it (with a result when `transcript` is some).
async fn store_call(bus: &Bus, call_id: &str, transcript_opt: Option<Value>) {
    let mut record = json!({
        "v": 1,
        "call_id": call_id,
        "request": { "phone_number": "+14155550123", "gym_name": "Ten Point", "playbook": "gym-intake" },
        "status": "completed",
        "created_at": "2026-12-04T10:00:00Z",
        "updated_at": "2026-12-04T10:03:00Z",
    });
    if let Some(transcript) = transcript_opt {
        record["result"] = json!({
            "v": 1, "call_id": call_id, "playbook": "gym-intake", "outcome": "completed", "fields": {},
            "transcript": transcript,
            "started_at": "2026-12-04T10:00:00Z", "ended_at": "2026-12-04T10:03:00Z",
        });
    }
    let record: CallRecord = serde_json::from_value(record).expect("a valid call record");
    bus.kv("calls").await.unwrap().put(call_id, encode_json(&record).into()).await.unwrap();
}

/// A stereo 8 kHz WAV of `seconds`, with a different sample on every frame.
fn wav_file(dir: &std::path::Path, seconds: u32) -> std::path::PathBuf {
    let path = dir.join("call.wav");
    let spec =
        hound::WavSpec { channels: 2, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..8000 * seconds {
        writer.write_sample((i % 30_000) as i16).unwrap();
        writer.write_sample(-((i % 20_000) as i16)).unwrap();
    }
    writer.finalize().unwrap();
    path
}

#[actix_rt::test]
async fn a_stored_recording_streams_back_byte_for_byte_with_auth_and_404s() {
    let api = start().await;
    let url = |path: &str| format!("{}{path}", api.base);
    store_call(&api.bus, "c_rec", None).await;

    // before any recording bucket exists: the call is there, its recording is not
    let response = api.http.get(url("/v1/calls/c_rec/recording")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "no_recording");

    // what the media worker does when the call ends (a 1 MB WAV: sixteen 64 KiB chunks)
    let dir = std::env::temp_dir().join(format!("gymcall-recordings-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav_path = wav_file(&dir, 32);
    let store = api.bus.object_store("recordings", Duration::from_secs(30 * 86_400)).await.unwrap();
    store.put_file("c_rec.wav", &wav_path).await.unwrap();
    let expected = std::fs::read(&wav_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(expected.len() > 1_000_000, "a WAV of many chunks");

    let no_token = api.http.get(url("/v1/calls/c_rec/recording")).send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);
    let wrong_token = api.http.get(url("/v1/calls/c_rec/recording")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong_token.status().as_u16(), 401);

    let response = api.http.get(url("/v1/calls/c_rec/recording")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    assert_eq!(response.headers()["content-length"], expected.len().to_string().as_str());
    let body = response.bytes().await.unwrap();
    assert!(body.as_ref() == expected.as_slice(), "the WAV comes back byte for byte ({} bytes)", body.len());
    let reader = hound::WavReader::new(std::io::Cursor::new(body.to_vec())).unwrap();
    assert_eq!((reader.spec().channels, reader.spec().sample_rate), (2, 8000));

    // another call: no recording; an unknown call and an id that cannot be one: no such call
    store_call(&api.bus, "c_other", None).await;
    for (path, code) in [
        ("/v1/calls/c_other/recording", "no_recording"),
        ("/v1/calls/c_nope/recording", "not_found"),
        ("/v1/calls/c.*/recording", "not_found"),
    ] {
        let response = api.http.get(url(path)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code, "{path}");
    }
    let post = api.http.post(url("/v1/calls/c_rec/recording")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    api.gateway.stop().await;
}

#[actix_rt::test]
async fn the_transcript_is_json_by_default_and_text_when_accept_asks() {
    let api = start().await;
    let url = |path: &str| format!("{}{path}", api.base);
    let turns = json!([
        { "speaker": "agent", "text": "Hi, do you offer drop-ins?", "at_ms": 1200 },
        { "speaker": "callee", "text": "Yes, twenty dollars.", "at_ms": 4310, "interrupted": false },
        { "speaker": "agent", "text": "Thanks, and the hours", "at_ms": 65_020, "interrupted": true },
    ]);
    store_call(&api.bus, "c_talk", Some(turns)).await;
    store_call(&api.bus, "c_silent", None).await;

    let no_token = api.http.get(url("/v1/calls/c_talk/transcript")).send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);

    let json_answer = api.http.get(url("/v1/calls/c_talk/transcript")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(json_answer.status().as_u16(), 200);
    let body: Value = json_answer.json().await.unwrap();
    assert_eq!(body["call_id"], "c_talk");
    assert_eq!(body["turns"].as_array().unwrap().len(), 3);
    assert_eq!(body["turns"][1]["text"], "Yes, twenty dollars.");
    assert_eq!(body["turns"][1]["speaker"], "callee");

    let text_answer = api
        .http
        .get(url("/v1/calls/c_talk/transcript"))
        .bearer_auth(TOKEN)
        .header("Accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(text_answer.status().as_u16(), 200);
    assert!(text_answer.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(
        text_answer.text().await.unwrap(),
        "[00:01.200] agent: Hi, do you offer drop-ins?\n\
         [00:04.310] callee: Yes, twenty dollars.\n\
         [01:05.020] agent: Thanks, and the hours (interrupted)\n"
    );

    for (path, code) in
        [("/v1/calls/c_silent/transcript", "no_transcript"), ("/v1/calls/c_nope/transcript", "not_found")]
    {
        let response = api.http.get(url(path)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code, "{path}");
    }
    api.gateway.stop().await;
}
