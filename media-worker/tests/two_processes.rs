//! Two media-worker processes (the real binary) on one nats-server: a worker at `max_calls`
//! does not take a new call, the other worker does, and a worker with room again takes calls.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use protocol::brain::HeardEvent;
use protocol::media::{self, StreamEvent};
use protocol::subjects;
use protocol::StreamSid;

fn spawn_worker(nats_url: &str, worker_id: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_media-worker"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NATS_URL", nats_url)
        .env("WORKER_ID", worker_id)
        .env("MAX_CALLS", "1")
        .env("MEDIA_ARBITERS", "1")
        .env("DRAIN_GRACE_MS", "500")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("media-worker binary starts")
}

/// Asks for a worker until one answers (workers may still be starting).
async fn assign_with_retry(bus: &bus::Bus, call_id: &str, stream_sid: &str) -> String {
    for _ in 0..100 {
        if let Ok(reply) = assign(bus, call_id, stream_sid).await {
            return reply.worker_id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no worker took {call_id}");
}

async fn stop_stream(bus: &bus::Bus, stream_sid: &str) {
    let subject = subjects::media_in(&StreamSid::from(stream_sid)).unwrap();
    let stop = media::encode_stream_event(&StreamEvent::Stop { reason: "callee hung up".into() });
    bus.publish(subject, stop).await.unwrap();
}

#[actix_rt::test]
async fn a_worker_at_max_calls_refuses_and_a_second_worker_process_takes_the_call() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "test").await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;
    let mut first = spawn_worker(&nats.url(), "w1");
    let mut second = spawn_worker(&nats.url(), "w2");

    let a = assign_with_retry(&bus, "c_a", "MZa").await;
    let b = assign_with_retry(&bus, "c_b", "MZb").await;
    assert_eq!(BTreeSet::from([a.as_str(), b.as_str()]), BTreeSet::from(["w1", "w2"]), "one call each");
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;

    // both at max_calls: nobody answers
    let refused = assign(&bus, "c_c", "MZc").await.unwrap_err();
    assert!(matches!(refused.kind, bus::BusErrorKind::NoResponders | bus::BusErrorKind::TimedOut), "{refused:?}");

    // call a ends; its worker has room again and takes the next call
    stop_stream(&bus, "MZa").await;
    brain.wait_for(Duration::from_secs(10), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    let d = assign_with_retry(&bus, "c_d", "MZd").await;
    assert_eq!(d, a);

    // SIGTERM: each process drains (hangs up its live call) and exits cleanly
    for child in [&mut first, &mut second] {
        let pid = child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }
    for child in [&mut first, &mut second] {
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits after drain").unwrap();
        assert!(status.success(), "{status:?}");
    }
}
