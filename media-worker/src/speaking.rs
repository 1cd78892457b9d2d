//! What the agent says: the brain's `media.say` commands turned into syntheses and paced
//! [`Playback`], and what the brain hears back (played, cut, replied, TTS failures), told the
//! media time.
//!
//! Sans-I/O like [`Playback`]: the actor starts the syntheses [`Speaking::poll_output`] asks
//! for, feeds their audio to [`Speaking::handle_tts`], and sends what comes out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix::SpawnHandle;
use bytes::Bytes;
use protocol::brain::{HeardEvent, ProviderStage, SayCommand};
use protocol::media::OutEvent;
use protocol::results::ReplyStages;
use speech::{TtsChunk, TtsError};

use crate::hearing::AgentAudio;
use crate::playback::{Playback, PlaybackOutput, SegmentId};
use protocol::{dtmf, spoken};

/// Something the actor must do, in order.
#[derive(Debug)]
pub enum SpeakingOutput {
    /// Synthesize `text` as `segment`, then hand the stream's handle to [`Speaking::synthesizing`].
    Synthesize { segment: SegmentId, text: String },
    /// Synthesize `text` ahead, playing nothing (`TtsProvider::prepare`).
    Prepare { text: String },
    /// Stop this synthesis (its utterance was cut).
    CancelSynthesis(SpawnHandle),
    /// Send one frame of agent audio; it plays at media time `play_at_ms`.
    Audio { frame: Bytes, play_at_ms: u64 },
    /// Send this on `media.out` (a mark, a clear or the hang-up).
    Send(OutEvent),
    /// Tell the brain.
    Heard { at_ms: u64, event: HeardEvent },
    /// A line of the agent's side of the transcript.
    AgentLine { at_ms: u64, line: String },
}

/// Media times of the steps of one reply, as they happen.
#[derive(Debug, Clone, Copy)]
struct AwaitedReply {
    speech_end_ms: u64,
    endpointed_at_ms: u64,
    transcribed_at_ms: Option<u64>,
    /// When the words of that transcript were known (at most `transcribed_at_ms`).
    known_at_ms: Option<u64>,
    replied_at_ms: Option<u64>,
    first_audio_at_ms: Option<u64>,
    /// A hold filler has played for it.
    held: bool,
}

/// One running synthesis.
struct Synthesis {
    handle: Option<SpawnHandle>,
    /// When it was asked for, until its first audio arrives.
    asked_at_opt: Option<Instant>,
}

/// The speaking state of one call.
pub struct Speaking {
    playback: Playback,
    /// Provider name, for logs.
    tts_provider: &'static str,
    /// `SendDigits` commands so far (names their marks).
    digit_batches: u64,
    syntheses: HashMap<SegmentId, Synthesis>,
    /// How long the latest synthesis took to its first audio (reported with the next reply).
    last_tts_ms: Option<u64>,
    /// The last callee utterance heard while the agent was silent: the next agent audio answers
    /// it, and its latency is measured stage by stage from these media times.
    awaited: Option<AwaitedReply>,
    /// Media time of the last tick.
    now_ms: u64,
    outputs: VecDeque<SpeakingOutput>,
    /// A reply not begun this long after the callee stopped gets the hold filler first (0: never).
    hold_after_ms: u64,
    /// The hold filler's audio, once the worker has it, and its words (for the transcript).
    filler: Arc<OnceLock<Bytes>>,
    filler_text: String,
    /// Hold fillers played (names their labels).
    fillers_played: u64,
}

impl Speaking {
    pub fn new(playback_lead_ms: u64, goodbye_wait_ms: u64, tts_provider: &'static str) -> Speaking {
        Speaking {
            playback: Playback::new(playback_lead_ms).with_goodbye_wait(goodbye_wait_ms),
            tts_provider,
            digit_batches: 0,
            syntheses: HashMap::new(),
            last_tts_ms: None,
            awaited: None,
            now_ms: 0,
            outputs: VecDeque::with_capacity(16),
            hold_after_ms: 0,
            filler: Arc::new(OnceLock::new()),
            filler_text: String::new(),
            fillers_played: 0,
        }
    }

