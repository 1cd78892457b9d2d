//! `/v1/calls` handlers: create (stores the record, queues the dial request), get, list, cancel.

use super::error::ApiError;
use super::{authorize, validate, RestState};
use crate::state::AppState;
use crate::twilio_http::publish_call_event;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bus::{BusErrorKind, Kv};
use protocol::calls::{
    now_rfc3339, CallEventKind, CallRecord, CallStatus, DialControl, DialControlAction, DialRequest,
};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, BUS_VERSION};
use serde_json::json;

/// KV bucket mapping an `Idempotency-Key` to the call it created.
pub const KV_IDEMPOTENCY: &str = "call_idempotency";

/// The `Idempotency-Key` header, checked to be usable as a KV key.
fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("Idempotency-Key") else { return Ok(None) };
    let key = value.to_str().unwrap_or_default().trim();
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if !ok {
        return Err(ApiError::bad_request(
            Some("Idempotency-Key"),
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 128 characters of letters, digits, '-', '_' or '='",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// A call record and its KV revision (None: no such call).
pub async fn load(kv: &Kv, call_id: &CallId) -> Result<Option<(CallRecord, u64)>, ApiError> {
    let Some(entry) = kv.get(call_id.as_str()).await? else { return Ok(None) };
    match decode_json::<CallRecord>(&entry.value) {
        Ok(record) => Ok(Some((record, entry.revision))),
        Err(error) => {
            tracing::warn!(call_id = %call_id, %error, "malformed call record");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_record", "the call record cannot be read"))
        }
    }
}

fn accepted(record: &CallRecord, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::Accepted();
    response.insert_header(("Location", format!("/v1/calls/{}", record.call_id)));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(json!({
        "call_id": record.call_id,
        "status": record.status,
        "created_at": record.created_at,
    }))
}

/// The JSON shape of a call, as `GET /v1/calls/{id}` shows it.
pub fn call_json(record: &CallRecord) -> serde_json::Value {
    json!({
        "call_id": record.call_id,
        "status": record.status,
        "request": record.request,
        "attempts": record.attempts,
        "attempt_count": record.attempts.len(),
        "call_sid": record.call_sid,
        "next_attempt_at": record.next_attempt_at,
        "last_error": record.last_error,
        "result": record.result,
        "transcript": record.result.as_ref().map(|r| &r.transcript),
        "webhook": record.webhook,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

/// `POST /v1/calls`.
pub async fn create_call(
    state: web::Data<AppState>,
    rest: web::Data<RestState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The token is checked before a byte of the body is read.
    authorize(&state, &request)?;
    let key = idempotency_key(&request)?;
    let body = crate::body::read_body(&request, payload, state.config.api_body_limits()).await?;
    let call_request = validate::call_request(&body, &rest.known_playbooks, &rest.default_playbook)?;
    let (record, replayed) = queue_call(&state, &rest, call_request, key).await?;
    Ok(accepted(&record, replayed))
}

/// Stores the record of a validated call request and queues its dial request: what
/// `POST /v1/calls` does after reading its body, shared with the web console's forms. With an
/// idempotency key a repeated request returns the first call (`true`: replayed).
pub async fn queue_call(
    state: &AppState,
    rest: &RestState,
    call_request: protocol::calls::CallRequest,
    key: Option<String>,
) -> Result<(CallRecord, bool), ApiError> {
    if let Some(language) = &call_request.preferred_language {
        let primary = language.split('-').next().unwrap_or_default().to_ascii_lowercase();
        if !state.config.supported_languages.contains(&primary) {
            return Err(ApiError::invalid(
                "preferred_language",
                "unsupported_language",
                format!(
                    "this deployment speaks {}; {language:?} is not one of them (SUPPORTED_LANGUAGES lists what its \
                     speech providers and brain can speak)",
                    state.config.supported_languages.join(", ")
                ),
            ));
        }
    }
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    let call_id = CallId::generate();
    if let Some(key) = &key {
        let keys = state.bus.kv(KV_IDEMPOTENCY).await?;
        match keys.create(key, bytes::Bytes::from(call_id.to_string())).await {
            Ok(_) => {}
            Err(error) if error.kind == BusErrorKind::AlreadyExists => {
                let existing =
                    keys.get(key).await?.map(|e| String::from_utf8_lossy(&e.value).into_owned()).unwrap_or_default();
                let existing = CallId::from(existing);
                // The first request may still be storing its record.
                for _ in 0..50 {
                    if let Some((record, _)) = load(&calls, &existing).await? {
                        if record.request != call_request {
                            return Err(ApiError::invalid(
                                "Idempotency-Key",
                                "idempotency_key_reused",
                                "this Idempotency-Key was used with a different request",
                            ));
                        }
                        return Ok((record, true));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                return Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being stored",
                ));
            }
            Err(error) => return Err(error.into()),
        }
    }
    let now = now_rfc3339();
    let record = CallRecord {
        v: BUS_VERSION,
        call_id: call_id.clone(),
        request: call_request,
        status: CallStatus::Queued,
        attempts: Vec::new(),
        call_sid: None,
        result: None,
        next_attempt_at: None,
        last_error: None,
        idempotency_key: key,
        webhook: None,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    calls.create(call_id.as_str(), encode_json(&record).into()).await?;
    let queue = rest.queue(&state.bus).await?;
    if let Err(error) = queue.enqueue(encode_json(&DialRequest { v: BUS_VERSION, call_id: call_id.clone() })).await {
        tracing::warn!(call_id = %call_id, %error, "cannot queue the dial request");
        let mut failed = record.clone();
        failed.status = CallStatus::Failed;
        failed.last_error = Some("could not queue the dial request".into());
        let _ = calls.put(call_id.as_str(), encode_json(&failed).into()).await;
        return Err(ApiError::unavailable("the dial queue is not reachable; try again"));
    }
    tracing::info!(call_id = %call_id, playbook = %record.request.playbook, "call queued");
    publish_call_event(state, &call_id, CallEventKind::Queued, String::new()).await;
    Ok((record, false))
}

/// A call id from a URL path; anything that cannot be one is "no such call".
pub fn path_call_id(raw: &str) -> Result<CallId, ApiError> {
    if CallId::is_subject_safe(raw) {
        Ok(CallId::from(raw))
    } else {
        Err(ApiError::not_found("no such call"))
    }
}

/// `GET /v1/calls/{call_id}`.
pub async fn get_call(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let call_id = path_call_id(&path)?;
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    match load(&calls, &call_id).await? {
        Some((record, _)) => Ok(HttpResponse::Ok().json(call_json(&record))),
        None => Err(ApiError::not_found("no such call")),
    }
}

/// `GET /v1/calls?status=&limit=`: newest first.
pub async fn list_calls(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let mut status_opt: Option<String> = None;
    let mut limit_opt: Option<String> = None;
    for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        let slot = match name.as_ref() {
            "status" => &mut status_opt,
            "limit" => &mut limit_opt,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiError::invalid(&name, "repeated_parameter", format!("{name} may be given once")));
        }
        *slot = Some(value.into_owned());
    }
    let status = match status_opt.as_deref() {
        None => None,
        Some(text) => Some(serde_json::from_value::<CallStatus>(json!(text)).map_err(|_| {
            ApiError::invalid(
                "status",
                "invalid_status",
                "status must be one of queued, dialing, ringing, in_progress, retry_scheduled, completed, failed, canceled",
            )
        })?),
    };
    let limit = match limit_opt.as_deref() {
        None => 50,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=500).contains(&limit) => limit,
            _ => return Err(ApiError::invalid("limit", "invalid_limit", "limit must be a whole number from 1 to 500")),
        },
    };
    let records = recent_calls(&state, status, limit).await?;
    let calls: Vec<_> = records.iter().map(call_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "calls": calls, "count": calls.len() })))
}

