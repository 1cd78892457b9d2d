//! Retry with exponential backoff inside a deadline, shared by the cloud clients.

use std::time::Duration;

use tokio::time::Instant;

/// How long and how often to retry a failing provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Give up when the next attempt would start after this much time since the first.
    pub deadline: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            deadline: Duration::from_secs(5),
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// What one attempt ended with.
pub(crate) enum Attempt<T, E> {
    Done(T),
    /// Worth retrying (rate limit, server error, connection refused); optional server-asked wait.
    Retry(E, Option<Duration>),
    Fatal(E),
}

/// Run `attempt` until it succeeds, fails fatally, or the deadline passes (returning the last error).
pub(crate) async fn with_retries<T, E, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Attempt<T, E>>,
{
    let started = Instant::now();
    let mut backoff = policy.first_backoff;
    let mut number = 0u32;
    loop {
        number += 1;
        match attempt(number).await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fatal(error) => return Err(error),
            Attempt::Retry(error, asked_wait) => {
                let wait = asked_wait.unwrap_or(backoff).min(policy.max_backoff);
                if started.elapsed() + wait > policy.deadline {
                    return Err(error);
                }
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(policy.max_backoff);
            }
        }
    }
}

/// `Retry-After` in seconds, when the server sent one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether an HTTP status is worth retrying.
pub(crate) fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}
