//! Deepgram (live WebSocket) and OpenAI-compatible (`/v1/audio/transcriptions`) STT clients
//! against local fake servers speaking each provider's documented protocol.

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

mod fake;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fake::{multipart_field, FakeHttp, Response};
use futures_util::{SinkExt, StreamExt};
use speech::retry::RetryPolicy;
use speech::stt::{DeepgramConfig, DeepgramStt, OpenAiStt, OpenAiSttConfig};
use speech::{SttContext, SttInput, SttOutput, SttProvider, SttStream, Vocabulary};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as WsRequest, Response as WsResponse};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "test-key-123";

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        deadline: Duration::from_millis(600),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

fn context() -> SttContext {
    SttContext { call_id: "call-1".into(), vocabulary: None }
}

/// Send one utterance of `frames` 20 ms mu-law frames starting at `start_ms`.
fn send_utterance(stream: &SttStream, start_ms: u64, frames: usize, byte: u8) {
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: start_ms }).expect("input open");
    for index in 0..frames {
        let frame = Bytes::from(vec![byte; 160]);
        stream
            .input
            .send(SttInput::Audio { mulaw: frame, timestamp_ms: start_ms + 20 * index as u64 })
            .expect("input open");
    }
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: start_ms + 20 * frames as u64 }).expect("input open");
}

async fn next_output(stream: &mut SttStream) -> Option<SttOutput> {
    tokio::time::timeout(Duration::from_secs(10), stream.output.recv()).await.expect("stt output within 10 s")
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible transcription

fn openai(base_url: &str, api_key: &str) -> OpenAiStt {
    OpenAiStt::new(
        OpenAiSttConfig {
            api_key: Some(api_key.into()),
            base_url: base_url.into(),
            model: "whisper-1".into(),
            language: Some("en".into()),
            retry: quick_retry(),
        },
        reqwest::Client::new(),
    )
}

/// `POST /v1/audio/transcriptions`, bearer key, multipart `file` (WAV) + `model`; JSON `text`.
fn transcription_reply(request: &fake::Request) -> Response {
    if request.header("authorization") != Some(&format!("Bearer {KEY}")) {
        return Response::json(401, serde_json::json!({"error": {"message": "Incorrect API key provided"}}));
    }
    let Some((_, wav)) = multipart_field(request, "file") else {
        return Response::json(400, serde_json::json!({"error": {"message": "file is required"}}));
    };
    let model = multipart_field(request, "model").map(|(_, value)| String::from_utf8_lossy(&value).to_string());
    if !wav.starts_with(b"RIFF") || model.as_deref() != Some("whisper-1") {
        return Response::json(400, serde_json::json!({"error": {"message": "bad file or model"}}));
    }
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]);
    let samples = (wav.len() - 44) / 2;
    Response::json(200, serde_json::json!({"text": format!(" {samples} samples at {rate} hertz ")}))
}

#[tokio::test]
async fn openai_transcribes_each_utterance_as_a_wav_upload() {
    let server = FakeHttp::start(|request, _| transcription_reply(request)).await;
    let stt = openai(&server.base_url, KEY);
    let vocabulary = Arc::new(Vocabulary::new().with_phrase("What is the monthly price?"));
    let mut stream = stt.start(SttContext { call_id: "call-1".into(), vocabulary: Some(vocabulary) });

    send_utterance(&stream, 1_000, 50, 0x55); // 1 s
    match next_output(&mut stream).await {
        Some(SttOutput::Final { text, start_ms, end_ms, .. }) => {
            assert_eq!(text, "8000 samples at 8000 hertz");
            assert_eq!((start_ms, end_ms), (1_000, 2_000));
        }
        other => panic!("expected a final transcript, got {other:?}"),
    }
    let request = &server.requests()[0];
    assert_eq!(request.path(), "/v1/audio/transcriptions");
    let (part_head, _) = multipart_field(request, "file").expect("file part");
    assert!(part_head.contains("filename=\"utterance.wav\""), "{part_head}");
    let language = multipart_field(request, "language").map(|(_, value)| value);
    assert_eq!(language.as_deref(), Some(&b"en"[..]));
    let prompt = multipart_field(request, "prompt").map(|(_, value)| String::from_utf8_lossy(&value).to_string());
    assert_eq!(prompt.as_deref(), Some("What is the monthly price?"), "vocabulary biases the prompt");

    // the agent's line, when the worker gives it, goes after the call's words
    stream.input.send(SttInput::Context { text: "Is there a mat fee?".into() }).expect("input open");
    send_utterance(&stream, 3_000, 50, 0x55);
    assert!(matches!(next_output(&mut stream).await, Some(SttOutput::Final { .. })));
    let request = &server.requests()[1];
    let prompt = multipart_field(request, "prompt").map(|(_, value)| String::from_utf8_lossy(&value).to_string());
    assert_eq!(prompt.as_deref(), Some("What is the monthly price? Is there a mat fee?"));

    stream.input.send(SttInput::Close).expect("input open");
    assert_eq!(next_output(&mut stream).await, None, "output closes after Close");
}

