//! Text helpers for speaking, from [`protocol::spoken`]: sentences (each synthesized on its own,
//! so the first audio leaves early) and the words of a sentence heard before a barge-in.

pub use protocol::spoken::{heard_prefix, sentences};
