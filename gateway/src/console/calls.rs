//! The call pages: the list (filters, live status), one call (live transcript, result fields,
//! latency chart, recording) and the form that places a call. Placing a call goes through the
//! REST API's own validation and queueing ([`crate::rest::validate::call_request`],
//! [`crate::rest::calls::queue_call`]), so the console can do nothing the API would refuse.

use super::error::ConsoleError;
use super::html::{csrf_field, escape, page, see_other};
use super::render;
use super::session::Session;
use super::{read_session_form, require_session, ConsoleState, MAX_FORM_BYTES};
use crate::rest::calls::{load, path_call_id, queue_call, recent_calls};
use crate::rest::{validate, RestState};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::calls::{CallRecord, CallStatus};
use protocol::subjects;
use std::collections::HashMap;

/// Most calls the list shows.
const LIST_MAX: usize = 200;
const STATUSES: [&str; 8] =
    ["queued", "dialing", "ringing", "in_progress", "retry_scheduled", "completed", "failed", "canceled"];

fn status_name(status: CallStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// `GET /console`: the call list, or the login page.
pub async fn home(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    Ok(see_other("/console/calls"))
}

/// `GET /console/calls?status=&q=`: newest first, filtered by status and by a piece of the gym's
/// name or number; statuses change live.
pub async fn list_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    let mut status_filter = String::new();
    let mut text_filter = String::new();
    for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        match name.as_ref() {
            "status" => status_filter = value.into_owned(),
            "q" => text_filter = value.chars().take(100).collect(),
            _ => {}
        }
    }
    let status = match status_filter.as_str() {
        "" => None,
        text => Some(
            serde_json::from_value::<CallStatus>(serde_json::json!(text))
                .map_err(|_| ConsoleError::BadRequest(format!("unknown status {text:?}")))?,
        ),
    };
    let needle = text_filter.trim().to_lowercase();
    let records: Vec<CallRecord> = recent_calls(&state, status, usize::MAX)
        .await?
        .into_iter()
        .filter(|r| {
            needle.is_empty()
                || r.request.gym_name.to_lowercase().contains(&needle)
                || r.request.phone_number.contains(&needle)
        })
        .take(LIST_MAX)
        .collect();
    let options: String = std::iter::once(("", "any status"))
        .chain(STATUSES.iter().map(|s| (*s, *s)))
        .map(|(value, label)| {
            let selected = if value == status_filter { " selected" } else { "" };
            format!(r#"<option value="{value}"{selected}>{}</option>"#, label.replace('_', " "))
        })
        .collect();
    let rows: String = records.iter().map(list_row).collect();
    let table = if records.is_empty() {
        r#"<p id="no-calls">No calls match.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="calls" class="calls" data-events="/console/events"><caption>Calls, newest first</caption>
<thead><tr><th scope="col">Created (UTC)</th><th scope="col">Gym</th><th scope="col">Number</th><th scope="col">Playbook</th><th scope="col">Status</th><th scope="col">Outcome</th></tr></thead>
<tbody>{rows}</tbody></table>"#
        )
    };
    let body = format!(
        r#"<form method="get" action="/console/calls" class="filters" role="search">
<label for="status">Status</label><select id="status" name="status">{options}</select>
<label for="q">Gym or number contains</label><input id="q" name="q" type="search" value="{q}" maxlength="100">
<button type="submit">Filter</button>
</form>
<p id="new-calls" class="note" hidden aria-live="polite">New calls have started: <a href="">reload the list</a>.</p>
{table}"#,
        q = escape(&text_filter),
    );
    Ok(page(StatusCode::OK, "Calls", Some(&session), &body))
}

