//! A Media Stream is bound to its call (issue 16 item 3): the upgrade signature is the same for
//! every call, so the stream must also show the per-call token the voice webhook gave Twilio.
//! Replayed against the real gateway and a real nats-server: another call's token, a spent
//! token and no token all close the socket with 1008 before any media worker is asked for.

mod common;

use common::*;
use simulator::twilio::call::{post_signed_form, run_twiml, voice_webhook_params, CallOptions};
use simulator::twilio::FramesAudio;

/// The TwiML the gateway answers Twilio's voice webhook for `call_id` with (and the call's
/// simulator options, whose CallSid the token is bound to).
async fn twiml_for(harness: &Harness, call_id: &str) -> (CallOptions, String) {
    let options = harness.call_options(call_id);
    let client = reqwest::Client::new();
    let (status, body) = post_signed_form(
        &client,
        &options.voice_url,
        options.connect_addr,
        &options.auth_token,
        &voice_webhook_params(&options),
    )
    .await
    .expect("voice webhook");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("name=\"stream_token\""), "no stream token in {body}");
    (options, body)
}

async fn run(options: &CallOptions, twiml: &str) -> simulator::twilio::call::CallReport {
    let mut audio = FramesAudio::new(test_frames(10));
    run_twiml(options, twiml, &mut audio, None).await.expect("stream runs")
}

#[actix_rt::test]
async fn a_stream_opens_only_its_own_call_and_only_once() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;

    // Another call's token with this call's id: the replay the issue describes.
    let (options, mine) = twiml_for(&harness, "c_mine").await;
    let aimed_at_victim = mine.replace("value=\"c_mine\"", "value=\"c_victim\"");
    let refused = run(&options, &aimed_at_victim).await;
    assert_eq!(refused.closed_by_server, Some(1008), "a stream for c_victim with c_mine's token");
    assert!(refused.received_audio.is_empty());

    // No token at all.
    let start = mine.find("<Parameter name=\"stream_token\"").expect("token parameter");
    let end = start + mine[start..].find("/>").expect("parameter end") + 2;
    let without_token = format!("{}{}", &mine[..start], &mine[end..]);
    let refused = run(&options, &without_token).await;
    assert_eq!(refused.closed_by_server, Some(1008), "a stream without a token");

    // The right token works once ...
    let served = run(&options, &mine).await;
    assert_eq!(served.received_audio.len(), 10 * 160, "the call's own stream is served");
    wait_for(&worker, "worker saw c_mine", |log| log.values().any(|s| s.call_id == "c_mine")).await;
    // ... and not again.
    let replayed = run(&options, &mine).await;
    assert_eq!(replayed.closed_by_server, Some(1008), "a spent token");

    // No worker was ever asked for c_victim, and c_mine got exactly one stream.
    let log = worker.lock().unwrap().clone();
    assert!(!log.values().any(|s| s.call_id == "c_victim"), "{log:?}");
    assert_eq!(log.values().filter(|s| s.call_id == "c_mine").count(), 1, "{log:?}");
    assert_eq!(harness.metric("gateway_ws_bad_messages_total{kind=\"stream_token\"}").await, 3.0);
    assert_eq!(harness.metric("gateway_stream_exits_total{exit=\"unauthorized\"}").await, 3.0);
    harness.gateway.stop().await;
}
