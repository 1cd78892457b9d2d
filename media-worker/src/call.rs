//! The per-call actor: drives the call's [`Hearing`], [`Speaking`] and [`BrainLink`], runs the
//! STT stream and TTS syntheses they ask for, keeps the recording, and ends with an explicit
//! [`ExitStatus`]. Its work runs in one `call` span (call_id, stream_sid, call_sid).
//!
//! Everything it reacts to arrives as an actor message: inbound frames and stream events
//! (`media.in.<streamSid>`), the brain's commands (`media.say.<callId>`), STT results and TTS
//! audio (channels from the providers, which do their slow work beside the actor). It never
//! awaits in a handler; outbound messages go through one per-call publisher task, in order.
//!
//! Time inside the call is media time: the inbound frames' timestamps drive the endpointer,
//! barge-in and playback pacing. Only two things use the wall clock: advancing the play-out
//! clock when inbound frames stall, and ending a call whose stream went silent for good.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bus::{Message as BusMessage, Subscription};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use protocol::brain::{BrainAssignRequest, HeardEvent, Say, SayCommand};
use protocol::media::{self, MediaAssignRequest, MediaIn, OutEvent, StreamEvent};
use protocol::subjects;
use protocol::version::decode_json;
use protocol::CallId;
use speech::{SttContext, SttInput, SttOutput, TtsChunk, TtsError, Vad};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::brain_link::{BrainLink, BrainRetry, LinkError, Linked};
use crate::hearing::{Hearing, HearingOutput};
use crate::playback::SegmentId;
use crate::recording::{Recording, RecordingError};
use crate::shared::{ExitStatus, Shared, Shutdown};
use crate::speaking::{Speaking, SpeakingOutput};

/// μ-law bytes in one 20 ms frame at 8 kHz.
const FRAME_BYTES: usize = 160;
/// How often the actor checks the wall clock (stalled frames, a dead stream).
const WATCHDOG_INTERVAL: Duration = Duration::from_millis(100);
/// Inbound frames missing this long: advance the play-out clock by the wall clock.
const STALL_AFTER: Duration = Duration::from_millis(100);
/// No inbound message this long: the gateway is gone.
const DEAD_STREAM_AFTER: Duration = Duration::from_secs(15);
/// After our hang-up, how long to wait for the gateway's `stop`.
const HANGUP_STOP_WAIT: Duration = Duration::from_secs(3);

/// A message for the call's publisher task (in order).
enum Publish {
    MediaOut(Bytes),
    /// The answer to a request (a liveness ping) on its reply subject.
    Reply(String),
}

struct InboundMedia(BusMessage);
struct Ping(BusMessage);
struct SayMessage(BusMessage);
struct SttEvent {
    generation: u32,
    output: Option<SttOutput>,
}
struct TtsEvent {
    segment: SegmentId,
    item: Option<Result<TtsChunk, TtsError>>,
}

pub struct CallActor {
    shared: Arc<Shared>,
    call_id: CallId,
    request: MediaAssignRequest,
    call_number: u64,
    /// The `call` span every log line of the call is in.
    span: tracing::Span,
    media_in: Option<Subscription>,
    ping: Option<Subscription>,
    media_out_subject: String,
    outbound: Option<mpsc::UnboundedSender<Publish>>,

    brain: BrainLink,
    hearing: Hearing,
    /// The current STT stream's input.
    stt_input: Option<mpsc::UnboundedSender<SttInput>>,
    /// The agent's current turn (utterance id, its sentences so far): the recogniser's context
    /// for the callee's answer ([`SttInput::Context`]).
    agent_turn: Option<(String, String)>,
    speaking: Speaking,
    frame_buf: Vec<u8>,
    publish_buf: BytesMut,

    /// Media time: the end of the last inbound frame (or the wall-clock estimate while stalled).
    now_ms: u64,
    last_frame_wall: Instant,
    last_frame_media_ms: u64,
    last_message_wall: Instant,
    hangup_sent_at: Option<Instant>,
    recording: Option<Recording>,
    exit: Option<(ExitStatus, String)>,
}

