//! Speech-to-text: the [`SttProvider`] trait the call actor talks to, and its implementations.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::vocabulary::Vocabulary;

/// What a provider knows about the call it transcribes.
#[derive(Debug, Clone, Default)]
pub struct SttContext {
    pub call_id: String,
    /// Words and phrases the callee is likely to say; embedded STT builds its grammar from it.
    pub vocabulary: Option<Arc<Vocabulary>>,
}

/// What the actor sends to a running transcription.
#[derive(Debug, Clone)]
pub enum SttInput {
    /// 20 ms (or any length) of 8 kHz mu-law callee audio, stamped with call time.
    Audio { mulaw: Bytes, timestamp_ms: u64 },
    /// The endpointer heard speech start at this call time. May arrive later than that time
    /// (e.g. once speech is confirmed): the provider keeps the last second of audio and starts
    /// the utterance 200 ms before `timestamp_ms`.
    UtteranceStart { timestamp_ms: u64 },
    /// The endpointer decided the utterance ended at this call time.
    UtteranceEnd { timestamp_ms: u64 },
    /// The callee paused at this call time (the audio sent so far is the utterance if they say
    /// no more): a provider may start on it, so its transcript is ready when `UtteranceEnd`
    /// comes. Providers that do not guess ignore it.
    Paused { timestamp_ms: u64 },
    /// The callee went on after the last `Paused`, at this call time: what was started on it is
    /// not the utterance.
    Resumed { timestamp_ms: u64 },
    /// What the agent said last: the line the callee's next words most likely answer. Providers
    /// that take a "previous text" (Whisper's prompt, OpenAI's `prompt` field) decode the next
    /// utterances with it; others ignore it.
    Context { text: String },
    /// No more input; the provider finishes pending work and closes its output.
    Close,
}

/// What a running transcription reports back. An utterance in which nothing was recognised may
/// yield no `Final` at all.
#[derive(Debug, Clone, PartialEq)]
pub enum SttOutput {
    Interim {
        text: String,
    },
    Final {
        text: String,
        confidence: Option<f32>,
        start_ms: u64,
        end_ms: u64,
    },
    /// The provider gave up (after its own retries when `retryable` was true for them).
    Failed {
        message: String,
        retryable: bool,
    },
}

/// The two ends of one call's transcription.
#[derive(Debug)]
pub struct SttStream {
    pub input: mpsc::UnboundedSender<SttInput>,
    pub output: mpsc::UnboundedReceiver<SttOutput>,
}

/// A speech-to-text service. `start` must be called inside a tokio runtime; it returns at once.
pub trait SttProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn start(&self, context: SttContext) -> SttStream;
}

pub mod pocketsphinx;
mod sphinx_ffi;

pub use pocketsphinx::{PocketsphinxConfig, PocketsphinxStt, SphinxError, SphinxInputRate};
pub use sphinx_ffi::Hypothesis;

pub mod deepgram;
pub mod openai;

pub use deepgram::{DeepgramConfig, DeepgramStt};
pub use openai::{OpenAiStt, OpenAiSttConfig};

/// Audio kept while no utterance is open (1 s), so an utterance can begin before the moment
/// `UtteranceStart` arrives (the actor may send it when speech is confirmed, not at onset).
const PRE_ROLL_SAMPLES: usize = 8_000;
/// Audio included before the `UtteranceStart` time, so the first phone is not cut.
const LEAD_IN_MS: u64 = 200;
/// Longest utterance kept (8 kHz samples: 2 minutes, 1.9 MB). A line the endpointer never hears
/// end (constant noise taken for speech) would otherwise grow one call's buffer for as long as
/// the call lasts; the audio past it is dropped, with one warning per utterance.
pub const MAX_UTTERANCE_SAMPLES_8K: usize = 120 * 8_000;

/// A finished utterance: 8 kHz PCM and its call times.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub pcm_8k: Vec<i16>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The last [`SttInput::Context`] before the utterance started, if any.
    pub context: Option<Arc<str>>,
}

/// Collects callee audio into utterances for providers that transcribe whole utterances (public
/// so providers in other crates, e.g. the embedded Whisper one, collect exactly as these do).
#[derive(Debug, Default)]
pub struct UtteranceCollector {
    pre_roll: std::collections::VecDeque<i16>,
    /// Call time just after the last pre-roll sample.
    pre_roll_end_ms: u64,
    current: Option<(u64, Vec<i16>, Option<Arc<str>>)>,
    /// Audio past [`MAX_UTTERANCE_SAMPLES_8K`] was dropped from the current utterance.
    overflowed: bool,
    pcm: Vec<i16>,
    context: Option<Arc<str>>,
}

