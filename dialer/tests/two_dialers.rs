//! Two dialers on one nats-server share the `DIAL` work queue: no request is placed twice,
//! also when one of them stops in the middle of live calls and the other takes over.

mod common;

use common::{fast_twilio, Rig};
use protocol::calls::CallStatus;
use simulator::fake_twilio::FakeTwilioConfig;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dialers_never_place_the_same_call_twice() {
    let rig = Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_millis(300), ..fast_twilio() }).await;
    let first = rig.start_dialer(&[("MAX_CONCURRENT_CALLS", "3")]).await;
    let second = rig.start_dialer(&[("MAX_CONCURRENT_CALLS", "3")]).await;
    let mut call_ids = Vec::new();
    for i in 0..16 {
        call_ids.push(rig.submit(&format!("+1415555{i:04}"), &format!("Gym {i}")).await);
    }
    let records = rig.wait_final(&call_ids, Duration::from_secs(60)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed && r.attempts.len() == 1), "{records:#?}");

    let created = rig.twilio.created_calls();
    let mut per_call: HashMap<String, usize> = HashMap::new();
    for call in &created {
        *per_call.entry(Rig::call_id_of(&call.url)).or_default() += 1;
    }
    assert_eq!(created.len(), 16, "one Twilio call per request");
    for call_id in &call_ids {
        assert_eq!(per_call.get(call_id.as_str()), Some(&1), "{call_id} placed {:?} times", per_call.get(call_id.as_str()));
    }
    let placed_first = first.stats().calls_placed.load(Ordering::Relaxed);
    let placed_second = second.stats().calls_placed.load(Ordering::Relaxed);
    assert_eq!(placed_first + placed_second, 16);
    println!("dialer 1 placed {placed_first}, dialer 2 placed {placed_second}");
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_that_stops_mid_call_is_replaced_without_placing_again() {
    // Answered calls last 4 s, so they are live when the first dialer stops.
    let rig = Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_secs(4), ..fast_twilio() }).await;
    let first = rig.start_dialer(&[("MAX_CONCURRENT_CALLS", "3"), ("DIAL_ACK_WAIT_S", "1")]).await;
    let mut call_ids = Vec::new();
    for i in 0..3 {
        call_ids.push(rig.submit(&format!("+1646555{i:04}"), &format!("Gym {i}")).await);
    }
    let twilio = &rig.twilio;
    rig.wait_for(Duration::from_secs(10), "three answered calls", || {
        let created = twilio.created_calls();
        created.len() == 3 && created.iter().all(|c| twilio.call_status(&c.sid).as_deref() == Some("in-progress"))
    })
    .await;
    // Stop without draining: the live calls' queue messages stay un-acked.
    first.stop().await.unwrap();
    let second = rig.start_dialer(&[("MAX_CONCURRENT_CALLS", "3"), ("DIAL_ACK_WAIT_S", "1")]).await;
    let records = rig.wait_final(&call_ids, Duration::from_secs(30)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed), "{records:#?}");
    assert!(records.iter().all(|r| r.attempts.len() == 1 && r.attempts[0].outcome.as_deref() == Some("completed")));
    assert_eq!(rig.twilio.created_calls().len(), 3, "the second dialer adopted the live calls instead of placing them again");
    assert_eq!(second.stats().calls_placed.load(Ordering::Relaxed), 0);
    second.stop().await.unwrap();
    rig.stop().await;
}
