//! Versioning and strict decoding shared by every bus message.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The version every bus message carries in its `"v"` field.
pub const BUS_VERSION: u32 = 1;

/// Why a bus message could not be decoded. Callers count and log these; they never panic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusDecodeError {
    #[error("message is empty")]
    Empty,
    #[error("unknown frame kind byte {0}")]
    UnknownKind(u8),
    #[error("frame too short: {0} bytes")]
    Truncated(usize),
    #[error("unsupported message version {0} (this build speaks {BUS_VERSION})")]
    Version(u32),
    #[error("malformed message: {0}")]
    Malformed(String),
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Encodes a bus message as JSON. The types of this crate always serialize.
pub fn encode_json<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).unwrap_or_default()
}

/// Decodes a versioned JSON bus message, checking `"v"` first so a newer sender gets a clear error.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BusDecodeError> {
    if bytes.is_empty() {
        return Err(BusDecodeError::Empty);
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| BusDecodeError::Malformed(e.to_string()))?;
    if version.v != BUS_VERSION {
        return Err(BusDecodeError::Version(version.v));
    }
    serde_json::from_slice(bytes).map_err(|e| BusDecodeError::Malformed(e.to_string()))
}

/// Serde default for the `v` field.
pub fn current_version() -> u32 {
    BUS_VERSION
}
