//! The fake's routes over HTTP, in the request shapes the speech crate and the brain worker send.

use super::*;
use actix_web::test as actix_test;

fn app_state(config: FakeConfig) -> web::Data<Shared> {
    web::Data::new(Shared {
        config,
        voice: Voice::new(),
        next_transcript: AtomicU64::new(0),
        next_reply: AtomicU64::new(0),
        counters: Counters::default(),
    })
}

fn multipart_body() -> (String, Vec<u8>) {
    let boundary = "XyZ";
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
    );
    body.extend_from_slice(&[0u8; 64]);
    body.extend_from_slice(
        b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ--\r\n",
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[actix_web::test]
async fn transcripts_are_served_in_turn() {
    let config = FakeConfig { transcripts: vec!["one".into(), "two".into()], ..FakeConfig::default() };
    let app = actix_test::init_service(App::new().app_data(app_state(config)).configure(routes)).await;
    let mut texts = Vec::new();
    for _ in 0..3 {
        let (content_type, body) = multipart_body();
        let request = actix_test::TestRequest::post()
            .uri("/v1/audio/transcriptions")
            .insert_header(("content-type", content_type))
            .set_payload(body)
            .to_request();
        let reply: Value = actix_test::call_and_read_body_json(&app, request).await;
        texts.push(reply["text"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(texts, ["one", "two", "one"]);
    let request = actix_test::TestRequest::post().uri("/v1/audio/transcriptions").set_payload("no file").to_request();
    assert_eq!(actix_test::call_service(&app, request).await.status().as_u16(), 400);
}

#[actix_web::test]
async fn speech_is_pcm_whose_length_follows_the_text() {
    let app = actix_test::init_service(App::new().app_data(app_state(FakeConfig::default())).configure(routes)).await;
    let ask = |text: &str, format: &str| {
        actix_test::TestRequest::post()
            .uri("/v1/audio/speech")
            .set_json(json!({ "model": "tts-1", "voice": "alloy", "input": text, "response_format": format }))
            .to_request()
    };
    let short = actix_test::call_and_read_body(&app, ask("Hi there.", "pcm")).await;
    let long =
        actix_test::call_and_read_body(&app, ask("Thanks. Do you offer drop-in classes for visitors?", "pcm")).await;
    assert_eq!(short.len(), voice::Voice::samples_for("Hi there.", 60) * 2);
    assert!(long.len() > short.len() * 3);
    assert_eq!(actix_test::call_service(&app, ask("Hi.", "mp3")).await.status().as_u16(), 400);
    let huge = "a".repeat(MAX_SPEECH_INPUT_CHARS + 1);
    assert_eq!(actix_test::call_service(&app, ask(&huge, "pcm")).await.status().as_u16(), 400);
    let oversized = actix_test::TestRequest::post()
        .uri("/v1/audio/speech")
        .insert_header(("content-type", "application/json"))
        .set_payload(vec![b' '; MAX_JSON_BODY_BYTES + 1])
        .to_request();
    assert_eq!(actix_test::call_service(&app, oversized).await.status().as_u16(), 413, "body cap");
}

#[actix_web::test]
async fn chat_answers_streamed_and_plain() {
    let config = FakeConfig { replies: vec!["How much is it?".into()], ..FakeConfig::default() };
    let app = actix_test::init_service(App::new().app_data(app_state(config)).configure(routes)).await;
    let body = |stream: bool| {
        json!({ "model": "fake-model", "stream": stream, "messages": [{ "role": "system", "content": "x" }],
                "tools": [], "tool_choice": "auto", "temperature": 0.3 })
    };
    let streamed = actix_test::TestRequest::post().uri("/v1/chat/completions").set_json(body(true)).to_request();
    let response = actix_test::call_service(&app, streamed).await;
    assert_eq!(response.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"text/event-stream"[..]));
    let text = String::from_utf8(actix_test::read_body(response).await.to_vec()).unwrap_or_default();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(text.contains(r#""content":"How ""#) && text.contains(r#""finish_reason":"stop""#), "{text}");
    let plain = actix_test::TestRequest::post().uri("/v1/chat/completions").set_json(body(false)).to_request();
    let reply: Value = actix_test::call_and_read_body_json(&app, plain).await;
    assert_eq!(reply["choices"][0]["message"]["content"], "How much is it?");
    let stats = actix_test::TestRequest::get().uri("/stats").to_request();
    let stats: Value = actix_test::call_and_read_body_json(&app, stats).await;
    assert_eq!((stats["chat_streamed"].as_u64(), stats["chat_plain"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn lists_are_bounded() {
    assert!(matches!(check_list("reply", &[]), Err(FakeError::EmptyList("reply"))));
    assert!(matches!(check_list("reply", &["x".repeat(MAX_ENTRY_CHARS + 1)]), Err(FakeError::ListTooLarge(_))));
    assert!(check_list("reply", &["fine".into()]).is_ok());
}
