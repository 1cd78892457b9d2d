//! The brain worker: one actix actor per call that runs the conversation of a playbook (scripted
//! slot-filling or an LLM), extracts typed fields with provenance, and publishes the result.
//!
//! - [`extract`]: rule-based extraction (money, days, times, schedules, yes/no, refusals ...).
//! - [`conversation`]: the sans-I/O conversation state machine and its serialisable state.
//! - [`scripted`], [`policy`]: the scripted and LLM policies behind the [`policy::Policy`] trait.
//! - [`llm`]: the OpenAI-compatible streaming client.

pub mod conversation;
pub mod extract;
pub mod llm;
pub mod policy;
pub mod scripted;
