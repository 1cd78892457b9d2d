//! Agent playback as a sans-I/O state machine told the media time: what to send on
//! `media.out` and when, the marks, what has been played, barge-in cuts and the deferred hang-up.
//!
//! Pacing: Twilio plays what it is sent at real time and buffers the rest. The machine keeps a
//! play-out clock (`playout_end_ms`: the media time at which everything sent so far will have
//! played) and sends a frame only while that clock is less than `lead_ms` ahead of now, so a
//! `clear` has little to drop and the position estimate (what the callee has heard at media
//! time `t`) stays close to the truth. Echoed marks confirm the estimate per utterance.
//!
//! Drive it with [`Playback::tick`] on every inbound frame (media time) and after feeding audio,
//! then drain [`Playback::poll_output`].

use std::collections::{HashSet, VecDeque};

use bytes::{Bytes, BytesMut};

use protocol::spoken;

/// μ-law bytes in one 20 ms frame at 8 kHz.
pub const FRAME_BYTES: usize = 160;
/// μ-law bytes per millisecond at 8 kHz.
const BYTES_PER_MS: u64 = 8;
/// Rough length of speech per character of text, for utterances not yet fully synthesized.
const ESTIMATED_MS_PER_CHAR: u64 = 65;
/// A hang-up waits for the last mark's echo, or this long after the estimated end of play-out.
const UNECHOED_HANGUP_AFTER_MS: u64 = 1000;

/// After the callee's goodbye ends (while the agent waits to hang up), hang up this much later.
const AFTER_GOODBYE_MS: u64 = 300;

/// The longest the hang-up waits for a callee still talking once the goodbye wait is over.
const MAX_GOODBYE_SPEECH_MS: u64 = 4000;
/// The longest the hang-up waits, after the closing played, for a callee who was talking over it.
const MAX_TALK_OVER_MS: u64 = 15_000;
/// How many cut utterance ids are remembered (to drop late sentences of a cut turn).
const REMEMBERED_CUTS: usize = 16;

/// Identifies one sentence's synthesis.
pub type SegmentId = u64;

/// Something the actor must do.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaybackOutput {
    /// Send one frame of agent audio; it will play at media time `play_at_ms`. `filler`: it is
    /// a hold filler's ([`Playback::play_filler`]), not a reply's.
    Audio { frame: Bytes, play_at_ms: u64, filler: bool },
    /// Send a mark after the audio of utterance `name`.
    Mark { name: String },
    /// Send `clear` (barge-in).
    Clear,
    /// Stop synthesizing this sentence (its utterance was cut).
    CancelSynthesis { segment: SegmentId },
    /// Utterance `utterance_id` has been played to the end (its mark came back).
    Played { utterance_id: String },
    /// The callee cut utterance `utterance_id` after `heard_ms` of its `total_ms`.
    BargeIn { utterance_id: String, heard_ms: u64, total_ms: u64, heard_text: String },
    /// Everything queued has played; end the call now.
    Hangup { reason: String },
}

#[derive(Debug)]
struct Sentence {
    segment: SegmentId,
    text: String,
    /// Audio received and not yet sent.
    pending: BytesMut,
    /// Audio received so far, in ms.
    synthesized_ms: u64,
    sent_ms: u64,
    /// Synthesis ended (done, failed or not needed).
    finished: bool,
}

impl Sentence {
    /// Length of the sentence's audio: exact once synthesized, else estimated from the text.
    fn total_ms(&self) -> u64 {
        if self.finished {
            self.synthesized_ms
        } else {
            self.synthesized_ms.max(self.text.chars().count() as u64 * ESTIMATED_MS_PER_CHAR)
        }
    }
}

#[derive(Debug)]
struct Utterance {
    id: String,
    interruptible: bool,
    /// Reports `Played` when its mark comes back (false for DTMF tones and fillers).
    reported: bool,
    /// A hold filler ([`Playback::play_filler`]).
    filler: bool,
    /// The last sentence has been queued.
    complete: bool,
    sentences: Vec<Sentence>,
    /// Index of the sentence being sent.
    cursor: usize,
    mark_sent: bool,
    /// Contiguous spans of play-out: (media time the span starts, length ms).
    runs: Vec<(u64, u64)>,
}

