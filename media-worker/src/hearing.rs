//! Hearing as a sans-I/O state machine told the media time: callee frames and STT results in;
//! audio and utterance bounds for STT, heard events for the brain and barge-in cuts out.
//!
//! It owns the preroll ring (the onset of an utterance, from before speech was confirmed), the
//! VAD and endpointer, the utterance being listened to, the barge-in decision and when to
//! (re)start the STT stream. Drive it with [`Hearing::handle_frame`] for every inbound frame and
//! [`Hearing::handle_stt`] for every STT result, then drain [`Hearing::poll_output`] in order.

use std::collections::VecDeque;

use bytes::Bytes;
use protocol::brain::{HeardEvent, ProviderStage};
use speech::{EndpointEvent, Endpointer, EndpointerConfig, FrameClass, SttInput, SttOutput, Vad};

/// Samples in one 20 ms frame at 8 kHz.
const FRAME_SAMPLES: usize = 160;
const FRAME_MS: u64 = 20;
/// μ-law bytes (samples) per millisecond at 8 kHz.
const BYTES_PER_MS: u64 = 8;
/// Callee audio kept before speech is confirmed, so STT hears the onset.
const PREROLL_MS: u64 = 300;
/// Audio sent to STT from before the endpointer's speech start.
const PREROLL_LEAD_MS: u64 = 100;
/// STT streams restarted after a failure, per call.
pub const STT_RESTARTS: u32 = 3;

/// Per-frame speech decision: the webrtc VAD in calls, a double in tests.
pub trait SpeechDetector {
    fn is_speech(&mut self, pcm_8k_20ms: &[i16]) -> bool;

    /// The decision and whether the frame is loud (the endpoint silence counts from the last
    /// loud speech frame); a detector without an energy measure calls every speech frame loud.
    fn classify(&mut self, pcm_8k_20ms: &[i16]) -> FrameClass {
        let voiced = self.is_speech(pcm_8k_20ms);
        FrameClass { voiced, loud: voiced }
    }
}

impl SpeechDetector for Vad {
    fn is_speech(&mut self, pcm_8k_20ms: &[i16]) -> bool {
        Vad::is_speech(self, pcm_8k_20ms)
    }

    fn classify(&mut self, pcm_8k_20ms: &[i16]) -> FrameClass {
        Vad::classify(self, pcm_8k_20ms)
    }
}

/// The agent's side of the line, as hearing needs it for barge-in.
pub trait AgentAudio {
    /// True while the callee would hear agent audio that is queued, in flight or synthesized.
    fn unplayed(&self, now_ms: u64) -> bool;
    /// The callee talks over the agent at `now_ms`: cut what can be cut; returns whether it cut.
    fn barge_in(&mut self, now_ms: u64) -> bool;
}

/// Something the actor must do, in order.
#[derive(Debug, Clone)]
pub enum HearingOutput {
    /// Start a new STT stream (replacing any current one); results carry `generation`.
    StartStt { generation: u32 },
    /// Close the STT stream for good: the brain hears no more words in this call.
    StopStt,
    /// Send this to the current STT stream.
    Stt(SttInput),
    /// Tell the brain.
    Heard { at_ms: u64, event: HeardEvent },
    /// A callee utterance whose speech ended at `since_ms` was endpointed at media time
    /// `endpointed_ms` while the agent was silent: the next agent audio answers it (voice-to-voice
    /// latency, measured stage by stage from here).
    ReplyAwaited { since_ms: u64, endpointed_ms: u64 },
    /// The final transcript of an utterance arrived; its words were known since media time
    /// `known_ms` (an interim of the same words, from a recogniser that started at the callee's
    /// pause, came then), at most now. Comes before that transcript's `Heard`.
    Transcribed { known_ms: u64 },
}

/// The callee utterance being streamed to STT.
#[derive(Debug)]
struct Listening {
    start_ms: u64,
    /// The agent's audio has been cut for this utterance.
    barged_in: bool,
}

/// The hearing state of one call.
pub struct Hearing<D: SpeechDetector = Vad> {
    detector: D,
    endpointer: Endpointer,
    /// Provider name, for logs.
    stt_provider: &'static str,
    pcm: Vec<i16>,
    /// The last [`PREROLL_MS`] of callee μ-law, ending at `preroll_end_ms`.
    preroll: VecDeque<u8>,
    preroll_end_ms: u64,
    listening: Option<Listening>,
    stt_generation: u32,
    stt_restarts: u32,
    /// False once STT gave up for this call.
    stt_open: bool,
    utterance_seq: u64,
    /// The last interim transcript and the media time it came.
    last_interim: Option<(String, u64)>,
    outputs: VecDeque<HearingOutput>,
}

