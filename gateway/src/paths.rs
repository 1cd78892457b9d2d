//! The Twilio-facing paths the gateway serves and names in TwiML (the REST API's live in
//! [`crate::rest`]).

/// Twilio's voice webhook (TwiML request).
pub const VOICE_PATH: &str = "/v1/twilio/voice";
/// The Media Streams WebSocket.
pub const STREAM_PATH: &str = "/v1/twilio/stream";
/// Call status callbacks.
pub const STATUS_PATH: &str = "/v1/twilio/status";
/// Async answering-machine-detection callbacks (handled like status callbacks).
pub const AMD_PATH: &str = "/v1/twilio/amd";
/// Where Twilio goes (`<Redirect>`) once the stream's WebSocket has closed.
pub const AFTER_STREAM_PATH: &str = "/v1/twilio/after-stream";