/// Longest context kept (characters, the end of the line): Whisper reads 223 tokens of a prompt.
const CONTEXT_MAX_CHARS: usize = 600;

/// What the collector made of one input.
pub enum Collected {
    Nothing,
    Utterance(Utterance),
    /// `Paused`: the utterance so far (a copy; it stays open). Nothing while none is open.
    Paused(Utterance),
    /// `Resumed` within an open utterance (at call time `at_ms`): the last `Paused` copy is not
    /// the utterance.
    Resumed {
        at_ms: u64,
    },
    /// `Close`: the last utterance, if one was open.
    Closed(Option<Utterance>),
}

/// Starts a task that collects a call's STT input into whole utterances, sent in order on the
/// returned channel (the last one, if open, when the input closes): the front half of every
/// provider that transcribes whole utterances.
pub fn spawn_utterance_collector(mut input: mpsc::UnboundedReceiver<SttInput>) -> mpsc::UnboundedReceiver<Utterance> {
    let (utterance_sender, utterances) = mpsc::unbounded_channel::<Utterance>();
    tokio::spawn(async move {
        let mut collector = UtteranceCollector::default();
        while let Some(message) = input.recv().await {
            match collector.handle(message) {
                Collected::Nothing | Collected::Paused(_) | Collected::Resumed { .. } => {}
                Collected::Utterance(utterance) => {
                    if utterance_sender.send(utterance).is_err() {
                        return;
                    }
                }
                Collected::Closed(last) => {
                    if let Some(utterance) = last {
                        let _ = utterance_sender.send(utterance);
                    }
                    return;
                }
            }
        }
    });
    utterances
}

/// An utterance as a provider that may start early sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum UtteranceEvent {
    /// The utterance so far, at a pause of the callee (it stays open).
    Paused(Utterance),
    /// The callee went on after the last pause, at call time `at_ms`.
    Resumed { at_ms: u64 },
    /// The whole utterance.
    Ended(Utterance),
}

/// [`spawn_utterance_collector`] for providers that start transcribing at pauses: the pauses
/// and resumptions come too, in order.
pub fn spawn_utterance_events(mut input: mpsc::UnboundedReceiver<SttInput>) -> mpsc::UnboundedReceiver<UtteranceEvent> {
    let (sender, events) = mpsc::unbounded_channel::<UtteranceEvent>();
    tokio::spawn(async move {
        let mut collector = UtteranceCollector::default();
        while let Some(message) = input.recv().await {
            let event = match collector.handle(message) {
                Collected::Nothing => continue,
                Collected::Paused(so_far) => UtteranceEvent::Paused(so_far),
                Collected::Resumed { at_ms } => UtteranceEvent::Resumed { at_ms },
                Collected::Utterance(utterance) => UtteranceEvent::Ended(utterance),
                Collected::Closed(last) => {
                    if let Some(utterance) = last {
                        let _ = sender.send(UtteranceEvent::Ended(utterance));
                    }
                    return;
                }
            };
            if sender.send(event).is_err() {
                return;
            }
        }
    });
    events
}

