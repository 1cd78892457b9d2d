//! The per-call actor: owns the call's VAD, endpointer, STT stream, TTS syntheses, playback and
//! recording, and ends with an explicit [`ExitStatus`].
//!
//! Everything it reacts to arrives as an actor message: inbound frames and stream events
//! (`media.in.<streamSid>`), the brain's commands (`media.say.<callId>`), STT results and TTS
//! audio (channels from the providers, which do their slow work beside the actor). It never
//! awaits in a handler; outbound messages go through one per-call publisher task, in order.
//!
//! Time inside the call is media time: the inbound frames' timestamps drive the endpointer,
//! barge-in and playback pacing. Only two things use the wall clock: advancing the play-out
//! clock when inbound frames stall, and ending a call whose stream went silent for good.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bus::{BusErrorKind, Message as BusMessage, Subscription};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use protocol::brain::{BrainAssignReply, BrainAssignRequest, Heard, HeardEvent, Say, SayCommand};
use protocol::media::{self, MediaAssignRequest, MediaIn, OutEvent, StreamEvent};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, StreamSid};
use speech::{EndpointEvent, Endpointer, SttContext, SttInput, SttOutput, TtsChunk, TtsError, Vad};
use tokio::sync::mpsc;

use crate::playback::{Playback, PlaybackOutput, SegmentId};
use crate::recording::Recording;
use crate::{dtmf, text, Shared};

/// Samples in one 20 ms frame at 8 kHz.
const FRAME_SAMPLES: usize = 160;
const FRAME_MS: u64 = 20;
/// Callee audio kept before speech is confirmed, so STT hears the onset.
const PREROLL_MS: u64 = 300;
/// Audio sent to STT from before the endpointer's speech start.
const PREROLL_LEAD_MS: u64 = 100;
/// How often the actor checks the wall clock (stalled frames, a dead stream).
const WATCHDOG_INTERVAL: Duration = Duration::from_millis(100);
/// Inbound frames missing this long: advance the play-out clock by the wall clock.
const STALL_AFTER: Duration = Duration::from_millis(100);
/// No inbound message this long: the gateway is gone.
const DEAD_STREAM_AFTER: Duration = Duration::from_secs(15);
/// After our hang-up, how long to wait for the gateway's `stop`.
const HANGUP_STOP_WAIT: Duration = Duration::from_secs(3);
/// `brain.assign` attempts before the call is given up.
const BRAIN_ASSIGN_ATTEMPTS: u32 = 3;
/// STT streams restarted after a failure, per call.
const STT_RESTARTS: u32 = 3;

/// How a call actor ended; logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The stream stopped (the callee hung up or the call ended).
    Finished,
    /// We hung up (the brain asked, or the worker shut down).
    HungUp,
    /// The gateway's side went away without a `stop` (subscription closed, or silent stream).
    DownstreamClosed,
    /// The call could not run (no brain, no subscription).
    Failed,
}

impl ExitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitStatus::Finished => "finished",
            ExitStatus::HungUp => "hung_up",
            ExitStatus::DownstreamClosed => "downstream_closed",
            ExitStatus::Failed => "failed",
        }
    }
}

/// Ask a call to hang up after its queued audio (worker shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// How long the brain has to acknowledge a `brain.heard` event.
const HEARD_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `brain.ping` waits.
const BRAIN_PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Take-overs tried for one event before it is given up.
const TAKEOVER_ATTEMPTS: u32 = 3;

/// Which subject an outbound message goes to.
#[derive(Clone, Copy)]
enum Outbound {
    MediaOut,
    BrainHeard,
}

/// A message for the call's publisher task (in order).
enum Publish {
    MediaOut(Bytes),
    /// The answer to a request (a liveness ping) on its reply subject.
    Reply(String),
}

/// One `brain.heard` event for the delivery task. `takeover`: when the brain is gone, have
/// another brain take the call and send it again (false for the call's last word).
struct HeardDelivery {
    payload: Bytes,
    takeover: bool,
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

/// The callee utterance being streamed to STT.
struct Listening {
    start_ms: u64,
    barge_in_checked: bool,
}

pub struct CallActor {
    shared: Arc<Shared>,
    call_id: CallId,
    stream_sid: StreamSid,
    request: MediaAssignRequest,
    call_number: u64,
    media_in: Option<Subscription>,
    ping: Option<Subscription>,
    brain_heard_subject: String,
    media_out_subject: String,
    outbound: Option<mpsc::UnboundedSender<Publish>>,
    heard_out: Option<mpsc::UnboundedSender<HeardDelivery>>,
    /// Heard events held until a brain has taken the call.
    held_heard: Option<Vec<Bytes>>,

