//! Issue 16, item 8: Twilio's answering-machine verdict reaches the brain. The verdict arrives as
//! an async AMD callback (relayed by the gateway on `twilio.status.<callId>`); the dialer tells
//! the call's brain on `brain.heard.<callId>`, where the brain handles it (voicemail message for a
//! machine). Real nats-server, the real dialer.

mod common;

use common::{fast_twilio, Rig};
use protocol::brain::{Heard, HeardEvent};
use protocol::calls::TwilioStatusEvent;
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, CallSid, BUS_VERSION};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_verdict_is_told_to_the_calls_brain() {
    let rig = Rig::start(fast_twilio()).await;
    let dialer = rig.start_dialer(&[]).await;
    let call_id = CallId::from("c_amd");
    let mut brain = rig.bus.subscribe("brain.heard.c_amd").await.expect("subscribe");

    let verdict = TwilioStatusEvent {
        v: BUS_VERSION,
        call_id: call_id.clone(),
        call_sid: CallSid::from("CA00000000000000000000000000000001"),
        call_status: None,
        answered_by: Some("machine_end_beep".to_owned()),
        sequence_number: None,
        call_duration_s: None,
        sip_response_code: None,
    };
    rig.bus.publish("twilio.status.c_amd", encode_json(&verdict)).await.expect("publish");

    let message = tokio::time::timeout(Duration::from_secs(5), brain.next())
        .await
        .expect("the brain was told within 5 s")
        .expect("a message");
    let heard: Heard = decode_json(&message.payload).expect("a brain.heard message");
    assert_eq!(heard.call_id, call_id);
    assert_eq!(heard.event, HeardEvent::Amd { answered_by: "machine_end_beep".into() });

    // a status callback without a verdict, or repeating it, tells the brain nothing more
    let ringing = TwilioStatusEvent { answered_by: None, call_status: Some("ringing".into()), ..verdict.clone() };
    rig.bus.publish("twilio.status.c_amd", encode_json(&ringing)).await.expect("publish");
    let completed = TwilioStatusEvent { call_status: Some("completed".into()), ..verdict };
    rig.bus.publish("twilio.status.c_amd", encode_json(&completed)).await.expect("publish");
    assert!(tokio::time::timeout(Duration::from_millis(500), brain.next()).await.is_err());

    dialer.stop().await.unwrap();
    rig.stop().await;
}
