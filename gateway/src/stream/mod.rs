//! The Media Streams WebSocket: one task per stream relays Twilio's JSON to the bus and back.
//!
//! Inbound: `start` -> `media.assign` (retried) -> `StreamEvent::Start` on `media.in.<streamSid>`;
//! each `media` frame's base64 is decoded into a reused buffer and published as a binary audio
//! frame; `dtmf`, `mark`, `stop` become `StreamEvent`s. Outbound: one subscription to
//! `media.out.<streamSid>` carries audio, marks, clears and hang-ups, written back as Twilio JSON.
//! Bad input is counted by kind on `/metrics` and logged; it never ends another call.
//!
//! What an outsider can make a stream cost is bounded: frames are read with the size limit
//! checked on each header ([`frames`]), media timestamps are checked against the frame count and
//! the wall clock ([`media_clock`]), a socket that sends no `start` within `WS_START_TIMEOUT_S`
//! (or nothing for `WS_IDLE_TIMEOUT_S` after it) is closed, and so is every socket that has not
//! started once the gateway drains.

pub mod frames;
pub mod media_clock;
pub mod replay;
pub mod token;
mod worker;

use crate::state::{AppState, StreamOutcome};
use crate::twilio_http::{publish_call_event, SIGNATURE_HEADER};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, Session};
use bus::Subscription;
use bytes::Bytes;
use frames::{FrameError, FrameReader};
use media_clock::{MediaClock, Stamp};
use protocol::calls::CallEventKind;
use protocol::media::{
    decode_media_out, encode_inbound_audio, encode_stream_event, Direction, MediaAssignRequest, MediaOut, OutEvent,
    StreamEvent,
};
use protocol::twilio::media_streams::{encode_outbound_media_into, InboundMessage, Start, Track};
use protocol::twilio::{decode_inbound, validate_websocket_upgrade, OutboundMessage};
use protocol::version::current_version;
use protocol::{subjects, CallId, StreamSid};
use replay::Replay;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};
use worker::{assign, spawn_pinger, worker_lost};

/// `GET /v1/twilio/stream`: check the upgrade's signature, then hand the socket to a stream task.
pub async fn stream_upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    if state.config.validate_signature {
        let mut url = state.config.stream_url();
        if !req.query_string().is_empty() {
            url = format!("{url}?{}", req.query_string());
        }
        let header = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        if !validate_websocket_upgrade(&state.config.twilio_auth_token, &url, header) {
            state.metrics.inc(&state.metrics.upgrade_signature_rejections);
            tracing::warn!(has_header = header.is_some(), "websocket upgrade signature rejected");
            return Ok(crate::error::HttpError::forbidden("invalid or missing X-Twilio-Signature").into_response());
        }
    }
    // actix-ws would buffer a whole frame before checking its size: it gets an empty payload
    // (only its handshake and session are used) and the socket is read by a FrameReader.
    let socket_input = body.into_inner();
    let no_input = web::Payload::from_request(&req, &mut actix_web::dev::Payload::None).await?;
    let (response, session, _unused) = actix_ws::handle(&req, no_input)?;
    let messages = FrameReader::new(socket_input, state.config.ws_max_frame_bytes);
    let state = state.into_inner();
    // One span per stream; call_id, call_sid and stream_sid are filled in on `start`.
    let span = tracing::info_span!(
        "stream",
        call_id = tracing::field::Empty,
        call_sid = tracing::field::Empty,
        stream_sid = tracing::field::Empty
    );
    let task = async move {
        state.metrics.open_sockets.fetch_add(1, Ordering::Relaxed);
        let exit = StreamTask::new(state.clone(), session).run(messages).await;
        state.metrics.open_sockets.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(?exit, "media stream task ended");
    };
    actix_rt::spawn(tracing::Instrument::instrument(task, span));
    Ok(response)
}

trait IntoResponse {
    fn into_response(self) -> HttpResponse;
}

impl StreamExit {
    /// The `exit` label on `/metrics`.
    pub fn label(&self) -> &'static str {
        match self {
            StreamExit::Stopped => "stopped",
            StreamExit::SocketClosed => "socket_closed",
            StreamExit::HungUp => "hung_up",
            StreamExit::NotAssigned => "not_assigned",
            StreamExit::ProtocolError => "protocol_error",
            StreamExit::Shutdown => "shutdown",
            StreamExit::StartTimeout => "start_timeout",
            StreamExit::IdleTimeout => "idle_timeout",
            StreamExit::Unauthorized => "unauthorized",
        }
    }
}

