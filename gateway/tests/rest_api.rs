//! The REST API against a real nats-server: auth, field-naming validation, Idempotency-Key,
//! records in KV `calls` plus a message on the `DIAL` work queue, get / list / cancel, OpenAPI.

use bus::Bus;
use protocol::calls::{CallRecord, CallStatus, DialControl, DialRequest};
use protocol::version::decode_json;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "test-api-token";

struct Api {
    _nats: testkit::NatsServer,
    bus: Bus,
    gateway: Option<gateway::RunningGateway>,
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        let nats = testkit::NatsServer::start().await.expect("nats-server");
        let bus = Bus::connect(&nats.url(), "rest-test").await.expect("connect");
        let mut config = gateway::Config::for_tests("https://calls.example.com", "twilio-token", &nats.url());
        config.api_token = Some(TOKEN.to_owned());
        let gateway = gateway::start(config, bus.clone()).await.expect("gateway starts");
        let base = format!("http://{}", gateway.local_addr());
        Api { _nats: nats, bus, gateway: Some(gateway), base, http: reqwest::Client::new() }
    }

    async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).bearer_auth(TOKEN).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn record(&self, call_id: &str) -> CallRecord {
        let kv = self.bus.kv("calls").await.unwrap();
        decode_json(&kv.get(call_id).await.unwrap().expect("record stored").value).unwrap()
    }

    async fn stop(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
    }
}

fn valid() -> Value {
    json!({ "phone_number": "+14155550123", "gym_name": "Ten Point Jiu-Jitsu", "timezone": "America/Los_Angeles" })
}

fn with(field: &str, value: Value) -> Value {
    let mut body = valid();
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = valid();
    body.as_object_mut().unwrap().remove(field);
    body
}

#[actix_rt::test]
async fn rest_requires_the_bearer_token() {
    let api = Api::start().await;
    let url = format!("{}/v1/calls", api.base);
    let no_token = api.http.post(&url).json(&valid()).send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);
    assert_eq!(no_token.headers().get("WWW-Authenticate").unwrap(), "Bearer");
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = api.http.post(&url).bearer_auth("nope").json(&valid()).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    for path in ["/v1/calls", "/v1/calls/c_123"] {
        let response = api.http.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    let cancel = api.http.post(format!("{}/v1/calls/c_123/cancel", api.base)).send().await.unwrap();
    assert_eq!(cancel.status().as_u16(), 401);
    // Nothing was stored by the refused requests.
    assert!(api.bus.kv("calls").await.unwrap().keys().await.unwrap().is_empty());
    api.stop().await;
}

#[actix_rt::test]
async fn rest_validation_names_each_bad_field() {
    let api = Api::start().await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (without("phone_number"), 422, "phone_number", "missing_field"),
        (with("phone_number", json!("415-555-0123")), 422, "phone_number", "invalid_phone_number"),
        (with("phone_number", json!("+0123456789")), 422, "phone_number", "invalid_phone_number"),
        (with("phone_number", json!(14155550123u64)), 400, "phone_number", "invalid_type"),
        (without("gym_name"), 422, "gym_name", "missing_field"),
        (with("gym_name", json!("   ")), 422, "gym_name", "missing_field"),
        (with("timezone", json!("America/Gotham")), 422, "timezone", "invalid_timezone"),
        (with("timezone", json!("EST5EDT-ish")), 422, "timezone", "invalid_timezone"),
        (with("playbook", json!("cold-sales")), 422, "playbook", "unknown_playbook"),
        (with("country", json!("United States")), 422, "country", "invalid_country"),
        (with("preferred_language", json!("english please")), 422, "preferred_language", "invalid_language"),
        (with("not_before", json!("next tuesday")), 422, "not_before", "invalid_time"),
        (with("calling_window", json!("whenever")), 422, "calling_window", "invalid_calling_window"),
        (with("favourite_color", json!("blue")), 422, "favourite_color", "unknown_field"),
    ];
    for (body, status, field, code) in cases {
        let (got_status, got) = api.post("/v1/calls", &body, None).await;
        assert_eq!(got_status, status, "{field}: {got}");
        assert_eq!(got["error"]["field"], field, "{got}");
        assert_eq!(got["error"]["code"], code, "{got}");
        assert!(got["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Malformed JSON: 400, no field.
    let response = api
        .http
        .post(format!("{}/v1/calls", api.base))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    // A bad Idempotency-Key is named too.
    let (status, body) = api.post("/v1/calls", &valid(), Some("has spaces and /slashes")).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("Idempotency-Key")));
    // Query parameters of the list.
    let (status, body) = api.get("/v1/calls?status=sleeping").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("status")));
    let (status, body) = api.get("/v1/calls?limit=0").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("limit")));
    // None of it was stored.
    assert!(api.bus.kv("calls").await.unwrap().keys().await.unwrap().is_empty());
    api.stop().await;
}