impl CallActor {
    pub(crate) fn new(
        shared: Arc<Shared>,
        request: MediaAssignRequest,
        media_in: Subscription,
        ping: Subscription,
        call_number: u64,
    ) -> CallActor {
        let span = tracing::info_span!(
            "call",
            call_id = %request.call_id,
            stream_sid = %request.stream_sid,
            call_sid = %request.call_sid,
        );
        let config = &shared.config;
        let recording = config.recordings_dir.as_ref().and_then(|dir| {
            Recording::create(dir, request.call_id.as_str())
                .map_err(|error| span.in_scope(|| tracing::warn!(%error, "recording disabled for this call")))
                .ok()
        });
        // The stream sid was checked by the assign loop (media_in); the brain link checks the call id.
        let media_out_subject = subjects::media_out(&request.stream_sid).unwrap_or_default();
        let brain_request = BrainAssignRequest {
            v: protocol::BUS_VERSION,
            call_id: request.call_id.clone(),
            call_sid: request.call_sid.clone(),
            stream_sid: request.stream_sid.clone(),
            playbook: request.playbook.clone(),
            direction: request.direction,
            context: request.context.clone(),
            resume: false,
        };
        let retry = BrainRetry::new(Duration::from_millis(config.brain_assign_timeout_ms));
        let now = Instant::now();
        CallActor {
            call_id: request.call_id.clone(),
            span,
            brain: BrainLink::new(shared.bus.clone(), brain_request, retry),
            hearing: Hearing::new(Vad::new(config.vad_mode), config.endpointer(), shared.providers.stt.name()),
            stt_input: None,
            agent_turn: None,
            speaking: Speaking::new(config.playback_lead_ms, config.goodbye_wait_ms, shared.providers.tts.name())
                .with_hold_filler(config.hold_filler_ms, &config.hold_filler_text, shared.hold_filler.clone()),
            request,
            call_number,
            media_in: Some(media_in),
            ping: Some(ping),
            media_out_subject,
            outbound: None,
            frame_buf: Vec::with_capacity(FRAME_BYTES + 1),
            publish_buf: BytesMut::with_capacity(16 * 1024),
            now_ms: 0,
            last_frame_wall: now,
            last_frame_media_ms: 0,
            last_message_wall: now,
            hangup_sent_at: None,
            recording,
            exit: None,
            shared,
        }
    }

    /// Stores the finished WAV on the bus beside the call (the gateway serves it from there).
    fn store_recording(&self, wav_path: std::path::PathBuf) {
        let shared = self.shared.clone();
        let call_id = self.call_id.clone();
        shared.recordings_storing.send_modify(|n| *n += 1);
        let task = async move {
            let retention_days = shared.config.recording_retention_days;
            match crate::recording::store_on_bus(&shared.bus, &call_id, &wav_path, retention_days).await {
                Ok(bytes) => tracing::info!(bytes, "recording stored on the bus"),
                Err(error) => tracing::warn!(%error, path = %wav_path.display(), "recording not stored on the bus"),
            }
            shared.recordings_storing.send_modify(|n| *n = n.saturating_sub(1));
        };
        tokio::spawn(task.instrument(self.span.clone()));
    }

    fn publish(&self, message: Publish) {
        if let Some(outbound) = &self.outbound {
            let _ = outbound.send(message);
        }
    }

    fn send_out_event(&self, event: &OutEvent) {
        self.publish(Publish::MediaOut(Bytes::from(media::encode_out_event(event))));
    }

    fn with_recording(&mut self, write: impl FnOnce(&mut Recording) -> Result<(), RecordingError>) {
        if let Some(recording) = &mut self.recording {
            if let Err(error) = write(recording) {
                tracing::warn!(%error, "recording failed, stopping it");
                self.recording = None;
            }
        }
    }

    fn finish(&mut self, ctx: &mut Context<Self>, status: ExitStatus, reason: impl Into<String>) {
        if self.exit.is_none() {
            self.exit = Some((status, reason.into()));
        }
        ctx.stop();
    }