impl IntoResponse for crate::error::HttpError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// How a stream task ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamExit {
    /// Twilio sent `stop`.
    Stopped,
    /// The socket closed (or broke) without `stop`.
    SocketClosed,
    /// The media worker asked to hang up.
    HungUp,
    /// No media worker took the stream.
    NotAssigned,
    /// A frame exceeded the size limit, was not UTF-8 or broke the protocol.
    ProtocolError,
    /// The gateway is shutting down.
    Shutdown,
    /// No `start` within `WS_START_TIMEOUT_S` of the upgrade.
    StartTimeout,
    /// Nothing received for `WS_IDLE_TIMEOUT_S` after `start`.
    IdleTimeout,
    /// `start` without a valid, unspent stream token for its call ([`token`]).
    Unauthorized,
}

/// A stream after `start` and assignment.
struct Live {
    stream_sid: StreamSid,
    call_id: CallId,
    media_in_subject: String,
    media_out: Subscription,
    /// The request that found the worker, to find another one if it stops answering pings.
    assign_request: MediaAssignRequest,
    /// The caller's latest audio and events, for the worker the stream may move to.
    replay: Replay,
}

struct StreamTask {
    state: Arc<AppState>,
    session: Session,
    live: Option<Live>,
    /// Reused: decoded μ-law of one inbound frame.
    audio: Vec<u8>,
    /// Reused: the binary `media.in` frame.
    frame: Vec<u8>,
    /// Reused: JSON text of one outbound media message.
    text_out: String,
    /// Resolves when the owning worker missed a liveness ping (None: pings off or not started).
    worker_lost: Option<oneshot::Receiver<()>>,
    /// Checks the media timestamps.
    media_clock: MediaClock,
    /// The close code the socket is closed with when the task ends on a protocol error.
    protocol_close_code: CloseCode,
}

enum Step {
    Continue,
    End(StreamExit),
}

async fn next_out(live: &mut Option<Live>) -> Option<bus::Message> {
    match live {
        Some(live) => live.media_out.next().await,
        None => std::future::pending().await,
    }
}

impl StreamTask {
    fn new(state: Arc<AppState>, session: Session) -> Self {
        StreamTask {
            state,
            session,
            live: None,
            audio: Vec::with_capacity(512),
            frame: Vec::with_capacity(512),
            text_out: String::new(),
            worker_lost: None,
            media_clock: MediaClock::new(),
            protocol_close_code: CloseCode::Protocol,
        }
    }

    /// When the socket is closed if nothing else happens: `start` is due within
    /// `WS_START_TIMEOUT_S` of the upgrade, then something within `WS_IDLE_TIMEOUT_S` of the last
    /// message.
    fn deadline(&self, opened_at: Instant, last_message_at: Instant) -> Instant {
        match self.live {
            None => opened_at + self.state.config.ws_start_timeout,
            Some(_) => last_message_at + self.state.config.ws_idle_timeout,
        }
    }

    async fn run(mut self, mut messages: FrameReader) -> StreamExit {
        let mut close_signal = self.state.close_signal();
        let mut draining = self.state.draining_signal();
        let opened_at = Instant::now();
        let mut last_message_at = opened_at;
        let exit = loop {
            let deadline = self.deadline(opened_at, last_message_at);
            let step = tokio::select! {
                message = messages.recv() => match message {
                    Some(Ok(message)) => {
                        last_message_at = Instant::now();
                        self.on_socket_message(message).await
                    }
                    Some(Err(error)) => self.on_frame_error(error),
                    None => Step::End(StreamExit::SocketClosed),
                },
                () = sleep_until(deadline) => self.on_timeout(),
                // A socket that has not started is no call: it closes as soon as the gateway drains.
                _ = draining.wait_for(|draining| *draining), if self.live.is_none() => Step::End(StreamExit::Shutdown),
                out = next_out(&mut self.live) => match out {
                    Some(message) => self.on_media_out(message.payload).await,
                    None => {
                        tracing::warn!("media.out subscription ended");
                        Step::End(StreamExit::SocketClosed)
                    }
                },
                lost = worker_lost(&mut self.worker_lost) => {
                    if lost {
                        self.on_worker_lost().await
                    } else {
                        self.worker_lost = None;
                        Step::Continue
                    }
                },
                changed = close_signal.changed() => match changed {
                    Ok(()) if *close_signal.borrow() => Step::End(StreamExit::Shutdown),
                    Ok(()) => Step::Continue,
                    Err(_) => Step::Continue,
                },
            };
            if let Step::End(exit) = step {
                break exit;
            }
        };
        self.finish(exit).await
    }

