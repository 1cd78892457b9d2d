//! `X-Twilio-Signature` on the voice webhook, the status callback and the WebSocket upgrade:
//! missing or wrong -> 403, right -> 200 / 101. The URL signed is the public one, not the Host.

mod common;

use common::*;
use protocol::calls::TwilioStatusEvent;
use protocol::subjects;
use protocol::twilio::signature::compute_signature;
use protocol::twilio::twiml::read_connect_stream;
use protocol::twilio::webhook::FormParams;
use protocol::version::decode_json;
use simulator::twilio::call::{open_stream_socket, post_signed_form, voice_webhook_params};
use simulator::twilio::SimError;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

const STREAM_URL: &str = "wss://gw.example.test/v1/twilio/stream";

async fn post_with_header(
    harness: &Harness,
    path_and_query: &str,
    params: &FormParams,
    signature: Option<&str>,
) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}{path_and_query}", harness.addr()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(params.encode());
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.send().await.expect("request").status().as_u16()
}

fn upgrade_status(result: Result<impl Sized, SimError>) -> u16 {
    match result {
        Ok(_) => 101,
        Err(SimError::WebSocket(error)) => match *error {
            tungstenite::Error::Http(response) => response.status().as_u16(),
            other => panic!("unexpected upgrade error: {other}"),
        },
        Err(other) => panic!("unexpected upgrade error: {other}"),
    }
}

#[actix_rt::test]
async fn webhooks_and_upgrade_need_a_valid_signature() {
    let harness = Harness::start().await;
    let options = harness.call_options("c_sig");
    let params = voice_webhook_params(&options);
    let path = "/v1/twilio/voice?call_id=c_sig";

    // Voice webhook.
    assert_eq!(post_with_header(&harness, path, &params, None).await, 403, "missing signature");
    assert_eq!(post_with_header(&harness, path, &params, Some("bm90IGEgc2lnbmF0dXJl")).await, 403, "wrong signature");
    let over_host_url = compute_signature(AUTH_TOKEN, &format!("http://{}{path}", harness.addr()), params.pairs());
    assert_eq!(post_with_header(&harness, path, &params, Some(&over_host_url)).await, 403, "signed over the Host URL");
    let other_token = compute_signature("another-token", &options.voice_url, params.pairs());
    assert_eq!(post_with_header(&harness, path, &params, Some(&other_token)).await, 403, "signed with another token");
    let mut tampered = params.clone();
    tampered.0.push(("Extra".into(), "added-after-signing".into()));
    let signed_untampered = compute_signature(AUTH_TOKEN, &options.voice_url, params.pairs());
    assert_eq!(
        post_with_header(&harness, path, &tampered, Some(&signed_untampered)).await,
        403,
        "param added after signing"
    );
    let client = reqwest::Client::new();
    let (status, body) =
        post_signed_form(&client, &options.voice_url, options.connect_addr, AUTH_TOKEN, &params).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let twiml = read_connect_stream(&body).expect("twiml has <Connect><Stream>");
    assert_eq!(twiml.url, STREAM_URL);
    assert_eq!(twiml.parameters.get("call_id").map(String::as_str), Some("c_sig"));

    // Status callback.
    let status_url = format!("{PUBLIC_BASE_URL}/v1/twilio/status?call_id=c_sig");
    let status_params = FormParams(vec![
        ("CallSid".into(), options.call_sid.clone()),
        ("AccountSid".into(), options.account_sid.clone()),
        ("CallStatus".into(), "completed".into()),
        ("CallDuration".into(), "42".into()),
        ("SequenceNumber".into(), "3".into()),
    ]);
    let mut statuses = harness.bus.subscribe(subjects::twilio_status(&"c_sig".into()).unwrap()).await.unwrap();
    harness.bus.flush().await.unwrap();
    assert_eq!(post_with_header(&harness, "/v1/twilio/status?call_id=c_sig", &status_params, None).await, 403);
    assert_eq!(post_with_header(&harness, "/v1/twilio/status?call_id=c_sig", &status_params, Some("AAAA")).await, 403);
    let (status, _) =
        post_signed_form(&client, &status_url, options.connect_addr, AUTH_TOKEN, &status_params).await.unwrap();
    assert_eq!(status, 200);
    let message = tokio::time::timeout(Duration::from_secs(5), statuses.next()).await.expect("status event").unwrap();
    let event: TwilioStatusEvent = decode_json(&message.payload).unwrap();
    assert_eq!(event.call_status.as_deref(), Some("completed"));
    assert_eq!((event.call_duration_s, event.sequence_number), (Some(42), Some(3)));
    assert_eq!(event.call_sid.as_str(), options.call_sid);

    // WebSocket upgrade.
    assert_eq!(upgrade_status(open_stream_socket(STREAM_URL, Some(harness.addr()), None).await), 403, "missing");
    assert_eq!(
        upgrade_status(open_stream_socket(STREAM_URL, Some(harness.addr()), Some("AAAA".into())).await),
        403,
        "wrong"
    );
    let https_signed = compute_signature(AUTH_TOKEN, "https://gw.example.test/v1/twilio/stream", &[]);
    assert_eq!(
        upgrade_status(open_stream_socket(STREAM_URL, Some(harness.addr()), Some(https_signed)).await),
        403,
        "https scheme"
    );
    let right = compute_signature(AUTH_TOKEN, STREAM_URL, &[]);
    assert_eq!(upgrade_status(open_stream_socket(STREAM_URL, Some(harness.addr()), Some(right)).await), 101, "right");
    let trailing_slash = compute_signature(AUTH_TOKEN, &format!("{STREAM_URL}/"), &[]);
    assert_eq!(
        upgrade_status(open_stream_socket(STREAM_URL, Some(harness.addr()), Some(trailing_slash)).await),
        101,
        "trailing slash"
    );

    assert_eq!(harness.metric("gateway_webhook_signature_rejections_total").await, 7.0);
    assert_eq!(harness.metric("gateway_upgrade_signature_rejections_total").await, 3.0);
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn unknown_inbound_call_gets_a_new_call_id_and_the_inbound_playbook() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let mut options = harness.call_options("ignored");
    options.voice_url = format!("{PUBLIC_BASE_URL}/v1/twilio/voice");
    options.direction = "inbound".into();
    let mut audio = simulator::twilio::FramesAudio::new(test_frames(10));
    let report = simulator::twilio::place_call(&options, &mut audio, None).await.expect("inbound call runs");
    let twiml = report.twiml.expect("twiml");
    let call_id = twiml.parameters.get("call_id").expect("call_id parameter").clone();
    assert!(call_id.starts_with("c_"), "{call_id}");
    assert_eq!(twiml.parameters.get("playbook").map(String::as_str), Some("gym-dropin"));
    assert_eq!(twiml.parameters.get("direction").map(String::as_str), Some("inbound"));
    assert_eq!(report.received_audio.len(), 10 * 160);
    wait_for(&worker, "worker saw the inbound stream", |log| log.contains_key(&report.stream_sid)).await;
    let seen = worker.lock().unwrap().get(&report.stream_sid).cloned().unwrap();
    assert_eq!((seen.call_id.as_str(), seen.playbook.as_str()), (call_id.as_str(), "gym-dropin"));
    harness.gateway.stop().await;
}
