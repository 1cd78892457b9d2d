//! The HTTP side of the fake: `/2010-04-01/Accounts/{AccountSid}/Calls.json` and `Calls/{Sid}.json`.

use super::script::{error_body, error_message, http_status_for, run_call, Outcome};
use super::{CallState, CreateRequest, CreatedCall, FakeTwilioError, Shared};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use protocol::twilio::webhook::FormParams;
use std::net::SocketAddr;
use std::sync::Arc;

struct AppData {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

pub(crate) fn serve(
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
) -> Result<(SocketAddr, actix_web::dev::ServerHandle), FakeTwilioError> {
    let data = web::Data::new(AppData { shared, runtime: runtime.clone() });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/2010-04-01/Accounts/{account}/Calls.json", web::post().to(create_call))
            .route("/2010-04-01/Accounts/{account}/Calls/{sid_json}", web::post().to(update_call))
            .route("/2010-04-01/Accounts/{account}/Calls/{sid_json}", web::get().to(fetch_call))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .map_err(FakeTwilioError::Bind)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| FakeTwilioError::Bind(std::io::Error::other("no address bound")))?;
    let server = server.run();
    let handle = server.handle();
    runtime.spawn(server);
    Ok((addr, handle))
}

fn twilio_error(code: u32) -> HttpResponse {
    let status = StatusCode::from_u16(http_status_for(code)).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(error_body(code, error_message(code)))
}

/// Basic auth with the account's SID and token, and the same SID in the path.
fn authorized(shared: &Shared, request: &HttpRequest, account: &str) -> bool {
    let Some(header) = request.headers().get("Authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = header.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let expected = format!("{}:{}", shared.config.account_sid, shared.config.auth_token);
    decoded == expected.as_bytes() && account == shared.config.account_sid
}

fn rfc2822_now() -> String {
    chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn call_resource(shared: &Shared, call: &CallState) -> serde_json::Value {
    let account = &shared.config.account_sid;
    let sid = &call.created.sid;
    let now = rfc2822_now();
    serde_json::json!({
        "sid": sid,
        "account_sid": account,
        "date_created": now,
        "date_updated": now,
        "parent_call_sid": null,
        "to": call.created.to,
        "to_formatted": call.created.to,
        "from": call.created.from,
        "from_formatted": call.created.from,
        "phone_number_sid": null,
        "status": call.status,
        "start_time": null,
        "end_time": null,
        "duration": null,
        "price": null,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": call.answered_by,
        "api_version": "2010-04-01",
        "forwarded_from": null,
        "group_sid": null,
        "caller_name": null,
        "queue_time": "0",
        "trunk_sid": null,
        "uri": format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json"),
        "subresource_uris": {
            "notifications": format!("/2010-04-01/Accounts/{account}/Calls/{sid}/Notifications.json"),
            "recordings": format!("/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings.json"),
            "streams": format!("/2010-04-01/Accounts/{account}/Calls/{sid}/Streams.json"),
            "events": format!("/2010-04-01/Accounts/{account}/Calls/{sid}/Events.json"),
        },
    })
}

fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

async fn create_call(
    data: web::Data<AppData>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let shared = &data.shared;
    let params = FormParams::parse(&body);
    let to = params.get("To").unwrap_or_default().to_owned();
    let refuse = |code: u32| {
        shared.lock().requests.push(CreateRequest {
            to: to.clone(),
            http_status: http_status_for(code),
            error_code: Some(code),
        });
        twilio_error(code)
    };
    if !authorized(shared, &request, &path) {
        return refuse(20003);
    }
    if to.is_empty() {
        return refuse(21201);
    }
    let Some(from) = params.get("From").filter(|f| !f.is_empty()).map(str::to_owned) else {
        return refuse(21603);
    };
    let Some(url) = params.get("Url").filter(|u| !u.is_empty()).map(str::to_owned) else {
        return refuse(21205);
    };
    let outcome = {
        let mut record = shared.lock();
        let index = record.dialed.get(&to).copied().unwrap_or(0);
        record.dialed.insert(to.clone(), index + 1);
        record
            .scripts
            .get(&to)
            .and_then(|script| script.get(index).or_else(|| script.last()))
            .cloned()
            .unwrap_or_else(|| shared.config.default_outcome.clone())
    };
    match outcome {
        Outcome::Error(code) => return refuse(code),
        Outcome::ServerError => {
            shared.lock().requests.push(CreateRequest { to, http_status: 500, error_code: Some(20500) });
            return twilio_error(20500);
        }
        _ if !is_e164(&to) => return refuse(21211),
        _ => {}
    }
    let sid = protocol::ids::random_sid("CA");
    let call = CallState {
        created: CreatedCall {
            sid: sid.clone(),
            to: to.clone(),
            from,
            url,
            status_callback: params.get("StatusCallback").map(str::to_owned),
            params: params.pairs().to_vec(),
            outcome: outcome.clone(),
        },
        status: "queued".into(),
        answered_by: None,
        hangup: Arc::new(tokio::sync::Notify::new()),
        hangup_requested: false,
    };
    let resource = call_resource(shared, &call);
    {
        let mut record = shared.lock();
        record.requests.push(CreateRequest { to, http_status: 201, error_code: None });
        record.calls.push(sid.clone());
        record.by_sid.insert(sid.clone(), call);
        record.live += 1;
        record.max_live = record.max_live.max(record.live);
        let to_number = record.by_sid.get(&sid).map(|c| c.created.to.clone()).unwrap_or_default();
        let number_live = {
            let count = record.live_per_number.entry(to_number).or_insert(0);
            *count += 1;
            *count
        };
        record.max_live_per_number = record.max_live_per_number.max(number_live);
    }
    data.runtime.spawn(run_call(shared.clone(), sid, outcome));
    HttpResponse::Created().json(resource)
}

fn sid_from(path: &str) -> Option<&str> {
    path.strip_suffix(".json")
}

async fn update_call(
    data: web::Data<AppData>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let shared = &data.shared;
    let (account, sid_json) = path.into_inner();
    if !authorized(shared, &request, &account) {
        return twilio_error(20003);
    }
    let Some(sid) = sid_from(&sid_json) else { return twilio_error(20404) };
    let params = FormParams::parse(&body);
    let mut record = shared.lock();
    let Some(call) = record.by_sid.get_mut(sid) else { return twilio_error(20404) };
    match params.get("Status") {
        Some("completed" | "canceled") => {
            let over = matches!(call.status.as_str(), "completed" | "busy" | "no-answer" | "failed" | "canceled");
            if over {
                return HttpResponse::BadRequest()
                    .json(error_body(21220, "Unable to update record: Call is not in-progress"));
            }
            call.hangup_requested = true;
            call.hangup.notify_one();
            let resource = call_resource(shared, call);
            record.hangups.push(sid.to_owned());
            HttpResponse::Ok().json(resource)
        }
        _ => HttpResponse::Ok().json(call_resource(shared, call)),
    }
}

async fn fetch_call(data: web::Data<AppData>, request: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let shared = &data.shared;
    let (account, sid_json) = path.into_inner();
    if !authorized(shared, &request, &account) {
        return twilio_error(20003);
    }
    let Some(sid) = sid_from(&sid_json) else { return twilio_error(20404) };
    let record = shared.lock();
    match record.by_sid.get(sid) {
        Some(call) => HttpResponse::Ok().json(call_resource(shared, call)),
        None => twilio_error(20404),
    }
}
