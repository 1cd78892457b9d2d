//! The runtime follows the scheduler against real NATS: `not_before`, a closed calling window
//! (the request goes back to the queue with the next opening recorded), and cancel while held.

mod common;

use common::{fast_twilio, Rig};
use protocol::calls::{CallStatus, DialControl, DialControlAction};
use protocol::version::encode_json;
use protocol::BUS_VERSION;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_before_is_honoured() {
    let rig = Rig::start(fast_twilio()).await;
    let dialer = rig.start_dialer(&[]).await;
    let start = chrono::Utc::now();
    let not_before = start + chrono::Duration::seconds(2);
    let call_id = rig
        .submit_with("+12065550100", "Later Gym", |request| request.not_before = Some(not_before.to_rfc3339()))
        .await;
    let record = rig.wait_final(&[call_id], Duration::from_secs(20)).await.remove(0);
    assert_eq!(record.status, CallStatus::Completed);
    let started = chrono::DateTime::parse_from_rfc3339(&record.attempts[0].started_at).unwrap();
    assert!(started >= not_before, "dialed at {started}, not before {not_before}");
    dialer.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_hands_the_request_back_to_the_queue() {
    let rig = Rig::start(fast_twilio()).await;
    // A window that is closed now: it opens two hours from now (UTC), for one hour.
    let opens = chrono::Utc::now() + chrono::Duration::hours(2);
    let window = format!("{}-{}", opens.format("%H:00"), (opens + chrono::Duration::hours(1)).format("%H:00"));
    let window = if window.ends_with("-00:00") { window.replace("-00:00", "-24:00") } else { window };
    let dialer = rig.start_dialer(&[("DIAL_HOLD_S", "5")]).await;
    let call_id = rig
        .submit_with("+12065550101", "Night Owl Gym", |request| {
            request.timezone = Some("UTC".into());
            request.calling_window = Some(window.clone());
        })
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let record = rig.record(&call_id).await;
        if record.next_attempt_at.is_some() {
            break record;
        }
        assert!(tokio::time::Instant::now() < deadline, "no next attempt time recorded: {record:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.status, CallStatus::Queued);
    let next = chrono::DateTime::parse_from_rfc3339(record.next_attempt_at.as_deref().unwrap()).unwrap();
    assert_eq!(next.format("%H:%M").to_string(), opens.format("%H:00").to_string(), "waits for the window: {window}");
    assert!(rig.twilio.create_requests().is_empty());
    rig.wait_for(Duration::from_secs(5), "the request to go back to the queue", || {
        dialer.stats().held_requests.load(std::sync::atomic::Ordering::Relaxed) == 0
    })
    .await;

    assert!(rig.twilio.create_requests().is_empty(), "never dialed");
    dialer.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_drops_a_request_the_dialer_holds() {
    let rig = Rig::start(fast_twilio()).await;
    let opens = chrono::Utc::now() + chrono::Duration::hours(2);
    let window = format!("{}-{}", opens.format("%H:00"), (opens + chrono::Duration::hours(1)).format("%H:00"));
    let window = if window.ends_with("-00:00") { window.replace("-00:00", "-24:00") } else { window };
    // Holds waiting requests for up to a day, so this one stays with the dialer.
    let dialer = rig.start_dialer(&[("DIAL_HOLD_S", "86400")]).await;
    let call_id = rig
        .submit_with("+12065550102", "Waiting Gym", |request| {
            request.timezone = Some("UTC".into());
            request.calling_window = Some(window.clone());
        })
        .await;
    let stats = dialer.stats();
    rig.wait_for(Duration::from_secs(10), "the dialer to hold the request", || {
        stats.held_requests.load(std::sync::atomic::Ordering::Relaxed) == 1
    })
    .await;
    // As the gateway's cancel does: mark the record, then tell the dialers.
    let kv = rig.bus.kv("calls").await.unwrap();
    loop {
        let entry = kv.get(call_id.as_str()).await.unwrap().unwrap();
        let mut record: protocol::calls::CallRecord = protocol::version::decode_json(&entry.value).unwrap();
        record.status = CallStatus::Canceled;
        match kv.update(call_id.as_str(), encode_json(&record).into(), entry.revision).await {
            Ok(_) => break,
            Err(error) if error.kind == bus::BusErrorKind::WrongRevision => continue,
            Err(error) => panic!("{error}"),
        }
    }
    let control = DialControl { v: BUS_VERSION, call_id: call_id.clone(), action: DialControlAction::Cancel };
    rig.bus.publish(protocol::subjects::dial_control(&call_id).unwrap(), encode_json(&control)).await.unwrap();
    rig.wait_for(Duration::from_secs(10), "the dialer to drop the request", || {
        stats.held_requests.load(std::sync::atomic::Ordering::Relaxed) == 0
            && stats.finished.load(std::sync::atomic::Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(rig.record(&call_id).await.status, CallStatus::Canceled);
    assert!(rig.twilio.create_requests().is_empty(), "never dialed");
    dialer.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_back_after_six_schedules_the_retry_at_that_local_time() {
    use protocol::results::{CallOutcome as ConversationOutcome, CallResult, FieldResult, FieldStatus};
    let rig = Rig::start(simulator::fake_twilio::FakeTwilioConfig {
        answered_call_duration: Duration::from_millis(1500),
        ..fast_twilio()
    })
    .await;
    let dialer = rig.start_dialer(&[]).await;
    let call_id = rig
        .submit_with("+12065550103", "Call Me Later Gym", |request| request.timezone = Some("America/Chicago".into()))
        .await;
    let twilio = &rig.twilio;
    rig.wait_for(Duration::from_secs(10), "the call to be answered", || {
        twilio.created_calls().first().is_some_and(|c| twilio.call_status(&c.sid).as_deref() == Some("in-progress"))
    })
    .await;
    // The brain stores its result before the call ends (revision-checked, retried on a
    // concurrent update, as the brain does): the callee said "call back after 6".
    let kv = rig.bus.kv("calls").await.unwrap();
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "callback_time".to_owned(),
        FieldResult { status: FieldStatus::Known, value: serde_json::json!("18:00"), ..FieldResult::default() },
    );
    let result = CallResult {
        v: BUS_VERSION,
        call_id: call_id.clone(),
        call_sid: None,
        playbook: "gym-dropin".into(),
        outcome: ConversationOutcome::Partial,
        fields,
        transcript: Vec::new(),
        latency: Default::default(),
        started_at: String::new(),
        ended_at: String::new(),
        notes: Vec::new(),
    };
    loop {
        let entry = kv.get(call_id.as_str()).await.unwrap().unwrap();
        let mut record: protocol::calls::CallRecord = protocol::version::decode_json(&entry.value).unwrap();
        record.result = Some(result.clone());
        match kv.update(call_id.as_str(), encode_json(&record).into(), entry.revision).await {
            Ok(_) => break,
            Err(error) if error.kind == bus::BusErrorKind::WrongRevision => continue,
            Err(error) => panic!("{error}"),
        }
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let record = loop {
        let record = rig.record(&call_id).await;
        if record.status == CallStatus::RetryScheduled {
            break record;
        }
        assert!(tokio::time::Instant::now() < deadline, "no retry scheduled: {record:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.attempts[0].outcome.as_deref(), Some("call-back-later"));
    let next = chrono::DateTime::parse_from_rfc3339(record.next_attempt_at.as_deref().unwrap()).unwrap();
    let local = next.with_timezone(&chrono_tz::America::Chicago);
    assert_eq!(local.format("%H:%M").to_string(), "18:00", "{next}");
    assert!(next > chrono::Utc::now());
    dialer.stop().await.unwrap();
    rig.stop().await;
}

/// A fixed-offset zone (`Etc/GMT-5` is UTC+5) in which the local time now is 19:xx.
fn zone_where_it_is_seven_pm() -> (String, chrono::FixedOffset) {
    use chrono::Timelike;
    let utc_hour = chrono::Utc::now().hour() as i32;
    let mut offset = 19 - utc_hour;
    if offset > 14 {
        offset -= 24;
    }
    // IANA's Etc/GMT zones have the sign reversed: Etc/GMT-5 is five hours ahead of UTC.
    let name = if offset >= 0 { format!("Etc/GMT-{offset}") } else { format!("Etc/GMT+{}", -offset) };
    (name, chrono::FixedOffset::east_opt(offset * 3600).unwrap())
}

/// Issue 16 item 8: the playbook's `calling_window` was parsed and never used. With no window in
/// the request and no `CALLING_WINDOW` in the deployment, a companion check-in (its playbook:
/// every day 10:00-18:00) asked for at 19:xx local time waits for tomorrow 10:00; before, the
/// dialer's own front-desk default (Mon-Sat until 20:00) dialed it at once (on any local day but
/// Sunday, when both wait for the next morning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playbooks_calling_window_applies_when_the_request_names_none() {
    use chrono::Duration as Days;
    let rig = Rig::start(fast_twilio()).await;
    let mut env = rig.env();
    env.remove("CALLING_WINDOW");
    env.insert("DIAL_HOLD_S".into(), "5".into());
    let config = dialer::Config::from_env(&env).expect("config");
    assert_eq!(config.window_override, None);
    let bus = bus::Bus::connect(&rig.nats.url(), "dialer").await.expect("connect");
    let dialer = dialer::start(config, bus).await.expect("start dialer");

    let (zone, offset) = zone_where_it_is_seven_pm();
    let call_id = rig
        .submit_with("+12065550109", "Evening Check-in", |request| {
            request.timezone = Some(zone.clone());
            request.playbook = "companion-checkin".into();
            request.calling_window = None;
        })
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let record = rig.record(&call_id).await;
        if record.next_attempt_at.is_some() || !rig.twilio.create_requests().is_empty() {
            break record;
        }
        assert!(tokio::time::Instant::now() < deadline, "neither dialed nor deferred: {record:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(rig.twilio.create_requests().is_empty(), "dialed at 19:xx local time, outside the playbook's 10:00-18:00");
    assert_eq!(record.status, CallStatus::Queued);
    let next = chrono::DateTime::parse_from_rfc3339(record.next_attempt_at.as_deref().unwrap()).unwrap();
    let local_next = next.with_timezone(&offset);
    let tomorrow = (chrono::Utc::now().with_timezone(&offset) + Days::days(1)).date_naive();
    assert_eq!((local_next.date_naive(), local_next.format("%H:%M").to_string()), (tomorrow, "10:00".to_owned()));
    dialer.stop().await.unwrap();
    rig.stop().await;
}