    // ---- hearing ----

    fn on_audio(&mut self, ctx: &mut Context<Self>, timestamp_ms: u64, message: &Bytes) {
        self.shared.stats.frames_in.fetch_add(1, Ordering::Relaxed);
        let payload = message.slice(media::INBOUND_AUDIO_HEADER_LEN..);
        self.now_ms = self.hearing.handle_frame(self.now_ms, timestamp_ms, payload, &mut self.speaking);
        if let Some(recording) = &mut self.recording {
            if let Err(error) = recording.callee_audio(timestamp_ms, self.hearing.last_pcm()) {
                tracing::warn!(%error, "recording failed, stopping it");
                self.recording = None;
            }
        }
        self.drain_hearing(ctx);
        self.last_frame_media_ms = self.now_ms;
        self.last_frame_wall = Instant::now();
        self.speaking.tick(self.now_ms);
        self.drain_speaking(ctx);
    }

    fn drain_hearing(&mut self, ctx: &mut Context<Self>) {
        while let Some(output) = self.hearing.poll_output() {
            match output {
                HearingOutput::StartStt { generation } => self.start_stt(ctx, generation),
                HearingOutput::StopStt => self.stt_input = None,
                HearingOutput::Stt(input) => {
                    if let SttInput::UtteranceEnd { timestamp_ms } = &input {
                        self.speaking.callee_speech(false, self.now_ms.max(*timestamp_ms));
                    }
                    if let Some(stt) = &self.stt_input {
                        if stt.send(input).is_err() {
                            self.stt_input = None;
                        }
                    }
                }
                HearingOutput::Heard { at_ms, event } => {
                    if event == HeardEvent::SpeechStarted {
                        self.speaking.callee_speech(true, self.now_ms);
                    }
                    if let HeardEvent::Transcript { is_final: true, text, start_ms, .. } = &event {
                        if !text.is_empty() {
                            self.with_recording(|recording| recording.line(*start_ms, "callee", text));
                        }
                    }
                    self.brain.heard(at_ms, event);
                }
                HearingOutput::Transcribed { known_ms } => self.speaking.transcribed(self.now_ms, known_ms),
                HearingOutput::ReplyAwaited { since_ms, endpointed_ms } => {
                    self.speaking.callee_speech(false, self.now_ms);
                    self.speaking.reply_awaited(since_ms, endpointed_ms);
                }
            }
        }
    }

    fn start_stt(&mut self, ctx: &mut Context<Self>, generation: u32) {
        let vocabularies = &self.shared.vocabularies;
        let vocabulary = vocabularies
            .get(self.request.playbook.as_str())
            .or_else(|| vocabularies.get(playbook::DEFAULT_PLAYBOOK))
            .cloned();
        let stream = self.shared.providers.stt.start(SttContext { call_id: self.call_id.to_string(), vocabulary });
        if let Some((_, text)) = &self.agent_turn {
            let _ = stream.input.send(SttInput::Context { text: text.clone() });
        }
        self.stt_input = Some(stream.input);
        let mut output = stream.output;
        let events = futures_util::stream::poll_fn(move |cx| output.poll_recv(cx))
            .map(move |output| SttEvent { generation, output: Some(output) })
            .chain(futures_util::stream::once(async move { SttEvent { generation, output: None } }));
        ctx.add_stream(events);
    }

    // ---- speaking ----

