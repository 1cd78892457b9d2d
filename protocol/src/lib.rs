//! Wire types shared by every gym-call-agent service, and nothing that does I/O.
//!
//! - [`twilio`]: Twilio Media Streams messages, TwiML, webhook forms, `X-Twilio-Signature`.
//! - [`mulaw`]: G.711 μ-law encode/decode.
//! - [`ids`]: newtypes for call, stream and account ids.
//! - [`subjects`]: every NATS subject, stream, bucket and queue-group name.
//! - [`spoken`]: how numbers, prices, times and sentences are said aloud; [`dtmf`]: keypad tones;
//!   [`hints`]: what a recogniser should expect on a call.
//! - [`gym_list`]: the CSV / JSON gym lists of a campaign and the results table it writes back.
//! - [`media`], [`brain`], [`calls`], [`results`]: the versioned messages that travel on those subjects;
//!   [`webhook`]: the result webhook's queue message, delivery state, URL check and signature.

pub mod brain;
pub mod calls;
pub mod dtmf;
pub mod gym_list;
pub mod hints;
pub mod ids;
pub mod media;
pub mod mulaw;
pub mod results;
pub mod spoken;
pub mod subjects;
pub mod twilio;
pub mod version;
pub mod webhook;

pub use ids::{AccountSid, CallId, CallSid, StreamSid};
pub use version::{BusDecodeError, BUS_VERSION};