    /// Holds the line with `filler` (when it has audio) when a reply has not begun `after_ms`
    /// after the callee stopped talking: a person says "okay" rather than leave seconds of
    /// silence while the recogniser or the brain is slow. Once per callee utterance, only while
    /// nothing is queued to play and the callee is quiet; the callee talking cuts it.
    pub fn with_hold_filler(mut self, after_ms: u64, text: &str, filler: Arc<OnceLock<Bytes>>) -> Speaking {
        self.hold_after_ms = after_ms;
        self.filler_text = text.to_owned();
        self.filler = filler;
        self
    }

    /// How many hold fillers this call has played.
    pub fn fillers_played(&self) -> u64 {
        self.fillers_played
    }

    /// A `media.say` command at media time `now_ms`.
    pub fn handle_say(&mut self, now_ms: u64, command: SayCommand) {
        match command {
            SayCommand::Speak { utterance_id, text: words, end_of_turn, uninterruptible, .. } => {
                if let Some(awaited) = &mut self.awaited {
                    awaited.replied_at_ms.get_or_insert(now_ms);
                }
                let sentences = spoken::sentences(&words);
                if !sentences.is_empty() {
                    let at_ms = self.playback.playout_end_ms().max(now_ms);
                    self.outputs.push_back(SpeakingOutput::AgentLine { at_ms, line: words });
                }
                let segments = self.playback.speak(&utterance_id, sentences, end_of_turn, !uninterruptible);
                for (segment, text) in segments {
                    self.outputs.push_back(SpeakingOutput::Synthesize { segment, text });
                }
            }
            SayCommand::Prepare { text } => self.outputs.push_back(SpeakingOutput::Prepare { text }),
            SayCommand::SendDigits { digits } => {
                tracing::info!(count = digits.len(), "sending dtmf digits in band");
                self.digit_batches += 1;
                let label = format!("dtmf-{}", self.digit_batches);
                self.playback.play_audio(&label, &dtmf::tones_mulaw(&digits));
            }
            SayCommand::Hangup { reason } => {
                tracing::info!(%reason, "brain asked to hang up");
                self.playback.request_hangup(&reason);
            }
        }
        self.tick(now_ms);
    }

    /// The synthesis of `segment` was started at wall-clock `now`.
    pub fn synthesizing(&mut self, segment: SegmentId, handle: SpawnHandle, now: Instant) {
        self.syntheses.insert(segment, Synthesis { handle: Some(handle), asked_at_opt: Some(now) });
    }

    /// What the synthesis of `segment` produced (`None`: its stream ended), at media time
    /// `now_ms` and wall-clock `now`.
    pub fn handle_tts(
        &mut self,
        now_ms: u64,
        now: Instant,
        segment: SegmentId,
        item: Option<Result<TtsChunk, TtsError>>,
    ) {
        let Some(synthesis) = self.syntheses.get_mut(&segment) else {
            return; // cut, or ended already
        };
        let failure = match item {
            Some(Ok(TtsChunk::Audio(mulaw))) => {
                if let Some(asked_at) = synthesis.asked_at_opt.take() {
                    self.last_tts_ms = Some(now.duration_since(asked_at).as_millis() as u64);
                }
                if let Some(awaited) = &mut self.awaited {
                    awaited.first_audio_at_ms.get_or_insert(now_ms);
                }
                self.playback.push_audio(segment, &mulaw);
                None
            }
            Some(Ok(TtsChunk::Done { .. })) => Some(None),
            Some(Err(error)) => {
                tracing::warn!(%error, provider = self.tts_provider, "tts failed, the sentence is skipped");
                Some(Some(error.to_string()))
            }
            None => {
                tracing::warn!(provider = self.tts_provider, "tts ended without finishing the sentence");
                Some(Some("synthesis ended early".to_owned()))
            }
        };
        if let Some(failure_opt) = failure {
            self.syntheses.remove(&segment);
            self.playback.finish_segment(segment);
            if let Some(message) = failure_opt {
                let event = HeardEvent::ProviderFailure { stage: ProviderStage::Tts, message };
                self.outputs.push_back(SpeakingOutput::Heard { at_ms: now_ms, event });
            }
        }
        self.tick(now_ms);
    }