    async fn finish(mut self, exit: StreamExit) -> StreamExit {
        if let Some(live) = self.live.take() {
            self.state.metrics.active_streams.fetch_sub(1, Ordering::Relaxed);
            let reason = match exit {
                StreamExit::Stopped => "twilio_stop",
                StreamExit::HungUp => "hangup",
                StreamExit::Shutdown => "gateway_shutdown",
                StreamExit::ProtocolError => "protocol_error",
                StreamExit::IdleTimeout => "idle_timeout",
                StreamExit::SocketClosed
                | StreamExit::NotAssigned
                | StreamExit::StartTimeout
                | StreamExit::Unauthorized => "socket_closed",
            };
            self.publish_event(&live.media_in_subject, &StreamEvent::Stop { reason: reason.to_owned() }).await;
            let outcome = if exit == StreamExit::HungUp { StreamOutcome::HungUp } else { StreamOutcome::Failed };
            self.state.record_stream_outcome(&live.call_id, outcome);
            tracing::info!(call_id = %live.call_id, stream_sid = %live.stream_sid, ?exit, "media stream ended");
            if exit == StreamExit::Shutdown {
                publish_call_event(
                    &self.state,
                    &live.call_id,
                    CallEventKind::StreamClosed,
                    "gateway shutting down".into(),
                )
                .await;
            }
        }
        // Counted before the close, so whoever sees the socket close sees the count.
        self.state.metrics.stream_exit(exit.label());
        let close_code = match exit {
            StreamExit::ProtocolError => self.protocol_close_code,
            StreamExit::StartTimeout | StreamExit::IdleTimeout | StreamExit::Unauthorized => CloseCode::Policy,
            _ => CloseCode::Normal,
        };
        let _ = self.session.close(Some(CloseReason { code: close_code, description: None })).await;
        exit
    }

    fn bad(&self, kind: &str, detail: &str) {
        self.state.metrics.bad_message(kind);
        match &self.live {
            Some(live) => tracing::warn!(stream_sid = %live.stream_sid, kind, detail, "bad media stream message"),
            None => tracing::warn!(kind, detail, "bad media stream message"),
        }
    }

    fn on_frame_error(&mut self, error: FrameError) -> Step {
        if let FrameError::Io(detail) = &error {
            tracing::debug!(detail, "socket broke mid-frame");
            return Step::End(StreamExit::SocketClosed);
        }
        self.bad(error.kind(), &error.to_string());
        self.protocol_close_code = error.close_code();
        Step::End(StreamExit::ProtocolError)
    }

    fn on_timeout(&self) -> Step {
        match &self.live {
            None => {
                let waited_s = self.state.config.ws_start_timeout.as_secs_f64();
                tracing::warn!(waited_s, "websocket sent no start in time, closing it");
                Step::End(StreamExit::StartTimeout)
            }
            Some(live) => {
                let waited_s = self.state.config.ws_idle_timeout.as_secs_f64();
                tracing::warn!(stream_sid = %live.stream_sid, waited_s, "media stream went silent, closing it");
                Step::End(StreamExit::IdleTimeout)
            }
        }
    }

    async fn on_socket_message(&mut self, message: Message) -> Step {
        match message {
            Message::Text(text) => self.on_text(&text).await,
            Message::Binary(bytes) => {
                self.bad("binary_frame", &format!("{} bytes", bytes.len()));
                Step::Continue
            }
            Message::Ping(bytes) => {
                let _ = self.session.pong(&bytes).await;
                Step::Continue
            }
            Message::Pong(_) | Message::Nop => Step::Continue,
            Message::Continuation(_) => {
                self.bad("protocol_error", "fragmented frame");
                Step::Continue
            }
            Message::Close(_) => Step::End(StreamExit::SocketClosed),
        }
    }

