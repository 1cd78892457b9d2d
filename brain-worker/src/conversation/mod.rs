//! The conversation of one call as a sans-I/O state machine: what the policies share.
//!
//! [`Conversation`] holds the [`ConversationState`] (fields with provenance, transcript, phase,
//! counters; serialisable so another brain can continue the call from KV `convo`) and the
//! mechanics every policy needs: speaking a turn, hearing the callee, applying extracted fields
//! and their dependencies, barge-in bookkeeping, the silence timer, limits and the result.
//! Policies ([`crate::policy`]) decide *what* to say; they are driven by `handle(now, input)`.
//!
//! Its modules: `messages` (inputs and actions), `state` (the serialisable state), `mechanics`
//! (the [`Conversation`] and its queries), `turns` (speaking, hearing, silence), `fields`
//! (record updates), `ending` (closing, voicemail, the result), `moved` (the media stream
//! moving to another media worker mid-call).

mod ending;
mod fields;
mod mechanics;
mod messages;
mod moved;
mod state;
mod turns;

pub use fields::yaml_to_json;
pub use mechanics::{Conversation, MAX_ASKS, WRAP_UP_MS};
pub use messages::{Action, Input};
pub use moved::REDELIVER_WAIT;
pub use state::{ByDayState, ConversationState, Phase, SpokenTurn};
pub use turns::{GREETING_WAIT, HOLD_WAIT};
