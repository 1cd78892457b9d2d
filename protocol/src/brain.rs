//! Messages between a media worker and a brain: `brain.assign`, `brain.heard.<callId>`,
//! `media.say.<callId>`. All are versioned JSON (`"v": 1`), decoded with
//! [`crate::version::decode_json`].

use crate::ids::{CallId, CallSid, StreamSid};
use crate::media::Direction;
use crate::version::current_version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Request on `brain.assign`: run this call's conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrainAssignRequest {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub call_sid: CallSid,
    pub stream_sid: StreamSid,
    pub playbook: String,
    #[serde(default)]
    pub direction: Direction,
    /// Call context (gym name, timezone, custom parameters).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    /// True when a brain already ran this call and died: load the conversation from KV `convo`.
    #[serde(default)]
    pub resume: bool,
}

/// Reply on `brain.assign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrainAssignReply {
    #[serde(default = "current_version")]
    pub v: u32,
    pub worker_id: String,
}

/// What the media worker reports on `brain.heard.<callId>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    /// Media time of the event, milliseconds since the stream started.
    pub at_ms: u64,
    pub event: HeardEvent,
}

/// The events inside [`Heard`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeardEvent {
    /// The stream is live; the brain should open the conversation.
    CallStarted,
    /// The callee started talking (VAD onset).
    SpeechStarted,
    /// A transcript of the callee. `is_final` is false for interim results.
    Transcript {
        utterance_seq: u64,
        text: String,
        is_final: bool,
        #[serde(default)]
        confidence: Option<f32>,
        /// Media time the callee started and stopped speaking.
        start_ms: u64,
        end_ms: u64,
    },
    /// An agent utterance has been played to the end (its mark came back).
    Played { utterance_id: String },
    /// The agent's reply to the callee started playing, `reply_ms` after the callee stopped
    /// talking (voice to voice, media time); `tts_ms` is how long its first audio took to
    /// synthesize; `stages` splits `reply_ms` stage by stage (absent from older workers).
    Replied {
        reply_ms: u64,
        #[serde(default)]
        tts_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stages: Option<crate::results::ReplyStages>,
    },
    /// The callee talked over the agent; playback was cleared.
    BargeIn {
        utterance_id: String,
        /// How much of the utterance was played before the clear.
        heard_ms: u64,
        total_ms: u64,
        /// The words estimated to have been heard (by position in the text).
        heard_text: String,
    },
    /// The callee pressed a key.
    Dtmf { digit: String },
    /// Answering-machine detection verdict (Twilio `AnsweredBy`).
    Amd { answered_by: String },
    /// A provider failed past its retry deadline; the brain should degrade.
    ProviderFailure { stage: ProviderStage, message: String },
    /// The call's media stream moved to another media worker (the one it was on stopped
    /// answering pings): transcripts count `utterance_seq` from 0 again, audio from the seconds
    /// before the move may be heard a second time (the gateway replays it), and an agent line
    /// whose `Played` has not come may have been cut off.
    StreamMoved,
    /// The stream ended.
    CallEnded { reason: String },
}

/// The stage of the pipeline a provider serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStage {
    /// Speech to text.
    Stt,
    /// Text to speech.
    Tts,
    /// The language model.
    Llm,
}

impl std::fmt::Display for ProviderStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProviderStage::Stt => "stt",
            ProviderStage::Tts => "tts",
            ProviderStage::Llm => "llm",
        })
    }
}

fn speak_context_default() -> bool {
    true
}

/// What the brain asks for on `media.say.<callId>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Say {
    #[serde(default = "current_version")]
    pub v: u32,
    pub call_id: CallId,
    pub command: SayCommand,
}

/// The commands inside [`Say`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SayCommand {
    /// Speak one sentence. `utterance_id` groups the sentences of one agent turn; the media
    /// worker sends a mark named after it when the last sentence (`end_of_turn`) is queued.
    Speak {
        utterance_id: String,
        text: String,
        end_of_turn: bool,
        /// True when the callee may not interrupt it (the disclosure line, a voicemail message).
        #[serde(default)]
        uninterruptible: bool,
        /// True (the default) when the callee's next words most likely answer this line, so the
        /// recogniser may take it as their context (Whisper's "previous text"). False for a line
        /// that says values back for a yes or a correction ("So a drop-in is 20 dollars, is that
        /// right?"): its words pull the hearing of the correction toward the very values being
        /// corrected (README, "The agent's line as context").
        #[serde(default = "speak_context_default")]
        context: bool,
    },
    /// A text the brain expects to say soon (its introduction, while the callee answers): the
    /// media worker may synthesize it ahead so it plays at once. Nothing is played.
    Prepare { text: String },
    /// Play DTMF digits to the far end (IVR navigation).
    SendDigits { digits: String },
    /// Hang up once everything queued has been played.
    Hangup { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{decode_json, encode_json};

    #[test]
    fn heard_and_say_round_trip() {
        let heard = Heard {
            v: 1,
            call_id: CallId::from("c_1"),
            at_ms: 2400,
            event: HeardEvent::Transcript {
                utterance_seq: 3,
                text: "twenty dollars".into(),
                is_final: true,
                confidence: Some(0.8),
                start_ms: 1200,
                end_ms: 2300,
            },
        };
        assert_eq!(decode_json::<Heard>(&encode_json(&heard)).unwrap(), heard);
        let say = Say {
            v: 1,
            call_id: CallId::from("c_1"),
            command: SayCommand::Speak {
                utterance_id: "u1".into(),
                text: "Hi there.".into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        };
        assert_eq!(decode_json::<Say>(&encode_json(&say)).unwrap(), say);
    }

    #[test]
    fn unknown_event_type_is_an_error() {
        let bytes = br#"{"v":1,"call_id":"c_1","at_ms":0,"event":{"type":"teleport"}}"#;
        assert!(decode_json::<Heard>(bytes).is_err());
    }
}