impl<D: SpeechDetector> Hearing<D> {
    /// A call's hearing; its first output starts the STT stream.
    pub fn new(detector: D, endpointer: EndpointerConfig, stt_provider: &'static str) -> Hearing<D> {
        let mut hearing = Hearing {
            detector,
            endpointer: Endpointer::new(endpointer),
            stt_provider,
            pcm: Vec::with_capacity(FRAME_SAMPLES * 2),
            preroll: VecDeque::with_capacity((PREROLL_MS * BYTES_PER_MS) as usize),
            preroll_end_ms: 0,
            listening: None,
            stt_generation: 0,
            stt_restarts: 0,
            stt_open: false,
            utterance_seq: 0,
            last_interim: None,
            outputs: VecDeque::with_capacity(16),
        };
        hearing.start_stt();
        hearing
    }

    pub fn poll_output(&mut self) -> Option<HearingOutput> {
        self.outputs.pop_front()
    }

    /// The last frame, decoded (for the recording).
    pub fn last_pcm(&self) -> &[i16] {
        &self.pcm
    }

    /// One inbound frame of callee μ-law stamped `timestamp_ms`, heard when the media time was
    /// `now_ms`. Returns the media time after it (`now_ms` or the frame's end, the later).
    pub fn handle_frame(&mut self, now_ms: u64, timestamp_ms: u64, mulaw: Bytes, agent: &mut dyn AgentAudio) -> u64 {
        self.pcm.clear();
        protocol::mulaw::decode_into(&mulaw, &mut self.pcm);
        self.keep_preroll(timestamp_ms, &mulaw);

        let was_listening = self.listening.is_some();
        for (index, frame) in self.pcm.chunks_exact(FRAME_SAMPLES).enumerate() {
            let frame_ms = timestamp_ms + index as u64 * FRAME_MS;
            let class = self.detector.classify(frame);
            self.endpointer.handle_frame(frame_ms, class);
        }
        // what the endpointer decides, it decides once this frame has arrived: at its end
        let frame_end_ms = timestamp_ms + (self.pcm.len() as u64).div_ceil(BYTES_PER_MS);
        while let Some(event) = self.endpointer.poll_event() {
            self.on_endpoint(now_ms, now_ms.max(frame_end_ms), event, agent);
        }
        if was_listening && self.listening.is_some() {
            self.stt(SttInput::Audio { mulaw, timestamp_ms });
        }

        let now_ms = now_ms.max(frame_end_ms);
        self.check_barge_in(now_ms, agent);
        now_ms
    }

    /// Keeps the last [`PREROLL_MS`] of audio for the onset of the next utterance.
    fn keep_preroll(&mut self, timestamp_ms: u64, mulaw: &[u8]) {
        if timestamp_ms < self.preroll_end_ms || timestamp_ms > self.preroll_end_ms + FRAME_MS {
            self.preroll.clear(); // a gap or a jump back: the ring no longer lines up in time
        }
        self.preroll.extend(mulaw.iter().copied());
        let overflow = self.preroll.len().saturating_sub((PREROLL_MS * BYTES_PER_MS) as usize);
        self.preroll.drain(..overflow);
        self.preroll_end_ms = timestamp_ms + mulaw.len() as u64 / BYTES_PER_MS;
    }

    /// An endpointer event while the frame ending at media time `decided_ms` is handled (`now_ms`:
    /// the media time before it).
    fn on_endpoint(&mut self, now_ms: u64, decided_ms: u64, event: EndpointEvent, agent: &dyn AgentAudio) {
        match event {
            EndpointEvent::SpeechStarted { .. } => {}
            EndpointEvent::SpeechConfirmed { start_ms, at_ms } => {
                if self.listening.is_some() {
                    return;
                }
                self.listening = Some(Listening { start_ms, barged_in: false });
                self.last_interim = None;
                self.heard(start_ms, HeardEvent::SpeechStarted);
                self.stt(SttInput::UtteranceStart { timestamp_ms: start_ms });
                // the onset, from the ring (the current frame included)
                let from_ms = start_ms.saturating_sub(PREROLL_LEAD_MS);
                let ring_start_ms = self.preroll_end_ms.saturating_sub(self.preroll.len() as u64 / BYTES_PER_MS);
                let skip = (from_ms.saturating_sub(ring_start_ms) * BYTES_PER_MS) as usize;
                if skip < self.preroll.len() {
                    let onset: Vec<u8> = self.preroll.iter().skip(skip).copied().collect();
                    let timestamp_ms = ring_start_ms.max(from_ms);
                    self.stt(SttInput::Audio { mulaw: Bytes::from(onset), timestamp_ms });
                }
                tracing::debug!(start_ms, at_ms, "callee speech confirmed");
            }
            EndpointEvent::Paused { end_ms, at_ms } => {
                if self.listening.is_some() {
                    self.stt(SttInput::Paused { timestamp_ms: at_ms });
                    tracing::trace!(end_ms, at_ms, "callee paused");
                }
            }
            EndpointEvent::Resumed { at_ms } => {
                if self.listening.is_some() {
                    self.stt(SttInput::Resumed { timestamp_ms: at_ms });
                    tracing::trace!(at_ms, "callee went on");
                }
            }
            EndpointEvent::UtteranceEnded { start_ms, end_ms } => {
                if self.listening.take().is_some() {
                    self.stt(SttInput::UtteranceEnd { timestamp_ms: end_ms });
                    if !agent.unplayed(now_ms) {
                        self.outputs
                            .push_back(HearingOutput::ReplyAwaited { since_ms: end_ms, endpointed_ms: decided_ms });
                    }
                    tracing::debug!(start_ms, end_ms, "callee utterance ended");
                }
            }
        }
    }

