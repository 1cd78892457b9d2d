//! Server-sent events for the console's pages, fed from the bus: one call's events
//! (`calls.events.<id>`: status changes, what each side said, fields) and its result
//! (`results.<id>`), or the status changes of every call for the list. At most
//! [`MAX_EVENT_STREAMS`](super::MAX_EVENT_STREAMS) are open at once (503 beyond); each is closed
//! when the gateway starts draining, after [`EVENT_STREAM_MAX_AGE`](super::EVENT_STREAM_MAX_AGE),
//! or when the browser goes away, and sends a comment every 15 s so proxies keep it open.

use super::error::ConsoleError;
use super::{require_session, ConsoleState, EVENT_STREAM_MAX_AGE};
use crate::rest::calls::path_call_id;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use protocol::calls::{CallEvent, CallEventKind};
use protocol::subjects;
use protocol::version::decode_json;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

const KEEPALIVE: Duration = Duration::from_secs(15);

/// Event kinds that change what the call list shows.
fn changes_status(kind: CallEventKind) -> bool {
    matches!(
        kind,
        CallEventKind::Queued
            | CallEventKind::Dialing
            | CallEventKind::Ringing
            | CallEventKind::InProgress
            | CallEventKind::RetryScheduled
            | CallEventKind::Canceled
            | CallEventKind::Failed
            | CallEventKind::Ended
    )
}

/// One SSE message.
fn sse(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn event_data(event: &CallEvent) -> serde_json::Value {
    serde_json::json!({ "call_id": event.call_id, "kind": event.kind.as_str(), "detail": event.detail, "at": event.at })
}

/// What feeds a stream: the bus subscriptions, how to turn a message into SSE text, and what
/// ends it.
struct Feed {
    events: bus::Subscription,
    results_opt: Option<bus::Subscription>,
    all_calls: bool,
    draining: tokio::sync::watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    _permit: OwnedSemaphorePermit,
}

impl Feed {
    /// The next chunk to send, or None when the stream ends.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if *self.draining.borrow() {
                return None;
            }
            let results_opt = &mut self.results_opt;
            let results = async move {
                match results_opt.as_mut() {
                    Some(results) => results.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(self.deadline) => return None,
                changed = self.draining.changed() => {
                    if changed.is_err() || *self.draining.borrow() {
                        return Some(Bytes::from_static(b"event: closing\ndata: {}\n\n"));
                    }
                }
                _ = tokio::time::sleep(KEEPALIVE) => return Some(Bytes::from_static(b": keepalive\n\n")),
                message = self.events.next() => {
                    let message = message?;
                    let Ok(event) = decode_json::<CallEvent>(&message.payload) else { continue };
                    if self.all_calls && !changes_status(event.kind) {
                        continue;
                    }
                    return Some(sse("call", &event_data(&event)));
                }
                message = results => {
                    message?;
                    return Some(sse("result", &serde_json::json!({})));
                }
            }
        }
    }
}

fn too_many() -> ConsoleError {
    ConsoleError::Unavailable("too many live pages are open; close one and reload".into())
}

fn respond(feed: Feed) -> HttpResponse {
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next_chunk().await?;
        Some((Ok::<_, actix_web::Error>(chunk), feed))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

/// `GET /console/calls/{call_id}/events`.
pub async fn one_call(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    let call_id = path_call_id(&path).map_err(|_| ConsoleError::NotFound("no such call".into()))?;
    let permit = console.event_streams.clone().try_acquire_owned().map_err(|_| too_many())?;
    let events_subject = subjects::call_events(&call_id).map_err(|_| ConsoleError::NotFound("no such call".into()))?;
    let results_subject = subjects::results(&call_id).map_err(|_| ConsoleError::NotFound("no such call".into()))?;
    let events = state.bus.subscribe(events_subject).await?;
    let results = state.bus.subscribe(results_subject).await?;
    Ok(respond(Feed {
        events,
        results_opt: Some(results),
        all_calls: false,
        draining: state.draining_signal(),
        deadline: tokio::time::Instant::now() + EVENT_STREAM_MAX_AGE,
        _permit: permit,
    }))
}

/// `GET /console/events`: status changes of every call.
pub async fn all_calls(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    let permit = console.event_streams.clone().try_acquire_owned().map_err(|_| too_many())?;
    let events = state.bus.subscribe(subjects::CALL_EVENTS_ALL).await?;
    Ok(respond(Feed {
        events,
        results_opt: None,
        all_calls: true,
        draining: state.draining_signal(),
        deadline: tokio::time::Instant::now() + EVENT_STREAM_MAX_AGE,
        _permit: permit,
    }))
}
