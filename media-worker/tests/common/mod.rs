//! Test helpers: provider doubles, a fake brain, and `FakeLeg`, which plays Twilio's side of one
//! stream over NATS the way the gateway relays it: callee frames on `media.in.<sid>` at real
//! time, and a play-out buffer for `media.out.<sid>` that echoes marks when their audio has
//! played and drops everything on `clear`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::Bus;
use bytes::Bytes;
use protocol::brain::{BrainAssignReply, BrainAssignRequest, Heard, HeardEvent, Say, SayCommand};
use protocol::media::{self, MediaAssignReply, MediaAssignRequest, MediaOut, OutEvent, StreamEvent};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, CallSid, StreamSid};
use speech::{SttContext, SttInput, SttOutput, SttProvider, SttStream, TtsChunk, TtsError, TtsProvider};
use tokio::sync::mpsc;

/// STT double: one final per utterance, "utterance <n> of <ms> ms", with the utterance's times,
/// followed by " after: <context>" when the worker gave the agent's line as context before it.
pub struct CountingStt;

impl SttProvider for CountingStt {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn start(&self, _context: SttContext) -> SttStream {
        let (input, mut input_rx) = mpsc::unbounded_channel();
        let (output_tx, output) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut count = 0;
            let mut current: Option<(u64, usize)> = None;
            let mut context: Option<String> = None;
            while let Some(message) = input_rx.recv().await {
                match message {
                    SttInput::UtteranceStart { timestamp_ms } => current = Some((timestamp_ms, 0)),
                    SttInput::Audio { mulaw, .. } => {
                        if let Some((_, bytes)) = current.as_mut() {
                            *bytes += mulaw.len();
                        }
                    }
                    SttInput::UtteranceEnd { timestamp_ms } => {
                        if let Some((start_ms, bytes)) = current.take() {
                            count += 1;
                            let after = context.as_ref().map(|c| format!(" after: {c}")).unwrap_or_default();
                            let _ = output_tx.send(SttOutput::Final {
                                text: format!("utterance {count} of {} ms{after}", bytes / 8),
                                confidence: Some(0.9),
                                start_ms,
                                end_ms: timestamp_ms,
                            });
                        }
                    }
                    // an empty line clears it, as `speech::stt::UtteranceCollector` does
                    SttInput::Context { text } => context = (!text.trim().is_empty()).then_some(text),
                    SttInput::Paused { .. } | SttInput::Resumed { .. } => {}
                    SttInput::Close => break,
                }
            }
        });
        SttStream { input, output }
    }
}

/// STT double that fails at once (a provider past its retry deadline).
pub struct FailingStt;

impl SttProvider for FailingStt {
    fn name(&self) -> &'static str {
        "failing"
    }

    fn start(&self, _context: SttContext) -> SttStream {
        let (input, _input_rx) = mpsc::unbounded_channel();
        let (output_tx, output) = mpsc::unbounded_channel();
        let _ = output_tx.send(SttOutput::Failed { message: "quota exceeded".into(), retryable: false });
        std::mem::forget(_input_rx);
        SttStream { input, output }
    }
}

/// TTS double: a 440 Hz tone, `ms_per_char` of audio per character, sent in 100 ms chunks.
pub struct ToneTts {
    pub ms_per_char: u64,
}

impl TtsProvider for ToneTts {
    fn name(&self) -> &'static str {
        "tone"
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let total_ms = text.chars().count() as u64 * self.ms_per_char;
        tokio::spawn(async move {
            let samples = (total_ms * 8) as usize;
            let audio: Vec<u8> = (0..samples)
                .map(|n| {
                    let t = n as f32 / 8000.0;
                    protocol::mulaw::encode((6000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16)
                })
                .collect();
            for chunk in audio.chunks(800) {
                if tx.send(Ok(TtsChunk::Audio(Bytes::copy_from_slice(chunk)))).is_err() {
                    return; // cancelled
                }
                tokio::task::yield_now().await;
            }
            let _ = tx.send(Ok(TtsChunk::Done { total_ms }));
        });
        rx
    }
}

pub fn test_providers(ms_per_char: u64) -> speech::Providers {
    speech::Providers { stt: Arc::new(CountingStt), tts: Arc::new(ToneTts { ms_per_char }) }
}

