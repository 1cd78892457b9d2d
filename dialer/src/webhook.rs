//! The result webhook: when a call ends, its record (result, transcript, links to the recording
//! and transcript) is POSTed, signed, to the call's `result_webhook` or `RESULT_WEBHOOK_URL`.
//!
//! Why the dialer sends it: it is the service that writes a call's final state, and it already
//! makes outbound HTTP requests (Twilio). Why through a queue: the run loop only marks the
//! delivery `pending` on the call record and puts a [`WebhookDelivery`] on the JetStream work
//! queue `WEBHOOKS` ([`WebhookQueue::call_ended`]); a separate task ([`spawn_deliverer`]) pulls
//! from it through a durable consumer shared by every dialer. So a slow or dead receiver never
//! holds up a call, and a delivery survives a dialer's restart: a job not acknowledged is
//! delivered again (to any dialer) after its ack wait, and the attempts made so far are counted on
//! the call record, not in memory. A delivery interrupted between the POST and the record update
//! is sent again (at least once: receivers dedupe on `call_id`).
//!
//! Each attempt: the body is signed (`X-Gymcall-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, see [`protocol::webhook`]); redirects are not followed; the request, body
//! included, has `RESULT_WEBHOOK_TIMEOUT_MS`; at most [`MAX_REPLY_BYTES`] of the receiver's reply
//! are read (kept in `last_error`). A 2xx is delivered; a 5xx, 408, 429, timeout or connection
//! error is retried after `RESULT_WEBHOOK_RETRY_MS`, doubled each time up to
//! `RESULT_WEBHOOK_MAX_RETRY_S`, until `RESULT_WEBHOOK_MAX_ATTEMPTS`; any other answer is given up
//! at once. The state (`pending` / `delivered` / `failed`, attempts, last error) is on the call
//! record, shown by `GET /v1/calls/{id}` as `webhook`.

use crate::metrics::Stats;
use crate::records::{now_rfc3339, Records};
use bus::queue::{Job, WorkQueue};
use bus::Bus;
use protocol::calls::{CallRecord, CallStatus};
use protocol::version::{decode_json, encode_json};
use protocol::webhook::{signature_header, WebhookDelivery, WebhookState, WebhookStatus, SIGNATURE_HEADER};
use protocol::{subjects, CallId, BUS_VERSION};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tracing::{debug, info, warn};

/// Durable consumer name shared by every dialer's deliverer.
pub const WEBHOOK_CONSUMER: &str = "webhooks";
/// Deliveries in flight at once per dialer.
pub const CONCURRENT_DELIVERIES: usize = 8;
/// Most bytes of a receiver's reply read (for the error kept on the record).
pub const MAX_REPLY_BYTES: usize = 256;
/// While waiting for the brain's result, how often the delivery looks again.
const RESULT_POLL: Duration = Duration::from_secs(1);

/// The webhook settings (`RESULT_WEBHOOK_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// Where results go when the call names no `result_webhook`.
    pub default_url: Option<String>,
    /// HMAC key; without it nothing is sent (a delivery fails with that reason).
    pub secret: Option<String>,
    /// POSTs per delivery before it is given up.
    pub max_attempts: u32,
    /// One POST, reply included.
    pub timeout: Duration,
    /// Pause after the first failed attempt, doubled after each further one ...
    pub first_retry: Duration,
    /// ... up to this.
    pub max_retry: Duration,
    /// How long a completed call's delivery waits for the brain's result before going without.
    pub result_wait: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            default_url: None,
            secret: None,
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(600),
            result_wait: Duration::from_secs(20),
        }
    }
}

impl WebhookConfig {
    /// The pause before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_retry.saturating_mul(1u32 << doublings).min(self.max_retry)
    }
}

/// The producing side, used by the run loop when a call reaches its final state.
pub struct WebhookQueue {
    queue: WorkQueue,
    records: Records,
    default_url: Option<String>,
}

impl WebhookQueue {
    pub async fn open(bus: &Bus, records: Records, default_url: Option<String>) -> Result<WebhookQueue, bus::BusError> {
        let queue = bus.work_queue(subjects::WEBHOOK_STREAM, subjects::WEBHOOK_DELIVERIES, WEBHOOK_CONSUMER).await?;
        Ok(WebhookQueue { queue, records, default_url })
    }