    /// A callee utterance whose speech ended at `since_ms` was endpointed at `endpointed_at_ms`
    /// while the agent was silent.
    pub fn reply_awaited(&mut self, since_ms: u64, endpointed_at_ms: u64) {
        self.awaited = Some(AwaitedReply {
            speech_end_ms: since_ms,
            endpointed_at_ms,
            transcribed_at_ms: None,
            known_at_ms: None,
            replied_at_ms: None,
            first_audio_at_ms: None,
            held: false,
        });
    }

    /// The final transcript of the awaited utterance reached the brain at media time `now_ms`;
    /// its words were known since `known_ms` (a recogniser that started at the callee's pause).
    pub fn transcribed(&mut self, now_ms: u64, known_ms: u64) {
        if let Some(awaited) = &mut self.awaited {
            if awaited.transcribed_at_ms.is_none() {
                awaited.transcribed_at_ms = Some(now_ms);
                awaited.known_at_ms = Some(known_ms.min(now_ms));
            }
        }
    }

    /// Twilio echoed mark `name`. Returns false for a mark this call never sent.
    pub fn on_mark(&mut self, name: &str) -> bool {
        self.playback.on_mark(name)
    }

    /// The callee started (`true`) or stopped talking at media time `now_ms` (a requested
    /// hang-up waits for their goodbye).
    pub fn callee_speech(&mut self, speaking: bool, now_ms: u64) {
        self.playback.callee_speech(speaking, now_ms);
    }

    /// Hang up once everything queued has played.
    pub fn request_hangup(&mut self, reason: &str) {
        self.playback.request_hangup(reason);
    }

    /// True when nothing is queued, synthesizing or playing.
    pub fn is_idle(&self, now_ms: u64) -> bool {
        self.playback.is_idle(now_ms)
    }

    /// Sends what pacing allows at media time `now_ms`; drain [`Speaking::poll_output`] after.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.hold_the_line(now_ms);
        self.playback.tick(now_ms);
    }

    /// Plays the hold filler when the awaited reply is late (see [`Speaking::with_hold_filler`]).
    fn hold_the_line(&mut self, now_ms: u64) {
        let Some(awaited) = &mut self.awaited else { return };
        let late = self.hold_after_ms != 0 && now_ms >= awaited.speech_end_ms + self.hold_after_ms;
        if !late || awaited.held || awaited.replied_at_ms.is_some() || self.playback.callee_talking() {
            return;
        }
        if self.playback.hangup_requested() || !self.playback.is_idle(now_ms) {
            return;
        }
        let Some(audio) = self.filler.get() else { return };
        awaited.held = true;
        self.fillers_played += 1;
        let label = format!("hold-{}", self.fillers_played);
        tracing::debug!(late_ms = now_ms - awaited.speech_end_ms, %label, "reply late: holding the line");
        self.playback.play_filler(&label, audio);
        self.outputs.push_back(SpeakingOutput::AgentLine { at_ms: now_ms, line: self.filler_text.clone() });
    }

    pub fn poll_output(&mut self) -> Option<SpeakingOutput> {
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        let now_ms = self.now_ms;
        loop {
            let output = match self.playback.poll_output()? {
                PlaybackOutput::Audio { frame, play_at_ms, filler } => {
                    let audio = SpeakingOutput::Audio { frame, play_at_ms };
                    // a filler is no reply: the reply's latency is still counted to its own audio
                    if filler {
                        return Some(audio);
                    }
                    let Some(awaited) = self.awaited.take() else { return Some(audio) };
                    // the reply to the callee's last utterance starts playing
                    self.outputs.push_back(audio);
                    let end_ms = awaited.speech_end_ms;
                    // a step not seen (audio queued before the transcript) took no time
                    let endpointed = awaited.endpointed_at_ms;
                    let transcribed = awaited.transcribed_at_ms.unwrap_or(endpointed);
                    let replied = awaited.replied_at_ms.unwrap_or(transcribed);
                    let first_audio = awaited.first_audio_at_ms.unwrap_or(replied);
                    let mut stages =
                        ReplyStages::from_times(end_ms, endpointed, transcribed, replied, first_audio, play_at_ms);
                    if let Some(known_ms) = awaited.known_at_ms {
                        stages = stages.heard_at(end_ms, known_ms);
                    }
                    let event = HeardEvent::Replied {
                        reply_ms: play_at_ms.saturating_sub(end_ms),
                        tts_ms: self.last_tts_ms.take(),
                        stages: Some(stages),
                    };
                    SpeakingOutput::Heard { at_ms: now_ms, event }
                }
                PlaybackOutput::Mark { name } => SpeakingOutput::Send(OutEvent::Mark { name }),
                PlaybackOutput::Clear => SpeakingOutput::Send(OutEvent::Clear),
                PlaybackOutput::CancelSynthesis { segment } => {
                    match self.syntheses.remove(&segment).and_then(|synthesis| synthesis.handle) {
                        Some(handle) => SpeakingOutput::CancelSynthesis(handle),
                        None => continue,
                    }
                }
                PlaybackOutput::Played { utterance_id } => {
                    SpeakingOutput::Heard { at_ms: now_ms, event: HeardEvent::Played { utterance_id } }
                }
                PlaybackOutput::BargeIn { utterance_id, heard_ms, total_ms, heard_text } => {
                    tracing::info!(%utterance_id, heard_ms, total_ms, "agent utterance cut by the callee");
                    let line = format!("[cut after {heard_ms} of {total_ms} ms: heard \"{heard_text}\"]");
                    let event = HeardEvent::BargeIn { utterance_id, heard_ms, total_ms, heard_text };
                    self.outputs.push_back(SpeakingOutput::Heard { at_ms: now_ms, event });
                    SpeakingOutput::AgentLine { at_ms: now_ms, line }
                }
                PlaybackOutput::Hangup { reason } => {
                    tracing::info!(%reason, "hanging up after queued audio played");
                    SpeakingOutput::Send(OutEvent::Hangup { reason })
                }
            };
            return Some(output);
        }
    }
}