/// A brain double: answers `brain.assign`, then, like the real brain, subscribes to the call's
/// `brain.heard.<callId>` (acknowledging each event) and `brain.ping.<callId>`, and collects
/// the events.
pub struct FakeBrain {
    heard: mpsc::UnboundedReceiver<Heard>,
    /// Received and not yet matched by `wait_for`, in arrival order.
    backlog: VecDeque<Heard>,
    bus: Bus,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Every `brain.assign` request this brain answered.
    pub assigns: Arc<Mutex<Vec<BrainAssignRequest>>>,
    events: mpsc::UnboundedSender<Heard>,
}

/// Subscribes to the call's `brain.heard` and `brain.ping` and serves them until aborted.
async fn follow_call(bus: &Bus, call_id: &CallId, tx: mpsc::UnboundedSender<Heard>) -> tokio::task::JoinHandle<()> {
    let mut heard_sub = bus.subscribe(subjects::brain_heard(call_id).unwrap()).await.unwrap();
    let mut ping = bus.subscribe(subjects::brain_ping(call_id).unwrap()).await.unwrap();
    bus.flush().await.unwrap();
    let bus = bus.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(message) = heard_sub.next() => {
                    let heard = decode_json::<Heard>(&message.payload).expect("brain.heard decodes");
                    if message.reply.is_some() {
                        let _ = bus.respond(&message, Bytes::new()).await;
                    }
                    let _ = tx.send(heard);
                }
                Some(request) = ping.next() => {
                    let _ = bus.respond(&request, Bytes::new()).await;
                }
                else => break,
            }
        }
    })
}

impl FakeBrain {
    pub async fn start(bus: &Bus) -> FakeBrain {
        Self::start_named(bus, "brain-1").await
    }

    pub async fn start_named(bus: &Bus, brain_id: &str) -> FakeBrain {
        let mut assign = bus.queue_subscribe(subjects::BRAIN_ASSIGN, subjects::BRAIN_QUEUE_GROUP).await.unwrap();
        bus.flush().await.unwrap();
        let (tx, heard) = mpsc::unbounded_channel();
        let tx_keep = tx.clone();
        let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let assigns: Arc<Mutex<Vec<BrainAssignRequest>>> = Arc::default();
        let (task_bus, task_tasks, task_assigns, brain_id) =
            (bus.clone(), tasks.clone(), assigns.clone(), brain_id.to_owned());
        let assign_loop = tokio::spawn(async move {
            while let Some(request) = assign.next().await {
                let assignment: BrainAssignRequest = decode_json(&request.payload).expect("brain.assign decodes");
                let call_task = follow_call(&task_bus, &assignment.call_id, tx.clone()).await;
                task_assigns.lock().unwrap().push(assignment);
                let reply = BrainAssignReply { v: 1, worker_id: brain_id.clone() };
                task_bus.respond(&request, encode_json(&reply)).await.unwrap();
                task_tasks.lock().unwrap().push(call_task);
            }
        });
        tasks.lock().unwrap().push(assign_loop);
        FakeBrain { heard, backlog: VecDeque::new(), bus: bus.clone(), tasks, assigns, events: tx_keep }
    }

    /// Runs `call_id` as if this brain had been assigned it earlier.
    pub async fn adopt(&self, call_id: &CallId) {
        let task = follow_call(&self.bus, call_id, self.events.clone()).await;
        self.tasks.lock().unwrap().push(task);
    }

    /// The brain dies: every subscription goes away at once.
    pub fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The first heard event not yet taken that matches `filter` (others stay for later
    /// calls); panics after `timeout`.
    pub async fn wait_for(&mut self, timeout: Duration, filter: impl Fn(&HeardEvent) -> bool) -> Heard {
        match self.try_wait_for(timeout, filter).await {
            Some(heard) => heard,
            None => panic!("no matching brain.heard event within {timeout:?}"),
        }
    }

    /// Like [`FakeBrain::wait_for`], but `None` after `timeout`.
    pub async fn try_wait_for(&mut self, timeout: Duration, filter: impl Fn(&HeardEvent) -> bool) -> Option<Heard> {
        if let Some(index) = self.backlog.iter().position(|h| filter(&h.event)) {
            return self.backlog.remove(index);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.heard.recv()).await {
                Ok(Some(heard)) if filter(&heard.event) => return Some(heard),
                Ok(Some(heard)) => self.backlog.push_back(heard),
                Ok(None) => panic!("brain.heard subscription closed"),
                Err(_) => return None,
            }
        }
    }

    /// Every event received and not taken by `wait_for` so far.
    pub fn pending(&mut self) -> Vec<Heard> {
        while let Ok(heard) = self.heard.try_recv() {
            self.backlog.push_back(heard);
        }
        self.backlog.iter().cloned().collect()
    }

