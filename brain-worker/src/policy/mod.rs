//! The two turn-taking policies behind one trait: [`ScriptedPolicy`] (slot filling by the
//! playbook) and [`LlmPolicy`] (an OpenAI-compatible model with tools), which falls back to the
//! scripted policy when the model fails mid-call. Both are sans-I/O: `handle(now, input)`
//! returns actions; the LLM's HTTP stream is run by the driver and fed back as inputs.
//!
//! Its modules: `contract` (the trait and the scripted policy), `llm_policy` (the LLM policy),
//! `prompt` (what the model is sent), `stream` (sentences and tool calls as they stream in),
//! `tools` (the `record_field` tool applied).

mod contract;
mod llm_policy;
mod prompt;
mod stream;
mod tools;

pub use contract::{Policy, ScriptedPolicy};
pub use llm_policy::{LlmPolicy, LlmSettings};