impl UtteranceCollector {
    /// Takes one input; an `UtteranceEnd` (or `Close`) hands back the finished utterance.
    pub fn handle(&mut self, input: SttInput) -> Collected {
        match input {
            SttInput::Audio { mulaw, timestamp_ms } => {
                self.pcm.clear();
                protocol::mulaw::decode_into(&mulaw, &mut self.pcm);
                match self.current.as_mut() {
                    Some((start_ms, samples, _)) => {
                        let room = MAX_UTTERANCE_SAMPLES_8K.saturating_sub(samples.len());
                        samples.extend_from_slice(&self.pcm[..room.min(self.pcm.len())]);
                        if room < self.pcm.len() && !self.overflowed {
                            self.overflowed = true;
                            tracing::warn!(
                                start_ms = *start_ms,
                                max_s = MAX_UTTERANCE_SAMPLES_8K / 8_000,
                                "utterance longer than the most kept: the rest of its audio is dropped"
                            );
                        }
                    }
                    None => {
                        self.pre_roll_end_ms = timestamp_ms + (self.pcm.len() / 8) as u64;
                        self.pre_roll.extend(self.pcm.iter().copied());
                        let excess = self.pre_roll.len().saturating_sub(PRE_ROLL_SAMPLES);
                        self.pre_roll.drain(..excess);
                    }
                }
                Collected::Nothing
            }
            SttInput::UtteranceStart { timestamp_ms } => {
                if self.current.is_none() {
                    // Keep the pre-roll from LEAD_IN_MS before the start on.
                    let wanted_start_ms = timestamp_ms.saturating_sub(LEAD_IN_MS);
                    let start_ms = if self.pre_roll.is_empty() || self.pre_roll_end_ms <= wanted_start_ms {
                        // No audio from before the start: the utterance begins with the next frame.
                        self.pre_roll.clear();
                        timestamp_ms
                    } else {
                        let pre_roll_start_ms = self.pre_roll_end_ms.saturating_sub((self.pre_roll.len() / 8) as u64);
                        let start_ms = wanted_start_ms.max(pre_roll_start_ms);
                        let skip = (((start_ms - pre_roll_start_ms) * 8) as usize).min(self.pre_roll.len());
                        self.pre_roll.drain(..skip);
                        start_ms
                    };
                    self.current = Some((start_ms, self.pre_roll.drain(..).collect(), self.context.clone()));
                }
                Collected::Nothing
            }
            SttInput::UtteranceEnd { timestamp_ms } => match self.take(Some(timestamp_ms)) {
                Some(utterance) => Collected::Utterance(utterance),
                None => Collected::Nothing,
            },
            SttInput::Context { text } => {
                let text = text.trim();
                let cut = text.char_indices().rev().nth(CONTEXT_MAX_CHARS.saturating_sub(1)).map_or(0, |(at, _)| at);
                let kept = &text[cut..];
                self.context = (!kept.is_empty()).then(|| Arc::from(kept));
                Collected::Nothing
            }
            SttInput::Paused { timestamp_ms } => match &self.current {
                Some((start_ms, pcm_8k, context)) => Collected::Paused(Utterance {
                    pcm_8k: pcm_8k.clone(),
                    start_ms: *start_ms,
                    end_ms: timestamp_ms.max(*start_ms),
                    context: context.clone(),
                }),
                None => Collected::Nothing,
            },
            SttInput::Resumed { timestamp_ms } if self.current.is_some() => Collected::Resumed { at_ms: timestamp_ms },
            SttInput::Resumed { .. } => Collected::Nothing,
            SttInput::Close => Collected::Closed(self.take(None)),
        }
    }

    fn take(&mut self, end_ms: Option<u64>) -> Option<Utterance> {
        let (start_ms, pcm_8k, context) = self.current.take()?;
        self.overflowed = false;
        let end_ms = end_ms.unwrap_or(start_ms + (pcm_8k.len() / 8) as u64);
        Some(Utterance { pcm_8k, start_ms, end_ms, context })
    }
}