    pub async fn say(&self, call_id: &CallId, command: SayCommand) {
        let say = Say { v: 1, call_id: call_id.clone(), command };
        self.bus.publish(subjects::media_say(call_id).unwrap(), encode_json(&say)).await.unwrap();
    }
}

/// Asks `media.assign` for a worker, as the gateway does.
pub async fn assign(bus: &Bus, call_id: &str, stream_sid: &str) -> Result<MediaAssignReply, bus::BusError> {
    let request = MediaAssignRequest {
        v: 1,
        call_id: CallId::from(call_id),
        stream_sid: StreamSid::from(stream_sid),
        call_sid: CallSid::from(format!("CA{call_id}")),
        playbook: "gym-dropin".into(),
        direction: Default::default(),
        context: Default::default(),
    };
    let reply = bus.request(subjects::MEDIA_ASSIGN, encode_json(&request), Duration::from_millis(1500)).await?;
    Ok(decode_json(&reply.payload).expect("assign reply decodes"))
}

/// μ-law audio of `text` spoken by flite (8 kHz).
pub fn spoken(text: &str) -> Vec<u8> {
    let flite = speech::tts::FliteTts::new().expect("flite voice");
    let pcm = flite.synthesize_pcm_8k(text);
    let mut out = Vec::new();
    protocol::mulaw::encode_into(&pcm, &mut out);
    out
}

/// Media time (ms) of the first 20 ms frame of `mulaw` with sound in it (RMS over 100, about
/// -50 dBFS: the quiet start of a fricative counts as the onset).
pub fn speech_onset_ms(mulaw: &[u8]) -> u64 {
    let frame = mulaw
        .chunks(160)
        .position(|chunk| {
            let sum: f64 = chunk.iter().map(|&c| (protocol::mulaw::decode(c) as f64).powi(2)).sum();
            (sum / chunk.len() as f64).sqrt() > 100.0
        })
        .expect("the audio holds speech");
    frame as u64 * 20
}

/// `ms` of μ-law silence.
pub fn silence(ms: u64) -> Vec<u8> {
    vec![protocol::mulaw::SILENCE; (ms * 8) as usize]
}

/// What the fake leg saw, stamped with the media time it happened at.
#[derive(Debug, Clone, PartialEq)]
pub enum LegEvent {
    /// An agent audio frame arrived (not yet played).
    AudioReceived {
        bytes: usize,
    },
    /// Agent audio played to the callee (20 ms).
    AudioPlayed {
        bytes: usize,
    },
    MarkReceived(String),
    MarkEchoed(String),
    Clear {
        dropped_ms: u64,
    },
    Hangup(String),
}

#[derive(Default)]
pub struct LegLog {
    pub events: Vec<(u64, LegEvent)>,
    /// Largest amount of agent audio queued at once (ms).
    pub max_queued_ms: u64,
}

enum Queued {
    Audio(usize),
    Mark(String),
}

/// Twilio's side of one stream, over NATS.
pub struct FakeLeg {
    pub log: Arc<Mutex<LegLog>>,
    task: tokio::task::JoinHandle<()>,
    bus: Bus,
    stream_sid: StreamSid,
}

