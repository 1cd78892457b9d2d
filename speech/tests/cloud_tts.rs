//! ElevenLabs and OpenAI-compatible TTS clients against local fake servers speaking each
//! provider's documented HTTP protocol: streamed audio, auth headers, error replies and retries.

mod fake;

use std::time::Duration;

use fake::{FakeHttp, Response};
use speech::retry::RetryPolicy;
use speech::tts::{ElevenLabsConfig, ElevenLabsTts, OpenAiTts, OpenAiTtsConfig};
use speech::{TtsChunk, TtsError, TtsErrorKind, TtsProvider};

const KEY: &str = "test-key-123";

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        deadline: Duration::from_millis(600),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

/// Collect everything a synthesis sends: audio bytes, `Done` total, or the error.
async fn collect(provider: &dyn TtsProvider, text: &str) -> (Vec<u8>, Result<u64, TtsError>) {
    let mut chunks = provider.synthesize(text.to_string());
    let mut audio = Vec::new();
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(TtsChunk::Audio(bytes)) => audio.extend_from_slice(&bytes),
            Ok(TtsChunk::Done { total_ms }) => return (audio, Ok(total_ms)),
            Err(error) => return (audio, Err(error)),
        }
    }
    panic!("stream ended without Done or an error");
}

fn elevenlabs(base_url: &str, api_key: &str) -> ElevenLabsTts {
    ElevenLabsTts::new(
        ElevenLabsConfig {
            api_key: api_key.into(),
            base_url: base_url.into(),
            voice_id: "voice-abc".into(),
            model_id: "eleven_flash_v2_5".into(),
            retry: quick_retry(),
        },
        reqwest::Client::new(),
    )
}

/// ElevenLabs: `POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000` with
/// `xi-api-key`; 401 with a JSON `detail` for a bad key.
fn elevenlabs_server_reply(request: &fake::Request) -> Response {
    if request.header("xi-api-key") != Some(KEY) {
        return Response::json(
            401,
            serde_json::json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}),
        );
    }
    let text = request.json()["text"].as_str().unwrap_or("").to_string();
    // 100 ms of mu-law per character, in three streamed pieces, marked by the sentence length.
    let marker = text.len() as u8;
    let audio = vec![marker; text.len() * 800];
    let third = audio.len() / 3;
    Response::streamed(
        "audio/basic",
        vec![audio[..third].to_vec(), audio[third..2 * third].to_vec(), audio[2 * third..].to_vec()],
    )
}

#[tokio::test]
async fn elevenlabs_streams_ulaw_sentence_by_sentence() {
    let server = FakeHttp::start(|request, _| elevenlabs_server_reply(request)).await;
    let tts = elevenlabs(&server.base_url, KEY);
    let (audio, done) = collect(&tts, "Hi there. We open at six.").await;

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one request per sentence");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path(), "/v1/text-to-speech/voice-abc/stream");
        assert_eq!(request.query().get("output_format").map(String::as_str), Some("ulaw_8000"));
        assert_eq!(request.json()["model_id"], "eleven_flash_v2_5");
    }
    assert_eq!(requests[0].json()["text"], "Hi there.");
    assert_eq!(requests[1].json()["text"], "We open at six.");
    // Audio passes through untouched and in order.
    let mut expected = vec![9u8; 9 * 800];
    expected.extend(vec![15u8; 15 * 800]);
    assert_eq!(audio, expected);
    assert_eq!(done.expect("done"), (expected.len() / 8) as u64);
}