    async fn on_text(&mut self, text: &str) -> Step {
        let message = match decode_inbound(text) {
            Ok(message) => message,
            Err(error) => {
                self.bad(error.kind(), &error.to_string());
                return Step::Continue;
            }
        };
        match message {
            InboundMessage::Connected(_) => Step::Continue,
            InboundMessage::Start(start) => self.on_start(start).await,
            InboundMessage::Media(media) => {
                let Some(live) = &self.live else {
                    self.bad("media_before_start", "media before start");
                    return Step::Continue;
                };
                if media.stream_sid != live.stream_sid.as_str() {
                    self.bad("wrong_stream_sid", &media.stream_sid);
                    return Step::Continue;
                }
                if media.track != Track::Inbound {
                    self.bad("bad_value", "media on a track other than inbound");
                    return Step::Continue;
                }
                if let Err(error) = media.decode_payload_into(&mut self.audio) {
                    self.bad(error.kind(), &error.to_string());
                    return Step::Continue;
                }
                let media_ms = match self.media_clock.check(Instant::now().into_std(), media.timestamp_ms) {
                    Stamp::Trusted(ms) => ms,
                    Stamp::Replaced { claimed_ms, used_ms } => {
                        self.bad("timestamp_jump", &format!("timestamp {claimed_ms} ms forwarded as {used_ms} ms"));
                        used_ms
                    }
                };
                let media_ms = u32::try_from(media_ms).unwrap_or(u32::MAX);
                encode_inbound_audio(media.chunk as u32, media_ms, &self.audio, &mut self.frame);
                let subject = live.media_in_subject.clone();
                let payload = Bytes::copy_from_slice(&self.frame);
                if let Some(live) = &mut self.live {
                    live.replay.audio(u64::from(media_ms), payload.clone());
                }
                match self.state.bus.publish(subject, payload).await {
                    Ok(()) => self.state.metrics.inc(&self.state.metrics.frames_in),
                    Err(error) => {
                        self.state.metrics.inc(&self.state.metrics.bus_publish_errors);
                        tracing::warn!(%error, "media.in publish failed");
                    }
                }
                Step::Continue
            }
            InboundMessage::Dtmf(dtmf) => {
                self.forward_event(dtmf.stream_sid.as_str(), StreamEvent::Dtmf { digit: dtmf.digit }).await
            }
            InboundMessage::Mark(mark) => {
                self.forward_event(mark.stream_sid.as_str(), StreamEvent::Mark { name: mark.name }).await
            }
            InboundMessage::Stop(stop) => {
                if self.live.is_none() {
                    return Step::End(StreamExit::SocketClosed);
                }
                if self.check_sid(stop.stream_sid.as_str()) {
                    Step::End(StreamExit::Stopped)
                } else {
                    Step::Continue
                }
            }
        }
    }

    /// True when `stream_sid` is this stream's; counts the message otherwise.
    fn check_sid(&self, stream_sid: &str) -> bool {
        match &self.live {
            None => {
                self.bad("media_before_start", "event before start");
                false
            }
            Some(live) if live.stream_sid.as_str() != stream_sid => {
                self.bad("wrong_stream_sid", stream_sid);
                false
            }
            Some(_) => true,
        }
    }

    async fn forward_event(&mut self, stream_sid: &str, event: StreamEvent) -> Step {
        if !self.check_sid(stream_sid) {
            return Step::Continue;
        }
        if let Some(live) = &mut self.live {
            let subject = live.media_in_subject.clone();
            let payload = Bytes::from(encode_stream_event(&event));
            live.replay.event(payload.clone());
            self.publish_payload(&subject, payload).await;
        }
        Step::Continue
    }

    async fn publish_event(&self, subject: &str, event: &StreamEvent) {
        self.publish_payload(subject, Bytes::from(encode_stream_event(event))).await
    }

    async fn publish_payload(&self, subject: &str, payload: Bytes) {
        if let Err(error) = self.state.bus.publish(subject.to_owned(), payload).await {
            self.state.metrics.inc(&self.state.metrics.bus_publish_errors);
            tracing::warn!(subject, %error, "media.in event publish failed");
        }
    }