impl Utterance {
    fn fully_sent(&self) -> bool {
        self.complete && self.cursor >= self.sentences.len()
    }

    /// Media time its sent audio finishes playing.
    fn playout_end_ms(&self) -> u64 {
        self.runs.last().map(|&(start, len)| start + len).unwrap_or(0)
    }

    /// How much of its audio has played by media time `now_ms`.
    fn played_ms(&self, now_ms: u64) -> u64 {
        self.runs.iter().map(|&(start, len)| now_ms.saturating_sub(start).min(len)).sum()
    }

    fn has_unplayed_audio(&self, now_ms: u64) -> bool {
        self.playout_end_ms() > now_ms
            || self.sentences[self.cursor.min(self.sentences.len())..].iter().any(|s| !s.pending.is_empty())
    }

    fn total_ms(&self) -> u64 {
        self.sentences.iter().map(Sentence::total_ms).sum()
    }

    /// The words heard: whole sentences played, then the played share of the next one.
    fn heard_text(&self, mut played_ms: u64) -> String {
        let mut heard: Vec<String> = Vec::new();
        for sentence in &self.sentences {
            if played_ms == 0 {
                break;
            }
            let total = sentence.total_ms().max(1);
            let here = played_ms.min(sentence.sent_ms);
            played_ms -= here;
            let words = spoken::heard_prefix(&sentence.text, here as f64 / total as f64);
            if !words.is_empty() {
                heard.push(words);
            }
            if here < total {
                break;
            }
        }
        heard.join(" ")
    }
}

/// The playback state of one call.
#[derive(Debug)]
pub struct Playback {
    lead_ms: u64,
    utterances: VecDeque<Utterance>,
    playout_end_ms: u64,
    next_segment: SegmentId,
    /// Marks sent before a `clear`: their echoes mean "discarded", not "played".
    discarded_marks: HashSet<String>,
    cut_utterances: VecDeque<String>,
    hangup: Option<String>,
    /// How long to wait, after the last words played, for the callee's goodbye before hanging up.
    goodbye_wait_ms: u64,
    /// Media time the requested hang-up's audio had all played.
    played_out_at_ms: Option<u64>,
    /// The callee is talking (between speech start and the end of the utterance).
    callee_speaking: bool,
    /// Media time the callee's utterance ended after everything had played (their goodbye).
    goodbye_ended_at_ms: Option<u64>,
    /// The callee was talking when the closing finished playing: the end of that speech is no
    /// sure goodbye (they talked over the closing); half the goodbye wait follows it.
    talked_over: bool,
    /// When the closing finished playing under the callee's speech.
    talk_over_since_ms: u64,
    hung_up: bool,
    outputs: VecDeque<PlaybackOutput>,
}

impl Playback {
    pub fn new(lead_ms: u64) -> Playback {
        Playback {
            lead_ms: lead_ms.max(20),
            utterances: VecDeque::new(),
            playout_end_ms: 0,
            next_segment: 1,
            discarded_marks: HashSet::new(),
            cut_utterances: VecDeque::new(),
            hangup: None,
            goodbye_wait_ms: 0,
            played_out_at_ms: None,
            callee_speaking: false,
            goodbye_ended_at_ms: None,
            talked_over: false,
            talk_over_since_ms: 0,
            hung_up: false,
            outputs: VecDeque::with_capacity(64),
        }
    }

