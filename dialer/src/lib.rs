//! The dialer: takes call requests from the `DIAL` work queue, places them through Twilio's REST
//! API inside the callee's calling window and the concurrency caps, follows each call through
//! Twilio's status callbacks, retries by outcome and records the final state.

pub mod scheduler;
pub mod window;
