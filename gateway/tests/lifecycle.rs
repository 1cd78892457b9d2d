//! Health, readiness and graceful stop: `/healthz`, `/readyz` (NATS connected), and a stop that
//! closes live streams once the grace period is over (Twilio then speaks the apology).

mod common;

use common::*;
use simulator::twilio::{place_call, FramesAudio};
use std::time::Duration;

async fn status_of(harness: &Harness, path: &str) -> u16 {
    reqwest::get(format!("http://{}{path}", harness.addr())).await.expect("request").status().as_u16()
}

#[actix_rt::test]
async fn readiness_follows_the_nats_connection() {
    let mut harness = Harness::start().await;
    assert_eq!(status_of(&harness, "/healthz").await, 200);
    assert_eq!(status_of(&harness, "/readyz").await, 200);
    assert!(harness.metrics().await.contains("gateway_active_streams 0"));
    harness.nats.kill();
    let mut ready = 200;
    for _ in 0..100 {
        ready = status_of(&harness, "/readyz").await;
        if ready == 503 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready, 503, "readyz must fail once NATS is gone");
    assert_eq!(status_of(&harness, "/healthz").await, 200, "the process itself is still healthy");
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn stop_closes_live_streams_after_the_grace_period() {
    let harness = Harness::start_with(|config| config.shutdown_grace = Duration::from_millis(300)).await;
    let _worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let mut options = harness.call_options("c_drain");
    options.time_scale = 1.0; // a 20 s call that cannot finish on its own during the test
    let call = async {
        let mut audio = FramesAudio::new(test_frames(1000));
        place_call(&options, &mut audio, None).await
    };
    let stop = async {
        actix_rt::time::sleep(Duration::from_millis(500)).await;
        harness.gateway.stop().await;
    };
    let (report, ()) = tokio::join!(call, stop);
    let report = report.expect("call runs");
    assert_eq!(report.closed_by_server, Some(1000));
    assert_eq!(report.said_after_stream, vec![gateway::twilio_http::APOLOGY.to_owned()]);
    assert!(report.frames_sent < 1000, "the call was cut short by the stop");
}
