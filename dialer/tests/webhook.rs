//! The result webhook against a real nats-server, the fake Twilio and a receiver in the test (a
//! small HTTP server that checks `X-Gymcall-Signature` with its own HMAC-SHA256, as a user's
//! endpoint would): delivered and verified after a 500; a receiver that always fails is given up
//! after the limit while the call itself completed; a receiver holding another secret detects the
//! mismatch.

mod common;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::{fast_twilio, Rig};
use hmac::{Hmac, Mac};
use protocol::calls::{CallRecord, CallStatus};
use protocol::version::{decode_json, encode_json};
use protocol::webhook::WebhookState;
use protocol::CallId;
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

const SECRET: &str = "whsec-test-0123456789abcdef";

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Received {
    body: Value,
    /// The signature checked out with the receiver's secret and a fresh timestamp.
    verified: bool,
    answered: u16,
}

struct ReceiverState {
    secret: String,
    /// Statuses to answer, in order; 200 once empty (or when the signature is bad: 401).
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

/// What a user's endpoint does: `t=<unix>,v1=<hex>`, HMAC-SHA256 of `<t>.<body>`, compared in
/// constant time, the timestamp within 5 minutes of now.
fn verify(secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else { return false };
    let mut timestamp_opt = None;
    let mut signature_opt = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp_opt = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature_opt = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp_opt, signature_opt) else { return false };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let Ok(expected) = (0..signature.len() / 2)
        .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn receive(state: web::Data<ReceiverState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = request.headers().get("X-Gymcall-Signature").and_then(|v| v.to_str().ok());
    let verified = verify(&state.secret, header, &body);
    let answered = if verified { state.script.lock().unwrap().pop_front().unwrap_or(200) } else { 401 };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(Received { body, verified, answered });
    let status = actix_web::http::StatusCode::from_u16(answered).unwrap();
    let reason = if verified { "scripted answer" } else { "bad signature" };
    HttpResponse::build(status).body(reason)
}

struct Receiver {
    url: String,
    state: web::Data<ReceiverState>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    fn start(secret: &str, script: &[u16]) -> Receiver {
        Receiver::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), secret, script)
    }

    fn start_on(listener: std::net::TcpListener, secret: &str, script: &[u16]) -> Receiver {
        let state = web::Data::new(ReceiverState {
            secret: secret.to_owned(),
            script: Mutex::new(script.iter().copied().collect()),
            received: Mutex::new(Vec::new()),
        });
        let url = format!("http://127.0.0.1:{}/hooks/gymcall", listener.local_addr().unwrap().port());
        let app_state = state.clone();
        let server =
            HttpServer::new(move || App::new().app_data(app_state.clone()).default_service(web::post().to(receive)))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { url, state, handle }
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn wait_webhook(rig: &Rig, call_id: &CallId, state: WebhookState, limit: Duration) -> CallRecord {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let record = rig.record(call_id).await;
        if record.webhook.as_ref().is_some_and(|w| w.state == state) {
            return record;
        }
        assert!(tokio::time::Instant::now() < deadline, "webhook not {state:?} after {limit:?}: {:#?}", record.webhook);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the brain does at the end of a call: its result onto the record (revision-checked).
async fn store_result(rig: &Rig, call_id: &CallId) {
    let kv = rig.bus.kv(protocol::subjects::KV_CALLS).await.unwrap();
    for _ in 0..20 {
        let entry = kv.get(call_id.as_str()).await.unwrap().unwrap();
        let mut record: CallRecord = decode_json(&entry.value).unwrap();
        record.result = Some(
            serde_json::from_value(serde_json::json!({
                "v": 1, "call_id": call_id, "playbook": "gym-dropin", "outcome": "completed",
                "fields": { "drop_in_price": { "status": "known", "value": 25, "confidence": 0.9 } },
                "transcript": [
                    { "speaker": "agent", "text": "How much is a drop-in?", "at_ms": 900 },
                    { "speaker": "callee", "text": "Twenty five dollars.", "at_ms": 3100 }
                ],
                "started_at": "2026-12-04T10:00:00Z", "ended_at": "2026-12-04T10:01:00Z"
            }))
            .unwrap(),
        );
        if kv.update(call_id.as_str(), encode_json(&record).into(), entry.revision).await.is_ok() {
            return;
        }
    }
    panic!("could not store the result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_is_delivered_signed_after_a_500_and_waits_for_the_brains_result() {
    let rig = Rig::start(fast_twilio()).await;
    let receiver = Receiver::start(SECRET, &[500]);
    let dialer = rig
        .start_dialer(&[
            ("RESULT_WEBHOOK_URL", receiver.url.as_str()),
            ("RESULT_WEBHOOK_SECRET", SECRET),
            ("RESULT_WEBHOOK_RETRY_MS", "100"),
            ("RESULT_WEBHOOK_RESULT_WAIT_S", "15"),
        ])
        .await;
    let call_id = rig.submit("+12065550140", "Webhook Gym").await;
    let record = rig.wait_final(std::slice::from_ref(&call_id), Duration::from_secs(20)).await.remove(0);
    assert_eq!(record.status, CallStatus::Completed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.received().is_empty(), "nothing is sent while the result is still to come");
    store_result(&rig, &call_id).await;

    let record = wait_webhook(&rig, &call_id, WebhookState::Delivered, Duration::from_secs(15)).await;
    let received = receiver.received();
    assert_eq!(received.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 200], "a 500, then the retry");
    assert!(received.iter().all(|r| r.verified), "both POSTs carry a valid signature");
    let body = &received[1].body;
    assert_eq!(body["event"], "call.ended");
    assert_eq!(body["call_id"], call_id.as_str());
    assert_eq!(body["status"], "completed");
    assert_eq!(body["result"]["fields"]["drop_in_price"]["value"], 25);
    assert_eq!(body["transcript"][1]["text"], "Twenty five dollars.");
    assert_eq!(body["recording_url"], format!("{}/v1/calls/{call_id}/recording", rig.relay_url));
    let webhook = record.webhook.expect("delivery state on the record");
    assert_eq!((webhook.attempts, webhook.url.as_str()), (2, receiver.url.as_str()));
    assert!(webhook.last_error.as_deref().unwrap_or("").contains("500"), "{webhook:?}");
    assert!(webhook.delivered_at.is_some());
    dialer.stop().await.unwrap();
    receiver.handle.stop(false).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_is_given_up_after_the_limit_and_the_call_still_completes() {
    let rig = Rig::start(fast_twilio()).await;
    let receiver = Receiver::start(SECRET, &[503; 10]);
    let dialer = rig
        .start_dialer(&[
            ("RESULT_WEBHOOK_SECRET", SECRET),
            ("RESULT_WEBHOOK_MAX_ATTEMPTS", "3"),
            ("RESULT_WEBHOOK_RETRY_MS", "50"),
            ("RESULT_WEBHOOK_RESULT_WAIT_S", "0"),
        ])
        .await;
    // this call names its own webhook (there is no RESULT_WEBHOOK_URL)
    let url = receiver.url.clone();
    let call_id = rig.submit_with("+12065550141", "Down Gym", |request| request.result_webhook = Some(url)).await;
    let record = wait_webhook(&rig, &call_id, WebhookState::Failed, Duration::from_secs(20)).await;
    assert_eq!(record.status, CallStatus::Completed, "the call itself ended normally");
    assert_eq!(record.attempts.len(), 1);
    let webhook = record.webhook.unwrap();
    assert_eq!(webhook.attempts, 3);
    let error = webhook.last_error.unwrap();
    assert!(error.contains("gave up after 3 attempts") && error.contains("503"), "{error}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3, "exactly the limit, then nothing more");
    assert!(received.iter().all(|r| r.verified && r.answered == 503));
    let stats = dialer.stats();
    assert_eq!(stats.webhook_attempts.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(stats.webhooks_failed.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.webhooks_delivered.load(std::sync::atomic::Ordering::Relaxed), 0);
    // a call with no webhook anywhere gets no delivery state
    let quiet = rig.submit("+12065550142", "Quiet Gym").await;
    let quiet = rig.wait_final(&[quiet], Duration::from_secs(20)).await.remove(0);
    assert!(quiet.webhook.is_none());
    dialer.stop().await.unwrap();
    receiver.handle.stop(false).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_with_another_secret_detects_the_mismatch() {
    let rig = Rig::start(fast_twilio()).await;
    let receiver = Receiver::start("whsec-not-the-dialers-secret", &[]);
    let dialer = rig
        .start_dialer(&[
            ("RESULT_WEBHOOK_URL", receiver.url.as_str()),
            ("RESULT_WEBHOOK_SECRET", SECRET),
            ("RESULT_WEBHOOK_RESULT_WAIT_S", "0"),
        ])
        .await;
    let call_id = rig.submit("+12065550143", "Mismatch Gym").await;
    let record = wait_webhook(&rig, &call_id, WebhookState::Failed, Duration::from_secs(20)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1, "a 401 is not retried");
    assert!(!received[0].verified, "the receiver's check refuses the signature");
    assert_eq!(received[0].body["call_id"], call_id.as_str(), "the body itself arrived intact");
    let webhook = record.webhook.unwrap();
    assert_eq!(webhook.attempts, 1);
    assert!(webhook.last_error.as_deref().unwrap_or("").contains("401"), "{webhook:?}");
    assert_eq!(record.status, CallStatus::Completed);
    // the same check accepts the dialer's own signature: the mismatch is the secret
    let body = br#"{"call_id":"c_1"}"#;
    let now = chrono::Utc::now().timestamp();
    let header = protocol::webhook::signature_header(SECRET.as_bytes(), now, body);
    assert!(verify(SECRET, Some(&header), body));
    assert!(!verify("whsec-not-the-dialers-secret", Some(&header), body));
    dialer.stop().await.unwrap();
    receiver.handle.stop(false).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_is_retried_and_the_delivery_survives_a_dialer_restart() {
    let rig = Rig::start(fast_twilio()).await;
    // a port with nothing listening: connection refused
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hooks/gymcall");
    let settings = [
        ("RESULT_WEBHOOK_SECRET", SECRET),
        ("RESULT_WEBHOOK_MAX_ATTEMPTS", "5"),
        ("RESULT_WEBHOOK_RETRY_MS", "2000"),
        ("RESULT_WEBHOOK_RESULT_WAIT_S", "0"),
    ];
    let first_dialer = rig.start_dialer(&settings).await;
    let hook = url.clone();
    let call_id = rig.submit_with("+12065550144", "Restart Gym", |request| request.result_webhook = Some(hook)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let webhook = loop {
        let record = rig.record(&call_id).await;
        if let Some(webhook) = record.webhook.filter(|w| w.attempts >= 1) {
            break webhook;
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(webhook.state, WebhookState::Pending, "a refused connection is retried");
    assert!(webhook.last_error.as_deref().unwrap_or("").contains("cannot connect"), "{webhook:?}");
    assert!(webhook.next_attempt_at.is_some());
    first_dialer.stop().await.unwrap();

    // the receiver comes up on that port, and another dialer (a restart) takes over the delivery
    let receiver = Receiver::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), SECRET, &[]);
    let second_dialer = rig.start_dialer(&settings).await;
    let record = wait_webhook(&rig, &call_id, WebhookState::Delivered, Duration::from_secs(40)).await;
    assert_eq!(record.webhook.unwrap().attempts, 2, "the attempt count survived the restart");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].verified);
    second_dialer.stop().await.unwrap();
    receiver.handle.stop(false).await;
    rig.stop().await;
}
