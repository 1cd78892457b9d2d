//! The dialer: takes call requests from the `DIAL` work queue, places them through Twilio's REST
//! API inside the callee's calling window and the concurrency caps, follows each call through
//! Twilio's status callbacks, retries by outcome and records the final state.
//!
//! - [`window`]: calling windows in the callee's timezone (DST-correct).
//! - [`scheduler`]: the sans-I/O state machine deciding when to place which call.
//! - [`twilio`]: the Twilio Voice REST client and its typed errors.
//! - [`records`]: revision-checked call records in KV `calls`.
//! - [`service`]: the runtime ([`start`]) wiring all of it to the bus.

pub mod config;
pub mod metrics;
pub mod outcome;
pub mod records;
pub mod scheduler;
pub mod service;
pub mod twilio;
pub mod window;

pub use config::{Config, ConfigError, ENV_VARS};
pub use service::{start, DialerError, RunningDialer, Stats, DIAL_CONSUMER};
