//! Bad input on the Media Streams WebSocket (malformed JSON, unknown event, media before start,
//! media for another streamSid, a binary frame, a 1 MB text frame) is counted on /metrics and
//! never disturbs a concurrent good call.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use protocol::twilio::media_streams::encode_inbound_media_into;
use protocol::twilio::signature::compute_signature;
use simulator::twilio::call::open_stream_socket;
use simulator::twilio::{place_call, FramesAudio};
use tokio_tungstenite::tungstenite::Message;

const STREAM_URL: &str = "wss://gw.example.test/v1/twilio/stream";

fn start_message(stream_sid: &str, token: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC1","streamSid":"{stream_sid}","callSid":"CA1","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{"call_id":"c_bad","stream_token":"{token}"}}}},"streamSid":"{stream_sid}"}}"#
    )
}

fn media(stream_sid: &str, sequence: u64) -> String {
    let mut text = String::new();
    encode_inbound_media_into(stream_sid, sequence, sequence, sequence * 20, &test_frame(sequence as usize), &mut text);
    text
}

#[actix_rt::test]
async fn bad_websocket_input_is_counted_and_other_calls_lose_nothing() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;

    // A good call runs at the same time, slower than real time is not needed: 200 frames at 10x.
    let mut good_options = harness.call_options("c_good");
    good_options.time_scale = 0.1;
    let good_frames = test_frames(200);
    let good_call = {
        let frames = good_frames.clone();
        async move {
            let mut audio = FramesAudio::new(frames);
            place_call(&good_options, &mut audio, None).await
        }
    };

    let token = stream_token(&harness, "c_bad", "CA1").await;
    let bad_socket = async {
        let signature = compute_signature(AUTH_TOKEN, STREAM_URL, &[]);
        let mut ws = open_stream_socket(STREAM_URL, Some(harness.addr()), Some(signature)).await.expect("upgrade");
        let sid = "MZbad00000000000000000000000000000";
        let send = |text: String| Message::text(text);
        ws.send(send(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.into())).await.unwrap();
        ws.send(send(media(sid, 1))).await.unwrap(); // media before start
        ws.send(send(start_message(sid, &token))).await.unwrap();
        ws.send(send("{this is not json".into())).await.unwrap(); // malformed JSON
        ws.send(send(r#"{"event":"teleport","streamSid":"MZbad"}"#.into())).await.unwrap(); // unknown event
        ws.send(send(media("MZsomeoneelse000000000000000000000", 2))).await.unwrap(); // another streamSid
        ws.send(Message::binary(vec![0u8; 320])).await.unwrap(); // binary frame
        ws.send(send(media(sid, 3))).await.unwrap(); // a good frame still goes through
                                                     // 1 MB text frame: the gateway refuses it and closes this socket only.
        let huge = format!(r#"{{"event":"media","streamSid":"{sid}","junk":"{}"}}"#, "x".repeat(1024 * 1024));
        let _ = ws.send(send(huge)).await;
        let mut close_code = None;
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => {
                    close_code = frame.map(|f| u16::from(f.code));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        close_code
    };

    let (good, close_code) = tokio::join!(good_call, bad_socket);
    let good = good.expect("good call runs");

    if let Some(code) = close_code {
        assert_eq!(code, 1009, "oversized frame closes with 1009 (message too big)");
    }
    let page = harness.metrics().await;
    for kind in
        ["malformed_json", "unknown_event", "media_before_start", "wrong_stream_sid", "binary_frame", "frame_too_large"]
    {
        let series = format!("gateway_ws_bad_messages_total{{kind=\"{kind}\"}}");
        assert_eq!(gateway::metrics::sample(&page, &series), Some(1.0), "{series}\n{page}");
    }

    // The good call lost nothing and kept its order.
    let sent = good_frames.concat();
    assert_eq!(good.frames_sent, 200);
    assert_eq!(good.closed_by_server, None);
    assert!(
        good.received_audio == sent,
        "good call's echo differs ({} of {} bytes)",
        good.received_audio.len(),
        sent.len()
    );
    assert_eq!(good.marks.len(), 200);
    wait_for(&worker, "both streams stopped", |log| log.values().filter(|s| s.stop_reason.is_some()).count() == 2)
        .await;
    {
        let log = worker.lock().unwrap();
        let good_seen = log.get(&good.stream_sid).expect("good stream at worker");
        assert_eq!(good_seen.sequences, (1..=200).collect::<Vec<u32>>());
        // The bad socket's one valid frame reached its worker, and its stream was stopped.
        let bad_seen = log.get("MZbad00000000000000000000000000000").expect("bad stream at worker");
        assert_eq!(bad_seen.sequences, vec![3]);
        assert_eq!(bad_seen.stop_reason.as_deref(), Some("protocol_error"));
    }
    harness.gateway.stop().await;
}
