//! Errors at the gateway's boundaries: startup failures and HTTP error responses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// An HTTP error answered with `{ "error": { "code", "message" } }`.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError { status, code, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<crate::body::BodyError> for HttpError {
    fn from(error: crate::body::BodyError) -> Self {
        HttpError::new(error.status(), error.code(), error.to_string())
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // Refused or unread: nothing more this client sends on the connection is wanted.
        if matches!(self.status, StatusCode::FORBIDDEN | StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE) {
            response.force_close();
        }
        response.json(serde_json::json!({ "error": { "code": self.code, "message": self.message } }))
    }
}
