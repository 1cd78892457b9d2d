//! End to end over a real nats-server: calls queued through the REST API, placed by the dialer
//! against the fake Twilio, whose signed status callbacks come back through the gateway's
//! `/v1/twilio/status` route. A campaign of 20 gyms with mixed outcomes, and the cancel of a
//! live call (hung up through Twilio).

use bus::Bus;
use serde_json::{json, Value};
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig, Outcome};
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "campaign-api-token";

struct Stack {
    _nats: testkit::NatsServer,
    twilio: FakeTwilio,
    gateway: Option<gateway::RunningGateway>,
    dialer: Option<dialer::RunningDialer>,
    base: String,
    http: reqwest::Client,
}

impl Stack {
    async fn start(answered_call: Duration) -> Stack {
        let nats = testkit::NatsServer::start().await.expect("nats-server");
        let twilio = FakeTwilio::start(FakeTwilioConfig {
            auth_token: "stack-twilio-token".into(),
            step_delay: Duration::from_millis(20),
            answered_call_duration: answered_call,
            ..FakeTwilioConfig::default()
        })
        .await
        .expect("fake twilio");
        let port = testkit::free_port().expect("free port");
        let base = format!("http://127.0.0.1:{port}");
        let mut config = gateway::Config::for_tests(&base, twilio.auth_token(), &nats.url());
        config.listen_addr = format!("127.0.0.1:{port}");
        config.api_token = Some(TOKEN.to_owned());
        let gateway_bus = Bus::connect(&nats.url(), "gateway").await.expect("connect");
        let gateway = gateway::start(config, gateway_bus).await.expect("gateway starts");
        let env: HashMap<String, String> = [
            ("TWILIO_ACCOUNT_SID", twilio.account_sid().to_owned()),
            ("TWILIO_AUTH_TOKEN", twilio.auth_token().to_owned()),
            ("TWILIO_FROM_NUMBER", "+15005550006".to_owned()),
            ("TWILIO_API_BASE", twilio.base_url()),
            ("PUBLIC_BASE_URL", base.clone()),
            ("CALLING_WINDOW", "00:00-24:00".to_owned()),
            ("MAX_CONCURRENT_CALLS", "6".to_owned()),
            ("MAX_ATTEMPTS", "3".to_owned()),
            ("RETRY_BUSY_S", "1".to_owned()),
            ("RETRY_NO_ANSWER_S", "1".to_owned()),
            ("RETRY_FAILED_S", "1".to_owned()),
            ("RETRY_MACHINE_S", "1".to_owned()),
            ("RETRY_BACKOFF_MS", "200".to_owned()),
            ("SHUTDOWN_GRACE_S", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let dialer_bus = Bus::connect(&nats.url(), "dialer").await.expect("connect");
        let dialer =
            dialer::start(dialer::Config::from_env(&env).expect("dialer config"), dialer_bus).await.expect("dialer");
        Stack { _nats: nats, twilio, gateway: Some(gateway), dialer: Some(dialer), base, http: reqwest::Client::new() }
    }

    async fn queue(&self, phone_number: &str, gym_name: &str) -> String {
        let response = self
            .http
            .post(format!("{}/v1/calls", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({ "phone_number": phone_number, "gym_name": gym_name, "timezone": "America/Denver" }))
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), 202);
        let body: Value = response.json().await.expect("json");
        body["call_id"].as_str().expect("call_id").to_owned()
    }

    async fn call(&self, call_id: &str) -> Value {
        let response =
            self.http.get(format!("{}/v1/calls/{call_id}", self.base)).bearer_auth(TOKEN).send().await.expect("get");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("json")
    }

    async fn wait_status(&self, call_id: &str, limit: Duration, done: impl Fn(&str) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let call = self.call(call_id).await;
            if done(call["status"].as_str().unwrap_or_default()) {
                return call;
            }
            assert!(tokio::time::Instant::now() < deadline, "call {call_id} stuck: {call:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(dialer) = self.dialer.take() {
            dialer.stop().await.expect("dialer stops");
        }
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "canceled")
}

#[actix_rt::test]
async fn rest_campaign_of_20_gyms_through_gateway_dialer_and_fake_twilio() {
    let stack = Stack::start(Duration::from_millis(100)).await;
    // (script, final status, attempt outcomes)
    let mut plan: Vec<(Vec<Outcome>, &str, Vec<&str>)> = Vec::new();
    for _ in 0..9 {
        plan.push((vec![Outcome::Answer], "completed", vec!["completed"]));
    }
    for _ in 0..3 {
        plan.push((vec![Outcome::Busy, Outcome::Answer], "completed", vec!["busy", "completed"]));
    }
    for _ in 0..2 {
        plan.push((
            vec![Outcome::NoAnswer, Outcome::Failed, Outcome::Answer],
            "completed",
            vec!["no-answer", "failed", "completed"],
        ));
    }
    for _ in 0..2 {
        plan.push((vec![Outcome::NoAnswer], "failed", vec!["no-answer", "no-answer", "no-answer"]));
    }
    plan.push((vec![Outcome::Machine, Outcome::Answer], "completed", vec!["machine", "completed"]));
    plan.push((vec![Outcome::Machine], "failed", vec!["machine", "machine", "machine"]));
    plan.push((vec![Outcome::Error(21211)], "failed", vec!["error:21211"]));
    plan.push((vec![Outcome::Error(20429), Outcome::Answer], "completed", vec!["completed"]));
    assert_eq!(plan.len(), 20);

    let mut call_ids = Vec::new();
    for (i, (script, _, _)) in plan.iter().enumerate() {
        let number = format!("+1303555{:04}", 2000 + i);
        stack.twilio.script(&number, script.clone());
        call_ids.push(stack.queue(&number, &format!("Gym {i}")).await);
    }
    let mut calls = Vec::new();
    for call_id in &call_ids {
        calls.push(stack.wait_status(call_id, Duration::from_secs(60), is_final).await);
    }
    let created = stack.twilio.created_calls();
    for ((_, status, outcomes), call) in plan.iter().zip(&calls) {
        assert_eq!(call["status"], *status, "{call:#}");
        let got: Vec<&str> =
            call["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap_or("none")).collect();
        assert_eq!(&got, outcomes, "{call:#}");
        let call_id = call["call_id"].as_str().unwrap();
        let placed = created.iter().filter(|c| c.url.ends_with(&format!("call_id={call_id}"))).count();
        let with_sid = call["attempts"].as_array().unwrap().iter().filter(|a| a["call_sid"].is_string()).count();
        assert_eq!(placed, with_sid, "{call_id}: each attempt placed exactly once");
        if with_sid > 0 {
            assert!(call["call_sid"].is_string(), "the CallSid is shown");
        }
    }
    let total: usize = plan.iter().map(|(_, _, o)| o.iter().filter(|x| !x.starts_with("error")).count()).sum();
    assert_eq!(created.len(), total, "no call placed twice");
    assert_eq!(stack.twilio.callback_failures(), 0, "the gateway accepted every signed callback");
    stack.stop().await;
}

#[actix_rt::test]
async fn rest_cancel_hangs_up_a_live_call() {
    let stack = Stack::start(Duration::from_secs(30)).await;
    let call_id = stack.queue("+13035550999", "Long Talk Gym").await;
    stack.wait_status(&call_id, Duration::from_secs(20), |s| s == "in_progress").await;
    let response =
        stack.http.post(format!("{}/v1/calls/{call_id}/cancel", stack.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let call = stack.wait_status(&call_id, Duration::from_secs(20), is_final).await;
    assert_eq!(call["status"], "canceled", "{call:#}");
    let sid = call["call_sid"].as_str().unwrap().to_owned();
    assert_eq!(stack.twilio.hangups(), vec![sid.clone()], "hung up through Twilio");
    assert_eq!(stack.twilio.call_status(&sid).as_deref(), Some("completed"));
    assert_eq!(stack.twilio.created_calls().len(), 1);
    stack.stop().await;
}
