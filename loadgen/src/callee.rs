//! The simulated callee of one load call, as a state machine told the time: it listens until
//! the agent has spoken and fallen silent, answers with the next utterance (looping over the
//! list), then waits for the reply and measures it: from the instant its last speech frame went
//! out to the instant the first agent audio with sound arrived. Plugged into the simulator's
//! Twilio call through [`CalleeAudio`].

use crate::audio::{any_block_has_sound, has_sound, Utterance};
use crate::heard::AnswerEnd;
use crate::stats::CallTally;
use simulator::twilio::audio::{CalleeAudio, FRAME_BYTES};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// μ-law silence.
const SILENCE: [u8; FRAME_BYTES] = [0xFF; FRAME_BYTES];

/// How the callee takes turns.
#[derive(Clone, Copy, Debug)]
pub struct TurnSettings {
    /// Agent silence (after agent sound) before the callee answers.
    pub turn_gap: Duration,
    /// An answer with no agent sound arriving within this long counts as without reply; a
    /// callee that hears nothing for this long speaks anyway.
    pub reply_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Waiting for the agent to speak and fall silent again (since the instant given).
    Listening { since: Instant },
    /// Playing utterance `utterance`; `frame` is the next frame to send.
    Speaking { utterance: usize, frame: usize },
    /// The answer's last speech frame went out at `answer_end`.
    AwaitingReply { answer_end: Instant },
    /// Past the hang-up time: no more audio.
    Done,
}

/// The callee of one call.
pub struct Callee {
    utterances: Arc<Vec<Utterance>>,
    next_utterance: usize,
    settings: TurnSettings,
    /// No answer is started after this instant; the callee then hangs up.
    hang_up_at: Instant,
    turn: Turn,
    /// The frame last handed out ended an answer: its send time is the answer's end.
    answer_frame_pending: bool,
    last_agent_sound: Option<Instant>,
    /// Media time of the frame being handed out.
    media_ms: u64,
    tally: CallTally,
}

impl Callee {
    /// A callee starting at `now` with utterance `first_utterance` (calls start at different
    /// places in the list so that a step plays all of them).
    pub fn new(
        utterances: Arc<Vec<Utterance>>,
        first_utterance: usize,
        settings: TurnSettings,
        now: Instant,
        hang_up_at: Instant,
    ) -> Callee {
        let next_utterance = if utterances.is_empty() { 0 } else { first_utterance % utterances.len() };
        Callee {
            utterances,
            next_utterance,
            settings,
            hang_up_at,
            turn: Turn::Listening { since: now },
            answer_frame_pending: false,
            last_agent_sound: None,
            media_ms: 0,
            tally: CallTally::default(),
        }
    }

    /// The frame to send at `now`; `None` hangs up.
    pub fn frame(&mut self, now: Instant) -> Option<[u8; FRAME_BYTES]> {
        if let Turn::AwaitingReply { answer_end } = self.turn {
            if now.saturating_duration_since(answer_end) < self.settings.reply_timeout {
                return Some(SILENCE);
            }
            self.tally.answers_without_reply += 1;
            self.turn = Turn::Listening { since: now };
        }
        if let Turn::Listening { since } = self.turn {
            if now >= self.hang_up_at || self.utterances.is_empty() {
                self.turn = Turn::Done;
                return None;
            }
            let agent_spoke_and_stopped = self
                .last_agent_sound
                .is_some_and(|sound| sound >= since && now.saturating_duration_since(sound) >= self.settings.turn_gap);
            let nothing_heard_for_long = self.last_agent_sound.is_none_or(|sound| sound < since)
                && now.saturating_duration_since(since) >= self.settings.reply_timeout;
            if !(agent_spoke_and_stopped || nothing_heard_for_long) {
                return Some(SILENCE);
            }
            self.turn = Turn::Speaking { utterance: self.next_utterance, frame: 0 };
            self.next_utterance = (self.next_utterance + 1) % self.utterances.len();
        }
        match self.turn {
            Turn::Speaking { utterance, frame } => {
                let frames = &self.utterances[utterance].frames;
                let audio = frames.get(frame).copied().unwrap_or(SILENCE);
                if frame + 1 >= frames.len() {
                    self.turn = Turn::AwaitingReply { answer_end: now };
                    self.answer_frame_pending = true;
                    let speech_ms = frames.len() as u64 * 20;
                    self.tally.answer_ends.push(AnswerEnd { end_ms: self.media_ms + 20, speech_ms });
                } else {
                    self.turn = Turn::Speaking { utterance, frame: frame + 1 };
                }
                Some(audio)
            }
            Turn::Done => None,
            Turn::Listening { .. } | Turn::AwaitingReply { .. } => Some(SILENCE),
        }
    }

