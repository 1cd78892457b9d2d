//! Plays Twilio for tests, the demo and load: [`twilio`] places a call against the gateway byte
//! for byte (signed webhook, TwiML, Media Streams WebSocket with real-time playback, marks,
//! `clear`); `fake_twilio` is Twilio's REST API; `persona` holds the simulated callees.

pub mod fake_twilio;
pub mod persona;
pub mod twilio;