    fn on_say(&mut self, ctx: &mut Context<Self>, message: BusMessage) {
        match decode_json::<Say>(&message.payload) {
            Ok(say) => {
                if let SayCommand::Speak { utterance_id, text, context, .. } = &say.command {
                    self.agent_said(utterance_id, text, *context);
                }
                self.speaking.handle_say(self.now_ms, say.command)
            }
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "malformed media.say message");
                return;
            }
        }
        self.drain_speaking(ctx);
    }

    /// Keeps the agent's turn (its sentences joined) and tells the recogniser: the callee's next
    /// words most likely answer it. A line that is no context (`context` false: values said back
    /// for a yes or a correction) clears what the recogniser had.
    fn agent_said(&mut self, utterance_id: &str, text: &str, context: bool) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !context {
            self.agent_turn = None;
            if let Some(stt) = &self.stt_input {
                let _ = stt.send(SttInput::Context { text: String::new() });
            }
            return;
        }
        let turn = match self.agent_turn.take() {
            Some((id, mut turn)) if id == utterance_id => {
                // Bounded: the recogniser keeps only the end of a long turn anyway.
                if turn.len() < 4_000 {
                    turn.push(' ');
                    turn.push_str(text);
                }
                (id, turn)
            }
            _ => (utterance_id.to_owned(), text.to_owned()),
        };
        if let Some(stt) = &self.stt_input {
            let _ = stt.send(SttInput::Context { text: turn.1.clone() });
        }
        self.agent_turn = Some(turn);
    }

    fn synthesize(&mut self, ctx: &mut Context<Self>, segment: SegmentId, sentence: String) {
        let mut chunks = self.shared.providers.tts.synthesize(sentence);
        let events = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx))
            .map(move |item| TtsEvent { segment, item: Some(item) })
            .chain(futures_util::stream::once(async move { TtsEvent { segment, item: None } }));
        let handle = ctx.add_stream(events);
        self.speaking.synthesizing(segment, handle, Instant::now());
    }

    fn drain_speaking(&mut self, ctx: &mut Context<Self>) {
        while let Some(output) = self.speaking.poll_output() {
            match output {
                SpeakingOutput::Synthesize { segment, text } => self.synthesize(ctx, segment, text),
                SpeakingOutput::Prepare { text } => self.shared.providers.tts.prepare(text),
                SpeakingOutput::CancelSynthesis(handle) => {
                    ctx.cancel_future(handle);
                }
                SpeakingOutput::Audio { frame, play_at_ms } => {
                    media::encode_outbound_audio(&frame, &mut self.frame_buf);
                    self.publish_buf.extend_from_slice(&self.frame_buf);
                    let payload = self.publish_buf.split().freeze();
                    self.publish(Publish::MediaOut(payload));
                    self.shared.stats.frames_out.fetch_add(1, Ordering::Relaxed);
                    if let Some(recording) = &mut self.recording {
                        recording.agent_audio(play_at_ms, &frame);
                    }
                }
                SpeakingOutput::Send(event) => {
                    self.send_out_event(&event);
                    match event {
                        OutEvent::Clear => {
                            if let Some(recording) = &mut self.recording {
                                recording.agent_cleared(self.now_ms);
                            }
                        }
                        OutEvent::Hangup { .. } => self.hangup_sent_at = Some(Instant::now()),
                        _ => {}
                    }
                }
                SpeakingOutput::Heard { at_ms, event } => {
                    if let HeardEvent::Replied { reply_ms, stages, .. } = &event {
                        self.shared.stats.voice_to_voice.observe(*reply_ms);
                        if let Some(stages) = stages {
                            self.shared.stats.reply_stages.observe(stages);
                            tracing::debug!(
                                target: "reply_stages",
                                call_sid = %self.request.call_sid,
                                reply_ms,
                                endpoint_ms = stages.endpoint_ms,
                                stt_ms = stages.stt_ms,
                                brain_ms = stages.brain_ms,
                                tts_ms = stages.tts_ms,
                                play_ms = stages.play_ms,
                                heard_ms = stages.speech_to_transcript_ms(),
                                speech_end_at_ms = stages.speech_end_at_ms.unwrap_or_default(),
                                "reply stages"
                            );
                        }
                    }
                    self.brain.heard(at_ms, event);
                }
                SpeakingOutput::AgentLine { at_ms, line } => {
                    self.with_recording(|recording| recording.line(at_ms, "agent", &line));
                }
            }
        }
    }

    // ---- the stream ----

    fn on_stream_event(&mut self, ctx: &mut Context<Self>, event: StreamEvent) {
        match event {
            StreamEvent::Start { .. } => tracing::debug!("stream start"),
            StreamEvent::Dtmf { digit } => {
                tracing::info!("callee pressed a key");
                let (now_ms, line) = (self.now_ms, format!("[dtmf {digit}]"));
                self.with_recording(|recording| recording.line(now_ms, "callee", &line));
                self.brain.heard(now_ms, HeardEvent::Dtmf { digit });
            }
            StreamEvent::Mark { name } => {
                if !self.speaking.on_mark(&name) {
                    if self.resumed() {
                        // sent by the worker this stream moved from (the gateway replays what
                        // came while it moved): Twilio played that line to its end
                        tracing::debug!(%name, "echo of a mark the previous worker sent");
                        self.brain.heard(self.now_ms, HeardEvent::Played { utterance_id: name });
                    } else {
                        tracing::debug!(%name, "echo of a mark this call did not send");
                    }
                }
                self.speaking.tick(self.now_ms);
                self.drain_speaking(ctx);
            }
            StreamEvent::Stop { reason } => {
                let status = if self.hangup_sent_at.is_some() { ExitStatus::HungUp } else { ExitStatus::Finished };
                self.finish(ctx, status, reason);
            }
        }
    }

    fn watchdog(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if let Some(sent_at) = self.hangup_sent_at {
            if now.duration_since(sent_at) >= HANGUP_STOP_WAIT {
                self.finish(ctx, ExitStatus::HungUp, "no stop after hang-up");
                return;
            }
        }
        if now.duration_since(self.last_message_wall) >= DEAD_STREAM_AFTER {
            tracing::warn!("no message from the gateway for too long");
            self.finish(ctx, ExitStatus::DownstreamClosed, "stream silent");
            return;
        }
        let stalled = now.duration_since(self.last_frame_wall);
        if stalled >= STALL_AFTER && !self.speaking.is_idle(self.now_ms) {
            // no inbound frames: Twilio still plays in real time, so move the clock by the wall
            let estimate = self.last_frame_media_ms + stalled.as_millis() as u64;
            self.now_ms = self.now_ms.max(estimate);
            self.speaking.tick(self.now_ms);
            self.drain_speaking(ctx);
        }
    }

    // ---- the brain ----

    /// A new call asks for a brain; a stream moved here from a worker that died (`resumed` in
    /// the context) keeps its brain (a brain that died since is replaced by the heard delivery).
    /// True when this stream moved here from a worker that died.
    fn resumed(&self) -> bool {
        self.request.context.get("resumed").is_some_and(|v| v == "true")
    }

    fn connect_brain(&mut self, ctx: &mut Context<Self>) {
        let resume = self.resumed();
        let work = self.brain.connect(resume);
        ctx.spawn(work.into_actor(self).map(|result: Result<Linked, LinkError>, actor, ctx| {
            let _entered = actor.span.clone().entered();
            match result {
                Ok(Linked { say, new_brain_id }) => {
                    match &new_brain_id {
                        Some(brain_id) => tracing::info!(%brain_id, "brain took the call"),
                        None => tracing::info!("stream moved here from another worker, carrying on with its brain"),
                    }
                    ctx.add_stream(say.map(SayMessage));
                    actor.brain.linked(actor.now_ms, new_brain_id.is_some());
                }
                Err(error) => {
                    tracing::warn!(%error, "no link to a brain, hanging up");
                    actor.send_out_event(&OutEvent::Hangup { reason: error.hangup_reason().into() });
                    actor.finish(ctx, ExitStatus::Failed, error.to_string());
                }
            }
        }));
    }
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        if let Ok(mut calls) = self.shared.calls.lock() {
            calls.insert(self.call_number, ctx.address().recipient());
        }
        let (sender, mut receiver) = mpsc::unbounded_channel::<Publish>();
        self.outbound = Some(sender);
        let bus = self.shared.bus.clone();
        let media_out = self.media_out_subject.clone();
        let worker_id = Bytes::from(self.shared.config.worker_id.clone());
        let publisher = async move {
            while let Some(message) = receiver.recv().await {
                let result = match message {
                    Publish::MediaOut(payload) => bus.publish(media_out.clone(), payload).await,
                    Publish::Reply(subject) => bus.publish(subject, worker_id.clone()).await,
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "media.out publish failed");
                }
            }
        };
        actix::spawn(publisher.instrument(self.span.clone()));
        if let Some(ping) = self.ping.take() {
            ctx.add_stream(ping.map(Ping));
        }
        self.brain.start();
        if let Some(media_in) = self.media_in.take() {
            ctx.add_stream(media_in.map(InboundMedia));
        }
        self.drain_hearing(ctx); // starts STT
        self.connect_brain(ctx);
        ctx.run_interval(WATCHDOG_INTERVAL, |actor, ctx| {
            let _entered = actor.span.clone().entered();
            actor.watchdog(ctx)
        });
        tracing::info!(playbook = %self.request.playbook, "call started");
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        let (status, reason) = self.exit.take().unwrap_or((ExitStatus::Failed, "actor stopped".into()));
        if let Some(stt) = self.stt_input.take() {
            let _ = stt.send(SttInput::Close);
        }
        self.brain.close(self.now_ms, &reason);
        // the publisher and delivery tasks send what is queued, then end
        self.outbound = None;
        if let Some(recording) = self.recording.take() {
            match recording.finish() {
                Ok(wav_path) => self.store_recording(wav_path),
                Err(error) => tracing::warn!(%error, "could not finish the recording"),
            }
        }
        if let Ok(mut calls) = self.shared.calls.lock() {
            calls.remove(&self.call_number);
        }
        self.shared.stats.count_exit(status);
        self.shared.active.send_modify(|n| *n = n.saturating_sub(1));
        tracing::info!(
            exit = status.as_str(),
            %reason,
            media_ms = self.now_ms,
            active_calls = self.shared.active_calls(),
            "call ended"
        );
    }
}

