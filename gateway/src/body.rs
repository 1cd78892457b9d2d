//! Request bodies read with a size cap and a deadline: a body announced larger than the cap is
//! refused before a byte of it is read, one that grows past it is cut off there, and one that
//! has not fully arrived when the deadline passes is answered 408. Callers check what they can
//! (the REST bearer token) before reading at all.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::Duration;

/// How much of a body may be read and for how long.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the body is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
    #[error("the body did not arrive within {} s", timeout.as_secs_f64())]
    TimedOut { timeout: Duration },
    #[error("the body could not be read: {0}")]
    Broken(String),
}

impl BodyError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The `code` of the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "body_too_large",
            BodyError::TimedOut { .. } => "body_timeout",
            BodyError::Broken(_) => "bad_body",
        }
    }
}

/// Reads the whole body within `limits`.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload, limits: BodyLimits) -> Result<Bytes, BodyError> {
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|length: usize| length > limits.max_bytes) {
        return Err(BodyError::TooLarge { max_bytes: limits.max_bytes });
    }
    let read = async {
        let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limits.max_bytes));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| BodyError::Broken(error.to_string()))?;
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(BodyError::TooLarge { max_bytes: limits.max_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(limits.timeout, read).await.unwrap_or(Err(BodyError::TimedOut { timeout: limits.timeout }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    async fn request(body: &'static str) -> (HttpRequest, web::Payload) {
        let (req, mut payload) = TestRequest::post().set_payload(body).to_http_parts();
        let payload = <web::Payload as actix_web::FromRequest>::from_request(&req, &mut payload).await.unwrap();
        (req, payload)
    }

    fn limits(max_bytes: usize) -> BodyLimits {
        BodyLimits { max_bytes, timeout: Duration::from_secs(1) }
    }

    #[actix_rt::test]
    async fn a_body_within_the_limit_is_read_and_a_larger_one_refused() {
        let (req, payload) = request("hello").await;
        let body = read_body(&req, payload, limits(5)).await;
        assert_eq!(body, Ok(Bytes::from_static(b"hello")));
        let (req, payload) = request("hello!").await;
        let refused = read_body(&req, payload, limits(5)).await.unwrap_err();
        assert_eq!(refused, BodyError::TooLarge { max_bytes: 5 });
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