    /// Checks the `stream_token` parameter against the call this stream claims and spends it
    /// (a KV create: a second stream with the same token is refused on any gateway).
    async fn spend_token(&self, start: &Start, call_id: &CallId) -> Result<(), token::TokenError> {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let claimed = start.custom_parameters.get(token::TOKEN_PARAMETER).map(String::as_str);
        let key = self.state.stream_tokens.check(claimed, call_id.as_str(), start.call_sid.as_str(), now_unix)?;
        let spend = async {
            let spent = self.state.bus.kv(token::KV_STREAM_TOKENS).await?;
            spent.create(&key, Bytes::from(call_id.as_str().to_owned())).await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(3), spend).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) if error.kind == bus::BusErrorKind::AlreadyExists => Err(token::TokenError::Spent),
            Ok(Err(error)) => {
                tracing::error!(%error, "stream token store unavailable");
                Err(token::TokenError::StoreUnavailable)
            }
            Err(_) => Err(token::TokenError::StoreUnavailable),
        }
    }

    async fn on_start(&mut self, start: Start) -> Step {
        if self.live.is_some() {
            self.bad("duplicate_start", start.stream_sid.as_str());
            return Step::Continue;
        }
        let state = self.state.clone();
        let (Ok(media_in_subject), Ok(media_out_subject)) =
            (subjects::media_in(&start.stream_sid), subjects::media_out(&start.stream_sid))
        else {
            self.bad("bad_value", "streamSid cannot be a subject token");
            return Step::End(StreamExit::ProtocolError);
        };
        let call_id = match start.custom_parameters.get("call_id") {
            Some(id) if CallId::is_subject_safe(id) => CallId::from(id.as_str()),
            _ => state.inbound_call_id(&start.call_sid),
        };
        if let Err(refused) = self.spend_token(&start, &call_id).await {
            self.bad("stream_token", refused.label());
            tracing::warn!(%call_id, call_sid = %start.call_sid, reason = refused.label(), "stream refused: no valid token for this call");
            return Step::End(StreamExit::Unauthorized);
        }
        let span = tracing::Span::current();
        span.record("call_id", tracing::field::display(&call_id));
        span.record("call_sid", tracing::field::display(&start.call_sid));
        span.record("stream_sid", tracing::field::display(&start.stream_sid));
        let playbook =
            start.custom_parameters.get("playbook").cloned().unwrap_or_else(|| state.config.inbound_playbook.clone());
        let direction = match start.custom_parameters.get("direction").map(String::as_str) {
            Some("inbound") => Direction::Inbound,
            _ => Direction::Outbound,
        };
        // Subscribe before asking for a worker, so nothing the worker sends first is lost.
        let media_out = match state.bus.subscribe(media_out_subject).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::error!(%call_id, %error, "media.out subscribe failed");
                state.metrics.inc(&state.metrics.assignment_failures);
                return Step::End(StreamExit::NotAssigned);
            }
        };
        let request = MediaAssignRequest {
            v: current_version(),
            call_id: call_id.clone(),
            stream_sid: start.stream_sid.clone(),
            call_sid: start.call_sid.clone(),
            playbook,
            direction,
            context: start.custom_parameters.clone(),
        };
        match assign(&state, &request).await {
            Some(reply) => {
                state.metrics.inc(&state.metrics.streams_started);
                tracing::info!(%call_id, stream_sid = %start.stream_sid, call_sid = %start.call_sid, worker = %reply.worker_id, "media stream assigned");
                let live = Live {
                    stream_sid: start.stream_sid.clone(),
                    call_id: call_id.clone(),
                    media_in_subject,
                    media_out,
                    assign_request: request,
                    replay: Replay::new(state.config.media_replay_ms),
                };
                let event = StreamEvent::Start {
                    call_id,
                    call_sid: start.call_sid,
                    stream_sid: start.stream_sid,
                    custom_parameters: start.custom_parameters,
                };
                self.publish_event(&live.media_in_subject, &event).await;
                if let Some(interval) = state.config.media_ping_interval {
                    self.worker_lost = spawn_pinger(state.clone(), &live.stream_sid, interval);
                }
                self.live = Some(live);
                state.metrics.active_streams.fetch_add(1, Ordering::Relaxed);
                Step::Continue
            }
            None => {
                state.metrics.inc(&state.metrics.assignment_failures);
                tracing::error!(%call_id, stream_sid = %start.stream_sid, "no media worker took the stream");
                state.record_stream_outcome(&call_id, StreamOutcome::Failed);
                publish_call_event(&state, &call_id, CallEventKind::Failed, "no media worker available".into()).await;
                Step::End(StreamExit::NotAssigned)
            }
        }
    }

    /// The owning worker stopped answering pings: ask `media.assign` again and replay `start`.
    async fn on_worker_lost(&mut self) -> Step {
        self.worker_lost = None;
        let Some(live) = &self.live else { return Step::Continue };
        let state = self.state.clone();
        state.metrics.inc(&state.metrics.reassignments);
        let mut request = live.assign_request.clone();
        request.context.insert("resumed".into(), "true".into());
        tracing::warn!(call_id = %live.call_id, stream_sid = %live.stream_sid, "media worker lost, reassigning the stream");
        match assign(&state, &request).await {
            Some(reply) => {
                tracing::info!(call_id = %live.call_id, worker = %reply.worker_id, "media stream reassigned");
                let event = StreamEvent::Start {
                    call_id: live.call_id.clone(),
                    call_sid: request.call_sid.clone(),
                    stream_sid: live.stream_sid.clone(),
                    custom_parameters: live.assign_request.context.clone(),
                };
                let subject = live.media_in_subject.clone();
                let stream_sid = live.stream_sid.clone();
                self.publish_event(&subject, &event).await;
                // what the caller said while no worker listened, and a little before
                let replayed = live.replay.len();
                for payload in live.replay.items() {
                    if let Err(error) = state.bus.publish(subject.clone(), payload.clone()).await {
                        state.metrics.inc(&state.metrics.bus_publish_errors);
                        tracing::warn!(%error, "media.in replay publish failed");
                        break;
                    }
                }
                tracing::info!(call_id = %live.call_id, replayed, "replayed the caller's latest audio to the new worker");
                publish_call_event(
                    &state,
                    &request.call_id,
                    CallEventKind::MediaReassigned,
                    format!("worker {}", reply.worker_id),
                )
                .await;
                if let Some(interval) = state.config.media_ping_interval {
                    self.worker_lost = spawn_pinger(state.clone(), &stream_sid, interval);
                }
                Step::Continue
            }
            None => {
                state.metrics.inc(&state.metrics.assignment_failures);
                tracing::error!(call_id = %request.call_id, "no media worker took over the stream");
                publish_call_event(
                    &state,
                    &request.call_id,
                    CallEventKind::Failed,
                    "media worker lost and none took over".into(),
                )
                .await;
                Step::End(StreamExit::NotAssigned)
            }
        }
    }

    async fn on_media_out(&mut self, payload: Bytes) -> Step {
        let Some(live) = &self.live else { return Step::Continue };
        let sid = live.stream_sid.as_str();
        let text = match decode_media_out(&payload) {
            Ok(MediaOut::Audio(audio)) => {
                encode_outbound_media_into(sid, audio, &mut self.text_out);
                self.state.metrics.inc(&self.state.metrics.frames_out);
                std::mem::take(&mut self.text_out)
            }
            Ok(MediaOut::Event(OutEvent::Mark { name })) => {
                self.state.metrics.inc(&self.state.metrics.marks_out);
                OutboundMessage::Mark { stream_sid: sid.into(), name: name.into() }.to_json()
            }
            Ok(MediaOut::Event(OutEvent::Clear)) => {
                self.state.metrics.inc(&self.state.metrics.clears_out);
                OutboundMessage::Clear { stream_sid: sid.into() }.to_json()
            }
            Ok(MediaOut::Event(OutEvent::Hangup { reason })) => {
                tracing::info!(call_id = %live.call_id, stream_sid = sid, %reason, "media worker hung up");
                return Step::End(StreamExit::HungUp);
            }
            Err(error) => {
                self.state.metrics.inc(&self.state.metrics.media_out_decode_errors);
                tracing::warn!(stream_sid = sid, %error, "undecodable media.out message");
                return Step::Continue;
            }
        };
        match self.session.text(text).await {
            Ok(()) => Step::Continue,
            Err(_closed) => Step::End(StreamExit::SocketClosed),
        }
    }
}