impl AgentAudio for Speaking {
    fn unplayed(&self, now_ms: u64) -> bool {
        self.playback.agent_audio_unplayed(now_ms)
    }

    fn barge_in(&mut self, now_ms: u64) -> bool {
        self.playback.barge_in(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILLER_BYTES: usize = 3_200; // 400 ms

    fn speaking(hold_after_ms: u64, filler_ready: bool) -> Speaking {
        let filler = Arc::new(OnceLock::new());
        if filler_ready {
            let _ = filler.set(Bytes::from(vec![0x55u8; FILLER_BYTES]));
        }
        Speaking::new(200, 2000, "test").with_hold_filler(hold_after_ms, "Okay.", filler)
    }

    /// Runs the call's clock from `from_ms` to `to_ms` in 20 ms frames and returns what came out.
    fn run(speaking: &mut Speaking, from_ms: u64, to_ms: u64) -> Vec<SpeakingOutput> {
        let mut out = Vec::new();
        for now in (from_ms..=to_ms).step_by(20) {
            speaking.tick(now);
            while let Some(output) = speaking.poll_output() {
                out.push(output);
            }
        }
        out
    }

    fn audio_starts(out: &[SpeakingOutput]) -> Option<u64> {
        out.iter().find_map(|o| match o {
            SpeakingOutput::Audio { play_at_ms, .. } => Some(*play_at_ms),
            _ => None,
        })
    }

    fn replied_ms(out: &[SpeakingOutput]) -> Option<u64> {
        out.iter().find_map(|o| match o {
            SpeakingOutput::Heard { event: HeardEvent::Replied { reply_ms, .. }, .. } => Some(*reply_ms),
            _ => None,
        })
    }

    /// The brain's reply at `now_ms`, synthesized at once.
    fn reply(speaking: &mut Speaking, now_ms: u64) {
        let say = SayCommand::Speak {
            utterance_id: "u-1".into(),
            text: "Thanks.".into(),
            end_of_turn: true,
            uninterruptible: false,
            context: true,
        };
        speaking.handle_say(now_ms, say);
        let mut segments = Vec::new();
        while let Some(output) = speaking.poll_output() {
            if let SpeakingOutput::Synthesize { segment, .. } = output {
                segments.push(segment);
            }
        }
        for segment in segments {
            speaking.synthesizing(segment, SpawnHandle::default(), Instant::now());
            let audio = Some(Ok(TtsChunk::Audio(Bytes::from(vec![0x11u8; 1_600]))));
            speaking.handle_tts(now_ms, Instant::now(), segment, audio);
            speaking.handle_tts(now_ms, Instant::now(), segment, Some(Ok(TtsChunk::Done { total_ms: 200 })));
        }
    }

    #[test]
    fn a_text_to_prepare_goes_to_the_voice_and_nothing_plays_or_counts_as_a_reply() {
        let mut speaking = speaking(2000, true);
        let text = "Hi, this is Sam. Do you take drop-in visitors?".to_owned();
        speaking.handle_say(0, SayCommand::Prepare { text: text.clone() });
        let out = run(&mut speaking, 0, 1_000);
        assert!(matches!(out.first(), Some(SpeakingOutput::Prepare { text: prepared }) if *prepared == text));
        assert_eq!(out.len(), 1, "only the prepare: {out:?}");
        assert!(!speaking.unplayed(1_000), "nothing queued to play");
    }

    #[test]
    fn a_late_reply_is_preceded_by_the_filler_and_its_latency_is_still_the_replys() {
        let mut speaking = speaking(2000, true);
        speaking.callee_speech(false, 10_000);
        speaking.reply_awaited(10_000, 10_500);
        let before = run(&mut speaking, 10_500, 11_980);
        assert_eq!(audio_starts(&before), None, "nothing before 2 s");
        let held = run(&mut speaking, 12_000, 12_100);
        assert_eq!(audio_starts(&held), Some(12_000), "the filler at 2 s");
        assert!(held.iter().any(|o| matches!(o, SpeakingOutput::AgentLine { line, .. } if line == "Okay.")));
        assert_eq!(replied_ms(&held), None, "a filler is no reply");
        assert_eq!(speaking.fillers_played(), 1);
        // the reply comes at 3.5 s, after the filler: its latency counts to its own audio
        let mut out = run(&mut speaking, 12_120, 13_500);
        reply(&mut speaking, 13_500);
        out.extend(run(&mut speaking, 13_500, 14_000));
        assert_eq!(replied_ms(&out), Some(3_500));
        // no second filler for the same utterance
        let after = run(&mut speaking, 14_000, 20_000);
        assert_eq!(speaking.fillers_played(), 1, "{after:?}");
    }

    #[test]
    fn no_filler_when_the_reply_is_in_time_or_the_line_is_not_the_agents() {
        // a reply before 2 s
        let mut speaking = speaking(2000, true);
        speaking.reply_awaited(10_000, 10_500);
        run(&mut speaking, 10_500, 11_000);
        reply(&mut speaking, 11_000);
        let out = run(&mut speaking, 11_000, 16_000);
        assert_eq!(replied_ms(&out), Some(1_000));
        assert_eq!(speaking.fillers_played(), 0);
        // the callee talking again, the filler off, its audio not ready, a hang-up asked for
        let mut talking = speaking_after(true, 2000);
        talking.callee_speech(true, 10_600);
        run(&mut talking, 10_600, 16_000);
        let mut off = speaking_after(true, 0);
        run(&mut off, 10_500, 16_000);
        let mut not_ready = speaking_after(false, 2000);
        run(&mut not_ready, 10_500, 16_000);
        let mut closing = speaking_after(true, 2000);
        closing.request_hangup("done");
        run(&mut closing, 10_500, 16_000);
        for (name, speaking) in [("talking", talking), ("off", off), ("not ready", not_ready), ("closing", closing)] {
            assert_eq!(speaking.fillers_played(), 0, "{name}");
        }
    }

    fn speaking_after(filler_ready: bool, hold_after_ms: u64) -> Speaking {
        let mut speaking = speaking(hold_after_ms, filler_ready);
        speaking.reply_awaited(10_000, 10_500);
        speaking
    }

    #[test]
    fn the_callee_talking_over_the_filler_cuts_it_without_telling_the_brain() {
        let mut speaking = speaking(2000, true);
        speaking.reply_awaited(10_000, 10_500);
        run(&mut speaking, 10_500, 12_060);
        assert_eq!(speaking.fillers_played(), 1);
        assert!(speaking.unplayed(12_060));
        assert!(speaking.barge_in(12_060), "a filler is interruptible");
        let out = run(&mut speaking, 12_080, 12_200);
        assert!(out.iter().any(|o| matches!(o, SpeakingOutput::Send(OutEvent::Clear))), "{out:?}");
        assert!(!out.iter().any(|o| matches!(o, SpeakingOutput::Heard { .. })), "{out:?}");
    }
}
