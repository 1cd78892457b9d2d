//! The `media.assign` loop: take a stream while below `max_calls`, start its call actor.
//!
//! A full worker must not answer, so the gateway's request goes to a worker with room. Staying
//! silent alone would cost the gateway a timeout per refusal, so a full worker also leaves the
//! `media` queue group (unsubscribes) and rejoins it when a call ends: NATS then routes requests
//! only to workers with room. A request that races the unsubscribe is left unanswered.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;
use bus::{Message, Subscription};
use protocol::media::{MediaAssignReply, MediaAssignRequest};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use tokio::sync::watch;

use crate::call::CallActor;
use crate::shared::{MediaError, Shared};

/// Joins the queue group and runs the loop until `stop` turns true. Returns once subscribed.
pub(crate) async fn spawn(
    shared: Arc<Shared>,
    arbiters: Vec<ArbiterHandle>,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, MediaError> {
    let subscription = join_group(&shared).await?;
    Ok(actix_rt::spawn(run(shared, arbiters, stop, subscription)))
}

async fn join_group(shared: &Shared) -> Result<Subscription, MediaError> {
    let subscription = shared.bus.queue_subscribe(subjects::MEDIA_ASSIGN, subjects::MEDIA_QUEUE_GROUP).await?;
    shared.bus.flush().await?;
    Ok(subscription)
}

async fn run(
    shared: Arc<Shared>,
    arbiters: Vec<ArbiterHandle>,
    mut stop: watch::Receiver<bool>,
    subscription: Subscription,
) {
    let mut subscription_opt = Some(subscription);
    let mut active = shared.active.subscribe();
    let mut next_arbiter = 0usize;
    let mut next_call = 0u64;
    let worker_id = shared.config.worker_id.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        let full = shared.active_calls() >= shared.config.max_calls;
        if full && subscription_opt.is_some() {
            subscription_opt = None;
            tracing::info!(worker_id = %worker_id, max_calls = shared.config.max_calls, "at capacity, leaving the media queue group");
        }
        if !full && subscription_opt.is_none() {
            match join_group(&shared).await {
                Ok(subscription) => {
                    tracing::info!(worker_id = %worker_id, "below capacity, rejoined the media queue group");
                    subscription_opt = Some(subscription);
                }
                Err(error) => {
                    tracing::warn!(worker_id = %worker_id, %error, "could not rejoin the media queue group");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let Some(subscription) = subscription_opt.as_mut() else {
            tokio::select! {
                _ = stop.changed() => {}
                _ = active.changed() => {}
            }
            continue;
        };
        tokio::select! {
            _ = stop.changed() => {}
            _ = active.changed() => {}
            message = subscription.next() => match message {
                Some(message) => {
                    if take(&shared, &message, &arbiters[next_arbiter % arbiters.len()], next_call).await {
                        next_arbiter += 1;
                        next_call += 1;
                    }
                }
                None => {
                    tracing::warn!(worker_id = %worker_id, "media.assign subscription closed");
                    subscription_opt = None;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    }
    tracing::info!(worker_id = %worker_id, "stopped taking calls");
}

/// Answers one request if there is room; returns whether a call actor was started.
async fn take(shared: &Arc<Shared>, message: &Message, arbiter: &ArbiterHandle, call_number: u64) -> bool {
    let request: MediaAssignRequest = match decode_json(&message.payload) {
        Ok(request) => request,
        Err(error) => {
            shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "malformed media.assign request");
            return false;
        }
    };
    if shared.active_calls() >= shared.config.max_calls {
        shared.stats.assignments_refused.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(call_id = %request.call_id, "full, leaving media.assign to another worker");
        return false;
    }
    let subject = match subjects::media_in(&request.stream_sid) {
        Ok(subject) => subject,
        Err(error) => {
            shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(call_id = %request.call_id, %error, "media.assign with an unusable stream sid");
            return false;
        }
    };
    // Subscribe before answering, so no frame the gateway sends after our reply is lost, and
    // so the gateway's liveness pings (`media.ping.<streamSid>`) find us.
    let ping_subject = subjects::media_ping(&request.stream_sid).unwrap_or_default();
    let (media_in, ping) = match (shared.bus.subscribe(subject).await, shared.bus.subscribe(ping_subject).await) {
        (Ok(media_in), Ok(ping)) => (media_in, ping),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(call_id = %request.call_id, %error, "could not subscribe to the stream");
            return false;
        }
    };
    shared.active.send_modify(|n| *n += 1);
    let reply = MediaAssignReply { v: protocol::BUS_VERSION, worker_id: shared.config.worker_id.clone() };
    if let Err(error) = shared.bus.respond(message, encode_json(&reply)).await {
        tracing::warn!(call_id = %request.call_id, %error, "could not answer media.assign");
        shared.active.send_modify(|n| *n -= 1);
        return false;
    }
    shared.stats.calls_taken.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        call_id = %request.call_id,
        stream_sid = %request.stream_sid,
        active_calls = shared.active_calls(),
        "took call"
    );
    let shared = shared.clone();
    CallActor::start_in_arbiter(arbiter, move |_ctx| CallActor::new(shared, request, media_in, ping, call_number));
    true
}
