//! The scripted slot-filling policy: asks the playbook's questions in order, extracts answers
//! with the rules of [`crate::extract`], reads values back, and copes with hold, repeat,
//! transfers, refusals, silence, IVR menus and voicemail. The embedded default, and the
//! fallback when the LLM fails mid-call.
//!
//! Its modules: `turn` (the turn flow), `questions` (what to ask next), `read_back` (read-backs
//! and corrections), `by_day` (a schedule asked one day at a time).

mod by_day;
mod gate;
mod more_items;
mod questions;
mod read_back;
mod turn;

pub use questions::ask_next;
pub use turn::handle;

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod moved_tests;
#[cfg(test)]
mod reask_tests;
#[cfg(test)]
pub(crate) mod tests;
