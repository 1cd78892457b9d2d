//! Twilio's error bodies produce the documented behaviour: 21211 gives up, 20003 stops dialing
//! and alerts, 20429 and 5xx back off and retry. Also checks what the client sends.

mod common;

use common::{fast_twilio, Rig};
use dialer::twilio::{NewCall, TwilioClient, TwilioConfig, TwilioErrorKind};
use protocol::calls::{CallEvent, CallStatus};
use simulator::fake_twilio::{FakeTwilio, Outcome};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn client_for(twilio: &FakeTwilio, token: &str) -> TwilioClient {
    TwilioClient::new(TwilioConfig {
        account_sid: twilio.account_sid().to_owned(),
        auth_token: token.to_owned(),
        from_number: "+15005550006".to_owned(),
        api_base: twilio.base_url(),
    })
    .unwrap()
}

fn new_call(to: &str) -> NewCall {
    NewCall {
        to: to.to_owned(),
        url: "http://127.0.0.1:9/v1/twilio/voice?call_id=c_1".to_owned(),
        status_callback: "http://127.0.0.1:9/v1/twilio/status?call_id=c_1".to_owned(),
        machine_detection: Some("Enable".to_owned()),
        async_amd_status_callback: Some("http://127.0.0.1:9/v1/twilio/amd?call_id=c_1".to_owned()),
        timeout_s: 25,
        time_limit_s: 600,
    }
}

