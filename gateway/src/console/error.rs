//! Console errors, answered as an HTML page that says what went wrong and where to go next (a
//! browser that is not logged in is sent to the login page instead).

use super::html::{escape, page, see_other};
use crate::rest::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What a console request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: GET pages redirect to the login page.
    #[error("not logged in")]
    NotLoggedIn,
    /// The console is closed: `API_TOKEN` is not configured.
    #[error("the console is disabled: API_TOKEN is not configured")]
    Disabled,
    /// A form post without this session's CSRF token, or from another site.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
    /// An error of the REST logic the console calls.
    #[error("{}", .0.message)]
    Api(#[from] ApiError),
}

impl From<bus::BusError> for ConsoleError {
    fn from(error: bus::BusError) -> Self {
        ConsoleError::Api(ApiError::from(error))
    }
}

impl From<crate::body::BodyError> for ConsoleError {
    fn from(error: crate::body::BodyError) -> Self {
        ConsoleError::Api(ApiError::from(error))
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::NotLoggedIn => StatusCode::SEE_OTHER,
            ConsoleError::Disabled => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Api(error) => error.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self, ConsoleError::NotLoggedIn) {
            return see_other("/console/login");
        }
        let status = self.status_code();
        let title = match status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            StatusCode::SERVICE_UNAVAILABLE => "Not available",
            status if status.is_client_error() => "Cannot do that",
            _ => "Something went wrong",
        };
        let body = format!(
            r#"<p class="error" role="alert">{}</p><p><a href="/console/calls">Back to the calls</a></p>"#,
            escape(&self.to_string())
        );
        let mut response = page(status, title, None, &body);
        if matches!(status, StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT) {
            response.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
        }
        response
    }
}