    /// A call is final: when a webhook applies and none was queued for it yet, marks the
    /// delivery `pending` on its record and queues it. Never fails the caller: a delivery that
    /// cannot be queued is marked `failed` on the record with the reason.
    pub async fn call_ended(&self, call_id: &CallId) {
        let default_url = self.default_url.as_deref();
        let mut queued_url_opt = None;
        let marked = self
            .records
            .update(call_id, |record| {
                let url_opt = record.request.result_webhook.as_deref().or(default_url);
                match url_opt {
                    Some(url) if record.status.is_final() && record.webhook.is_none() => {
                        record.webhook = Some(WebhookStatus::pending(url));
                        queued_url_opt = Some(url.to_owned());
                        true
                    }
                    _ => false,
                }
            })
            .await;
        if let Err(error) = marked {
            warn!(call_id = %call_id, %error, "cannot mark the result webhook pending; not sent");
            return;
        }
        if queued_url_opt.is_none() {
            return;
        }
        let delivery = WebhookDelivery { v: BUS_VERSION, call_id: call_id.clone() };
        if let Err(error) = self.queue.enqueue(encode_json(&delivery)).await {
            warn!(call_id = %call_id, %error, "cannot queue the result webhook");
            let reason = format!("could not queue the delivery: {error}");
            let _ = self
                .records
                .update(call_id, |record| match record.webhook.as_mut() {
                    Some(webhook) if webhook.state == WebhookState::Pending => {
                        webhook.state = WebhookState::Failed;
                        webhook.last_error = Some(reason.clone());
                        true
                    }
                    _ => false,
                })
                .await;
        }
    }
}

/// What one POST came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Delivered,
    Retry(String),
    GiveUp(String),
}

/// Everything a delivery task needs.
struct Deliverer {
    records: Records,
    stats: Arc<Stats>,
    config: WebhookConfig,
    public_base_url: String,
    client: reqwest::Client,
}

