//! The REST API (`/v1/calls` ...), mounted into the gateway's app by [`configure`].
//!
//! - `POST /v1/calls`: validate, store the call record (KV `calls`), queue a dial request on
//!   the `DIAL` work queue, answer `202 {call_id, status, created_at}`. `Idempotency-Key`
//!   returns the same call for a repeated request.
//! - `GET /v1/calls/{call_id}`, `GET /v1/calls?status=&limit=`, `POST /v1/calls/{id}/cancel`.
//! - `GET /v1/calls/{call_id}/recording` (stereo WAV from the bus's object store) and
//!   `GET /v1/calls/{call_id}/transcript` (JSON, or text with `Accept: text/plain`).
//! - `GET /v1/openapi.json`: the OpenAPI 3 document of all of the above.
//!
//! Every route but the OpenAPI document needs `Authorization: Bearer <API_TOKEN>`. Errors are
//! `{ "error": { "code", "message", "field" } }`.

pub mod calls;
pub mod error;
pub mod openapi;
pub mod recording;
pub mod transcript;
pub mod validate;

use crate::state::AppState;
use actix_web::{web, HttpRequest};
use bus::queue::WorkQueue;
use bus::Bus;
use error::ApiError;
use tokio::sync::OnceCell;

/// State of the REST API beside [`AppState`]: the playbooks accepted and the dial queue handle.
pub struct RestState {
    pub known_playbooks: Vec<String>,
    pub default_playbook: String,
    queue: OnceCell<WorkQueue>,
}

impl RestState {
    pub fn new(known_playbooks: Vec<String>, default_playbook: String) -> Self {
        RestState { known_playbooks, default_playbook, queue: OnceCell::new() }
    }

    /// The playbooks shipped with the build (`playbook::PlaybookSet::built_in`).
    pub fn built_in() -> Self {
        let known = match playbook::PlaybookSet::built_in() {
            Ok(set) => set.ids(),
            Err(error) => {
                tracing::error!(%error, "built-in playbooks do not load; accepting only the default name");
                vec![playbook::DEFAULT_PLAYBOOK.to_owned()]
            }
        };
        RestState::new(known, playbook::DEFAULT_PLAYBOOK.to_owned())
    }

    async fn queue(&self, bus: &Bus) -> Result<&WorkQueue, ApiError> {
        self.queue
            .get_or_try_init(|| async {
                bus.work_queue(protocol::subjects::DIAL_STREAM, protocol::subjects::DIAL_REQUESTS, "dialer").await
            })
            .await
            .map_err(ApiError::from)
    }
}

/// Constant-time comparison of two tokens.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `Authorization: Bearer <API_TOKEN>`. With no API_TOKEN configured every request is
/// refused: the API is never open by accident. A GET without the header may instead carry the
/// web console's session cookie (so the console's `<audio>` element can fetch a recording);
/// anything that changes state needs the bearer token.
pub fn authorize(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let Some(expected) = state.config.api_token.as_deref() else {
        return Err(ApiError::unauthorized("the REST API is disabled: API_TOKEN is not configured"));
    };
    if request.method() == actix_web::http::Method::GET && !request.headers().contains_key("Authorization") {
        let book = request.app_data::<web::Data<crate::console::ConsoleState>>().map(|c| &c.sessions);
        if crate::console::session::from_request(Some(expected), book, request).is_some() {
            return Ok(());
        }
    }
    let given = request
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match given {
        Some(token) if same_token(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("the bearer token is not valid")),
        None => Err(ApiError::unauthorized("missing 'Authorization: Bearer <token>' header")),
    }
}

/// 405 with the `Allow` header RFC 9110 asks for.
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        use actix_web::ResponseError;
        let mut response = ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("allowed: {allow}"),
        )
        .error_response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
            response.headers_mut().insert(actix_web::http::header::ALLOW, value);
        }
        response
    })
}

/// Registers the REST routes. Shared state is reachable as `web::Data<crate::state::AppState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(RestState::built_in()))
        .service(
            web::resource("/v1/openapi.json")
                .route(web::get().to(openapi::openapi))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/v1/calls")
                .route(web::post().to(calls::create_call))
                .route(web::get().to(calls::list_calls))
                .default_service(method_not_allowed("GET, POST")),
        )
        .service(
            web::resource("/v1/calls/{call_id}")
                .route(web::get().to(calls::get_call))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/v1/calls/{call_id}/recording")
                .route(web::get().to(recording::get_recording))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/v1/calls/{call_id}/transcript")
                .route(web::get().to(transcript::get_transcript))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/v1/calls/{call_id}/cancel")
                .route(web::post().to(calls::cancel_call))
                .default_service(method_not_allowed("POST")),
        );
}