fn list_row(record: &CallRecord) -> String {
    let outcome = record
        .result
        .as_ref()
        .and_then(|r| serde_json::to_value(r.outcome).ok())
        .map(|v| render::value_text(&v))
        .unwrap_or_default();
    format!(
        r#"<tr data-call-id="{id}"><td>{created}</td><td><a href="/console/calls/{id}">{gym}</a></td><td>{number}</td><td>{playbook}</td><td class="call-status">{status}</td><td>{outcome}</td></tr>"#,
        id = escape(record.call_id.as_str()),
        created = escape(record.created_at.get(..19).unwrap_or(&record.created_at)).replace('T', " "),
        gym = escape(&record.request.gym_name),
        number = escape(&record.request.phone_number),
        playbook = escape(&record.request.playbook),
        status = status_name(record.status).replace('_', " "),
        outcome = escape(&outcome),
    )
}

/// What the place-a-call form shows: the values typed and the error, if any.
#[derive(Default)]
struct CallForm {
    values: HashMap<String, String>,
    error_opt: Option<(Option<String>, String)>,
}

fn call_form(session: &Session, rest: &RestState, form: &CallForm) -> String {
    let value = |name: &str| escape(form.values.get(name).map(String::as_str).unwrap_or_default());
    let error_field = form.error_opt.as_ref().and_then(|(field, _)| field.clone());
    let invalid = |name: &str| {
        if error_field.as_deref() == Some(name) {
            r#" aria-invalid="true" aria-describedby="form-error""#
        } else {
            ""
        }
    };
    let message = match &form.error_opt {
        Some((field, message)) => {
            let about = field.as_deref().map(|f| format!("{}: ", f.replace('_', " "))).unwrap_or_default();
            format!(r#"<p class="error" role="alert" id="form-error">{}{}</p>"#, escape(&about), escape(message))
        }
        None => String::new(),
    };
    let chosen = form.values.get("playbook").cloned().unwrap_or_else(|| rest.default_playbook.clone());
    let playbooks: String = rest
        .known_playbooks
        .iter()
        .map(|id| {
            let selected = if *id == chosen { " selected" } else { "" };
            format!(r#"<option value="{id}"{selected}>{id}</option>"#, id = escape(id))
        })
        .collect();
    format!(
        r#"{message}<form method="post" action="/console/calls" class="card">{csrf}
<label for="phone_number">Phone number (E.164)</label>
<input id="phone_number" name="phone_number" type="tel" required placeholder="+14155550123" value="{phone}" maxlength="16"{phone_invalid}>
<label for="gym_name">Gym name</label>
<input id="gym_name" name="gym_name" required value="{gym}" maxlength="200"{gym_invalid}>
<label for="timezone">Timezone (IANA, optional)</label>
<input id="timezone" name="timezone" placeholder="America/Denver" value="{timezone}" maxlength="64"{timezone_invalid}>
<label for="playbook">Playbook</label>
<select id="playbook" name="playbook"{playbook_invalid}>{playbooks}</select>
<button type="submit">Place the call</button>
</form>"#,
        csrf = csrf_field(session),
        phone = value("phone_number"),
        gym = value("gym_name"),
        timezone = value("timezone"),
        phone_invalid = invalid("phone_number"),
        gym_invalid = invalid("gym_name"),
        timezone_invalid = invalid("timezone"),
        playbook_invalid = invalid("playbook"),
    )
}

/// `GET /console/calls/new`.
pub async fn new_call_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    rest: web::Data<RestState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    Ok(page(StatusCode::OK, "Place a call", Some(&session), &call_form(&session, &rest, &CallForm::default())))
}

/// `POST /console/calls`: validated and queued exactly as `POST /v1/calls` would; a refused
/// field is shown on the form, a queued call opens its page.
pub async fn place_call(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    rest: web::Data<RestState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ConsoleError> {
    let (session, form) = read_session_form(&state, &console, &request, payload, MAX_FORM_BYTES).await?;
    let mut body = serde_json::Map::new();
    let mut values = HashMap::new();
    for name in ["phone_number", "gym_name", "timezone", "playbook"] {
        let value = form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        if !value.is_empty() {
            body.insert(name.to_owned(), serde_json::Value::String(value.clone()));
        }
        values.insert(name.to_owned(), value);
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let queued = match validate::call_request(&bytes, &rest.known_playbooks, &rest.default_playbook) {
        Ok(call_request) => queue_call(&state, &rest, call_request, None).await,
        Err(error) => Err(error),
    };
    match queued {
        Ok((record, _)) => Ok(see_other(&format!("/console/calls/{}", record.call_id))),
        Err(error) if error.status.is_client_error() => {
            let form = CallForm { values, error_opt: Some((error.field.clone(), error.message.clone())) };
            Ok(page(error.status, "Place a call", Some(&session), &call_form(&session, &rest, &form)))
        }
        Err(error) => Err(error.into()),
    }
}

async fn load_record(state: &AppState, raw_id: &str) -> Result<CallRecord, ConsoleError> {
    let call_id = path_call_id(raw_id).map_err(|_| ConsoleError::NotFound("no such call".into()))?;
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    match load(&calls, &call_id).await? {
        Some((record, _)) => Ok(record),
        None => Err(ConsoleError::NotFound("no such call".into())),
    }
}

/// `GET /console/calls/{call_id}`: the call as it stands; the transcript grows live from the
/// call's events and the result appears when the call ends.
pub async fn call_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    let record = load_record(&state, &path).await?;
    let id = escape(record.call_id.as_str());
    let request_info = &record.request;
    let details = format!(
        r#"<dl class="details">
<dt>Status</dt><dd id="call-status" aria-live="polite">{status}</dd>
<dt>Number</dt><dd>{number}</dd>
<dt>Timezone</dt><dd>{timezone}</dd>
<dt>Playbook</dt><dd>{playbook}</dd>
<dt>Attempts</dt><dd>{attempts}</dd>
<dt>Created</dt><dd>{created}</dd>
<dt>Call id</dt><dd><code>{id}</code></dd>{error}
</dl>"#,
        status = status_name(record.status).replace('_', " "),
        number = escape(&request_info.phone_number),
        timezone = escape(request_info.timezone.as_deref().unwrap_or("(the number's)")),
        playbook = escape(&request_info.playbook),
        attempts = record.attempts.len(),
        created = escape(&render::short_time(&record.created_at)),
        error = record
            .last_error
            .as_deref()
            .map(|e| format!("<dt>Last error</dt><dd>{}</dd>", escape(e)))
            .unwrap_or_default(),
    );
    let (transcript, panel) = match &record.result {
        Some(result) => (render::transcript(&result.transcript, None), render::result_panel(&record, result)),
        None => (
            render::transcript(&[], Some(&format!("/console/calls/{id}/events"))),
            format!(
                r#"<section id="result" data-panel="/console/calls/{id}/panel"><h2>Result</h2><p id="result-waiting">The result appears here when the call ends.</p></section>"#
            ),
        ),
    };
    let body = format!(
        r#"{details}<h2 id="transcript-title">Transcript</h2>{transcript}
<p id="live-state" class="note" aria-live="polite"></p>
{panel}"#
    );
    Ok(page(StatusCode::OK, &format!("Call to {}", request_info.gym_name), Some(&session), &body))
}

/// `GET /console/calls/{call_id}/panel`: the result section once the call has one (204 before),
/// with the whole transcript in a `<template id="final-transcript">`.
pub async fn result_panel(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    let record = load_record(&state, &path).await?;
    match &record.result {
        Some(result) => {
            // the whole transcript too: a page opened mid-call saw only the turns after it opened
            let turns: String = result.transcript.iter().map(render::turn).collect();
            let body = format!(
                r#"{}<template id="final-transcript">{turns}</template>"#,
                render::result_panel(&record, result)
            );
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(body))
        }
        None => Ok(HttpResponse::NoContent().insert_header(("Cache-Control", "no-store")).finish()),
    }
}

/// Any other `/console/...` path: a page that says so.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound("there is no such page in the console".into()))
}
