//! Playing Twilio: the voice webhook, the TwiML, and the Media Streams WebSocket of one call.

pub mod audio;
pub mod call;
pub mod playback;

pub use audio::{CalleeAudio, FramesAudio, FRAME_BYTES, FRAME_MS};
pub use call::{place_call, CallOptions, CallReport, SimError, SimEvent};
pub use playback::{ClearRecord, MarkEchoRecord, Playback};