/// The newest `limit` call records, of one status when given (what `GET /v1/calls` lists).
pub async fn recent_calls(
    state: &AppState,
    status: Option<CallStatus>,
    limit: usize,
) -> Result<Vec<CallRecord>, ApiError> {
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    let mut records = Vec::new();
    for key in calls.keys().await? {
        if let Ok(Some((record, _))) = load(&calls, &CallId::from(key)).await {
            if status.is_none_or(|s| record.status == s) {
                records.push(record);
            }
        }
    }
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.call_id.cmp(&b.call_id)));
    records.truncate(limit);
    Ok(records)
}

/// `POST /v1/calls/{call_id}/cancel`: drops a waiting request, hangs up a live call.
pub async fn cancel_call(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let call_id = path_call_id(&path)?;
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    for _ in 0..20 {
        let Some((mut record, revision)) = load(&calls, &call_id).await? else {
            return Err(ApiError::not_found("no such call"));
        };
        if record.status.is_final() {
            return Err(ApiError::conflict(
                "already_final",
                format!("the call is already {:?}", record.status).to_lowercase(),
            ));
        }
        let live = matches!(record.status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress);
        if !live {
            // Waiting: cancel it in the record; the dialer drops it when it sees it.
            record.status = CallStatus::Canceled;
            record.next_attempt_at = None;
            record.updated_at = now_rfc3339();
            match calls.update(call_id.as_str(), encode_json(&record).into(), revision).await {
                Ok(_) => {}
                Err(error) if error.kind == BusErrorKind::WrongRevision => continue,
                Err(error) => return Err(error.into()),
            }
        }
        // Tell the dialer holding it (a live call is hung up through Twilio).
        let control = DialControl { v: BUS_VERSION, call_id: call_id.clone(), action: DialControlAction::Cancel };
        if let Ok(subject) = subjects::dial_control(&call_id) {
            state.bus.publish(subject, encode_json(&control)).await?;
        }
        publish_call_event(&state, &call_id, CallEventKind::CancelRequested, String::new()).await;
        return Ok(HttpResponse::Accepted().json(json!({
            "call_id": call_id,
            "status": record.status,
            "cancel_requested": true,
        })));
    }
    Err(ApiError::conflict("busy_record", "the call record kept changing; try again"))
}
