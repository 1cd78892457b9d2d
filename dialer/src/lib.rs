//! The dialer: takes call requests from the `DIAL` work queue, places them through Twilio's REST
//! API inside the callee's calling window and the concurrency caps, follows each call through
//! Twilio's status callbacks, retries by outcome and records the final state.
//!
//! - [`window`]: calling windows in the callee's timezone (DST-correct).
//! - [`scheduler`]: the sans-I/O state machine deciding when to place which call.
//! - [`tracker`]: the sans-I/O state machine following one placed call through Twilio.
//! - [`outcome`]: what a `completed` call really was (voicemail, "call back later").
//! - [`twilio`]: the Twilio Voice REST client and its typed errors.
//! - [`records`]: revision-checked call records in KV `calls`.
//! - [`leases`]: per-number leases in KV `dial_numbers` (one live call per number).
//! - [`metrics`]: the dialer's counters and its probes.
//! - [`webhook`]: the signed result webhook, queued when a call ends and delivered with retries.
//! - [`service`]: [`start`] and stop; the run loop (`run`) drives the two state machines.

pub mod config;
pub mod leases;
pub mod metrics;
pub mod outcome;
pub mod records;
mod run;
pub mod scheduler;
pub mod service;
pub mod tracker;
pub mod twilio;
pub mod webhook;
pub mod window;

pub use config::{Config, ConfigError, ENV_VARS};
pub use metrics::Stats;
pub use service::{start, DialerError, RunningDialer, DIAL_CONSUMER};