    /// The frame last handed out was sent at `sent_at` (due at `deadline`).
    pub fn frame_sent(&mut self, deadline: Instant, sent_at: Instant) {
        self.tally.frame_sent(sent_at.saturating_duration_since(deadline));
        if self.answer_frame_pending {
            self.answer_frame_pending = false;
            self.tally.answers_sent += 1;
            if let Turn::AwaitingReply { .. } = self.turn {
                self.turn = Turn::AwaitingReply { answer_end: sent_at };
            }
        }
    }

    /// Agent audio arrived at `now`.
    pub fn agent_audio_received(&mut self, now: Instant, audio: &[u8]) {
        if !any_block_has_sound(audio) {
            return;
        }
        self.tally.heard_agent = true;
        self.last_agent_sound = Some(now);
        if let Turn::AwaitingReply { answer_end } = self.turn {
            self.tally.latencies.record(now.saturating_duration_since(answer_end));
            self.tally.answers_replied += 1;
            self.turn = Turn::Listening { since: now };
        }
    }

    /// Agent audio was played to the callee at `now` (20 ms of the playback timeline).
    pub fn agent_audio_played(&mut self, now: Instant, played: &[u8]) {
        if has_sound(played) {
            self.last_agent_sound = Some(now);
        }
    }

    /// What the call counted; an answer still waiting for its reply when the call ended
    /// counts as without reply.
    pub fn finish(mut self) -> CallTally {
        if let Turn::AwaitingReply { .. } = self.turn {
            if !self.answer_frame_pending {
                self.tally.answers_without_reply += 1;
            }
        }
        self.tally
    }
}

impl CalleeAudio for Callee {
    fn next_frame(&mut self, media_time_ms: u64) -> Option<[u8; FRAME_BYTES]> {
        self.media_ms = media_time_ms;
        self.frame(Instant::now())
    }

    fn on_agent_audio(&mut self, _media_time_ms: u64, audio: &[u8]) {
        self.agent_audio_played(Instant::now(), audio);
    }

    fn on_agent_audio_received(&mut self, received_at: Instant, audio: &[u8]) {
        self.agent_audio_received(received_at, audio);
    }

