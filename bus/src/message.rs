//! The bus's plain types: a received [`Message`], a [`BusError`] with a kind callers branch on,
//! and how a persisted stream keeps its messages ([`Retention`]).

use bytes::Bytes;

/// One message received from the bus.
#[derive(Clone, Debug)]
pub struct Message {
    pub subject: String,
    pub payload: Bytes,
    /// Where a reply should go, for a request.
    pub reply: Option<String>,
}

/// What went wrong, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusErrorKind {
    /// Could not connect to NATS.
    Connect,
    /// A request found no subscriber at all.
    NoResponders,
    /// A request got no reply in time.
    TimedOut,
    /// A KV create found the key already there.
    AlreadyExists,
    /// A KV update found another revision than expected.
    WrongRevision,
    /// The subject or key is not valid.
    Invalid,
    /// The connection is closed.
    Closed,
    Other,
}

/// A bus failure with a kind the caller can branch on.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct BusError {
    pub kind: BusErrorKind,
    pub message: String,
}

impl BusError {
    pub fn new(kind: BusErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    pub(crate) fn other(error: impl std::fmt::Display) -> Self {
        Self::new(BusErrorKind::Other, error.to_string())
    }
}

/// How a persisted stream keeps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Keep messages up to the stream's limits (results, events).
    Limits,
    /// Each message is removed once one consumer acknowledges it (dial requests).
    WorkQueue,
}
