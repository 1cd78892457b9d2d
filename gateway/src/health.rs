//! `/healthz` (the process is up), `/readyz` (NATS connected, not draining), `/metrics`.

use crate::error::HttpError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    if state.is_draining() {
        return Err(HttpError::unavailable("draining"));
    }
    if !state.bus.is_connected() {
        return Err(HttpError::unavailable("nats not connected"));
    }
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
