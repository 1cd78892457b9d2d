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
    let rig =
        Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_millis(300), ..fast_twilio() }).await;
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
        assert_eq!(
            per_call.get(call_id.as_str()),
            Some(&1),
            "{call_id} placed {:?} times",
            per_call.get(call_id.as_str())
        );
    }
    let placed_first = first.stats().calls_placed.load(Ordering::Relaxed);
    let placed_second = second.stats().calls_placed.load(Ordering::Relaxed);
    assert_eq!(placed_first + placed_second, 16);
    // Each dialer keeps to its cap of 3 live calls.
    let max_live = rig.twilio.max_concurrent_calls();
    assert!(max_live <= 6, "{max_live} calls were live at once");
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
    assert_eq!(
        rig.twilio.created_calls().len(),
        3,
        "the second dialer adopted the live calls instead of placing them again"
    );
    assert_eq!(second.stats().calls_placed.load(Ordering::Relaxed), 0);
    second.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_ended_while_no_dialer_held_them_are_settled_from_twilio() {
    // Calls end 1 s after answer; the first dialer stops before that and the second only gets
    // the requests after the 3 s ack wait, when the status callbacks are long gone.
    let rig = Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_secs(1), ..fast_twilio() }).await;
    let first = rig.start_dialer(&[("DIAL_ACK_WAIT_S", "3")]).await;
    let mut call_ids = Vec::new();
    for i in 0..2 {
        call_ids.push(rig.submit(&format!("+1917555{i:04}"), &format!("Gym {i}")).await);
    }
    let twilio = &rig.twilio;
    rig.wait_for(Duration::from_secs(10), "two answered calls", || {
        let created = twilio.created_calls();
        created.len() == 2 && created.iter().all(|c| twilio.call_status(&c.sid).as_deref() == Some("in-progress"))
    })
    .await;
    first.stop().await.unwrap();
    rig.wait_for(Duration::from_secs(10), "the calls to end", || {
        twilio.created_calls().iter().all(|c| twilio.call_status(&c.sid).as_deref() == Some("completed"))
    })
    .await;
    let second = rig.start_dialer(&[("DIAL_ACK_WAIT_S", "3")]).await;
    let records = rig.wait_final(&call_ids, Duration::from_secs(30)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed && r.attempts.len() == 1), "{records:#?}");
    assert_eq!(rig.twilio.created_calls().len(), 2, "settled from Twilio's call resource, not placed again");
    second.stop().await.unwrap();
    rig.stop().await;
}

/// The same with two real `dialer` processes (the binary, configured through its environment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dialer_processes_never_place_the_same_call_twice() {
    let rig =
        Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_millis(300), ..fast_twilio() }).await;
    let mut processes = Vec::new();
    for _ in 0..2 {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"));
        command.env_clear().envs(rig.env()).env("MAX_CONCURRENT_CALLS", "3").env("RUST_LOG", "warn").kill_on_drop(true);
        processes.push(command.spawn().expect("dialer process starts"));
    }
    let mut call_ids = Vec::new();
    for i in 0..12 {
        call_ids.push(rig.submit(&format!("+1512555{i:04}"), &format!("Gym {i}")).await);
    }
    let records = rig.wait_final(&call_ids, Duration::from_secs(60)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed && r.attempts.len() == 1), "{records:#?}");
    let created = rig.twilio.created_calls();
    assert_eq!(created.len(), 12, "one Twilio call per request");
    let mut per_call: HashMap<String, usize> = HashMap::new();
    for call in &created {
        *per_call.entry(Rig::call_id_of(&call.url)).or_default() += 1;
    }
    assert!(call_ids.iter().all(|id| per_call.get(id.as_str()) == Some(&1)), "{per_call:?}");
    // SIGTERM: each process drains and exits cleanly.
    for process in &mut processes {
        let pid = process.id().expect("running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(status.success());
    }
    for mut process in processes {
        let exit =
            tokio::time::timeout(Duration::from_secs(10), process.wait()).await.expect("exits after SIGTERM").unwrap();
        assert!(exit.success(), "{exit:?}");
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dialers_never_call_one_number_twice_at_once() {
    let rig =
        Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_millis(400), ..fast_twilio() }).await;
    let first = rig.start_dialer(&[]).await;
    let second = rig.start_dialer(&[]).await;
    // Four requests for the same gym (e.g. two campaigns overlapping).
    let mut call_ids = Vec::new();
    for i in 0..4 {
        call_ids.push(rig.submit("+13125550177", &format!("Same Gym {i}")).await);
    }
    let records = rig.wait_final(&call_ids, Duration::from_secs(60)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed && r.attempts.len() == 1), "{records:#?}");
    assert_eq!(rig.twilio.created_calls().len(), 4);
    assert_eq!(rig.twilio.max_concurrent_calls_per_number(), 1, "one live call per number across both dialers");
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    rig.stop().await;
}

/// Issue 16 item 8: after a dialer restart, a concurrency cap of 1 had two live calls for ~11 s
/// (the new process placed a queued call before the live call's request came back to it).
/// Real processes: the first `dialer` is SIGKILLed while its one call is live; the second must
/// wait for that call before placing the next one. The fake Twilio counts concurrent calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_dialer_keeps_its_cap_with_the_calls_left_live() {
    let rig = Rig::start(FakeTwilioConfig { answered_call_duration: Duration::from_secs(8), ..fast_twilio() }).await;
    let spawn = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"));
        command.env_clear().envs(rig.env()).env("MAX_CONCURRENT_CALLS", "1").env("RUST_LOG", "info").kill_on_drop(true);
        command.spawn().expect("dialer process starts")
    };
    let mut first = spawn();
    let live = rig.submit("+15125550170", "Live Gym").await;
    rig.wait_for(Duration::from_secs(10), "the first call to be placed", || rig.twilio.created_calls().len() == 1)
        .await;
    let live_record = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let record = rig.record(&live).await;
            if record.status == CallStatus::InProgress {
                break record;
            }
            assert!(tokio::time::Instant::now() < deadline, "never in progress: {record:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let pid = first.id().expect("running");
    assert!(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    first.wait().await.unwrap();

    let queued = rig.submit("+15125550171", "Next Gym").await;
    let _second = spawn();
    let records = rig.wait_final(&[live.clone(), queued.clone()], Duration::from_secs(60)).await;
    assert!(records.iter().all(|r| r.status == CallStatus::Completed), "{records:#?}");
    assert_eq!(rig.twilio.created_calls().len(), 2, "each call placed once");
    assert_eq!(rig.twilio.max_concurrent_calls(), 1, "the cap of 1 held across the restart ({live_record:?})");
    rig.stop().await;
}