#[tokio::test]
async fn elevenlabs_bad_key_is_unauthorized_without_retry() {
    let server = FakeHttp::start(|request, _| elevenlabs_server_reply(request)).await;
    let tts = elevenlabs(&server.base_url, "wrong-key");
    let (audio, done) = collect(&tts, "Hello.").await;
    let error = done.expect_err("401 must fail");
    assert_eq!(error.kind, TtsErrorKind::Unauthorized);
    assert!(error.message.contains("invalid_api_key"), "{}", error.message);
    assert!(audio.is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn elevenlabs_rate_limit_is_retried() {
    let server = FakeHttp::start(|request, index| {
        if index == 0 {
            Response::json(429, serde_json::json!({"detail": {"status": "too_many_concurrent_requests"}}))
        } else {
            elevenlabs_server_reply(request)
        }
    })
    .await;
    let tts = elevenlabs(&server.base_url, KEY);
    let (audio, done) = collect(&tts, "Hello.").await;
    assert_eq!(done.expect("retried after 429"), 6 * 800 / 8);
    assert_eq!(audio.len(), 6 * 800);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn elevenlabs_persistent_server_error_fails_after_the_deadline() {
    let server = FakeHttp::start(|_, _| Response::json(503, serde_json::json!({"detail": "overloaded"}))).await;
    let tts = elevenlabs(&server.base_url, KEY);
    let (_, done) = collect(&tts, "Hello.").await;
    let error = done.expect_err("503 forever must fail");
    assert_eq!(error.kind, TtsErrorKind::Unavailable);
    assert!(server.requests().len() >= 2, "retried before giving up");
}

#[tokio::test]
async fn unreachable_service_is_a_connect_error() {
    // Bind then drop a listener so the port is closed.
    let address = std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("port");
    let tts = elevenlabs(&format!("http://{address}"), KEY);
    let (_, done) = collect(&tts, "Hello.").await;
    assert_eq!(done.expect_err("nothing listens").kind, TtsErrorKind::Connect);
}

fn openai(base_url: &str, api_key: &str) -> OpenAiTts {
    OpenAiTts::new(
        OpenAiTtsConfig {
            api_key: Some(api_key.into()),
            base_url: base_url.into(),
            model: "tts-1".into(),
            voice: "alloy".into(),
            retry: quick_retry(),
        },
        reqwest::Client::new(),
    )
}

/// 24 kHz 16-bit little-endian PCM of a 1 kHz tone.
fn tone_pcm_24k(seconds: f64) -> Vec<u8> {
    (0..(seconds * 24_000.0) as usize)
        .flat_map(|n| {
            ((8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 24_000.0).sin()) as i16).to_le_bytes()
        })
        .collect()
}

/// OpenAI: `POST /v1/audio/speech`, `Authorization: Bearer`, JSON body; `pcm` is raw 24 kHz.
fn openai_server_reply(request: &fake::Request) -> Response {
    if request.header("authorization") != Some(&format!("Bearer {KEY}")) {
        return Response::json(
            401,
            serde_json::json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}),
        );
    }
    let body = request.json();
    if body["response_format"] != "pcm" || body["model"] != "tts-1" || body["voice"] != "alloy" {
        return Response::json(400, serde_json::json!({"error": {"message": "bad request"}}));
    }
    // Odd-sized pieces split samples across chunks, as a real stream may.
    let pcm = tone_pcm_24k(1.0);
    Response::streamed("audio/pcm", pcm.chunks(1001).map(<[u8]>::to_vec).collect())
}

#[tokio::test]
async fn openai_pcm_24k_is_resampled_to_8k_mulaw() {
    let server = FakeHttp::start(|request, _| openai_server_reply(request)).await;
    let tts = openai(&server.base_url, KEY);
    let (audio, done) = collect(&tts, "One second of tone").await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].path(), "/v1/audio/speech");
    assert_eq!(server.requests()[0].json()["input"], "One second of tone");
    assert_eq!(audio.len(), 8000, "one second at 8 kHz");
    assert_eq!(done.expect("done"), 1000);
    let mut pcm = Vec::new();
    protocol::mulaw::decode_into(&audio, &mut pcm);
    let middle = &pcm[1000..7000];
    let rms = (middle.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / middle.len() as f64).sqrt();
    assert!((5000.0..6500.0).contains(&rms), "tone rms {rms} (expected about 5657)");
}

#[tokio::test]
async fn openai_bad_key_is_unauthorized_and_server_errors_are_retried() {
    let server = FakeHttp::start(|request, _| openai_server_reply(request)).await;
    let (_, done) = collect(&openai(&server.base_url, "nope"), "Hello.").await;
    assert_eq!(done.expect_err("401").kind, TtsErrorKind::Unauthorized);

    let flaky = FakeHttp::start(|request, index| {
        if index == 0 {
            Response::json(500, serde_json::json!({"error": {"message": "server error"}}))
        } else {
            openai_server_reply(request)
        }
    })
    .await;
    let (audio, done) = collect(&openai(&flaky.base_url, KEY), "Hello.").await;
    assert_eq!(done.expect("retried after 500"), 1000);
    assert_eq!(audio.len(), 8000);
    assert_eq!(flaky.requests().len(), 2);
}

#[tokio::test]
async fn openai_bad_request_is_rejected_without_retry() {
    let server =
        FakeHttp::start(|_, _| Response::json(400, serde_json::json!({"error": {"message": "voice not found"}}))).await;
    let (_, done) = collect(&openai(&server.base_url, KEY), "Hello.").await;
    let error = done.expect_err("400");
    assert_eq!(error.kind, TtsErrorKind::Rejected);
    assert!(error.message.contains("voice not found"));
    assert_eq!(server.requests().len(), 1);
}
