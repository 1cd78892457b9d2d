//! Identifier newtypes: our own `CallId` and Twilio's `CallSid`, `StreamSid`, `AccountSid`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

id_newtype!(
    /// Our id for one call request, stable across attempts (`c_` + 32 hex).
    CallId
);
id_newtype!(
    /// Twilio's call id, `CA` + 32 hex.
    CallSid
);
id_newtype!(
    /// Twilio's media stream id, `MZ` + 32 hex.
    StreamSid
);
id_newtype!(
    /// Twilio's account id, `AC` + 32 hex.
    AccountSid
);

impl CallId {
    /// A fresh random call id.
    pub fn generate() -> Self {
        Self(format!("c_{}", uuid::Uuid::new_v4().simple()))
    }

    /// True when the id is safe to put in a NATS subject token and a KV key.
    pub fn is_subject_safe(value: &str) -> bool {
        !value.is_empty()
            && value.len() <= 128
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

/// True when `value` is `prefix` followed by exactly 32 hex digits (the shape of a real Twilio SID).
pub fn is_twilio_sid(value: &str, prefix: &str) -> bool {
    value.len() == prefix.len() + 32
        && value.starts_with(prefix)
        && value[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A random SID in Twilio's shape, for the simulator and tests.
pub fn random_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_call_ids_are_subject_safe_and_unique() {
        let a = CallId::generate();
        let b = CallId::generate();
        assert_ne!(a, b);
        assert!(CallId::is_subject_safe(a.as_str()));
        assert!(!CallId::is_subject_safe("a.b"));
        assert!(!CallId::is_subject_safe("a*"));
        assert!(!CallId::is_subject_safe(""));
    }

    #[test]
    fn twilio_sid_shape() {
        assert!(is_twilio_sid(&random_sid("CA"), "CA"));
        assert!(!is_twilio_sid("CA123", "CA"));
        assert!(!is_twilio_sid("MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "MZ"));
    }
}
