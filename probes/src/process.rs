//! What every service binary does around its `run`: set up logging, then wait for SIGTERM or
//! Ctrl-C to start a graceful stop.

/// Logs to stderr, filtered by `RUST_LOG` (else `default_filter`, e.g. `info`). Safe to call
/// twice (the second call does nothing).
///
/// The NATS client logs its server address with the credentials in it at debug level, so
/// `async_nats` stays at `info` unless `RUST_LOG` names it explicitly.
pub fn init_logging(default_filter: &str) {
    let requested = std::env::var("RUST_LOG").ok().filter(|value| !value.trim().is_empty());
    let mut filter = requested
        .as_deref()
        .and_then(|value| tracing_subscriber::EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| default_filter.into());
    if !requested.as_deref().is_some_and(|value| value.contains("async_nats")) {
        if let Ok(directive) = NATS_CLIENT_LOG_CAP.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The NATS client's log level unless `RUST_LOG` names `async_nats` (see [`init_logging`]).
pub const NATS_CLIENT_LOG_CAP: &str = "async_nats=info";

/// Resolves on SIGTERM or Ctrl-C (Ctrl-C only where SIGTERM cannot be watched).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM, stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
