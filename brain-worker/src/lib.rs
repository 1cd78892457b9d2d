//! The brain worker: one actix actor per call that runs the conversation of a playbook (scripted
//! slot-filling or an LLM), extracts typed fields with provenance, and publishes the result.

pub mod extract;
