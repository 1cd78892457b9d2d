//! The fake against a recording webhook server: callback order, signatures, scripts, errors.

use super::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use protocol::twilio::signature::{validate_request, SignedBody};
use protocol::twilio::webhook::FormParams;

#[derive(Clone, Debug)]
struct Received {
    path: String,
    params: Vec<(String, String)>,
    signed: bool,
}

struct Receiver {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

async fn start_receiver(auth_token: &str) -> Receiver {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let (state, token, url_base) = (received.clone(), auth_token.to_owned(), base.clone());
    let server = HttpServer::new(move || {
        let (state, token, url_base) = (state.clone(), token.clone(), url_base.clone());
        App::new().default_service(web::post().to(move |request: HttpRequest, body: web::Bytes| {
            let (state, token, url_base) = (state.clone(), token.clone(), url_base.clone());
            async move {
                let params = FormParams::parse(&body);
                let url = format!("{url_base}{}", request.uri());
                let header = request.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok());
                let signed = validate_request(&token, &url, SignedBody::Form(params.pairs()), header);
                state.lock().unwrap().push(Received {
                    path: request.path().to_owned(),
                    params: params.pairs().to_vec(),
                    signed,
                });
                HttpResponse::Ok().content_type("text/xml").body("<Response><Pause length=\"1\"/></Response>")
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver { base, received, handle }
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn create(fake: &FakeTwilio, receiver: &Receiver, to: &str, token: &str) -> (u16, serde_json::Value) {
    let mut form: Vec<(&str, String)> = vec![
        ("To", to.to_owned()),
        ("From", "+15005550006".to_owned()),
        ("Url", format!("{}/voice?call_id=c_1", receiver.base)),
        ("StatusCallback", format!("{}/status?call_id=c_1", receiver.base)),
        ("MachineDetection", "Enable".to_owned()),
    ];
    for event in ["initiated", "ringing", "answered", "completed"] {
        form.push(("StatusCallbackEvent", event.to_owned()));
    }
    let response = reqwest::Client::new()
        .post(format!("{}/2010-04-01/Accounts/{}/Calls.json", fake.base_url(), fake.account_sid()))
        .basic_auth(fake.account_sid(), Some(token))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn wait_for_callbacks(receiver: &Receiver, count: usize) -> Vec<Received> {
    for _ in 0..200 {
        let received = receiver.received.lock().unwrap().clone();
        if received.len() >= count {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("callbacks: {:?}", receiver.received.lock().unwrap());
}

#[tokio::test]
async fn answered_call_reports_in_the_documented_order_signed() {
    let fake = FakeTwilio::start(FakeTwilioConfig::default()).await.unwrap();
    let receiver = start_receiver(fake.auth_token()).await;
    let (status, resource) = create(&fake, &receiver, "+14155550100", fake.auth_token()).await;
    assert_eq!(status, 201);
    assert_eq!(resource["status"], "queued");
    assert_eq!(resource["direction"], "outbound-api");
    let received = wait_for_callbacks(&receiver, 5).await;
    assert!(received.iter().all(|r| r.signed), "every request carries a valid X-Twilio-Signature");
    let steps: Vec<(String, Option<String>, Option<String>)> = received
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                get(&r.params, "CallStatus").map(str::to_owned),
                get(&r.params, "SequenceNumber").map(str::to_owned),
            )
        })
        .collect();
    let expected = [
        ("/status", "initiated", Some("0")),
        ("/status", "ringing", Some("1")),
        ("/voice", "in-progress", None),
        ("/status", "in-progress", Some("2")),
        ("/status", "completed", Some("3")),
    ];
    for (got, (path, call_status, sequence)) in steps.iter().zip(expected) {
        assert_eq!(
            (got.0.as_str(), got.1.as_deref(), got.2.as_deref()),
            (path, Some(call_status), sequence),
            "{steps:?}"
        );
    }
    let last = &received[4].params;
    assert!(get(last, "CallDuration").is_some());
    assert_eq!(get(&received[2].params, "AnsweredBy"), Some("human"), "synchronous AMD answers in the voice webhook");
    assert_eq!(fake.created_calls().len(), 1);
    receiver.handle.stop(false).await;
}

#[tokio::test]
async fn scripted_outcomes_and_errors() {
    let fake = FakeTwilio::start(FakeTwilioConfig::default()).await.unwrap();
    let receiver = start_receiver(fake.auth_token()).await;
    fake.script("+14155550101", vec![Outcome::Busy, Outcome::Error(21211)]);
    let (status, _) = create(&fake, &receiver, "+14155550101", fake.auth_token()).await;
    assert_eq!(status, 201);
    let received = wait_for_callbacks(&receiver, 2).await;
    let statuses: Vec<_> =
        received.iter().map(|r| get(&r.params, "CallStatus").unwrap_or_default().to_owned()).collect();
    assert_eq!(statuses, ["initiated", "busy"]);
    let (status, body) = create(&fake, &receiver, "+14155550101", fake.auth_token()).await;
    assert_eq!((status, body["code"].as_u64(), body["status"].as_u64()), (400, Some(21211), Some(400)));
    assert!(body["more_info"].as_str().unwrap().ends_with("/21211"));
    let (status, body) = create(&fake, &receiver, "+14155550102", "wrong").await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(20003)));
    let (status, body) = create(&fake, &receiver, "not-a-number", fake.auth_token()).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21211)));
    assert_eq!(fake.created_calls().len(), 1, "refused requests create no call");
    assert_eq!(fake.create_requests().len(), 4);
    receiver.handle.stop(false).await;
}
