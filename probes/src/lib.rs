//! The plumbing every service binary shares, written once: logging set-up and the SIGTERM wait
//! ([`process`]), configuration read from an environment map with one error type and one name for
//! the shutdown grace period ([`env`]), Prometheus text rendering ([`prometheus`]) and the small
//! `/healthz` `/readyz` `/metrics` responder workers serve on `METRICS_ADDR` ([`health`]), and
//! credentials kept out of log lines ([`redact`]).

pub mod env;
pub mod health;
pub mod process;
pub mod prometheus;
pub mod redact;

pub use env::{ConfigError, Env};
pub use health::{serve, Probe};
pub use prometheus::metric;
pub use redact::redact_url;