    /// Queues sentences of utterance `utterance_id`; returns the segments to synthesize, in
    /// order. Sentences of an utterance already cut by the callee are dropped.
    pub fn speak(
        &mut self,
        utterance_id: &str,
        sentences: Vec<String>,
        end_of_turn: bool,
        interruptible: bool,
    ) -> Vec<(SegmentId, String)> {
        if self.hung_up || self.cut_utterances.iter().any(|id| id == utterance_id) {
            return Vec::new();
        }
        // A new utterance ends any earlier one still open.
        for utterance in self.utterances.iter_mut() {
            if utterance.id != utterance_id {
                utterance.complete = true;
            }
        }
        let position = self.utterances.iter().position(|u| u.id == utterance_id && !u.complete);
        let index = match position {
            Some(index) => index,
            None => {
                self.utterances.push_back(Utterance {
                    id: utterance_id.to_owned(),
                    interruptible,
                    reported: true,
                    filler: false,
                    complete: false,
                    sentences: Vec::new(),
                    cursor: 0,
                    mark_sent: false,
                    runs: Vec::new(),
                });
                self.utterances.len() - 1
            }
        };
        let mut segments = Vec::with_capacity(sentences.len());
        let utterance = &mut self.utterances[index];
        utterance.interruptible &= interruptible;
        for text in sentences {
            let segment = self.next_segment;
            self.next_segment += 1;
            utterance.sentences.push(Sentence {
                segment,
                text: text.clone(),
                pending: BytesMut::new(),
                synthesized_ms: 0,
                sent_ms: 0,
                finished: false,
            });
            segments.push((segment, text));
        }
        if end_of_turn {
            utterance.complete = true;
        }
        segments
    }

    /// Queues ready-made audio (DTMF tones): not interruptible; its mark (`label`) is not reported.
    pub fn play_audio(&mut self, label: &str, mulaw: &[u8]) {
        self.queue_audio(label, mulaw, false);
    }

    /// Queues a hold filler ("Okay." while a reply is late): interruptible, cut and played
    /// without a word to the brain, and its frames marked as no reply's.
    pub fn play_filler(&mut self, label: &str, mulaw: &[u8]) {
        self.queue_audio(label, mulaw, true);
    }

    fn queue_audio(&mut self, label: &str, mulaw: &[u8], filler: bool) {
        if self.hung_up {
            return;
        }
        for utterance in self.utterances.iter_mut() {
            utterance.complete = true;
        }
        let mut pending = BytesMut::with_capacity(mulaw.len());
        pending.extend_from_slice(mulaw);
        let segment = self.next_segment;
        self.next_segment += 1;
        self.utterances.push_back(Utterance {
            id: label.to_owned(),
            interruptible: filler,
            reported: false,
            filler,
            complete: true,
            sentences: vec![Sentence {
                segment,
                text: String::new(),
                pending,
                synthesized_ms: mulaw.len() as u64 / BYTES_PER_MS,
                sent_ms: 0,
                finished: true,
            }],
            cursor: 0,
            mark_sent: false,
            runs: Vec::new(),
        });
    }

    /// True while the callee is talking (as last told by [`Playback::callee_speech`]).
    pub fn callee_talking(&self) -> bool {
        self.callee_speaking
    }

    /// True once a hang-up has been asked for (or sent).
    pub fn hangup_requested(&self) -> bool {
        self.hangup.is_some() || self.hung_up
    }

    fn sentence_mut(&mut self, segment: SegmentId) -> Option<&mut Sentence> {
        self.utterances.iter_mut().flat_map(|u| u.sentences.iter_mut()).find(|s| s.segment == segment)
    }

    /// Synthesized audio for `segment` (ignored when the sentence was cut).
    pub fn push_audio(&mut self, segment: SegmentId, mulaw: &[u8]) {
        if let Some(sentence) = self.sentence_mut(segment) {
            sentence.pending.extend_from_slice(mulaw);
            sentence.synthesized_ms += mulaw.len() as u64 / BYTES_PER_MS;
        }
    }

    /// Synthesis of `segment` has ended (successfully or not).
    pub fn finish_segment(&mut self, segment: SegmentId) {
        if let Some(sentence) = self.sentence_mut(segment) {
            sentence.finished = true;
        }
    }

