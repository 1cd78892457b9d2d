//! Twilio's HTTP webhooks: the voice webhook (answers TwiML `<Connect><Stream>`) and the status /
//! async AMD callbacks (forwarded on `twilio.status.<callId>`). Signatures are checked against the
//! URL built from `PUBLIC_BASE_URL`, never from the Host header. The signature covers the body,
//! so the body is read first, within `WEBHOOK_MAX_BODY_BYTES` and `HTTP_BODY_TIMEOUT_S`.

use crate::error::HttpError;
use crate::state::{AppState, StreamOutcome};
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::calls::{CallEvent, CallEventKind, TwilioStatusEvent};
use protocol::twilio::signature::{validate_request, SignedBody};
use protocol::twilio::webhook::{CallDirection, FormParams, StatusCallback, VoiceWebhook};
use protocol::twilio::Twiml;
use protocol::version::{current_version, encode_json};
use protocol::{subjects, CallId};
use std::time::Duration;

/// Spoken when the stream ends without the agent finishing (no media worker, shutdown).
pub const APOLOGY: &str = "Sorry, we are having technical trouble and will call you back later. Goodbye.";

/// The header Twilio signs requests with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

fn signature_header(req: &HttpRequest) -> Option<&str> {
    req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok())
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded_pairs(req.query_string()).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn form_urlencoded_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    FormParams::parse(query.as_bytes()).0.into_iter()
}

/// Checks `X-Twilio-Signature` of a form webhook; Err(403) when invalid and validation is on.
fn check_signature(req: &HttpRequest, state: &AppState, params: &FormParams) -> Result<(), HttpError> {
    if !state.config.validate_signature {
        return Ok(());
    }
    let url = state.config.public_url(req.path(), req.query_string());
    if validate_request(&state.config.twilio_auth_token, &url, SignedBody::Form(params.pairs()), signature_header(req))
    {
        Ok(())
    } else {
        state.metrics.inc(&state.metrics.webhook_signature_rejections);
        tracing::warn!(path = req.path(), has_header = signature_header(req).is_some(), "twilio signature rejected");
        Err(HttpError::forbidden("invalid or missing X-Twilio-Signature"))
    }
}

fn twiml_response(twiml: Twiml) -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml").body(twiml.to_xml())
}

/// Publishes a lifecycle event on `calls.events.<callId>` (failures are logged, not fatal).
pub async fn publish_call_event(state: &AppState, call_id: &CallId, kind: CallEventKind, detail: String) {
    let Ok(subject) = subjects::call_events(call_id) else { return };
    let event = CallEvent::now(call_id, kind, detail);
    if let Err(error) = state.bus.publish(subject, encode_json(&event)).await {
        state.metrics.inc(&state.metrics.bus_publish_errors);
        tracing::warn!(%call_id, %error, "call event publish failed");
    }
}

/// The playbook of an outbound call, from its record in KV `calls` (None when unknown).
async fn playbook_of(state: &AppState, call_id: &CallId) -> Option<String> {
    let lookup = async {
        let kv = state.bus.kv(subjects::KV_CALLS).await.ok()?;
        let entry = kv.get(call_id.as_str()).await.ok()??;
        let record: protocol::calls::CallRecord = protocol::version::decode_json(&entry.value).ok()?;
        Some(record.request.playbook)
    };
    tokio::time::timeout(Duration::from_secs(2), lookup).await.ok().flatten()
}