#[tokio::test]
async fn client_sends_twilios_parameters_and_maps_error_bodies() {
    let twilio = FakeTwilio::start(fast_twilio()).await.unwrap();
    twilio.script("+12025550101", vec![Outcome::Answer]);
    twilio.script("+12025550102", vec![Outcome::Error(21211)]);
    twilio.script("+12025550103", vec![Outcome::Error(20429)]);
    twilio.script("+12025550104", vec![Outcome::ServerError]);
    let client = client_for(&twilio, twilio.auth_token());

    let call = client.create_call(&new_call("+12025550101")).await.unwrap();
    assert!(protocol::ids::is_twilio_sid(&call.sid, "CA"));
    assert_eq!(call.status.as_deref(), Some("queued"));
    let created = &twilio.created_calls()[0];
    let values =
        |name: &str| created.params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(values("To"), ["+12025550101"]);
    assert_eq!(values("From"), ["+15005550006"]);
    assert_eq!(values("StatusCallbackEvent"), ["initiated", "ringing", "answered", "completed"]);
    assert_eq!(values("MachineDetection"), ["Enable"]);
    assert_eq!(values("AsyncAmd"), ["true"]);
    assert_eq!(values("Timeout"), ["25"]);
    assert_eq!(values("TimeLimit"), ["600"]);
    assert!(values("Url")[0].ends_with("?call_id=c_1"));

    let hung_up = client.hang_up(&call.sid).await.unwrap();
    assert_eq!(hung_up.sid, call.sid);
    assert_eq!(twilio.hangups(), vec![call.sid.clone()]);
    assert!(client.fetch_call(&call.sid).await.is_ok());

    let error = client.create_call(&new_call("+12025550102")).await.unwrap_err();
    assert_eq!((error.kind, error.code, error.http_status), (TwilioErrorKind::InvalidNumber, Some(21211), 400));
    let error = client.create_call(&new_call("+12025550103")).await.unwrap_err();
    assert_eq!((error.kind, error.code, error.http_status), (TwilioErrorKind::RateLimited, Some(20429), 429));
    let error = client.create_call(&new_call("+12025550104")).await.unwrap_err();
    assert_eq!((error.kind, error.http_status), (TwilioErrorKind::Server, 500));
    let error = client_for(&twilio, "wrong-token").create_call(&new_call("+12025550101")).await.unwrap_err();
    assert_eq!((error.kind, error.code, error.http_status), (TwilioErrorKind::Auth, Some(20003), 401));
    assert!(error.message.contains("Authenticate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_number_gives_up_at_once() {
    let rig = Rig::start(fast_twilio()).await;
    rig.twilio.script("+12025550111", vec![Outcome::Error(21211)]);
    let dialer = rig.start_dialer(&[]).await;
    let call_id = rig.submit("+12025550111", "Nowhere Gym").await;
    let record = rig.wait_final(&[call_id], Duration::from_secs(20)).await.remove(0);
    assert_eq!(record.status, CallStatus::Failed);
    assert!(record.last_error.as_deref().unwrap_or_default().contains("21211"), "{:?}", record.last_error);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].outcome.as_deref(), Some("error:21211"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rig.twilio.create_requests().len(), 1, "not retried");
    assert!(rig.twilio.created_calls().is_empty());
    dialer.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failure_stops_dialing_and_alerts() {
    let rig = Rig::start(fast_twilio()).await;
    let mut events = rig.bus.subscribe("calls.events.>").await.unwrap();
    let dialer = rig
        .start_dialer(&[
            ("TWILIO_AUTH_TOKEN", "revoked-token"),
            ("MAX_CONCURRENT_CALLS", "1"),
            ("METRICS_ADDR", "127.0.0.1:0"),
        ])
        .await;
    let first = rig.submit("+12025550121", "Gym A").await;
    let second = rig.submit("+12025550122", "Gym B").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut alerted = false;
    while !alerted {
        let message = tokio::time::timeout_at(deadline, events.next()).await.expect("an alert event").unwrap();
        let event: CallEvent = protocol::version::decode_json(&message.payload).unwrap();
        alerted = event.kind == protocol::calls::CallEventKind::DialerHalted;
    }
    assert!(dialer.stats().halted.load(Ordering::Relaxed));
    assert_eq!(dialer.stats().auth_failures.load(Ordering::Relaxed), 1);
    // The alert shows on /metrics, and readiness turns false.
    let metrics_url = format!("http://{}", dialer.metrics_addr().unwrap());
    let metrics = reqwest::get(format!("{metrics_url}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("dialer_halted 1"), "{metrics}");
    assert!(metrics.contains("dialer_twilio_auth_failures_total 1"), "{metrics}");
    assert_eq!(reqwest::get(format!("{metrics_url}/readyz")).await.unwrap().status().as_u16(), 503);
    assert_eq!(reqwest::get(format!("{metrics_url}/healthz")).await.unwrap().status().as_u16(), 200);
    // No further request goes to Twilio, and nothing is given up: the requests wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = rig.twilio.create_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].error_code, Some(20003));
    for call_id in [&first, &second] {
        let record = rig.record(call_id).await;
        assert!(!record.status.is_final(), "{record:#?}");
        assert!(record.attempts.is_empty(), "a refused create is not an attempt");
    }
    dialer.stop().await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_and_server_errors_back_off_and_retry() {
    let rig = Rig::start(fast_twilio()).await;
    rig.twilio.script("+12025550131", vec![Outcome::Error(20429), Outcome::Error(20429), Outcome::Answer]);
    rig.twilio.script("+12025550132", vec![Outcome::ServerError, Outcome::ServerError, Outcome::Answer]);
    let dialer = rig.start_dialer(&[]).await;
    let limited = rig.submit("+12025550131", "Busy API Gym").await;
    let failing = rig.submit("+12025550132", "Flaky API Gym").await;
    let records = rig.wait_final(&[limited, failing], Duration::from_secs(30)).await;
    for record in &records {
        assert_eq!(record.status, CallStatus::Completed, "{record:#?}");
        assert_eq!(record.attempts.len(), 1, "refused creates are not attempts");
    }
    let requests = rig.twilio.create_requests();
    let statuses = |to: &str| requests.iter().filter(|r| r.to == to).map(|r| r.http_status).collect::<Vec<_>>();
    assert_eq!(statuses("+12025550131"), vec![429, 429, 201]);
    assert_eq!(statuses("+12025550132"), vec![500, 500, 201]);
    assert_eq!(dialer.stats().dial_errors.load(Ordering::Relaxed), 4);
    dialer.stop().await.unwrap();
    rig.stop().await;
}
