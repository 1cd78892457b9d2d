//! The web console over HTTP against a real nats-server: login and its cookie, CSRF and Origin
//! checks on form posts, the REST API's bearer token still working (and the console cookie
//! opening GETs only), a call placed through the form landing in KV `calls` like a REST call,
//! campaign uploads checked row by row and bounded in size, and the live event streams: fed from
//! the bus, limited in number, closed when the gateway stops. (The browser test in
//! `tests/browser/` drives the same pages in Chromium against a whole stack.)

use bus::Bus;
use protocol::calls::{CallEvent, CallEventKind, CallRecord};
use protocol::version::{decode_json, encode_json};
use protocol::CallId;
use std::time::Duration;

const TOKEN: &str = "console-api-token-0123";

struct Console {
    _nats: testkit::NatsServer,
    bus: Bus,
    gateway: Option<gateway::RunningGateway>,
    base: String,
    http: reqwest::Client,
}

impl Console {
    async fn start() -> Console {
        let nats = testkit::NatsServer::start().await.expect("nats-server");
        let bus = Bus::connect(&nats.url(), "console-test").await.expect("connect");
        let mut config = gateway::Config::for_tests("https://calls.example.com", "twilio-token", &nats.url());
        config.api_token = Some(TOKEN.to_owned());
        let gateway = gateway::start(config, bus.clone()).await.expect("gateway starts");
        let base = format!("http://{}", gateway.local_addr());
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Console { _nats: nats, bus, gateway: Some(gateway), base, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in; returns the `Cookie` header value.
    async fn login(&self) -> String {
        let response = self.form("/console/login", &[("token", TOKEN)], None).await;
        assert_eq!(response.status().as_u16(), 303);
        let set_cookie = response.headers()["Set-Cookie"].to_str().expect("ascii").to_owned();
        set_cookie.split(';').next().expect("name=value").to_owned()
    }

    async fn form(&self, path: &str, fields: &[(&str, &str)], cookie_opt: Option<&str>) -> reqwest::Response {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut request = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", self.base.clone())
            .body(body);
        if let Some(cookie) = cookie_opt {
            request = request.header("Cookie", cookie);
        }
        request.send().await.expect("post")
    }

    async fn page(&self, path: &str, cookie: &str) -> (u16, String) {
        let response = self.http.get(self.url(path)).header("Cookie", cookie).send().await.expect("get");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// The CSRF token in a page's forms.
    async fn csrf(&self, cookie: &str) -> String {
        let (_, html) = self.page("/console/calls/new", cookie).await;
        let start = html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
        html[start..].split('"').next().expect("value").to_owned()
    }
}

#[actix_rt::test]
async fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let console = Console::start().await;
    let response = console.http.get(console.url("/console/calls")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["Location"], "/console/login");

    let wrong = console.form("/console/login", &[("token", "not-the-token-0123")], None).await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("Set-Cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("not the API token"));

    let response = console.form("/console/login", &[("token", TOKEN)], None).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["Location"], "/console/calls");
    let set_cookie = response.headers()["Set-Cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains(TOKEN), "the cookie is a signed session, not the token");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (status, html) = console.page("/console/calls", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Calls</h1>") && html.contains("Log out"));
    let (status, html) = console.page("/console/no-such-page", &cookie).await;
    assert_eq!(status, 404);
    assert!(html.contains("no such page"), "{html}");
    let (status, _) = console.page("/console/calls/c_nobody", &cookie).await;
    assert_eq!(status, 404);

    let from_elsewhere = console
        .http
        .post(console.url("/console/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", "https://evil.example")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status().as_u16(), 403, "a login posted from another site");

    let csrf = console.csrf(&cookie).await;
    let logout = console.form("/console/logout", &[("csrf", &csrf)], Some(&cookie)).await;
    assert_eq!(logout.status().as_u16(), 303);
    assert!(logout.headers()["Set-Cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (status, _) = console.page("/console/calls", &cookie).await;
    assert_eq!(status, 303, "the old cookie no longer opens the console");
    console.gateway.unwrap().stop().await;
}

#[actix_rt::test]
async fn the_call_form_queues_like_the_rest_api_and_refuses_forged_posts() {
    let console = Console::start().await;
    let cookie = console.login().await;
    let csrf = console.csrf(&cookie).await;
    let fields = [("phone_number", "+15005550123"), ("gym_name", "Atlas <BJJ>"), ("playbook", "gym-dropin")];

    let no_token = console.form("/console/calls", &fields, Some(&cookie)).await;
    assert_eq!(no_token.status().as_u16(), 403, "no CSRF token");
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &csrf));
    let forged = console
        .http
        .post(console.url("/console/calls"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", "https://evil.example")
        .header("Cookie", &cookie)
        .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&with_token).finish())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403, "another site's page");

