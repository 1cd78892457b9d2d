//! The `brain-worker` binary: reads its configuration from the environment, connects to NATS,
//! runs conversations until SIGTERM / Ctrl-C, then drains them.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use brain_worker::Config;

/// How long running calls may go on after SIGTERM.
const DRAIN_GRACE: Duration = Duration::from_secs(25);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("brain-worker: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let system = actix_rt::System::new();
    match system.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("brain-worker: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), brain_worker::BrainError> {
    let bus = bus::Bus::connect(&config.nats_url, &config.worker_id).await?;
    let brain = brain_worker::start(config, bus).await?;
    shutdown_signal().await;
    tracing::info!(active_calls = brain.active_calls(), "shutting down, draining calls");
    brain.stop(DRAIN_GRACE).await;
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM, stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
