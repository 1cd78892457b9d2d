//! Twilio's wire formats: Media Streams messages, TwiML, webhook forms, request signatures.
//!
//! - [`media_streams`]: the JSON messages of a bidirectional Media Stream, both ways, decoded
//!   strictly into types (an unknown or malformed message is a [`TwilioDecodeError`]).
//! - [`twiml`]: a TwiML builder that escapes XML, and a reader for the `<Connect><Stream>` part.
//! - [`webhook`]: form parsing for the voice webhook and status / AMD callbacks.
//! - [`signature`]: `X-Twilio-Signature` computation and validation (REFERENCE.md §5).

pub mod media_streams;
pub mod signature;
pub mod twiml;
pub mod webhook;

pub use media_streams::{decode_inbound, decode_outbound, InboundMessage, OutboundMessage, TwilioDecodeError};
pub use signature::{compute_signature, validate_request, validate_websocket_upgrade, SignedBody};
pub use twiml::{StreamInstruction, Twiml};
pub use webhook::{FormParams, StatusCallback, VoiceWebhook, WebhookError};

#[cfg(test)]
mod vector_tests;