/// Starts the task that delivers queued webhooks until `shutdown` turns true; then it waits up
/// to one request timeout for deliveries in flight (the rest come back after the ack wait).
pub async fn spawn_deliverer(
    bus: &Bus,
    records: Records,
    config: WebhookConfig,
    public_base_url: String,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, crate::service::DialerError> {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gymcall-webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::service::DialerError::Task(format!("webhook http client: {e}")))?;
    let mut queue = bus
        .work_queue(subjects::WEBHOOK_STREAM, subjects::WEBHOOK_DELIVERIES, WEBHOOK_CONSUMER)
        .await?
        .with_ack_wait(config.timeout + Duration::from_secs(30));
    let wait_at_stop = config.timeout + Duration::from_secs(1);
    let deliverer = Arc::new(Deliverer { records, stats, config, public_base_url, client });
    let slots = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
    Ok(tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let next = tokio::select! {
                next = queue.next() => next,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match next {
                Ok(job) => {
                    let deliverer = deliverer.clone();
                    tokio::spawn(async move {
                        deliverer.handle(job).await;
                        drop(permit);
                    });
                }
                Err(error) => {
                    warn!(%error, "webhook queue pull failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let all = CONCURRENT_DELIVERIES as u32;
        if tokio::time::timeout(wait_at_stop, slots.acquire_many(all)).await.is_err() {
            info!("webhook deliveries still in flight at stop; they are delivered again after the ack wait");
        }
    }))
}

impl Deliverer {
    async fn handle(&self, job: Job) {
        let delivery = match decode_json::<WebhookDelivery>(&job.payload) {
            Ok(delivery) => delivery,
            Err(error) => {
                warn!(%error, "dropping a malformed webhook delivery");
                let _ = job.ack().await;
                return;
            }
        };
        let call_id = delivery.call_id;
        let record = match self.records.get(&call_id).await {
            Ok(Some((record, _))) => record,
            Ok(None) => {
                warn!(call_id = %call_id, "webhook delivery for a call with no record; dropped");
                let _ = job.ack().await;
                return;
            }
            Err(error) => {
                warn!(call_id = %call_id, %error, "cannot read the call record; webhook retried later");
                let _ = job.nak(Duration::from_secs(5)).await;
                return;
            }
        };
        let Some(status) = record.webhook.clone().filter(|w| w.state == WebhookState::Pending) else {
            let _ = job.ack().await; // delivered or given up already (a redelivered job)
            return;
        };
        let waited = RESULT_POLL.saturating_mul(job.delivered.saturating_sub(1) as u32);
        if record.status == CallStatus::Completed
            && record.result.is_none()
            && status.attempts == 0
            && waited < self.config.result_wait
        {
            debug!(call_id = %call_id, "webhook waits for the call's result");
            let _ = job.nak(RESULT_POLL).await;
            return;
        }
        let outcome = match self.config.secret.as_deref() {
            Some(secret) => self.post(&status.url, secret, &payload(&record, &self.public_base_url)).await,
            None => Outcome::GiveUp(
                "RESULT_WEBHOOK_SECRET is not set on the dialer: results are never sent unsigned".into(),
            ),
        };
        let attempts = status.attempts + 1;
        if self.config.secret.is_some() {
            // a POST was made (without a secret none is)
            self.stats.webhook_attempts.fetch_add(1, Ordering::Relaxed);
        }
        let retry_opt = match &outcome {
            Outcome::Retry(_) if attempts < self.config.max_attempts => Some(self.config.retry_after(attempts)),
            _ => None,
        };
        let now = now_rfc3339();
        let written = self
            .records
            .update(&call_id, |record| {
                let Some(webhook) = record.webhook.as_mut().filter(|w| w.state == WebhookState::Pending) else {
                    return false;
                };
                webhook.attempts = attempts;
                webhook.last_attempt_at = Some(now.clone());
                webhook.next_attempt_at = None;
                match (&outcome, retry_opt) {
                    (Outcome::Delivered, _) => {
                        webhook.state = WebhookState::Delivered;
                        webhook.delivered_at = Some(now.clone());
                    }
                    (Outcome::Retry(error), Some(pause)) => {
                        webhook.last_error = Some(error.clone());
                        let at = chrono::Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
                        webhook.next_attempt_at = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                    }
                    (Outcome::Retry(error), None) => {
                        webhook.state = WebhookState::Failed;
                        webhook.last_error = Some(format!("gave up after {attempts} attempts; last: {error}"));
                    }
                    (Outcome::GiveUp(error), _) => {
                        webhook.state = WebhookState::Failed;
                        webhook.last_error = Some(error.clone());
                    }
                }
                true
            })
            .await;
        if let Err(error) = written {
            warn!(call_id = %call_id, %error, "cannot record the webhook attempt");
        }
        match (&outcome, retry_opt) {
            (Outcome::Delivered, _) => {
                self.stats.webhooks_delivered.fetch_add(1, Ordering::Relaxed);
                info!(call_id = %call_id, attempts, "result webhook delivered");
                let _ = job.ack().await;
            }
            (Outcome::Retry(error), Some(pause)) => {
                warn!(call_id = %call_id, attempts, %error, retry_in_ms = pause.as_millis() as u64, "result webhook failed, retrying");
                let _ = job.nak(pause).await;
            }
            (Outcome::Retry(error) | Outcome::GiveUp(error), _) => {
                self.stats.webhooks_failed.fetch_add(1, Ordering::Relaxed);
                warn!(call_id = %call_id, attempts, %error, "result webhook given up");
                let _ = job.ack().await;
            }
        }
    }

    /// One signed POST of `body` to `url`.
    async fn post(&self, url: &str, secret: &str, body: &[u8]) -> Outcome {
        let timestamp_s = chrono::Utc::now().timestamp();
        let request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, signature_header(secret.as_bytes(), timestamp_s, body))
            .body(body.to_vec());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Outcome::Retry(format!("no answer within {} ms", self.config.timeout.as_millis()))
            }
            Err(error) if error.is_connect() => {
                return Outcome::Retry(format!("cannot connect: {}", source_text(&error)))
            }
            Err(error) => return Outcome::Retry(format!("request failed: {}", source_text(&error))),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Delivered;
        }
        // A few bytes of the reply say why; never more than MAX_REPLY_BYTES are read.
        let mut reply = Vec::new();
        while reply.len() < MAX_REPLY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => reply.extend_from_slice(&chunk[..chunk.len().min(MAX_REPLY_BYTES - reply.len())]),
                _ => break,
            }
        }
        let reply = String::from_utf8_lossy(&reply).trim().to_owned();
        let error = if reply.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {reply}") };
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Outcome::Retry(error)
        } else if status.is_redirection() {
            Outcome::GiveUp(format!("{error} (redirects are not followed)"))
        } else {
            Outcome::GiveUp(error)
        }
    }
}

/// The error and its causes on one line (reqwest's own message hides the cause).
fn source_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The body POSTed for a call: its record, the result and transcript, and where to fetch the
/// recording and transcript (same bearer token as the REST API).
pub fn payload(record: &CallRecord, public_base_url: &str) -> Vec<u8> {
    let call_url = format!("{public_base_url}/v1/calls/{}", record.call_id);
    let body = json!({
        "event": "call.ended",
        "call_id": record.call_id,
        "status": record.status,
        "request": record.request,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "result": record.result,
        "transcript": record.result.as_ref().map(|r| &r.transcript),
        "call_url": call_url,
        "recording_url": format!("{call_url}/recording"),
        "transcript_url": format!("{call_url}/transcript"),
        "created_at": record.created_at,
        "ended_at": record.updated_at,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap() {
        let config = WebhookConfig {
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(20),
            ..WebhookConfig::default()
        };
        let pauses: Vec<u64> = (1..=6).map(|n| config.retry_after(n).as_secs()).collect();
        assert_eq!(pauses, [2, 4, 8, 16, 20, 20]);
        assert_eq!(config.retry_after(u32::MAX), Duration::from_secs(20));
    }
}