    vad: Vad,
    endpointer: Endpointer,
    pcm: Vec<i16>,
    /// The last [`PREROLL_MS`] of callee μ-law, ending at `preroll_end_ms`.
    preroll: std::collections::VecDeque<u8>,
    preroll_end_ms: u64,
    listening: Option<Listening>,
    /// Speech started but not yet confirmed (its start time).
    speech_start_ms: Option<u64>,
    /// End of the last callee utterance heard while the agent was silent: the next agent
    /// audio measures voice-to-voice latency from it.
    reply_awaited_since_ms: Option<u64>,

    stt_input: Option<mpsc::UnboundedSender<SttInput>>,
    stt_generation: u32,
    stt_restarts: u32,
    utterance_seq: u64,

    playback: Playback,
    /// `SendDigits` commands so far (names their marks).
    digit_batches: u64,
    tts: HashMap<SegmentId, SpawnHandle>,
    /// When each running synthesis was asked for, until its first audio arrives.
    tts_asked: HashMap<SegmentId, Instant>,
    /// How long the latest synthesis took to its first audio (reported with the next reply).
    last_tts_ms: Option<u64>,
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
        let config = &shared.config;
        let recording =
            config.recordings_dir.as_ref().and_then(|dir| match Recording::create(dir, request.call_id.as_str()) {
                Ok(recording) => Some(recording),
                Err(error) => {
                    tracing::warn!(call_id = %request.call_id, %error, "recording disabled for this call");
                    None
                }
            });
        // Both ids were checked by the assign loop (media_in); brain_heard / media_say check the call id.
        let brain_heard_subject = subjects::brain_heard(&request.call_id).unwrap_or_default();
        let media_out_subject = subjects::media_out(&request.stream_sid).unwrap_or_default();
        let now = Instant::now();
        CallActor {
            call_id: request.call_id.clone(),
            stream_sid: request.stream_sid.clone(),
            vad: Vad::new(config.vad_mode),
            endpointer: Endpointer::new(config.endpointer()),
            playback: Playback::new(config.playback_lead_ms),
            request,
            call_number,
            media_in: Some(media_in),
            ping: Some(ping),
            brain_heard_subject,
            media_out_subject,
            outbound: None,
            heard_out: None,
            held_heard: Some(Vec::new()),
            pcm: Vec::with_capacity(FRAME_SAMPLES * 2),
            preroll: std::collections::VecDeque::with_capacity((PREROLL_MS * 8) as usize),
            preroll_end_ms: 0,
            listening: None,
            speech_start_ms: None,
            reply_awaited_since_ms: None,
            stt_input: None,
            stt_generation: 0,
            stt_restarts: 0,
            utterance_seq: 0,
            digit_batches: 0,
            tts: HashMap::new(),
            tts_asked: HashMap::new(),
            last_tts_ms: None,
            frame_buf: Vec::with_capacity(FRAME_SAMPLES + 1),
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

    fn send(&self, to: Outbound, payload: Bytes) {
        match to {
            Outbound::MediaOut => {
                if let Some(outbound) = &self.outbound {
                    let _ = outbound.send(Publish::MediaOut(payload));
                }
            }
            Outbound::BrainHeard => {
                if let Some(heard_out) = &self.heard_out {
                    let _ = heard_out.send(HeardDelivery { payload, takeover: true });
                }
            }
        }
    }

    fn send_out_event(&mut self, event: &OutEvent) {
        self.send(Outbound::MediaOut, Bytes::from(media::encode_out_event(event)));
    }

    fn heard(&mut self, at_ms: u64, event: HeardEvent) {
        let heard = Heard { v: protocol::BUS_VERSION, call_id: self.call_id.clone(), at_ms, event };
        let payload = Bytes::from(encode_json(&heard));
        match &mut self.held_heard {
            Some(held) => held.push(payload),
            None => self.send(Outbound::BrainHeard, payload),
        }
    }

    fn transcript_line(&mut self, at_ms: u64, who: &str, line: &str) {
        if let Some(recording) = &mut self.recording {
            if let Err(error) = recording.line(at_ms, who, line) {
                tracing::warn!(call_id = %self.call_id, %error, "recording failed, stopping it");
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

    fn start_stt(&mut self, ctx: &mut Context<Self>) {
        let vocabulary = self
            .shared
            .vocabularies
            .get(self.request.playbook.as_str())
            .cloned()
            .or_else(|| self.shared.vocabularies.get(playbook::DEFAULT_PLAYBOOK).cloned());
        let stream = self.shared.providers.stt.start(SttContext { call_id: self.call_id.to_string(), vocabulary });
        self.stt_generation += 1;
        let generation = self.stt_generation;
        self.stt_input = Some(stream.input);
        let mut output = stream.output;
        let events = futures_util::stream::poll_fn(move |cx| output.poll_recv(cx))
            .map(move |output| SttEvent { generation, output: Some(output) })
            .chain(futures_util::stream::once(async move { SttEvent { generation, output: None } }));
        ctx.add_stream(events);
    }

    fn stt(&mut self, input: SttInput) {
        if let Some(stt) = &self.stt_input {
            if stt.send(input).is_err() {
                self.stt_input = None;
            }
        }
    }

    fn on_audio(&mut self, ctx: &mut Context<Self>, timestamp_ms: u64, message: &Bytes) {
        self.shared.stats.frames_in.fetch_add(1, Ordering::Relaxed);
        let payload = message.slice(media::INBOUND_AUDIO_HEADER_LEN..);
        self.pcm.clear();
        protocol::mulaw::decode_into(&payload, &mut self.pcm);
        if let Some(recording) = &mut self.recording {
            if let Err(error) = recording.callee_audio(timestamp_ms, &self.pcm) {
                tracing::warn!(call_id = %self.call_id, %error, "recording failed, stopping it");
                self.recording = None;
            }
        }
        // keep the last PREROLL_MS of audio for the onset of the next utterance
        if timestamp_ms < self.preroll_end_ms || timestamp_ms > self.preroll_end_ms + FRAME_MS {
            self.preroll.clear(); // a gap or a jump back: the ring no longer lines up in time
        }
        self.preroll.extend(payload.iter().copied());
        let overflow = self.preroll.len().saturating_sub((PREROLL_MS * 8) as usize);
        self.preroll.drain(..overflow);
        self.preroll_end_ms = timestamp_ms + payload.len() as u64 / 8;

        let was_listening = self.listening.is_some();
        for (index, frame) in self.pcm.chunks_exact(FRAME_SAMPLES).enumerate() {
            let frame_ms = timestamp_ms + index as u64 * FRAME_MS;
            let is_speech = self.vad.is_speech(frame);
            self.endpointer.handle(frame_ms, is_speech);
        }
        while let Some(event) = self.endpointer.poll_event() {
            self.on_endpoint(event);
        }
        if was_listening && self.listening.is_some() {
            self.stt(SttInput::Audio { mulaw: payload, timestamp_ms });
        }

        let frame_end_ms = timestamp_ms + (self.pcm.len() as u64).div_ceil(8);
        self.now_ms = self.now_ms.max(frame_end_ms);
        self.last_frame_media_ms = self.now_ms;
        self.last_frame_wall = Instant::now();
        self.check_barge_in();
        self.playback.tick(self.now_ms);
        self.drain_playback(ctx);
    }

    fn on_endpoint(&mut self, event: EndpointEvent) {
        match event {
            EndpointEvent::SpeechStarted { at_ms } => self.speech_start_ms = Some(at_ms),
            EndpointEvent::SpeechConfirmed { start_ms, at_ms } => {
                self.speech_start_ms = None;
                if self.listening.is_some() {
                    return;
                }
                self.listening = Some(Listening { start_ms, barge_in_checked: false });
                self.heard(start_ms, HeardEvent::SpeechStarted);
                self.stt(SttInput::UtteranceStart { timestamp_ms: start_ms });
                // the onset, from the ring (the current frame included)
                let from_ms = start_ms.saturating_sub(PREROLL_LEAD_MS);
                let ring_start_ms = self.preroll_end_ms.saturating_sub(self.preroll.len() as u64 / 8);
                let skip = (from_ms.saturating_sub(ring_start_ms) * 8) as usize;
                if skip < self.preroll.len() {
                    let onset: Vec<u8> = self.preroll.iter().skip(skip).copied().collect();
                    let timestamp_ms = ring_start_ms.max(from_ms);
                    self.stt(SttInput::Audio { mulaw: Bytes::from(onset), timestamp_ms });
                }
                tracing::debug!(call_id = %self.call_id, start_ms, at_ms, "callee speech confirmed");
            }
            EndpointEvent::UtteranceEnded { start_ms, end_ms } => {
                self.speech_start_ms = None;
                if self.listening.take().is_some() {
                    self.stt(SttInput::UtteranceEnd { timestamp_ms: end_ms });
                    if !self.playback.agent_audio_unplayed(self.now_ms) {
                        self.reply_awaited_since_ms = Some(end_ms);
                    }
                    tracing::debug!(call_id = %self.call_id, start_ms, end_ms, "callee utterance ended");
                }
            }
        }
    }

    fn check_barge_in(&mut self) {
        let now_ms = self.now_ms;
        let Some(listening) = &mut self.listening else { return };
        // barge_in_reached: the utterance holds BARGE_IN_MIN_MS of speech
        if listening.barge_in_checked || !self.endpointer.barge_in_reached() {
            return;
        }
        if !self.playback.agent_audio_unplayed(now_ms) {
            return;
        }
        if self.playback.barge_in(now_ms) {
            listening.barge_in_checked = true;
            tracing::info!(call_id = %self.call_id, speech_start_ms = listening.start_ms, at_ms = now_ms, "barge-in, clearing agent audio");
        }
    }

    fn on_stt(&mut self, ctx: &mut Context<Self>, event: SttEvent) {
        if event.generation != self.stt_generation {
            return;
        }
        match event.output {
            Some(SttOutput::Interim { text }) => {
                let start_ms = self.listening.as_ref().map(|l| l.start_ms).unwrap_or(self.now_ms);
                let event = HeardEvent::Transcript {
                    utterance_seq: self.utterance_seq,
                    text,
                    is_final: false,
                    confidence: None,
                    start_ms,
                    end_ms: self.now_ms,
                };
                self.heard(self.now_ms, event);
            }
            Some(SttOutput::Final { text, confidence, start_ms, end_ms }) => {
                if text.trim().is_empty() {
                    tracing::debug!(call_id = %self.call_id, start_ms, end_ms, "stt heard nothing in the utterance");
                    return;
                }
                tracing::info!(call_id = %self.call_id, start_ms, end_ms, words = text.split_whitespace().count(), "callee transcript");
                self.transcript_line(start_ms, "callee", &text);
                let seq = self.utterance_seq;
                self.utterance_seq += 1;
                let event =
                    HeardEvent::Transcript { utterance_seq: seq, text, is_final: true, confidence, start_ms, end_ms };
                self.heard(end_ms, event);
            }
            Some(SttOutput::Failed { message, retryable }) => {
                tracing::warn!(call_id = %self.call_id, %message, retryable, provider = self.shared.providers.stt.name(), "stt failed");
                self.heard(self.now_ms, HeardEvent::ProviderFailure { stage: "stt".into(), message });
                self.restart_stt(ctx);
            }
            None => {
                if self.exit.is_none() {
                    tracing::warn!(call_id = %self.call_id, provider = self.shared.providers.stt.name(), "stt stream closed");
                    self.heard(
                        self.now_ms,
                        HeardEvent::ProviderFailure { stage: "stt".into(), message: "stt stream closed".into() },
                    );
                    self.restart_stt(ctx);
                }
            }
        }
    }

    fn restart_stt(&mut self, ctx: &mut Context<Self>) {
        self.stt_input = None;
        if self.stt_restarts >= STT_RESTARTS {
            tracing::warn!(call_id = %self.call_id, "stt gave up for this call, the brain hears no more");
            self.stt_generation += 1; // ignore whatever the old stream still says
            return;
        }
        self.stt_restarts += 1;
        self.start_stt(ctx);
        if let Some(listening) = &self.listening {
            let start_ms = listening.start_ms;
            self.stt(SttInput::UtteranceStart { timestamp_ms: start_ms });
        }
    }

    // ---- speaking ----

    fn on_say(&mut self, ctx: &mut Context<Self>, message: BusMessage) {
        let say: Say = match decode_json(&message.payload) {
            Ok(say) => say,
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(call_id = %self.call_id, %error, "malformed media.say message");
                return;
            }
        };
        match say.command {
            SayCommand::Speak { utterance_id, text: words, end_of_turn, uninterruptible } => {
                let sentences = text::sentences(&words);
                if !sentences.is_empty() {
                    let at_ms = self.playback.playout_end_ms().max(self.now_ms);
                    self.transcript_line(at_ms, "agent", &words);
                }
                let segments = self.playback.speak(&utterance_id, sentences, end_of_turn, !uninterruptible);
                for (segment, sentence) in segments {
                    self.synthesize(ctx, segment, sentence);
                }
            }
            SayCommand::SendDigits { digits } => {
                tracing::info!(call_id = %self.call_id, count = digits.len(), "sending dtmf digits in band");
                self.digit_batches += 1;
                let label = format!("dtmf-{}", self.digit_batches);
                self.playback.play_audio(&label, &dtmf::tones_mulaw(&digits));
            }
            SayCommand::Hangup { reason } => {
                tracing::info!(call_id = %self.call_id, %reason, "brain asked to hang up");
                self.playback.request_hangup(&reason);
            }
        }
        self.playback.tick(self.now_ms);
        self.drain_playback(ctx);
    }

    fn synthesize(&mut self, ctx: &mut Context<Self>, segment: SegmentId, sentence: String) {
        let mut chunks = self.shared.providers.tts.synthesize(sentence);
        let events = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx))
            .map(move |item| TtsEvent { segment, item: Some(item) })
            .chain(futures_util::stream::once(async move { TtsEvent { segment, item: None } }));
        let handle = ctx.add_stream(events);
        self.tts.insert(segment, handle);
        self.tts_asked.insert(segment, Instant::now());
    }

    fn on_tts(&mut self, ctx: &mut Context<Self>, event: TtsEvent) {
        if !self.tts.contains_key(&event.segment) {
            return;
        }
        match event.item {
            Some(Ok(TtsChunk::Audio(mulaw))) => {
                if let Some(asked) = self.tts_asked.remove(&event.segment) {
                    self.last_tts_ms = Some(asked.elapsed().as_millis() as u64);
                }
                self.playback.push_audio(event.segment, &mulaw);
            }
            Some(Ok(TtsChunk::Done { .. })) => {
                self.tts.remove(&event.segment);
                self.tts_asked.remove(&event.segment);
                self.playback.finish_segment(event.segment);
            }
            Some(Err(error)) => {
                tracing::warn!(call_id = %self.call_id, %error, provider = self.shared.providers.tts.name(), "tts failed, the sentence is skipped");
                self.tts.remove(&event.segment);
                self.tts_asked.remove(&event.segment);
                self.playback.finish_segment(event.segment);
                self.heard(
                    self.now_ms,
                    HeardEvent::ProviderFailure { stage: "tts".into(), message: error.to_string() },
                );
            }
            None => {
                tracing::warn!(call_id = %self.call_id, provider = self.shared.providers.tts.name(), "tts ended without finishing the sentence");
                self.tts.remove(&event.segment);
                self.tts_asked.remove(&event.segment);
                self.playback.finish_segment(event.segment);
                self.heard(
                    self.now_ms,
                    HeardEvent::ProviderFailure { stage: "tts".into(), message: "synthesis ended early".into() },
                );
            }
        }
        self.playback.tick(self.now_ms);
        self.drain_playback(ctx);
    }

    fn drain_playback(&mut self, ctx: &mut Context<Self>) {
        while let Some(output) = self.playback.poll_output() {
            match output {
                PlaybackOutput::Audio { frame, play_at_ms } => {
                    if let Some(end_ms) = self.reply_awaited_since_ms.take() {
                        let reply_ms = play_at_ms.saturating_sub(end_ms);
                        self.shared.stats.voice_to_voice.observe(reply_ms);
                        let tts_ms = self.last_tts_ms.take();
                        self.heard(self.now_ms, HeardEvent::Replied { reply_ms, tts_ms });
                    }
                    media::encode_outbound_audio(&frame, &mut self.frame_buf);
                    self.publish_buf.extend_from_slice(&self.frame_buf);
                    let payload = self.publish_buf.split().freeze();
                    self.send(Outbound::MediaOut, payload);
                    self.shared.stats.frames_out.fetch_add(1, Ordering::Relaxed);
                    if let Some(recording) = &mut self.recording {
                        recording.agent_audio(play_at_ms, &frame);
                    }
                }
                PlaybackOutput::Mark { name } => self.send_out_event(&OutEvent::Mark { name }),
                PlaybackOutput::Clear => {
                    self.send_out_event(&OutEvent::Clear);
                    if let Some(recording) = &mut self.recording {
                        recording.agent_cleared(self.now_ms);
                    }
                }
                PlaybackOutput::CancelSynthesis { segment } => {
                    self.tts_asked.remove(&segment);
                    if let Some(handle) = self.tts.remove(&segment) {
                        ctx.cancel_future(handle);
                    }
                }
                PlaybackOutput::Played { utterance_id } => {
                    self.heard(self.now_ms, HeardEvent::Played { utterance_id });
                }
                PlaybackOutput::BargeIn { utterance_id, heard_ms, total_ms, heard_text } => {
                    tracing::info!(call_id = %self.call_id, %utterance_id, heard_ms, total_ms, "agent utterance cut by the callee");
                    self.transcript_line(
                        self.now_ms,
                        "agent",
                        &format!("[cut after {heard_ms} of {total_ms} ms: heard \"{heard_text}\"]"),
                    );
                    self.heard(self.now_ms, HeardEvent::BargeIn { utterance_id, heard_ms, total_ms, heard_text });
                }
                PlaybackOutput::Hangup { reason } => {
                    tracing::info!(call_id = %self.call_id, %reason, "hanging up after queued audio played");
                    self.send_out_event(&OutEvent::Hangup { reason });
                    self.hangup_sent_at = Some(Instant::now());
                }
            }
        }
    }

    fn on_stream_event(&mut self, ctx: &mut Context<Self>, event: StreamEvent) {
        match event {
            StreamEvent::Start { .. } => tracing::debug!(call_id = %self.call_id, "stream start"),
            StreamEvent::Dtmf { digit } => {
                tracing::info!(call_id = %self.call_id, "callee pressed a key");
                self.transcript_line(self.now_ms, "callee", &format!("[dtmf {digit}]"));
                self.heard(self.now_ms, HeardEvent::Dtmf { digit });
            }
            StreamEvent::Mark { name } => {
                if !self.playback.on_mark(&name) {
                    tracing::debug!(call_id = %self.call_id, %name, "echo of a mark this call did not send");
                }
                self.playback.tick(self.now_ms);
                self.drain_playback(ctx);
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
            tracing::warn!(call_id = %self.call_id, "no message from the gateway for too long");
            self.finish(ctx, ExitStatus::DownstreamClosed, "stream silent");
            return;
        }
        let stalled = now.duration_since(self.last_frame_wall);
        if stalled >= STALL_AFTER && !self.playback.is_idle(self.now_ms) {
            // no inbound frames: Twilio still plays in real time, so move the clock by the wall
            let estimate = self.last_frame_media_ms + stalled.as_millis() as u64;
            self.now_ms = self.now_ms.max(estimate);
            self.playback.tick(self.now_ms);
            self.drain_playback(ctx);
        }
    }

    fn brain_assign_request(&self, resume: bool) -> BrainAssignRequest {
        BrainAssignRequest {
            v: protocol::BUS_VERSION,
            call_id: self.call_id.clone(),
            call_sid: self.request.call_sid.clone(),
            stream_sid: self.stream_sid.clone(),
            playbook: self.request.playbook.clone(),
            direction: self.request.direction,
            context: self.request.context.clone(),
            resume,
        }
    }

    /// The gateway moved this stream here from a worker that died (`resumed` in the context):
    /// the call's brain is still there, so listen to it without a new `brain.assign` (a brain
    /// that died since is replaced by the `brain.heard` delivery).
    fn resume_with_brain(&mut self, ctx: &mut Context<Self>) {
        let bus = self.shared.bus.clone();
        let say_subject = subjects::media_say(&self.call_id);
        let work = async move {
            let say_subject = say_subject.map_err(|e| e.to_string())?;
            bus.subscribe(say_subject).await.map_err(|e| e.to_string())
        };
        ctx.spawn(work.into_actor(self).map(|result, actor, ctx| match result {
            Ok(say) => {
                tracing::info!(call_id = %actor.call_id, "stream moved here from another worker, carrying on with its brain");
                ctx.add_stream(say.map(SayMessage));
                for payload in actor.held_heard.take().unwrap_or_default() {
                    actor.send(Outbound::BrainHeard, payload);
                }
            }
            Err(error) => {
                tracing::warn!(call_id = %actor.call_id, %error, "cannot listen to the brain, hanging up");
                actor.send_out_event(&OutEvent::Hangup { reason: "media worker failed".into() });
                actor.finish(ctx, ExitStatus::Failed, format!("media.say: {error}"));
            }
        }));
    }

    fn assign_brain(&mut self, ctx: &mut Context<Self>) {
        let bus = self.shared.bus.clone();
        let timeout = Duration::from_millis(self.shared.config.brain_assign_timeout_ms);
        let request = self.brain_assign_request(false);
        let say_subject = subjects::media_say(&self.call_id);
        let work = async move {
            let say_subject = say_subject.map_err(|e| e.to_string())?;
            let say = bus.subscribe(say_subject).await.map_err(|e| e.to_string())?;
            let payload = Bytes::from(encode_json(&request));
            let mut last_error = String::new();
            for attempt in 1..=BRAIN_ASSIGN_ATTEMPTS {
                match bus.request(subjects::BRAIN_ASSIGN, payload.clone(), timeout).await {
                    Ok(reply) => match decode_json::<BrainAssignReply>(&reply.payload) {
                        Ok(reply) => return Ok((say, reply.worker_id)),
                        Err(error) => last_error = format!("malformed brain.assign reply: {error}"),
                    },
                    Err(error) => {
                        last_error = error.to_string();
                        if error.kind == BusErrorKind::NoResponders && attempt < BRAIN_ASSIGN_ATTEMPTS {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
            }
            Err(last_error)
        };
        ctx.spawn(work.into_actor(self).map(|result, actor, ctx| match result {
            Ok((say, brain_id)) => {
                tracing::info!(call_id = %actor.call_id, brain_id = %brain_id, "brain took the call");
                ctx.add_stream(say.map(SayMessage));
                let held = actor.held_heard.take().unwrap_or_default();
                let started = Heard {
                    v: protocol::BUS_VERSION,
                    call_id: actor.call_id.clone(),
                    at_ms: actor.now_ms,
                    event: HeardEvent::CallStarted,
                };
                actor.send(Outbound::BrainHeard, Bytes::from(encode_json(&started)));
                for payload in held {
                    actor.send(Outbound::BrainHeard, payload);
                }
            }
            Err(error) => {
                tracing::warn!(call_id = %actor.call_id, %error, "no brain for the call, hanging up");
                actor.send_out_event(&OutEvent::Hangup { reason: "no brain available".into() });
                actor.finish(ctx, ExitStatus::Failed, format!("no brain: {error}"));
            }
        }));
    }
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Ok(mut calls) = self.shared.calls.lock() {
            calls.insert(self.call_number, ctx.address());
        }
        let (sender, mut receiver) = mpsc::unbounded_channel::<Publish>();
        self.outbound = Some(sender);
        let bus = self.shared.bus.clone();
        let media_out = self.media_out_subject.clone();
        let call_id = self.call_id.clone();
        let worker_id = Bytes::from(self.shared.config.worker_id.clone());
        actix::spawn(async move {
            while let Some(message) = receiver.recv().await {
                let result = match message {
                    Publish::MediaOut(payload) => bus.publish(media_out.clone(), payload).await,
                    Publish::Reply(subject) => bus.publish(subject, worker_id.clone()).await,
                };
                if let Err(error) = result {
                    tracing::warn!(call_id = %call_id, %error, "media.out publish failed");
                }
            }
        });
        if let Some(ping) = self.ping.take() {
            ctx.add_stream(ping.map(Ping));
        }
        let (heard_sender, heard_receiver) = mpsc::unbounded_channel();
        self.heard_out = Some(heard_sender);
        actix::spawn(deliver_heard(
            self.shared.bus.clone(),
            self.brain_heard_subject.clone(),
            self.brain_assign_request(true),
            Duration::from_millis(self.shared.config.brain_assign_timeout_ms),
            heard_receiver,
        ));
        if let Some(media_in) = self.media_in.take() {
            ctx.add_stream(media_in.map(InboundMedia));
        }
        self.start_stt(ctx);
        if self.request.context.get("resumed").is_some_and(|v| v == "true") {
            self.resume_with_brain(ctx);
        } else {
            self.assign_brain(ctx);
        }
        ctx.run_interval(WATCHDOG_INTERVAL, |actor, ctx| actor.watchdog(ctx));
        tracing::info!(call_id = %self.call_id, stream_sid = %self.stream_sid, playbook = %self.request.playbook, "call started");
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let (status, reason) = self.exit.take().unwrap_or((ExitStatus::Failed, "actor stopped".into()));
        self.stt(SttInput::Close);
        if self.held_heard.is_none() {
            let ended = Heard {
                v: protocol::BUS_VERSION,
                call_id: self.call_id.clone(),
                at_ms: self.now_ms,
                event: HeardEvent::CallEnded { reason: reason.clone() },
            };
            if let Some(heard_out) = &self.heard_out {
                let _ = heard_out.send(HeardDelivery { payload: Bytes::from(encode_json(&ended)), takeover: false });
            }
        }
        // the tasks send what is queued, then end
        self.outbound = None;
        self.heard_out = None;
        if let Some(recording) = self.recording.take() {
            if let Err(error) = recording.finish() {
                tracing::warn!(call_id = %self.call_id, %error, "could not finish the recording");
            }
        }
        if let Ok(mut calls) = self.shared.calls.lock() {
            calls.remove(&self.call_number);
        }
        self.shared.stats.count_exit(status);
        self.shared.active.send_modify(|n| *n = n.saturating_sub(1));
        tracing::info!(
            call_id = %self.call_id,
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
        self.last_message_wall = Instant::now();
        match media::decode_media_in(&message.payload) {
            Ok(MediaIn::Audio { timestamp_ms, .. }) => self.on_audio(ctx, timestamp_ms as u64, &message.payload),
            Ok(MediaIn::Event(event)) => self.on_stream_event(ctx, event),
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(call_id = %self.call_id, %error, "malformed media.in message");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.finish(ctx, ExitStatus::DownstreamClosed, "media.in subscription closed");
    }
}

impl StreamHandler<Ping> for CallActor {
    fn handle(&mut self, Ping(message): Ping, _ctx: &mut Context<Self>) {
        if let (Some(reply), Some(outbound)) = (message.reply, &self.outbound) {
            let _ = outbound.send(Publish::Reply(reply));
        }
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<SayMessage> for CallActor {
    fn handle(&mut self, SayMessage(message): SayMessage, ctx: &mut Context<Self>) {
        self.on_say(ctx, message);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.finish(ctx, ExitStatus::DownstreamClosed, "media.say subscription closed");
    }
}

impl StreamHandler<SttEvent> for CallActor {
    fn handle(&mut self, event: SttEvent, ctx: &mut Context<Self>) {
        self.on_stt(ctx, event);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<TtsEvent> for CallActor {
    fn handle(&mut self, event: TtsEvent, ctx: &mut Context<Self>) {
        self.on_tts(ctx, event);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl Handler<Shutdown> for CallActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        tracing::info!(call_id = %self.call_id, "worker shutting down, hanging up after queued audio");
        self.playback.request_hangup("worker shutting down");
        self.playback.tick(self.now_ms);
        self.drain_playback(ctx);
    }
}

/// Delivers `brain.heard` events in order, each as a request the brain acknowledges. When the
/// brain is gone (no responders, or no ack and no answer to `brain.ping.<callId>`), another
/// brain is asked to take the call (`brain.assign` with `resume: true`; it loads the
/// conversation from KV `convo`) and the event is sent again.
async fn deliver_heard(
    bus: bus::Bus,
    subject: String,
    takeover_request: BrainAssignRequest,
    assign_timeout: Duration,
    mut events: mpsc::UnboundedReceiver<HeardDelivery>,
) {
    let call_id = takeover_request.call_id.clone();
    let ping_subject = subjects::brain_ping(&call_id).unwrap_or_default();
    let takeover_payload = Bytes::from(encode_json(&takeover_request));
    while let Some(event) = events.recv().await {
        let mut takeovers = 0;
        loop {
            let error = match bus.request(subject.clone(), event.payload.clone(), HEARD_ACK_TIMEOUT).await {
                Ok(_) => break,
                Err(error) => error,
            };
            let brain_gone = match error.kind {
                BusErrorKind::NoResponders => true,
                // no ack: gone unless it still answers its ping
                BusErrorKind::TimedOut => {
                    bus.request(ping_subject.clone(), Bytes::new(), BRAIN_PING_TIMEOUT).await.is_err()
                }
                _ => false,
            };
            if !brain_gone {
                tracing::debug!(call_id = %call_id, %error, "brain.heard not acknowledged, brain still there");
                break;
            }
            if !event.takeover || takeovers >= TAKEOVER_ATTEMPTS {
                tracing::warn!(call_id = %call_id, "brain gone, event not delivered");
                break;
            }
            takeovers += 1;
            tracing::warn!(call_id = %call_id, attempt = takeovers, "brain gone, asking another brain to take the call");
            match bus.request(subjects::BRAIN_ASSIGN, takeover_payload.clone(), assign_timeout).await {
                Ok(reply) => match decode_json::<BrainAssignReply>(&reply.payload) {
                    Ok(reply) => {
                        tracing::info!(call_id = %call_id, brain_id = %reply.worker_id, "brain took over the call")
                    }
                    Err(error) => tracing::warn!(call_id = %call_id, %error, "malformed brain.assign reply"),
                },
                Err(error) => {
                    tracing::warn!(call_id = %call_id, %error, "no brain took over yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
