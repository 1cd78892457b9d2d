//! 50 concurrent simulated calls through one gateway: zero frames lost, ordering kept.

mod common;

use common::*;
use simulator::twilio::{place_call, FramesAudio};

const CALLS: usize = 50;
const FRAMES_PER_CALL: usize = 100;

#[actix_rt::test]
async fn fifty_concurrent_calls_lose_no_frame_and_keep_order() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let frames = test_frames(FRAMES_PER_CALL);
    let sent = frames.concat();

    let calls = (0..CALLS).map(|i| {
        let mut options = harness.call_options(&format!("c_load{i}"));
        // Twice real time: calls overlap for the whole run without making the test slow.
        options.time_scale = 0.5;
        let frames = frames.clone();
        async move {
            let mut audio = FramesAudio::new(frames);
            place_call(&options, &mut audio, None).await
        }
    });
    let reports = futures_util::future::join_all(calls).await;

    for (i, report) in reports.into_iter().enumerate() {
        let report = report.unwrap_or_else(|e| panic!("call {i} failed: {e}"));
        assert_eq!(report.frames_sent, FRAMES_PER_CALL as u64, "call {i}");
        assert_eq!(report.closed_by_server, None, "call {i} closed by the gateway");
        assert!(
            report.received_audio == sent,
            "call {i}: echo differs ({} of {} bytes)",
            report.received_audio.len(),
            sent.len()
        );
        let marks: Vec<String> = report.marks.iter().map(|m| m.name.clone()).collect();
        let expected: Vec<String> = (1..=FRAMES_PER_CALL).map(|n| format!("m{n}")).collect();
        assert_eq!(marks, expected, "call {i}: marks");
        wait_for(&worker, "stream stopped", |log| log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some()))
            .await;
        let seen = worker.lock().unwrap().get(&report.stream_sid).cloned().unwrap();
        assert_eq!(seen.call_id, format!("c_load{i}"));
        assert_eq!(
            seen.sequences,
            (1..=FRAMES_PER_CALL as u32).collect::<Vec<_>>(),
            "call {i}: sequence at the worker"
        );
    }
    let total = (CALLS * FRAMES_PER_CALL) as f64;
    assert_eq!(harness.metric("gateway_frames_in_total").await, total);
    assert_eq!(harness.metric("gateway_frames_out_total").await, total);
    assert_eq!(harness.metric("gateway_active_streams").await, 0.0);
    harness.gateway.stop().await;
}
