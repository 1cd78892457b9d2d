//! Voice activity detection on 8 kHz 20 ms frames, and the endpointing state machine that turns
//! per-frame speech decisions into utterance events. Both are sans-I/O: they are told the time.

use std::collections::VecDeque;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES_8K: usize = 160;

/// Aggressiveness of the detector (webrtc modes 0..=3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VadMode {
    Quality,
    LowBitrate,
    #[default]
    Aggressive,
    VeryAggressive,
}

/// Per-frame speech detector. Not `Send` (it wraps a C object): keep it inside the actor.
pub struct Vad {
    mode: VadMode,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Vad {
    pub fn new(mode: VadMode) -> Vad {
        Vad { mode, _not_send: std::marker::PhantomData }
    }

    pub fn mode(&self) -> VadMode {
        self.mode
    }

    /// True when the 20 ms frame (160 samples at 8 kHz) holds speech.
    pub fn is_speech(&mut self, pcm_8k_20ms: &[i16]) -> bool {
        let _ = pcm_8k_20ms;
        false
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointerConfig {
    /// Speech this long (contiguous) confirms an utterance; also the barge-in trigger.
    pub min_speech_ms: u64,
    /// Silence this long ends an utterance.
    pub end_silence_ms: u64,
    /// Speech this long confirms a barge-in while agent audio plays.
    pub barge_in_min_ms: u64,
    /// Length of one frame fed to `handle`.
    pub frame_ms: u64,
}

impl Default for EndpointerConfig {
    fn default() -> Self {
        EndpointerConfig { min_speech_ms: 120, end_silence_ms: 500, barge_in_min_ms: 200, frame_ms: 20 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    SpeechStarted { at_ms: u64 },
    /// Minimum speech reached: barge-in trigger.
    SpeechConfirmed { start_ms: u64, at_ms: u64 },
    UtteranceEnded { start_ms: u64, end_ms: u64 },
}

/// Turns per-frame speech decisions into utterance events.
#[derive(Debug)]
pub struct Endpointer {
    config: EndpointerConfig,
    events: VecDeque<EndpointEvent>,
}

impl Endpointer {
    pub fn new(config: EndpointerConfig) -> Endpointer {
        Endpointer { config, events: VecDeque::new() }
    }

    pub fn config(&self) -> &EndpointerConfig {
        &self.config
    }

    /// Feed one frame's decision, stamped with the frame's start time.
    pub fn handle(&mut self, now_ms: u64, is_speech: bool) {
        let _ = (now_ms, is_speech);
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// True while an utterance is in progress (started and not yet ended).
    pub fn in_utterance(&self) -> bool {
        false
    }
}
