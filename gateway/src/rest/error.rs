//! REST API errors, answered as `{ "error": { "code", "message", "field" } }`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// An error of the REST API. `field` names the request field (or header / query parameter) at
/// fault, when there is one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None }
    }

    /// 422: the field is present but its value is not acceptable.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// 400: the request cannot be read as asked (malformed JSON, wrong type).
    pub fn bad_request(field: Option<&str>, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code, message: message.into(), field: field.map(str::to_owned) }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<bus::BusError> for ApiError {
    fn from(error: bus::BusError) -> Self {
        tracing::warn!(%error, "rest api: bus failure");
        ApiError::unavailable("the call store is not reachable; try again")
    }
}

impl From<crate::body::BodyError> for ApiError {
    fn from(error: crate::body::BodyError) -> Self {
        ApiError::new(error.status(), error.code(), error.to_string())
    }
}

/// Answers after which the connection is closed: the client was not authenticated or its body
/// was not (fully) read, so nothing more it sends on this connection is wanted.
fn closes_connection(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if closes_connection(self.status) {
            response.force_close();
        }
        response.json(serde_json::json!({
            "error": { "code": self.code, "message": self.message, "field": self.field }
        }))
    }
}
