//! The plumbing every service binary shares, written once: logging set-up and the SIGTERM wait
//! ([`process`]), configuration read from an environment map with one error type and one name for
//! the shutdown grace period ([`env`]), Prometheus text rendering ([`prometheus`]) and the small
//! `/healthz` `/readyz` `/metrics` responder workers serve on `METRICS_ADDR` ([`health`]).

pub mod env;
pub mod health;
pub mod process;
pub mod prometheus;

pub use env::{ConfigError, Env};
pub use health::{serve, Probe};
pub use prometheus::metric;