#[tokio::test]
async fn openai_bad_key_fails_without_retry() {
    let server = FakeHttp::start(|request, _| transcription_reply(request)).await;
    let mut stream = openai(&server.base_url, "wrong").start(context());
    send_utterance(&stream, 0, 10, 0x55);
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { message, retryable }) => {
            assert!(!retryable);
            assert!(message.contains("401"), "{message}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn openai_rate_limit_and_server_errors_are_retried() {
    let server = FakeHttp::start(|request, index| match index {
        0 => Response::json(429, serde_json::json!({"error": {"message": "Rate limit reached"}})),
        1 => Response::json(502, serde_json::json!({"error": {"message": "bad gateway"}})),
        _ => transcription_reply(request),
    })
    .await;
    let mut stream = openai(&server.base_url, KEY).start(context());
    send_utterance(&stream, 0, 10, 0x55);
    match next_output(&mut stream).await {
        Some(SttOutput::Final { text, .. }) => assert_eq!(text, "1600 samples at 8000 hertz"),
        other => panic!("expected a final transcript after retries, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn openai_persistent_rate_limit_fails_as_retryable() {
    let server =
        FakeHttp::start(|_, _| Response::json(429, serde_json::json!({"error": {"message": "Rate limit"}}))).await;
    let mut stream = openai(&server.base_url, KEY).start(context());
    send_utterance(&stream, 0, 10, 0x55);
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { retryable, .. }) => assert!(retryable),
        other => panic!("expected failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Deepgram live streaming

/// What the fake Deepgram saw on one connection.
#[derive(Debug, Default, Clone)]
struct DeepgramConnection {
    authorization: Option<String>,
    query: std::collections::HashMap<String, String>,
    audio_bytes: usize,
    control: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DeepgramMode {
    Normal,
    /// Refuse the first handshake with this status, then behave.
    RefuseFirst(u16),
    /// Drop the first connection after its first audio frame.
    DropFirst,
}

struct FakeDeepgram {
    base_url: String,
    connections: Arc<Mutex<Vec<DeepgramConnection>>>,
    attempts: Arc<AtomicUsize>,
}

fn results(
    transcript: &str,
    is_final: bool,
    speech_final: bool,
    from_finalize: bool,
    start: f64,
    duration: f64,
) -> Message {
    let json = serde_json::json!({
        "type": "Results",
        "channel_index": [0, 1],
        "duration": duration,
        "start": start,
        "is_final": is_final,
        "speech_final": speech_final,
        "from_finalize": from_finalize,
        "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.9, "words": []}]},
        "metadata": {"request_id": "fake", "model_info": {"name": "general"}},
    });
    Message::Text(json.to_string().into())
}

/// Speaks Deepgram's live protocol: `Token` auth checked in the handshake (401 otherwise);
/// interim results while audio flows; a final on `Finalize`; `Metadata` then close on
/// `CloseStream`.
async fn start_fake_deepgram(mode: DeepgramMode) -> FakeDeepgram {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let connections: Arc<Mutex<Vec<DeepgramConnection>>> = Arc::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let (recorded, attempt_counter) = (connections.clone(), attempts.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let attempt = attempt_counter.fetch_add(1, Ordering::SeqCst);
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let seen = Arc::new(Mutex::new(DeepgramConnection::default()));
                let seen_in_handshake = seen.clone();
                let callback = move |request: &WsRequest, response: WsResponse| -> Result<WsResponse, ErrorResponse> {
                    let mut seen = seen_in_handshake.lock().expect("lock");
                    seen.authorization =
                        request.headers().get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
                    let query = request.uri().query().unwrap_or("");
                    seen.query = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                    let refuse = |status: u16, body: &str| {
                        let mut error = ErrorResponse::new(Some(body.to_string()));
                        *error.status_mut() = StatusCode::from_u16(status).expect("status");
                        error
                    };
                    if request.uri().path() != "/v1/listen" {
                        return Err(refuse(404, "not found"));
                    }
                    if seen.authorization.as_deref() != Some(&format!("Token {KEY}")) {
                        return Err(refuse(401, r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#));
                    }
                    if let DeepgramMode::RefuseFirst(status) = mode {
                        if attempt == 0 {
                            return Err(refuse(status, r#"{"err_code":"TOO_MANY_REQUESTS"}"#));
                        }
                    }
                    Ok(response)
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(socket, callback).await else {
                    return;
                };
                let index = {
                    let mut recorded = recorded.lock().expect("lock");
                    recorded.push(seen.lock().expect("lock").clone());
                    recorded.len() - 1
                };
                let mut audio_bytes = 0usize;
                let mut interim_sent = false;
                while let Some(Ok(message)) = socket.next().await {
                    match message {
                        Message::Binary(audio) => {
                            audio_bytes += audio.len();
                            recorded.lock().expect("lock")[index].audio_bytes = audio_bytes;
                            if mode == DeepgramMode::DropFirst && attempt == 0 {
                                return; // connection drops without a close frame
                            }
                            if audio_bytes >= 1600 && !interim_sent {
                                interim_sent = true;
                                let _ = socket.send(results("forty", false, false, false, 0.0, 0.2)).await;
                            }
                        }
                        Message::Text(text) => {
                            let kind = serde_json::from_str::<serde_json::Value>(&text)
                                .ok()
                                .and_then(|value| value["type"].as_str().map(String::from))
                                .unwrap_or_default();
                            recorded.lock().expect("lock")[index].control.push(kind.clone());
                            match kind.as_str() {
                                "Finalize" => {
                                    let seconds = audio_bytes as f64 / 8000.0;
                                    let _ = socket
                                        .send(results("forty nine dollars", true, false, true, 0.0, seconds))
                                        .await;
                                    interim_sent = false;
                                    audio_bytes = 0;
                                }
                                "CloseStream" => {
                                    let metadata = serde_json::json!({"type": "Metadata", "request_id": "fake", "duration": 1.0, "channels": 1});
                                    let _ = socket.send(Message::Text(metadata.to_string().into())).await;
                                    let _ = socket.close(None).await;
                                    return;
                                }
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    FakeDeepgram { base_url: format!("ws://{address}"), connections, attempts }
}

fn deepgram(base_url: &str, api_key: &str) -> DeepgramStt {
    DeepgramStt::new(DeepgramConfig {
        api_key: api_key.into(),
        base_url: base_url.into(),
        model: "nova-2-phonecall".into(),
        endpointing_ms: 300,
        keep_alive: Duration::from_millis(50),
        retry: quick_retry(),
    })
}

#[tokio::test]
async fn deepgram_streams_mulaw_and_reports_interim_and_final() {
    let server = start_fake_deepgram(DeepgramMode::Normal).await;
    let mut stream = deepgram(&server.base_url, KEY).start(context());
    send_utterance(&stream, 10_000, 75, 0x33); // 1.5 s from call time 10 s

    assert_eq!(next_output(&mut stream).await, Some(SttOutput::Interim { text: "forty".into() }));
    match next_output(&mut stream).await {
        Some(SttOutput::Final { text, confidence, start_ms, end_ms }) => {
            assert_eq!(text, "forty nine dollars");
            assert_eq!(confidence, Some(0.9));
            assert_eq!((start_ms, end_ms), (10_000, 11_500), "deepgram times are mapped to call time");
        }
        other => panic!("expected a final transcript, got {other:?}"),
    }
    stream.input.send(SttInput::Close).expect("input open");
    assert_eq!(next_output(&mut stream).await, None, "output closes after CloseStream");

    let connections = server.connections.lock().expect("lock").clone();
    assert_eq!(connections.len(), 1);
    let connection = &connections[0];
    assert_eq!(connection.query.get("encoding").map(String::as_str), Some("mulaw"));
    assert_eq!(connection.query.get("sample_rate").map(String::as_str), Some("8000"));
    assert_eq!(connection.query.get("interim_results").map(String::as_str), Some("true"));
    assert_eq!(connection.query.get("model").map(String::as_str), Some("nova-2-phonecall"));
    assert_eq!(connection.control, vec!["Finalize".to_string(), "CloseStream".to_string()]);
}

#[tokio::test]
async fn deepgram_bad_key_fails_without_retry() {
    let server = start_fake_deepgram(DeepgramMode::Normal).await;
    let mut stream = deepgram(&server.base_url, "wrong").start(context());
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { message, retryable }) => {
            assert!(!retryable);
            assert!(message.contains("401"), "{message}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(server.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn deepgram_refused_handshake_is_retried() {
    for status in [429, 503] {
        let server = start_fake_deepgram(DeepgramMode::RefuseFirst(status)).await;
        let mut stream = deepgram(&server.base_url, KEY).start(context());
        send_utterance(&stream, 0, 20, 0x33);
        assert_eq!(next_output(&mut stream).await, Some(SttOutput::Interim { text: "forty".into() }), "after {status}");
        assert!(matches!(next_output(&mut stream).await, Some(SttOutput::Final { .. })));
        assert_eq!(server.attempts.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn deepgram_dropped_stream_reconnects_and_carries_on() {
    let server = start_fake_deepgram(DeepgramMode::DropFirst).await;
    let mut stream = deepgram(&server.base_url, KEY).start(context());
    send_utterance(&stream, 0, 20, 0x33);
    // The first connection dies after one frame; the client reconnects and the rest of the
    // audio reaches the second connection.
    assert_eq!(next_output(&mut stream).await, Some(SttOutput::Interim { text: "forty".into() }));
    assert!(matches!(next_output(&mut stream).await, Some(SttOutput::Final { .. })));
    let connections = server.connections.lock().expect("lock").clone();
    assert_eq!(connections.len(), 2);
    assert!(connections[1].audio_bytes >= 1600);
}

#[tokio::test]
async fn deepgram_unreachable_fails_as_retryable() {
    let address = std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("port");
    let mut stream = deepgram(&format!("ws://{address}"), KEY).start(context());
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { retryable, .. }) => assert!(retryable),
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test]
async fn deepgram_idle_stream_is_kept_alive() {
    let server = start_fake_deepgram(DeepgramMode::Normal).await;
    let mut stream = deepgram(&server.base_url, KEY).start(context());
    // No audio: the client must send KeepAlive messages so Deepgram does not time out.
    let mut keep_alives = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let connections = server.connections.lock().expect("lock").clone();
        keep_alives = connections.first().map_or(0, |c| c.control.iter().filter(|kind| *kind == "KeepAlive").count());
        if keep_alives >= 2 {
            break;
        }
    }
    assert!(keep_alives >= 2, "saw {keep_alives} KeepAlive messages");
    stream.input.send(SttInput::Close).expect("input open");
    assert_eq!(next_output(&mut stream).await, None);
}

#[tokio::test]
async fn deepgram_error_message_is_reported() {
    // A server that answers audio with Deepgram's error message shape.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        if let Ok((socket, _)) = listener.accept().await {
            if let Ok(mut socket) = tokio_tungstenite::accept_async(socket).await {
                while let Some(Ok(message)) = socket.next().await {
                    if matches!(message, Message::Binary(_)) {
                        let error = serde_json::json!({"type": "Error", "variant": "DATA-0000", "description": "Failed to process audio", "message": "corrupt data"});
                        let _ = socket.send(Message::Text(error.to_string().into())).await;
                    }
                }
            }
        }
    });
    let mut stream = deepgram(&format!("ws://{address}"), KEY).start(context());
    send_utterance(&stream, 0, 1, 0x33);
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { message, retryable }) => {
            assert!(!retryable);
            assert!(message.contains("Failed to process audio"), "{message}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test]
async fn deepgram_wss_goes_through_tls() {
    // A plain TCP server that answers a TLS hello with garbage: the client must attempt TLS
    // (rustls with its crypto provider) and report a failure, not panic.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let mut stream = deepgram(&format!("wss://127.0.0.1:{}", address.port()), KEY).start(context());
    match next_output(&mut stream).await {
        Some(SttOutput::Failed { message, retryable }) => {
            assert!(retryable);
            assert!(message.contains("deepgram connect"), "{message}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}
