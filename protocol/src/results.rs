//! The structured result of a call, published on `results.<callId>` and stored on the call record.

use crate::ids::{CallId, CallSid};
use crate::version::current_version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a field was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Known,
    #[default]
    Unknown,
    Refused,
    NotApplicable,
}

/// Where a value came from: the callee's words in one turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Index into [`CallResult::transcript`].
    pub turn: usize,
    pub text: String,
}

/// One collected field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct FieldResult {
    pub status: FieldStatus,
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub confidence: f32,
}

/// Who spoke a transcript turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Callee,
}

/// One turn of the transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptTurn {
    pub speaker: Speaker,
    pub text: String,
    /// Media time, milliseconds since the stream started.
    pub at_ms: u64,
    /// For agent turns cut by a barge-in: true.
    #[serde(default)]
    pub interrupted: bool,
}

/// How the call ended, from the conversation's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Every required field is known, refused or not applicable.
    Completed,
    /// The call ended before the required fields were collected.
    Partial,
    /// A voicemail greeting answered.
    Voicemail,
    /// The callee hung up or the stream dropped early.
    HungUp,
    /// The call hit a limit (duration, turns, silence).
    LimitReached,
    /// Something failed.
    Failed,
}

/// Where one reply's latency went, milliseconds of media time (the call's clock: Twilio's frame
/// timestamps, 20 ms steps), stage by stage from the end of the callee's speech to the first frame
/// of the reply playing. The stages add up to [`ReplyStages::total_ms`], which is the turn's
/// `voice_to_voice_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplyStages {
    /// End of speech -> the endpointer decided the turn was over (the silence it waits for).
    pub endpoint_ms: u64,
    /// Endpoint -> final transcript.
    pub stt_ms: u64,
    /// Final transcript -> the brain's reply arrived at the media worker (the brain's decision,
    /// an LLM's first sentence, and the bus both ways).
    pub brain_ms: u64,
    /// Reply arrived -> its first synthesized audio.
    pub tts_ms: u64,
    /// First audio -> the media time its first frame plays (pacing behind audio already queued).
    pub play_ms: u64,
    /// End of speech -> the words of the final transcript were known. A recogniser that starts
    /// on the callee's pause knows them before the endpointer decides (then less than
    /// `endpoint_ms`, and `stt_ms` is only the hand-over); `None` (not measured): `endpoint_ms +
    /// stt_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard_ms: Option<u64>,
    /// Media time the callee's speech this reply answers ended (the stages count from it), so
    /// that a caller who knows when it stopped talking can check them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_end_at_ms: Option<u64>,
}

impl ReplyStages {
    /// The stages from the media times of each step. A step reported before the one it follows
    /// (a recogniser that finalizes before the endpointer decides) counts as taking no time, so
    /// the stages always add up to `played_at_ms - speech_end_ms`.
    pub fn from_times(
        speech_end_ms: u64,
        endpointed_at_ms: u64,
        transcribed_at_ms: u64,
        replied_at_ms: u64,
        first_audio_at_ms: u64,
        played_at_ms: u64,
    ) -> ReplyStages {
        let mut at = speech_end_ms;
        let mut step = |next: u64| {
            let next = next.max(at);
            let took = next - at;
            at = next;
            took
        };
        let endpoint_ms = step(endpointed_at_ms);
        let stt_ms = step(transcribed_at_ms);
        let brain_ms = step(replied_at_ms);
        let tts_ms = step(first_audio_at_ms);
        let play_ms = step(played_at_ms);
        ReplyStages {
            endpoint_ms,
            stt_ms,
            brain_ms,
            tts_ms,
            play_ms,
            heard_ms: None,
            speech_end_at_ms: Some(speech_end_ms),
        }
    }

    /// The stages, with the words of the final transcript known at media time `known_at_ms`
    /// (at most the `transcribed_at_ms` the stages were made with).
    pub fn heard_at(self, speech_end_ms: u64, known_at_ms: u64) -> ReplyStages {
        let heard_ms = known_at_ms.saturating_sub(speech_end_ms).min(self.endpoint_ms + self.stt_ms);
        ReplyStages { heard_ms: Some(heard_ms), ..self }
    }