#[actix_rt::test]
async fn rest_create_stores_the_record_and_queues_a_dial_request() {
    let api = Api::start().await;
    let mut queue = api.bus.work_queue("DIAL", "dial.requests", "dialer").await.unwrap();
    let (status, body) = api.post("/v1/calls", &with("playbook", json!("gym-dropin")), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let call_id = body["call_id"].as_str().unwrap().to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().unwrap()).is_ok());
    let record = api.record(&call_id).await;
    assert_eq!(record.status, CallStatus::Queued);
    assert_eq!(record.request.phone_number, "+14155550123");
    assert_eq!(record.request.timezone.as_deref(), Some("America/Los_Angeles"));
    let job = tokio::time::timeout(Duration::from_secs(5), queue.next()).await.expect("a dial request").unwrap();
    let request: DialRequest = decode_json(&job.payload).unwrap();
    assert_eq!(request.call_id.as_str(), call_id);
    job.ack().await.unwrap();

    let (status, call) = api.get(&format!("/v1/calls/{call_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(call["call_id"], call_id.as_str());
    assert_eq!(call["status"], "queued");
    assert_eq!(call["attempt_count"], 0);
    assert!(call["call_sid"].is_null());
    assert!(call.get("transcript").is_some() && call.get("result").is_some());
    let (status, _) = api.get("/v1/calls/c_doesnotexist").await;
    assert_eq!(status, 404);
    api.stop().await;
}

#[actix_rt::test]
async fn rest_same_idempotency_key_returns_the_same_call() {
    let api = Api::start().await;
    let (first_status, first) = api.post("/v1/calls", &valid(), Some("gym-42-2026-05")).await;
    let (second_status, second) = api.post("/v1/calls", &valid(), Some("gym-42-2026-05")).await;
    assert_eq!((first_status, second_status), (202, 202));
    assert_eq!(first["call_id"], second["call_id"]);
    assert_eq!(first["created_at"], second["created_at"]);
    // One record and one dial request only.
    assert_eq!(api.bus.kv("calls").await.unwrap().keys().await.unwrap().len(), 1);
    let mut queue = api.bus.work_queue("DIAL", "dial.requests", "dialer").await.unwrap();
    let job = queue.next().await.unwrap();
    job.ack().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), queue.next()).await.is_err(),
        "a second dial request was queued"
    );
    // A different key is a different call; the same key with another body is refused.
    let (_, third) = api.post("/v1/calls", &valid(), Some("another-key")).await;
    assert_ne!(third["call_id"], first["call_id"]);
    let (status, reused) = api.post("/v1/calls", &with("gym_name", json!("Other Gym")), Some("gym-42-2026-05")).await;
    assert_eq!((status, reused["error"]["field"].as_str()), (422, Some("Idempotency-Key")));
    api.stop().await;
}

#[actix_rt::test]
async fn rest_list_filters_by_status_and_cancel_drops_a_queued_call() {
    let api = Api::start().await;
    let mut control = api.bus.subscribe("dial.control.>").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, body) = api.post("/v1/calls", &with("gym_name", json!(format!("Gym {i}"))), None).await;
        ids.push(body["call_id"].as_str().unwrap().to_owned());
    }
    let (status, cancel) = api.post(&format!("/v1/calls/{}/cancel", ids[0]), &json!({}), None).await;
    assert_eq!(status, 202, "{cancel}");
    assert_eq!(cancel["status"], "canceled");
    assert_eq!(api.record(&ids[0]).await.status, CallStatus::Canceled);
    let message = tokio::time::timeout(Duration::from_secs(5), control.next()).await.unwrap().unwrap();
    let control: DialControl = decode_json(&message.payload).unwrap();
    assert_eq!(control.call_id.as_str(), ids[0]);
    let (status, again) = api.post(&format!("/v1/calls/{}/cancel", ids[0]), &json!({}), None).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("already_final")));

    let (status, listed) = api.get("/v1/calls?status=queued").await;
    assert_eq!(status, 200);
    let queued: Vec<&str> =
        listed["calls"].as_array().unwrap().iter().map(|c| c["call_id"].as_str().unwrap()).collect();
    assert_eq!(queued.len(), 2);
    assert!(!queued.contains(&ids[0].as_str()));
    let (_, canceled) = api.get("/v1/calls?status=canceled").await;
    assert_eq!(canceled["count"], 1);
    let (_, limited) = api.get("/v1/calls?limit=2").await;
    assert_eq!(limited["calls"].as_array().unwrap().len(), 2);
    api.stop().await;
}

#[actix_rt::test]
async fn rest_openapi_document_lists_the_routes() {
    let api = Api::start().await;
    let response = api.http.get(format!("{}/v1/openapi.json", api.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "served without a token");
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    assert!(paths["/v1/calls"].get("post").is_some() && paths["/v1/calls"].get("get").is_some());
    assert!(paths["/v1/calls/{call_id}"].get("get").is_some());
    assert!(paths["/v1/calls/{call_id}/cancel"].get("post").is_some());
    assert!(paths["/v1/calls/{call_id}/recording"].get("get").is_some());
    assert!(paths["/v1/calls/{call_id}/transcript"].get("get").is_some());
    // The request schema lists exactly the fields the handler accepts.
    let mut schema_fields: Vec<&str> = document["components"]["schemas"]["CallRequest"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    schema_fields.sort();
    let mut accepted = gateway::rest::validate::CALL_FIELDS.to_vec();
    accepted.sort();
    assert_eq!(schema_fields, accepted);
    // Other methods: 405 with the allowed ones.
    let response = api.http.delete(format!("{}/v1/calls", api.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers().get("Allow").unwrap(), "GET, POST");
    api.stop().await;
}