    /// Wait up to `ms` after the last agent audio has played for the callee's goodbye before a
    /// requested hang-up (0: hang up at once).
    pub fn with_goodbye_wait(mut self, ms: u64) -> Playback {
        self.goodbye_wait_ms = ms;
        self
    }

    /// The callee started (`true`) or stopped talking at media time `now_ms`.
    pub fn callee_speech(&mut self, speaking: bool, now_ms: u64) {
        if self.callee_speaking && !speaking && self.played_out_at_ms.is_some() {
            if self.talked_over {
                // they talked over the closing and stopped: half the goodbye wait for a goodbye
                // (their speech may have ended with one: a goodbye said straight after other words
                // is one utterance with them)
                self.talked_over = false;
                self.played_out_at_ms = Some(now_ms.saturating_sub(self.goodbye_wait_ms / 2));
            } else {
                self.goodbye_ended_at_ms = Some(now_ms);
            }
        }
        self.callee_speaking = speaking;
    }

    /// Hang up once everything queued has played and the callee had a moment to say goodbye:
    /// [`Playback::with_goodbye_wait`] after the last audio, or shortly after an utterance of
    /// theirs that ends in that time (one still going is waited for a little longer).
    pub fn request_hangup(&mut self, reason: &str) {
        if self.hangup.is_none() {
            self.hangup = Some(reason.to_owned());
        }
    }

    /// True while the callee would hear agent audio that is queued, in flight or synthesized.
    pub fn agent_audio_unplayed(&self, now_ms: u64) -> bool {
        self.utterances.iter().any(|u| u.has_unplayed_audio(now_ms))
    }

    /// True when nothing is queued, synthesizing or playing.
    pub fn is_idle(&self, now_ms: u64) -> bool {
        self.utterances.iter().all(|u| u.fully_sent()) && self.playout_end_ms <= now_ms
    }

    /// The media time at which everything sent so far will have played.
    pub fn playout_end_ms(&self) -> u64 {
        self.playout_end_ms
    }