impl StreamHandler<InboundMedia> for CallActor {
    fn handle(&mut self, InboundMedia(message): InboundMedia, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        self.last_message_wall = Instant::now();
        match media::decode_media_in(&message.payload) {
            Ok(MediaIn::Audio { timestamp_ms, .. }) => self.on_audio(ctx, timestamp_ms as u64, &message.payload),
            Ok(MediaIn::Event(event)) => self.on_stream_event(ctx, event),
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "malformed media.in message");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.finish(ctx, ExitStatus::DownstreamClosed, "media.in subscription closed");
    }
}

impl StreamHandler<Ping> for CallActor {
    fn handle(&mut self, Ping(message): Ping, _ctx: &mut Context<Self>) {
        if let Some(reply) = message.reply {
            self.publish(Publish::Reply(reply));
        }
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<SayMessage> for CallActor {
    fn handle(&mut self, SayMessage(message): SayMessage, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        self.on_say(ctx, message);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.finish(ctx, ExitStatus::DownstreamClosed, "media.say subscription closed");
    }
}

impl StreamHandler<SttEvent> for CallActor {
    fn handle(&mut self, event: SttEvent, ctx: &mut Context<Self>) {
        if event.output.is_none() && self.exit.is_some() {
            return; // the call is ending: its stream closing is no failure
        }
        let _entered = self.span.clone().entered();
        self.hearing.handle_stt(self.now_ms, event.generation, event.output);
        self.drain_hearing(ctx);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<TtsEvent> for CallActor {
    fn handle(&mut self, event: TtsEvent, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        self.speaking.handle_tts(self.now_ms, Instant::now(), event.segment, event.item);
        self.drain_speaking(ctx);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl Handler<Shutdown> for CallActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        tracing::info!("worker shutting down, hanging up after queued audio");
        self.speaking.request_hangup("worker shutting down");
        self.speaking.tick(self.now_ms);
        self.drain_speaking(ctx);
    }
}