    /// Once the utterance holds `barge_in_min_ms` of speech while agent audio is unplayed, cut
    /// the agent (again on later frames until something was cut).
    fn check_barge_in(&mut self, now_ms: u64, agent: &mut dyn AgentAudio) {
        let Some(listening) = &mut self.listening else { return };
        if listening.barged_in || !self.endpointer.barge_in_reached() {
            return;
        }
        if !agent.unplayed(now_ms) {
            return;
        }
        if agent.barge_in(now_ms) {
            listening.barged_in = true;
            tracing::info!(speech_start_ms = listening.start_ms, at_ms = now_ms, "barge-in, clearing agent audio");
        }
    }

    /// A result of STT stream `generation` at media time `now_ms`; `None`: the stream closed.
    pub fn handle_stt(&mut self, now_ms: u64, generation: u32, output: Option<SttOutput>) {
        if generation != self.stt_generation {
            return; // a stream replaced since
        }
        match output {
            Some(SttOutput::Interim { text }) => {
                self.last_interim = Some((text.clone(), now_ms));
                let start_ms = self.listening.as_ref().map(|l| l.start_ms).unwrap_or(now_ms);
                let event = HeardEvent::Transcript {
                    utterance_seq: self.utterance_seq,
                    text,
                    is_final: false,
                    confidence: None,
                    start_ms,
                    end_ms: now_ms,
                };
                self.heard(now_ms, event);
            }
            Some(SttOutput::Final { text, confidence, start_ms, end_ms }) => {
                // Nothing recognised is still told (an empty final): the brain waits for this
                // utterance's transcript (up to 45 s for a long answer) and must learn it will
                // not come, or the line goes quiet that long.
                let text = if text.trim().is_empty() {
                    tracing::debug!(start_ms, end_ms, "stt heard nothing in the utterance");
                    String::new()
                } else {
                    tracing::info!(start_ms, end_ms, words = text.split_whitespace().count(), "callee transcript");
                    text
                };
                let known_ms = match self.last_interim.take() {
                    Some((interim, at_ms)) if interim.trim() == text.trim() => at_ms.min(now_ms),
                    _ => now_ms,
                };
                self.outputs.push_back(HearingOutput::Transcribed { known_ms });
                let utterance_seq = self.utterance_seq;
                self.utterance_seq += 1;
                let event =
                    HeardEvent::Transcript { utterance_seq, text, is_final: true, confidence, start_ms, end_ms };
                self.heard(end_ms, event);
            }
            Some(SttOutput::Failed { message, retryable }) => {
                tracing::warn!(%message, retryable, provider = self.stt_provider, "stt failed");
                self.heard(now_ms, HeardEvent::ProviderFailure { stage: ProviderStage::Stt, message });
                self.restart_stt();
            }
            None => {
                tracing::warn!(provider = self.stt_provider, "stt stream closed");
                let message = "stt stream closed".to_owned();
                self.heard(now_ms, HeardEvent::ProviderFailure { stage: ProviderStage::Stt, message });
                self.restart_stt();
            }
        }
    }

    fn start_stt(&mut self) {
        self.stt_generation += 1;
        self.stt_open = true;
        self.outputs.push_back(HearingOutput::StartStt { generation: self.stt_generation });
    }

    /// Up to [`STT_RESTARTS`] times per call: a new stream, told of the utterance in progress.
    fn restart_stt(&mut self) {
        if self.stt_restarts >= STT_RESTARTS {
            tracing::warn!("stt gave up for this call, the brain hears no more");
            self.stt_generation += 1; // ignore whatever the old stream still says
            self.stt_open = false;
            self.outputs.push_back(HearingOutput::StopStt);
            return;
        }
        self.stt_restarts += 1;
        self.start_stt();
        if let Some(listening) = &self.listening {
            let timestamp_ms = listening.start_ms;
            self.stt(SttInput::UtteranceStart { timestamp_ms });
        }
    }

    fn stt(&mut self, input: SttInput) {
        if self.stt_open {
            self.outputs.push_back(HearingOutput::Stt(input));
        }
    }

    fn heard(&mut self, at_ms: u64, event: HeardEvent) {
        self.outputs.push_back(HearingOutput::Heard { at_ms, event });
    }
}

#[cfg(test)]
mod tests;
