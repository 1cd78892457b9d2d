//! The stream's media worker: found on `media.assign` (retried), watched with liveness pings on
//! `media.ping.<streamSid>`.

use crate::state::AppState;
use bus::BusErrorKind;
use bytes::Bytes;
use protocol::media::{MediaAssignReply, MediaAssignRequest};
use protocol::version::{decode_json, encode_json};
use protocol::{subjects, StreamSid};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Resolves to true when the worker missed a ping, false when the pinger ended otherwise.
pub(super) async fn worker_lost(receiver: &mut Option<oneshot::Receiver<()>>) -> bool {
    match receiver {
        Some(receiver) => receiver.await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Timed-out pings in a row after which a worker that is still subscribed counts as lost (a busy
/// worker may miss one).
const PINGS_MISSED_LOST: u32 = 2;

/// Pings the stream's worker every `interval`; reports on the returned channel when the worker is
/// gone (nobody listens on its ping subject) or misses [`PINGS_MISSED_LOST`] pings in a row. Ends
/// by itself once the receiver is dropped.
pub(super) fn spawn_pinger(
    state: Arc<AppState>,
    stream_sid: &StreamSid,
    interval: Duration,
) -> Option<oneshot::Receiver<()>> {
    let subject = subjects::media_ping(stream_sid).ok()?;
    let (lost_tx, lost_rx) = oneshot::channel();
    let timeout = state.config.media_assign_timeout;
    actix_rt::spawn(async move {
        let mut missed = 0;
        loop {
            tokio::time::sleep(interval).await;
            if lost_tx.is_closed() {
                return;
            }
            match state.bus.request(subject.clone(), Bytes::new(), timeout).await {
                Ok(_) => missed = 0,
                Err(error) if matches!(error.kind, BusErrorKind::NoResponders | BusErrorKind::TimedOut) => {
                    missed += 1;
                    tracing::warn!(subject, %error, missed, "media worker missed a liveness ping");
                    if error.kind == BusErrorKind::NoResponders || missed >= PINGS_MISSED_LOST {
                        let _ = lost_tx.send(());
                        return;
                    }
                }
                Err(error) => tracing::warn!(subject, %error, "liveness ping failed"),
            }
        }
    });
    Some(lost_rx)
}

/// Asks `media.assign` for a worker, retrying when none answers in time.
pub(super) async fn assign(state: &AppState, request: &MediaAssignRequest) -> Option<MediaAssignReply> {
    let payload = Bytes::from(encode_json(request));
    let attempts = state.config.media_assign_attempts;
    let timeout = state.config.media_assign_timeout;
    for attempt in 1..=attempts {
        match state.bus.request(subjects::MEDIA_ASSIGN, payload.clone(), timeout).await {
            Ok(reply) => match decode_json::<MediaAssignReply>(&reply.payload) {
                Ok(reply) => return Some(reply),
                Err(error) => tracing::warn!(call_id = %request.call_id, attempt, %error, "bad media.assign reply"),
            },
            Err(error) => {
                tracing::warn!(call_id = %request.call_id, attempt, %error, "media.assign got no worker");
                if error.kind == BusErrorKind::NoResponders {
                    // Nobody is subscribed right now; wait a little before asking again.
                    tokio::time::sleep(timeout.min(Duration::from_millis(250))).await;
                }
            }
        }
        if attempt < attempts {
            state.metrics.inc(&state.metrics.assignment_retries);
        }
    }
    None
}
