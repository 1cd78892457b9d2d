//! Playbooks: what a call is for, which fields it collects and how the agent talks, loaded from
//! YAML, validated with errors that name the file, line and field, and turned into the vocabulary
//! the speech recogniser should cover. No network I/O.
//!
//! - [`Playbook`] and its parts ([`FieldSpec`], [`FieldType`], [`Limits`], [`Voicemail`] ...).
//! - [`Playbook::from_yaml`] / [`Playbook::load`]: parse + validate.
//! - [`PlaybookSet`]: every playbook of a directory, falling back to the built-in copies of the
//!   shipped playbooks so a binary works from any working directory.
//! - What the speech recogniser should expect: [`Playbook::vocabulary_phrases`] (words and
//!   phrases), [`Playbook::answer_patterns`] (answers with `{price}`, `{time}` ... slots),
//!   [`Playbook::subjects`] (what fills `{subject}`) and [`Playbook::pronunciations`] (words the
//!   stock dictionary lacks). The domain lives here, so a new playbook needs no engine change.

mod lines;
mod load;
mod model;
mod template;
mod vocabulary;

pub use load::PlaybookSet;
pub use model::*;
pub use template::render;
pub use vocabulary::{CMU_PHONES, SLOT_CLASSES};

#[cfg(test)]
mod tests;
