//! The web console: server-rendered pages for an operator, served by the gateway on its own port
//! under `/console`, behind the same `API_TOKEN` as the REST API.
//!
//! - [`session`]: the login cookie (signed, HttpOnly, Secure, SameSite=Strict), CSRF tokens and
//!   the Origin check of every form post.
//! - [`auth`]: login and logout pages.
//! - [`calls`]: the call list, a call's page (live transcript, result fields, latency chart,
//!   recording) and the form that places a call through the REST API's own logic.
//! - [`campaigns`]: CSV uploads (the columns of `gymcall campaign`), a page per campaign with its
//!   progress, and its results as CSV or JSON.
//! - [`events`]: server-sent events fed from the bus (`calls.events.*`, `results.*`), a bounded
//!   number at once, closed when the gateway drains.
//! - [`html`], [`render`]: the page frame, escaping, and how results and latency are drawn.
//! - [`assets`]: the console's CSS and JavaScript, compiled in (no CDN: it works offline).

pub mod assets;
pub mod auth;
pub mod calls;
pub mod campaigns;
pub mod error;
pub mod events;
pub mod html;
pub mod render;
pub mod session;

use actix_web::web;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most event streams (server-sent events) open at once over every console page.
pub const MAX_EVENT_STREAMS: usize = 32;
/// An event stream is closed after this long (the page's EventSource opens a new one).
pub const EVENT_STREAM_MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// Largest campaign upload (the whole form post).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024;
/// Most gyms in one campaign.
pub const MAX_CAMPAIGN_ROWS: usize = 500;
/// Largest login or place-a-call form post.
pub const MAX_FORM_BYTES: usize = 8 * 1024;
/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// State of the console beside [`crate::state::AppState`].
pub struct ConsoleState {
    /// Permits for open event streams ([`MAX_EVENT_STREAMS`]).
    pub event_streams: Arc<Semaphore>,
    /// Sessions logged out before they expired, and failed logins (see [`session`]).
    pub sessions: session::SessionBook,
}

impl ConsoleState {
    pub fn new() -> Self {
        ConsoleState {
            event_streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
            sessions: session::SessionBook::default(),
        }
    }
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers the console's routes. The app holds one [`ConsoleState`] shared by every worker
/// thread (see [`crate::start`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(calls::home))
        .route("/console/", web::get().to(calls::home))
        .route("/console/assets/{name}", web::get().to(assets::serve))
        .route("/console/login", web::get().to(auth::login_page))
        .route("/console/login", web::post().to(auth::login))
        .route("/console/logout", web::post().to(auth::logout))
        .route("/console/calls", web::get().to(calls::list_page))
        .route("/console/calls/new", web::get().to(calls::new_call_page))
        .route("/console/calls", web::post().to(calls::place_call))
        .route("/console/events", web::get().to(events::all_calls))
        .route("/console/calls/{call_id}", web::get().to(calls::call_page))
        .route("/console/calls/{call_id}/panel", web::get().to(calls::result_panel))
        .route("/console/calls/{call_id}/events", web::get().to(events::one_call))
        .route("/console/campaigns", web::get().to(campaigns::list_page))
        .route("/console/campaigns", web::post().to(campaigns::upload))
        .route("/console/campaigns/new", web::get().to(campaigns::new_page))
        .route("/console/campaigns/{campaign_id}", web::get().to(campaigns::campaign_page))
        .route("/console/campaigns/{campaign_id}/progress", web::get().to(campaigns::progress))
        .route("/console/campaigns/{campaign_id}/results.{format}", web::get().to(campaigns::export))
        .route("/console/{rest:.*}", web::get().to(calls::not_found));
}

/// The session of a request, or [`error::ConsoleError::NotLoggedIn`].
pub fn require_session(
    state: &crate::state::AppState,
    console: &ConsoleState,
    request: &actix_web::HttpRequest,
) -> Result<session::Session, error::ConsoleError> {
    let Some(api_token) = state.config.api_token.as_deref() else { return Err(error::ConsoleError::Disabled) };
    session::from_request(Some(api_token), Some(&console.sessions), request).ok_or(error::ConsoleError::NotLoggedIn)
}

/// Reads a form post (`application/x-www-form-urlencoded`, at most `max_bytes`) of a logged-in
/// session and checks where it comes from and its CSRF token, in that order, before the form is
/// used: the session, then the fields (the first value of each name).
pub async fn read_session_form(
    state: &crate::state::AppState,
    console: &ConsoleState,
    request: &actix_web::HttpRequest,
    payload: web::Payload,
    max_bytes: usize,
) -> Result<(session::Session, std::collections::HashMap<String, String>), error::ConsoleError> {
    let session = require_session(state, console, request)?;
    if !session::same_origin(request, &state.config.public_base_url) {
        return Err(error::ConsoleError::Forbidden("this form was sent from another site".into()));
    }
    let form = read_form(state, request, payload, max_bytes).await?;
    if !form.get("csrf").is_some_and(|token| session.csrf_ok(token)) {
        return Err(error::ConsoleError::Forbidden(
            "the form's security token is missing or out of date: reload the page and try again".into(),
        ));
    }
    Ok((session, form))
}

/// Reads a urlencoded form body of at most `max_bytes` within the body deadline.
pub async fn read_form(
    state: &crate::state::AppState,
    request: &actix_web::HttpRequest,
    payload: web::Payload,
    max_bytes: usize,
) -> Result<std::collections::HashMap<String, String>, error::ConsoleError> {
    let content_type = request.headers().get("Content-Type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(error::ConsoleError::BadRequest("expected a form post (application/x-www-form-urlencoded)".into()));
    }
    let limits = crate::body::BodyLimits { max_bytes, timeout: state.config.http_body_timeout };
    let body = crate::body::read_body(request, payload, limits).await?;
    let mut form = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        form.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    Ok(form)
}