    /// End of speech -> reply playing: the sum of the stages.
    pub fn total_ms(&self) -> u64 {
        self.endpoint_ms + self.stt_ms + self.brain_ms + self.tts_ms + self.play_ms
    }

    /// End of speech -> the words of the final transcript known ([`ReplyStages::heard_ms`]).
    pub fn speech_to_transcript_ms(&self) -> u64 {
        self.heard_ms.unwrap_or(self.endpoint_ms + self.stt_ms)
    }
}

/// Latency figures of one call, milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencyBreakdown {
    /// End of callee speech -> first agent audio byte, per turn.
    #[serde(default)]
    pub voice_to_voice_ms: Vec<u64>,
    /// End of callee speech -> final transcript, per reply ([`ReplyStages::speech_to_transcript_ms`]).
    #[serde(default)]
    pub stt_ms: Vec<u64>,
    #[serde(default)]
    pub llm_ms: Vec<u64>,
    #[serde(default)]
    pub tts_ms: Vec<u64>,
    /// Each reply stage by stage, in order; each adds up to its `voice_to_voice_ms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<ReplyStages>,
}

/// The result of one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    #[serde(default)]
    pub call_sid: Option<CallSid>,
    pub playbook: String,
    pub outcome: CallOutcome,
    pub fields: BTreeMap<String, FieldResult>,
    pub transcript: Vec<TranscriptTurn>,
    #[serde(default)]
    pub latency: LatencyBreakdown,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: String,
    /// Free-form notes (policy switches, provider failures).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[cfg(test)]
mod reply_stage_tests {
    use super::ReplyStages;

    #[test]
    fn stages_split_the_reply_and_add_up_to_it() {
        // speech ended at 1000, endpoint at 1400, transcript at 1460, reply at 1480, audio at 1520,
        // first frame plays at 1540
        let stages = ReplyStages::from_times(1000, 1400, 1460, 1480, 1520, 1540);
        assert_eq!(
            stages,
            ReplyStages {
                endpoint_ms: 400,
                stt_ms: 60,
                brain_ms: 20,
                tts_ms: 40,
                play_ms: 20,
                heard_ms: None,
                speech_end_at_ms: Some(1000)
            }
        );
        assert_eq!(stages.total_ms(), 540);
        assert_eq!(stages.speech_to_transcript_ms(), 460);
    }

    #[test]
    fn words_known_at_the_pause_count_from_the_end_of_speech_not_the_endpoint() {
        // speech ended at 1000; a recogniser started at the pause had the words at 1250; the
        // endpoint came at 1400 and the final transcript was handed over at 1420
        let stages = ReplyStages::from_times(1000, 1400, 1420, 1480, 1520, 1540).heard_at(1000, 1250);
        assert_eq!((stages.endpoint_ms, stages.stt_ms, stages.heard_ms), (400, 20, Some(250)));
        assert_eq!(stages.speech_to_transcript_ms(), 250);
        assert_eq!(stages.total_ms(), 540);
        // never later than the hand-over
        assert_eq!(
            ReplyStages::from_times(1000, 1400, 1420, 1480, 1520, 1540).heard_at(1000, 1500).heard_ms,
            Some(420)
        );
        // a result written before the field existed reads as before
        let old: ReplyStages =
            serde_json::from_str(r#"{"endpoint_ms":400,"stt_ms":60,"brain_ms":20,"tts_ms":40,"play_ms":20}"#).unwrap();
        assert_eq!(old.speech_to_transcript_ms(), 460);
    }

    #[test]
    fn a_step_reported_early_takes_no_time_and_the_sum_still_holds() {
        // a streaming recogniser finalized at 1300, before the endpointer decided at 1400
        let stages = ReplyStages::from_times(1000, 1400, 1300, 1480, 1520, 1540);
        assert_eq!(stages.stt_ms, 0);
        assert_eq!(stages.brain_ms, 80);
        assert_eq!(stages.total_ms(), 540);
    }
}