/// 16-bit mono PCM as a WAV file.
pub(crate) fn wav_bytes(pcm: &[i16], sample_rate_hz: u32) -> Vec<u8> {
    let data_len = (pcm.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + pcm.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&sample_rate_hz.to_le_bytes());
    wav.extend_from_slice(&(sample_rate_hz * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in pcm {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(timestamp_ms: u64, level: i16) -> SttInput {
        let mut mulaw = Vec::new();
        protocol::mulaw::encode_into(&[level; 160], &mut mulaw);
        SttInput::Audio { mulaw: Bytes::from(mulaw), timestamp_ms }
    }

    #[test]
    fn utterance_starts_a_lead_in_before_a_late_start_message() {
        let mut collector = UtteranceCollector::default();
        for index in 0..100u64 {
            // Silence until 1000 ms, then a tone.
            let level = if index < 50 { 0 } else { 4000 };
            assert!(matches!(collector.handle(frame(index * 20, level)), Collected::Nothing));
        }
        // Speech began at 1000 ms; the actor says so at 2000 ms (all audio up to 2000 ms sent).
        assert!(matches!(collector.handle(SttInput::UtteranceStart { timestamp_ms: 1000 }), Collected::Nothing));
        collector.handle(frame(2000, 4000));
        let Collected::Utterance(utterance) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 2020 }) else {
            panic!("utterance expected");
        };
        // The pre-roll holds 1000..2000 (1 s), so the start is clamped to its beginning.
        assert_eq!(utterance.start_ms, 1000);
        assert_eq!(utterance.end_ms, 2020);
        assert_eq!(utterance.pcm_8k.len(), 8000 + 160);
    }

    #[test]
    fn utterance_takes_lead_in_when_start_is_prompt() {
        let mut collector = UtteranceCollector::default();
        for index in 0..50u64 {
            collector.handle(frame(index * 20, 0));
        }
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 1000 });
        collector.handle(frame(1000, 4000));
        let Collected::Closed(Some(utterance)) = collector.handle(SttInput::Close) else {
            panic!("utterance expected on close");
        };
        assert_eq!(utterance.start_ms, 800);
        assert_eq!(utterance.pcm_8k.len(), 1600 + 160);
    }

    #[test]
    fn start_before_any_audio_begins_at_the_start() {
        let mut collector = UtteranceCollector::default();
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 5000 });
        collector.handle(frame(5000, 4000));
        let Collected::Utterance(utterance) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 5020 }) else {
            panic!("utterance expected");
        };
        assert_eq!((utterance.start_ms, utterance.pcm_8k.len()), (5000, 160));
    }

    #[test]
    fn an_utterance_carries_the_agent_line_said_before_it_started() {
        let mut collector = UtteranceCollector::default();
        collector.handle(SttInput::Context { text: " Is there a mat fee? ".into() });
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 0 });
        collector.handle(frame(0, 4000));
        // A line said while the callee talks is for the next utterance, not this one.
        collector.handle(SttInput::Context { text: "Which days?".into() });
        let Collected::Utterance(first) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 20 }) else {
            panic!("utterance expected");
        };
        assert_eq!(first.context.as_deref(), Some("Is there a mat fee?"));
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 40 });
        let Collected::Closed(Some(second)) = collector.handle(SttInput::Close) else { panic!("utterance expected") };
        assert_eq!(second.context.as_deref(), Some("Which days?"));
        // A long line keeps its end; an empty one clears the context.
        let long = format!("{} Which days?", "word ".repeat(500));
        collector.handle(SttInput::Context { text: long });
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 60 });
        let Collected::Closed(Some(third)) = collector.handle(SttInput::Close) else { panic!("utterance expected") };
        let kept = third.context.expect("context kept");
        assert!(kept.ends_with("Which days?") && kept.chars().count() == CONTEXT_MAX_CHARS, "{kept}");
        collector.handle(SttInput::Context { text: "  ".into() });
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 80 });
        let Collected::Closed(Some(fourth)) = collector.handle(SttInput::Close) else { panic!("utterance expected") };
        assert_eq!(fourth.context, None);
    }

    #[test]
    fn an_utterance_that_never_ends_keeps_at_most_two_minutes_of_audio() {
        let mut collector = UtteranceCollector::default();
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 0 });
        // five minutes of frames with no end (noise the endpointer takes for speech)
        for index in 0..(5 * 60 * 50) {
            collector.handle(frame(index * 20, 3000));
        }
        let Collected::Utterance(utterance) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 300_000 }) else {
            panic!("utterance expected");
        };
        assert_eq!(utterance.pcm_8k.len(), MAX_UTTERANCE_SAMPLES_8K);
        assert_eq!((utterance.start_ms, utterance.end_ms), (0, 300_000));
        // the next utterance starts with room again
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 300_000 });
        collector.handle(frame(300_000, 3000));
        let Collected::Utterance(next) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 300_020 }) else {
            panic!("utterance expected");
        };
        assert!(!next.pcm_8k.is_empty());
    }

    #[test]
    fn a_pause_hands_over_the_utterance_so_far_and_keeps_it_open() {
        let mut collector = UtteranceCollector::default();
        assert!(matches!(collector.handle(SttInput::Paused { timestamp_ms: 0 }), Collected::Nothing));
        assert!(matches!(collector.handle(SttInput::Resumed { timestamp_ms: 0 }), Collected::Nothing));
        collector.handle(SttInput::UtteranceStart { timestamp_ms: 0 });
        collector.handle(frame(0, 4000));
        collector.handle(frame(20, 4000));
        let Collected::Paused(so_far) = collector.handle(SttInput::Paused { timestamp_ms: 40 }) else {
            panic!("the utterance so far expected");
        };
        assert_eq!((so_far.start_ms, so_far.end_ms, so_far.pcm_8k.len()), (0, 40, 320));
        assert!(matches!(collector.handle(SttInput::Resumed { timestamp_ms: 40 }), Collected::Resumed { at_ms: 40 }));
        collector.handle(frame(40, 4000));
        let Collected::Utterance(whole) = collector.handle(SttInput::UtteranceEnd { timestamp_ms: 60 }) else {
            panic!("utterance expected");
        };
        assert_eq!((whole.start_ms, whole.end_ms, whole.pcm_8k.len()), (0, 60, 480));
        assert_eq!(&whole.pcm_8k[..320], &so_far.pcm_8k[..]);
    }

    #[test]
    fn end_without_start_yields_nothing() {
        let mut collector = UtteranceCollector::default();
        collector.handle(frame(0, 4000));
        assert!(matches!(collector.handle(SttInput::UtteranceEnd { timestamp_ms: 20 }), Collected::Nothing));
        assert!(matches!(collector.handle(SttInput::Close), Collected::Closed(None)));
    }
}