/// `POST /v1/twilio/voice`: answer with `<Connect><Stream>` carrying the call id.
pub async fn voice_webhook(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let body = crate::body::read_body(&req, payload, state.config.webhook_body_limits()).await?;
    let params = FormParams::parse(&body);
    check_signature(&req, &state, &params)?;
    let hook = VoiceWebhook::from_params(&params).map_err(|e| HttpError::bad_request(e.to_string()))?;
    state.metrics.inc(&state.metrics.voice_webhooks);

    let query_call_id = query_param(&req, "call_id");
    let (call_id, direction) = match query_call_id {
        Some(id) if CallId::is_subject_safe(&id) => (CallId::from(id), "outbound"),
        Some(_) => return Err(HttpError::bad_request("call_id is not a valid call id")),
        None if hook.direction == CallDirection::Inbound => (state.inbound_call_id(&hook.call_sid), "inbound"),
        None => {
            tracing::warn!(call_sid = %hook.call_sid, "voice webhook for an unknown outbound call");
            return Ok(twiml_response(Twiml::new().say(APOLOGY).hangup()));
        }
    };
    let playbook = match query_param(&req, "playbook") {
        Some(playbook) => playbook,
        None if direction == "outbound" => {
            playbook_of(&state, &call_id).await.unwrap_or_else(|| state.config.inbound_playbook.clone())
        }
        None => state.config.inbound_playbook.clone(),
    };
    tracing::info!(%call_id, call_sid = %hook.call_sid, direction, %playbook, "voice webhook answered");
    if direction == "inbound" {
        publish_call_event(
            &state,
            &call_id,
            CallEventKind::InboundCall,
            format!("call_sid={} playbook={playbook}", hook.call_sid),
        )
        .await;
    }
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let stream_token = state.stream_tokens.issue(call_id.as_str(), hook.call_sid.as_str(), now_unix);
    let stream_url = state.config.stream_url();
    let after_stream_url = state.config.public_url(crate::paths::AFTER_STREAM_PATH, &format!("call_id={call_id}"));
    let twiml = Twiml::new()
        .connect_stream(
            &stream_url,
            &[
                ("call_id", call_id.as_str()),
                ("playbook", &playbook),
                ("direction", direction),
                (crate::stream::token::TOKEN_PARAMETER, &stream_token),
            ],
        )
        .redirect(&after_stream_url);
    Ok(twiml_response(twiml))
}

/// `POST /v1/twilio/after-stream`: Twilio comes here once the stream's WebSocket closed. A call
/// the agent hung up ends silently; any other end (no worker, shutdown, a stream this gateway did
/// not see end) gets the apology first.
pub async fn after_stream(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let body = crate::body::read_body(&req, payload, state.config.webhook_body_limits()).await?;
    let params = FormParams::parse(&body);
    check_signature(&req, &state, &params)?;
    let outcome = query_param(&req, "call_id")
        .filter(|id| CallId::is_subject_safe(id))
        .and_then(|id| state.take_stream_outcome(&CallId::from(id)));
    let twiml = match outcome {
        Some(StreamOutcome::HungUp) => Twiml::new().hangup(),
        Some(StreamOutcome::Failed) | None => Twiml::new().say(APOLOGY).hangup(),
    };
    Ok(twiml_response(twiml))
}

/// `POST /v1/twilio/status` and `/v1/twilio/amd`: forward on `twilio.status.<callId>`.
pub async fn status_callback(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let body = crate::body::read_body(&req, payload, state.config.webhook_body_limits()).await?;
    let params = FormParams::parse(&body);
    check_signature(&req, &state, &params)?;
    let callback = StatusCallback::from_params(&params).map_err(|e| HttpError::bad_request(e.to_string()))?;
    let call_id = match query_param(&req, "call_id") {
        Some(id) if CallId::is_subject_safe(&id) => Some(CallId::from(id)),
        Some(_) => return Err(HttpError::bad_request("call_id is not a valid call id")),
        None => state.known_inbound_call(&callback.call_sid),
    };
    let Some(call_id) = call_id else {
        state.metrics.inc(&state.metrics.status_callbacks_without_call);
        tracing::warn!(call_sid = %callback.call_sid, "status callback for an unknown call");
        return Ok(HttpResponse::Ok().finish());
    };
    let event = TwilioStatusEvent {
        v: current_version(),
        call_id: call_id.clone(),
        call_sid: callback.call_sid.clone(),
        call_status: callback.call_status.clone(),
        answered_by: callback.answered_by.clone(),
        sequence_number: callback.sequence_number,
        call_duration_s: callback.call_duration_s,
        sip_response_code: callback.sip_response_code,
    };
    let subject = subjects::twilio_status(&call_id).map_err(|e| HttpError::bad_request(e.to_string()))?;
    if let Err(error) = state.bus.publish(subject, encode_json(&event)).await {
        state.metrics.inc(&state.metrics.bus_publish_errors);
        tracing::error!(%call_id, %error, "status callback publish failed");
        return Err(HttpError::unavailable("bus unavailable"));
    }
    state.metrics.inc(&state.metrics.status_callbacks);
    tracing::info!(%call_id, call_sid = %callback.call_sid, status = ?callback.call_status, answered_by = ?callback.answered_by, "twilio status forwarded");
    Ok(HttpResponse::Ok().finish())
}