impl FakeLeg {
    /// Starts streaming `callee` audio (then silence for `tail_ms`) at real time, from media time 0.
    pub async fn start(bus: &Bus, stream_sid: &str, callee: Vec<u8>, tail_ms: u64) -> FakeLeg {
        let sid = StreamSid::from(stream_sid);
        let mut media_out = bus.subscribe(subjects::media_out(&sid).unwrap()).await.unwrap();
        bus.flush().await.unwrap();
        let media_in = subjects::media_in(&sid).unwrap();
        let log = Arc::new(Mutex::new(LegLog::default()));
        let task_log = log.clone();
        let task_bus = bus.clone();
        let total_ms = callee.len() as u64 / 8 + tail_ms;
        let task = tokio::spawn(async move {
            let bus = task_bus;
            let log = task_log;
            let mut queue: VecDeque<Queued> = VecDeque::new();
            let mut queued_bytes = 0usize;
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            let mut now_ms = 0u64;
            let mut sequence = 1u32;
            let mut frame = Vec::new();
            let echo = |name: String, bus: Bus, subject: String| async move {
                let event = media::encode_stream_event(&StreamEvent::Mark { name });
                bus.publish(subject, event).await.unwrap();
            };
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        if now_ms >= total_ms {
                            break;
                        }
                        let start = (now_ms * 8) as usize;
                        let payload: Vec<u8> = if start < callee.len() {
                            let mut chunk = callee[start..(start + 160).min(callee.len())].to_vec();
                            chunk.resize(160, protocol::mulaw::SILENCE);
                            chunk
                        } else {
                            vec![protocol::mulaw::SILENCE; 160]
                        };
                        media::encode_inbound_audio(sequence, now_ms as u32, &payload, &mut frame);
                        bus.publish(media_in.clone(), Bytes::from(frame.clone())).await.unwrap();
                        sequence += 1;
                        // play 20 ms of agent audio, echo marks that come due
                        let mut to_play = 160usize;
                        loop {
                            match queue.front_mut() {
                                Some(Queued::Mark(_)) => {
                                    if let Some(Queued::Mark(name)) = queue.pop_front() {
                                        log.lock().unwrap().events.push((now_ms, LegEvent::MarkEchoed(name.clone())));
                                        echo(name, bus.clone(), media_in.clone()).await;
                                    }
                                }
                                Some(Queued::Audio(bytes)) if to_play > 0 => {
                                    let played = (*bytes).min(to_play);
                                    *bytes -= played;
                                    to_play -= played;
                                    queued_bytes -= played;
                                    log.lock().unwrap().events.push((now_ms, LegEvent::AudioPlayed { bytes: played }));
                                    if *bytes == 0 {
                                        queue.pop_front();
                                    }
                                }
                                _ => break,
                            }
                        }
                        now_ms += 20;
                    }
                    message = media_out.next() => {
                        let Some(message) = message else { break };
                        let mut to_echo = Vec::new();
                        {
                        let mut log = log.lock().unwrap();
                        match media::decode_media_out(&message.payload).expect("media.out decodes") {
                            MediaOut::Audio(audio) => {
                                queue.push_back(Queued::Audio(audio.len()));
                                queued_bytes += audio.len();
                                log.max_queued_ms = log.max_queued_ms.max(queued_bytes as u64 / 8);
                                log.events.push((now_ms, LegEvent::AudioReceived { bytes: audio.len() }));
                            }
                            MediaOut::Event(OutEvent::Mark { name }) => {
                                queue.push_back(Queued::Mark(name.clone()));
                                log.events.push((now_ms, LegEvent::MarkReceived(name)));
                            }
                            MediaOut::Event(OutEvent::Clear) => {
                                log.events.push((now_ms, LegEvent::Clear { dropped_ms: queued_bytes as u64 / 8 }));
                                // Twilio drops the audio and echoes every outstanding mark
                                for item in queue.drain(..) {
                                    if let Queued::Mark(name) = item {
                                        to_echo.push(name);
                                    }
                                }
                                queued_bytes = 0;
                            }
                            MediaOut::Event(OutEvent::Hangup { reason }) => {
                                log.events.push((now_ms, LegEvent::Hangup(reason)));
                            }
                        }
                        }
                        for name in to_echo {
                            echo(name, bus.clone(), media_in.clone()).await;
                        }
                    }
                }
            }
        });
        FakeLeg { log, task, bus: bus.clone(), stream_sid: sid }
    }

    /// Sends a stream event (dtmf, stop) on `media.in`.
    pub async fn event(&self, event: StreamEvent) {
        let subject = subjects::media_in(&self.stream_sid).unwrap();
        self.bus.publish(subject, media::encode_stream_event(&event)).await.unwrap();
    }

    pub fn events(&self) -> Vec<(u64, LegEvent)> {
        self.log.lock().unwrap().events.clone()
    }

    /// Waits until the leg's log has an event matching `filter`; panics after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, filter: impl Fn(&LegEvent) -> bool) -> (u64, LegEvent) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self.events().into_iter().find(|(_, e)| filter(e)) {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("the leg saw no matching event within {timeout:?}: {:?}", self.events().last());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the callee audio to end, then stops the stream as Twilio does.
    pub async fn finish(self) -> LegLog {
        let FakeLeg { log, task, bus, stream_sid } = self;
        let _ = task.await;
        let stop = media::encode_stream_event(&StreamEvent::Stop { reason: "stream ended".into() });
        bus.publish(subjects::media_in(&stream_sid).unwrap(), stop).await.unwrap();
        let log = log.lock().unwrap();
        LegLog { events: log.events.clone(), max_queued_ms: log.max_queued_ms }
    }
}