    /// Sends what pacing allows at media time `now_ms`, marks, and a due hang-up.
    pub fn tick(&mut self, now_ms: u64) {
        if self.hung_up {
            return;
        }
        'send: for utterance in self.utterances.iter_mut() {
            loop {
                if utterance.cursor >= utterance.sentences.len() {
                    if !utterance.complete {
                        break 'send; // more sentences of this turn are coming
                    }
                    if !utterance.mark_sent {
                        utterance.mark_sent = true;
                        self.outputs.push_back(PlaybackOutput::Mark { name: utterance.id.clone() });
                    }
                    continue 'send;
                }
                if self.playout_end_ms.max(now_ms) >= now_ms + self.lead_ms {
                    break 'send;
                }
                let sentence = &mut utterance.sentences[utterance.cursor];
                if sentence.pending.len() < FRAME_BYTES {
                    if !sentence.finished {
                        break 'send; // waiting for synthesis
                    }
                    if sentence.pending.is_empty() {
                        utterance.cursor += 1;
                        continue;
                    }
                    // last partial frame: pad with silence so every frame is 20 ms
                    sentence.pending.resize(FRAME_BYTES, protocol::mulaw::SILENCE);
                }
                let frame = sentence.pending.split_to(FRAME_BYTES).freeze();
                let frame_ms = FRAME_BYTES as u64 / BYTES_PER_MS;
                sentence.sent_ms += frame_ms;
                let play_at_ms = self.playout_end_ms.max(now_ms);
                self.playout_end_ms = play_at_ms + frame_ms;
                match utterance.runs.last_mut() {
                    Some((start, len)) if *start + *len == play_at_ms => *len += frame_ms,
                    _ => utterance.runs.push((play_at_ms, frame_ms)),
                }
                self.outputs.push_back(PlaybackOutput::Audio { frame, play_at_ms, filler: utterance.filler });
            }
        }
        if let Some(reason) = &self.hangup {
            // Played for sure once every mark is back; without echoes, trust the clock a bit later.
            let awaiting_echo = self.utterances.iter().any(|u| u.mark_sent);
            let due =
                self.is_idle(now_ms) && (!awaiting_echo || now_ms >= self.playout_end_ms + UNECHOED_HANGUP_AFTER_MS);
            if due {
                if self.played_out_at_ms.is_none() {
                    self.played_out_at_ms = Some(now_ms);
                    self.talked_over = self.callee_speaking && self.goodbye_wait_ms > 0;
                    self.talk_over_since_ms = now_ms;
                }
                let played_at = self.played_out_at_ms.unwrap_or(now_ms);
                let waited = now_ms >= played_at + self.goodbye_wait_ms;
                let answered = self.goodbye_ended_at_ms.is_some_and(|end| now_ms >= end + AFTER_GOODBYE_MS);
                // not over the last words of a goodbye that just ended
                let settling = self.goodbye_ended_at_ms.is_some_and(|end| now_ms < end + AFTER_GOODBYE_MS);
                let quiet = !self.callee_speaking
                    || if self.talked_over {
                        now_ms >= self.talk_over_since_ms + MAX_TALK_OVER_MS
                    } else {
                        now_ms >= played_at + self.goodbye_wait_ms + MAX_GOODBYE_SPEECH_MS
                    };
                if self.goodbye_wait_ms == 0 || answered || (waited && quiet && !settling) {
                    self.outputs.push_back(PlaybackOutput::Hangup { reason: reason.clone() });
                    self.hung_up = true;
                }
            }
        }
    }

    /// Twilio echoed mark `name`. Returns false for a mark this call never sent.
    pub fn on_mark(&mut self, name: &str) -> bool {
        if self.discarded_marks.remove(name) {
            return true;
        }
        let Some(index) = self.utterances.iter().position(|u| u.mark_sent && u.id == name) else {
            return false;
        };
        // Marks come back in order: everything before it has played too.
        for utterance in self.utterances.drain(..=index) {
            if utterance.mark_sent && utterance.reported {
                self.outputs.push_back(PlaybackOutput::Played { utterance_id: utterance.id });
            }
        }
        true
    }

    /// The callee talks over the agent at media time `now_ms`. When interruptible agent audio
    /// is unplayed, cuts it: `Clear`, cancelled syntheses and a `BargeIn` report per utterance
    /// dropped. Returns whether it cut.
    pub fn barge_in(&mut self, now_ms: u64) -> bool {
        if self.hung_up {
            return false;
        }
        let Some(current) = self.utterances.iter().position(|u| u.has_unplayed_audio(now_ms)) else {
            return false;
        };
        if self.utterances.iter().skip(current).any(|u| !u.interruptible) {
            return false;
        }
        self.outputs.push_back(PlaybackOutput::Clear);
        let cut: Vec<Utterance> = self.utterances.drain(current..).collect();
        // Utterances before `current` have played by the estimate; their echoes still count.
        for utterance in cut {
            if utterance.mark_sent {
                self.discarded_marks.insert(utterance.id.clone());
            }
            for sentence in &utterance.sentences {
                if !sentence.finished {
                    self.outputs.push_back(PlaybackOutput::CancelSynthesis { segment: sentence.segment });
                }
            }
            if utterance.reported {
                let heard_ms = utterance.played_ms(now_ms);
                self.outputs.push_back(PlaybackOutput::BargeIn {
                    utterance_id: utterance.id.clone(),
                    heard_ms,
                    total_ms: utterance.total_ms(),
                    heard_text: utterance.heard_text(heard_ms),
                });
                if self.cut_utterances.len() == REMEMBERED_CUTS {
                    self.cut_utterances.pop_front();
                }
                self.cut_utterances.push_back(utterance.id);
            }
        }
        self.playout_end_ms = self.playout_end_ms.min(now_ms);
        true
    }

    pub fn poll_output(&mut self) -> Option<PlaybackOutput> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests;
