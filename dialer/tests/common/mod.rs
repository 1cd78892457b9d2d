//! Test rig: a real nats-server, the fake Twilio, and a stand-in for the gateway's Twilio
//! webhooks (checks the signature, relays status callbacks to `twilio.status.<callId>` exactly
//! as the gateway does), plus helpers to submit requests and wait for final states.
#![allow(dead_code)]

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bus::Bus;
use protocol::calls::{CallRecord, CallRequest, CallStatus, DialRequest, TwilioStatusEvent};
use protocol::twilio::signature::{validate_request, SignedBody};
use protocol::twilio::webhook::{FormParams, StatusCallback};
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, BUS_VERSION};
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Rig {
    pub nats: testkit::NatsServer,
    pub bus: Bus,
    pub twilio: FakeTwilio,
    pub relay_url: String,
    pub bad_signatures: Arc<AtomicUsize>,
    relay: actix_web::dev::ServerHandle,
}

struct RelayState {
    bus: Bus,
    auth_token: String,
    base_url: String,
    bad_signatures: Arc<AtomicUsize>,
}

async fn relay_callback(state: web::Data<RelayState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let url = format!("{}{}", state.base_url, request.uri());
    let params = FormParams::parse(&body);
    let header = request.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok());
    if !validate_request(&state.auth_token, &url, SignedBody::Form(params.pairs()), header) {
        state.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::Forbidden().finish();
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(request.query_string().as_bytes()).into_owned().collect();
    let Some(call_id) = query.get("call_id") else { return HttpResponse::BadRequest().finish() };
    if request.path().ends_with("/voice") {
        return HttpResponse::Ok()
            .content_type("text/xml")
            .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Pause length=\"1\"/></Response>");
    }
    let Ok(callback) = StatusCallback::from_params(&params) else { return HttpResponse::BadRequest().finish() };
    let call_id = CallId::from(call_id.as_str());
    let event = TwilioStatusEvent {
        v: BUS_VERSION,
        call_id: call_id.clone(),
        call_sid: callback.call_sid,
        call_status: callback.call_status,
        answered_by: callback.answered_by,
        sequence_number: callback.sequence_number,
        call_duration_s: callback.call_duration_s,
        sip_response_code: callback.sip_response_code,
    };
    let Ok(subject) = protocol::subjects::twilio_status(&call_id) else { return HttpResponse::BadRequest().finish() };
    match state.bus.publish(subject, encode_json(&event)).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

impl Rig {
    pub async fn start(twilio_config: FakeTwilioConfig) -> Rig {
        let nats = testkit::NatsServer::start().await.expect("nats-server");
        let bus = Bus::connect(&nats.url(), "dialer-test").await.expect("connect");
        let twilio = FakeTwilio::start(twilio_config).await.expect("fake twilio");
        let bad_signatures = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let relay_url = format!("http://127.0.0.1:{port}");
        let state = web::Data::new(RelayState {
            bus: bus.clone(),
            auth_token: twilio.auth_token().to_owned(),
            base_url: relay_url.clone(),
            bad_signatures: bad_signatures.clone(),
        });
        let server =
            HttpServer::new(move || App::new().app_data(state.clone()).default_service(web::post().to(relay_callback)))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
        let relay = server.handle();
        tokio::spawn(server);
        Rig { nats, bus, twilio, relay_url, bad_signatures, relay }
    }