    let mut bad_zone = with_token.clone();
    bad_zone.push(("timezone", "America/Atlantis"));
    let refused = console.form("/console/calls", &bad_zone, Some(&cookie)).await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains(r#"id="timezone" name="timezone""#) && html.contains(r#"aria-invalid="true""#), "{html}");
    assert!(html.contains("Atlas &lt;BJJ&gt;"), "the typed values are kept, escaped");

    let placed = console.form("/console/calls", &with_token, Some(&cookie)).await;
    assert_eq!(placed.status().as_u16(), 303);
    let location = placed.headers()["Location"].to_str().unwrap().to_owned();
    let call_id = location.strip_prefix("/console/calls/").expect("the call's page").to_owned();
    let entry = console.bus.kv("calls").await.unwrap().get(&call_id).await.unwrap().expect("a call record");
    let record: CallRecord = decode_json(&entry.value).unwrap();
    assert_eq!(record.request.gym_name, "Atlas <BJJ>");
    let (status, html) = console.page(&location, &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Call to Atlas &lt;BJJ&gt;") && html.contains(r#"id="transcript""#));

    // the REST API: bearer as before; the console cookie opens GETs, never a POST
    let rest = console.http.get(console.url(&format!("/v1/calls/{call_id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(rest.status().as_u16(), 200);
    let by_cookie =
        console.http.get(console.url(&format!("/v1/calls/{call_id}"))).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(by_cookie.status().as_u16(), 200);
    let post_by_cookie = console
        .http
        .post(console.url(&format!("/v1/calls/{call_id}/cancel")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(post_by_cookie.status().as_u16(), 401);
    let anonymous = console.http.get(console.url("/v1/calls")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    console.gateway.unwrap().stop().await;
}

#[actix_rt::test]
async fn campaign_uploads_are_checked_row_by_row_and_bounded() {
    let console = Console::start().await;
    let cookie = console.login().await;
    let csrf = console.csrf(&cookie).await;
    let bad = "phone_number,gym_name\n+15005550123,A\n415-555-0100,B\n";
    let refused = console.form("/console/campaigns", &[("csrf", &csrf), ("csv", bad)], Some(&cookie)).await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("row 2, column phone_number"), "{html}");
    assert!(console.bus.kv("calls").await.unwrap().keys().await.unwrap().is_empty(), "nothing queued");

    let huge = "x".repeat(300 * 1024);
    let too_large = console.form("/console/campaigns", &[("csrf", &csrf), ("csv", &huge)], Some(&cookie)).await;
    assert_eq!(too_large.status().as_u16(), 413);

    let good = "phone_number,gym_name,timezone\n+15005550123,A,America/Denver\n+15005550124,B,America/Atlantis\n";
    let queued =
        console.form("/console/campaigns", &[("csrf", &csrf), ("name", "Two"), ("csv", good)], Some(&cookie)).await;
    assert_eq!(queued.status().as_u16(), 303);
    let page = queued.headers()["Location"].to_str().unwrap().to_owned();
    let progress: serde_json::Value = console
        .http
        .get(console.url(&format!("{page}/progress")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(progress["total"], 2);
    assert_eq!(progress["counts"]["queued"], 1);
    assert_eq!(progress["counts"]["rejected"], 1, "the bad timezone is reported, the rest queued: {progress}");
    assert_eq!(progress["done"], 1);
    let (status, csv) = console.page(&format!("{page}/results.csv"), &cookie).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "row,phone_number,gym_name,call_id,status,attempts,call_sid,error,outcome");
    assert!(lines[2].starts_with("2,+15005550124,B,,rejected,0,,\"row 2, column timezone"), "{csv}");
    console.gateway.unwrap().stop().await;
}

/// How reading an event stream ended.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Found,
    StreamEnded,
    TimedOut,
}

/// Reads an SSE response until `needle` arrives, the stream ends, or 10 s pass without a chunk.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> Read {
    let mut seen = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(needle) {
                    return Read::Found;
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => return Read::StreamEnded,
            Err(_) => return Read::TimedOut,
        }
    }
}

#[actix_rt::test]
async fn event_streams_come_from_the_bus_are_limited_and_close_on_stop() {
    let console = Console::start().await;
    let cookie = console.login().await;
    let call_id = CallId::generate();
    let path = format!("/console/calls/{call_id}/events");
    let mut first = console.http.get(console.url(&path)).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(first.headers()["Content-Type"], "text/event-stream");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let event = CallEvent::now(&call_id, CallEventKind::CalleeSaid, "the drop-in is twenty dollars");
    let subject = protocol::subjects::call_events(&call_id).unwrap();
    console.bus.publish(subject, encode_json(&event)).await.unwrap();
    assert_eq!(
        read_until(&mut first, "the drop-in is twenty dollars").await,
        Read::Found,
        "the event reached the page"
    );

    let mut open = vec![first];
    for _ in 1..gateway::console::MAX_EVENT_STREAMS {
        let response = console.http.get(console.url("/console/events")).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        open.push(response);
    }
    // the list's stream carries status changes of every call, not what was said
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other_call = CallId::generate();
    let other_subject = protocol::subjects::call_events(&other_call).unwrap();
    let said = CallEvent::now(&other_call, CallEventKind::AgentSaid, "words the list never shows");
    console.bus.publish(other_subject.clone(), encode_json(&said)).await.unwrap();
    let ringing = CallEvent::now(&other_call, CallEventKind::Ringing, "");
    console.bus.publish(other_subject, encode_json(&ringing)).await.unwrap();
    let mut list_stream = open.pop().expect("a list stream");
    let mut seen = String::new();
    while !seen.contains("\"kind\":\"ringing\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), list_stream.chunk()).await.unwrap().unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(other_call.as_str()) && !seen.contains("words the list never shows"), "{seen}");
    open.push(list_stream);
    let one_too_many = console.http.get(console.url("/console/events")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(one_too_many.status().as_u16(), 503);
    let anonymous = console.http.get(console.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 303, "not logged in");

    let stopping = tokio::spawn(console.gateway.unwrap().stop());
    assert_eq!(read_until(&mut open[0], "never sent").await, Read::StreamEnded, "closed when the gateway stopped");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("the gateway stopped in time").unwrap();
}