    fn on_frame_sent(&mut self, deadline: Instant, sent_at: Instant) {
        self.frame_sent(deadline, sent_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOUD: [u8; FRAME_BYTES] = [0x10; FRAME_BYTES];
    const FRAME: Duration = Duration::from_millis(20);

    fn utterance(name: &str, frames: usize) -> Utterance {
        Utterance { name: name.into(), frames: Arc::new(vec![LOUD; frames]) }
    }

    fn settings() -> TurnSettings {
        TurnSettings { turn_gap: Duration::from_millis(400), reply_timeout: Duration::from_secs(3) }
    }

    /// Drives the callee one 20 ms tick: the frame goes out on time.
    fn tick(callee: &mut Callee, now: Instant) -> Option<[u8; FRAME_BYTES]> {
        let frame = callee.frame(now);
        if frame.is_some() {
            callee.frame_sent(now, now);
        }
        frame
    }

    #[test]
    fn answers_after_the_greeting_and_measures_the_reply_from_the_last_speech_frame() {
        let start = Instant::now();
        let utterances = Arc::new(vec![utterance("a", 5), utterance("b", 3)]);
        let mut callee = Callee::new(utterances, 0, settings(), start, start + Duration::from_secs(60));
        let mut now = start;
        // the greeting plays for 1 s: the callee stays silent
        callee.agent_audio_received(now, &LOUD);
        for _ in 0..50 {
            callee.agent_audio_played(now, &LOUD);
            assert_eq!(tick(&mut callee, now), Some(SILENCE));
            now += FRAME;
        }
        // the greeting's last sound played at 980 ms: silence until 1380 ms, then 5 speech frames
        for _ in 0..19 {
            assert_eq!(tick(&mut callee, now), Some(SILENCE));
            now += FRAME;
        }
        for _ in 0..5 {
            assert_eq!(tick(&mut callee, now), Some(LOUD));
            now += FRAME;
        }
        let last_speech_frame = now - FRAME;
        assert_eq!(tick(&mut callee, now), Some(SILENCE), "silence while waiting for the reply");
        // a silent chunk is not a reply; 680 ms after the last speech frame the reply arrives
        callee.agent_audio_received(last_speech_frame + Duration::from_millis(300), &[0xFF; 320]);
        callee.agent_audio_received(last_speech_frame + Duration::from_millis(680), &LOUD);
        let tally = callee.finish();
        assert_eq!((tally.answers_sent, tally.answers_replied, tally.answers_without_reply), (1, 1, 0));
        assert_eq!(tally.latencies.summary().p50_ms, Some(680));
        assert!(tally.heard_agent);
        assert_eq!((tally.frames_sent, tally.late_frames), (75, 0));
    }

    #[test]
    fn an_answer_without_reply_is_counted_and_the_next_utterance_follows() {
        let start = Instant::now();
        let utterances = Arc::new(vec![utterance("a", 2), utterance("b", 4)]);
        let mut callee = Callee::new(utterances, 1, settings(), start, start + Duration::from_secs(60));
        let mut now = start;
        // no greeting: after the reply timeout the callee speaks anyway, starting with "b"
        let mut sent = Vec::new();
        while now < start + Duration::from_secs(10) {
            sent.push(tick(&mut callee, now).expect("still on the line"));
            now += FRAME;
        }
        let speech_runs: Vec<usize> =
            sent.split(|frame| *frame == SILENCE).map(<[_]>::len).filter(|len| *len > 0).collect();
        assert_eq!(speech_runs, vec![4, 2], "b then a, each after 3 s of nothing heard");
        let tally = callee.finish();
        assert_eq!(tally.answers_sent, 2);
        assert_eq!(tally.answers_without_reply, 2, "one timed out, one still waiting at hang-up");
        assert_eq!(tally.answers_replied, 0);
        assert!(!tally.heard_agent);
    }

    #[test]
    fn waits_for_the_last_reply_then_hangs_up() {
        let start = Instant::now();
        let utterances = Arc::new(vec![utterance("a", 2)]);
        let hang_up_at = start + Duration::from_millis(500);
        let settings = TurnSettings { turn_gap: Duration::from_millis(100), reply_timeout: Duration::from_secs(2) };
        let mut callee = Callee::new(utterances, 0, settings, start, hang_up_at);
        callee.agent_audio_received(start, &LOUD);
        let reply_at = start + Duration::from_millis(700);
        let mut now = start;
        let mut ended = None;
        for _ in 0..200 {
            if tick(&mut callee, now).is_none() {
                ended = Some(now);
                break;
            }
            if now == reply_at {
                callee.agent_audio_received(now, &LOUD);
            }
            now += FRAME;
        }
        // answered at 100-120 ms; still on the line at the hang-up time, waiting for the reply
        let ended = ended.expect("the callee hangs up");
        assert_eq!(ended, reply_at + FRAME, "hangs up on the first tick after the reply");
        let tally = callee.finish();
        assert_eq!((tally.answers_sent, tally.answers_replied), (1, 1));
        assert_eq!(tally.latencies.summary().p50_ms, Some(580));
    }

    #[test]
    fn late_sends_are_counted() {
        let start = Instant::now();
        let mut callee =
            Callee::new(Arc::new(vec![utterance("a", 1)]), 0, settings(), start, start + Duration::from_secs(5));
        callee.frame(start);
        callee.frame_sent(start, start + Duration::from_millis(4));
        callee.frame(start + FRAME);
        callee.frame_sent(start + FRAME, start + FRAME + Duration::from_millis(12));
        let tally = callee.finish();
        assert_eq!((tally.frames_sent, tally.late_frames), (2, 1));
        assert_eq!(tally.max_frame_lateness, Duration::from_millis(12));
    }
}