    /// Dialer settings pointing at the fake Twilio and the relay, with fast retries.
    pub fn env(&self) -> HashMap<String, String> {
        [
            ("NATS_URL", self.nats.url()),
            ("TWILIO_ACCOUNT_SID", self.twilio.account_sid().to_owned()),
            ("TWILIO_AUTH_TOKEN", self.twilio.auth_token().to_owned()),
            ("TWILIO_FROM_NUMBER", "+15005550006".to_owned()),
            ("TWILIO_API_BASE", self.twilio.base_url()),
            ("PUBLIC_BASE_URL", self.relay_url.clone()),
            ("CALLING_WINDOW", "00:00-24:00".to_owned()),
            ("MAX_CONCURRENT_CALLS", "5".to_owned()),
            ("MAX_ATTEMPTS", "3".to_owned()),
            ("RETRY_BUSY_S", "1".to_owned()),
            ("RETRY_NO_ANSWER_S", "1".to_owned()),
            ("RETRY_FAILED_S", "1".to_owned()),
            ("RETRY_MACHINE_S", "1".to_owned()),
            ("RETRY_JITTER", "0.3".to_owned()),
            ("RETRY_BACKOFF_MS", "200".to_owned()),
            ("DIAL_ACK_WAIT_S", "3".to_owned()),
            ("SHUTDOWN_GRACE_S", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn config(&self, overrides: &[(&str, &str)]) -> dialer::Config {
        let mut env = self.env();
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        dialer::Config::from_env(&env).expect("config")
    }

    pub async fn start_dialer(&self, overrides: &[(&str, &str)]) -> dialer::RunningDialer {
        let bus = Bus::connect(&self.nats.url(), "dialer").await.expect("connect");
        dialer::start(self.config(overrides), bus).await.expect("start dialer")
    }

    /// Stores a call record and queues its dial request, as the gateway's `POST /v1/calls` does.
    pub async fn submit(&self, phone_number: &str, gym_name: &str) -> CallId {
        self.submit_with(phone_number, gym_name, |_| {}).await
    }

    /// [`Self::submit`] with a chance to change the request first.
    pub async fn submit_with(
        &self,
        phone_number: &str,
        gym_name: &str,
        adjust: impl FnOnce(&mut CallRequest),
    ) -> CallId {
        let call_id = CallId::generate();
        let now = chrono::Utc::now().to_rfc3339();
        let record = CallRecord {
            v: BUS_VERSION,
            call_id: call_id.clone(),
            request: CallRequest {
                phone_number: phone_number.to_owned(),
                gym_name: gym_name.to_owned(),
                country: None,
                timezone: Some("America/New_York".to_owned()),
                preferred_language: None,
                playbook: "gym-dropin".to_owned(),
                not_before: None,
                calling_window: None,
                result_webhook: None,
            },
            status: CallStatus::Queued,
            attempts: Vec::new(),
            call_sid: None,
            result: None,
            next_attempt_at: None,
            last_error: None,
            idempotency_key: None,
            webhook: None,
            created_at: now.clone(),
            updated_at: now,
        };
        let mut record = record;
        adjust(&mut record.request);
        let kv = self.bus.kv(protocol::subjects::KV_CALLS).await.expect("kv");
        kv.create(call_id.as_str(), encode_json(&record).into()).await.expect("create record");
        let queue = self
            .bus
            .work_queue(protocol::subjects::DIAL_STREAM, protocol::subjects::DIAL_REQUESTS, dialer::DIAL_CONSUMER)
            .await
            .expect("queue");
        queue.enqueue(encode_json(&DialRequest { v: BUS_VERSION, call_id: call_id.clone() })).await.expect("enqueue");
        call_id
    }

    pub async fn record(&self, call_id: &CallId) -> CallRecord {
        let kv = self.bus.kv(protocol::subjects::KV_CALLS).await.expect("kv");
        let entry = kv.get(call_id.as_str()).await.expect("get").expect("record exists");
        decode_json(&entry.value).expect("record decodes")
    }

    /// Waits (up to `limit`) until every call is final; returns the records.
    pub async fn wait_final(&self, call_ids: &[CallId], limit: Duration) -> Vec<CallRecord> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let mut records = Vec::new();
            for call_id in call_ids {
                records.push(self.record(call_id).await);
            }
            if records.iter().all(|r| r.status.is_final()) {
                return records;
            }
            if tokio::time::Instant::now() > deadline {
                let pending: Vec<_> = records
                    .iter()
                    .filter(|r| !r.status.is_final())
                    .map(|r| (&r.call_id, r.status, &r.attempts, &r.last_error))
                    .collect();
                panic!("calls not final after {limit:?}: {pending:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `condition` holds, up to `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !condition() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The call id the fake saw in a created call's voice URL.
    pub fn call_id_of(url: &str) -> String {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "call_id").map(|(_, v)| v.into_owned()))
            .unwrap_or_default()
    }

    pub async fn stop(self) {
        self.relay.stop(false).await;
    }
}

pub fn fast_twilio() -> FakeTwilioConfig {
    FakeTwilioConfig {
        step_delay: Duration::from_millis(20),
        answered_call_duration: Duration::from_millis(100),
        ..FakeTwilioConfig::default()
    }
}
