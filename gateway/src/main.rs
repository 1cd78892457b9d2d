//! The gateway binary: read the environment, connect to NATS, serve, drain on SIGTERM.

use std::collections::HashMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match gateway::Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gateway: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    actix_rt::System::new().block_on(async move {
        let bus = match bus::Bus::connect(&config.nats_url, "gateway").await {
            Ok(bus) => bus,
            Err(error) => {
                eprintln!("gateway: {error}");
                return ExitCode::FAILURE;
            }
        };
        let running = match gateway::start(config, bus).await {
            Ok(running) => running,
            Err(error) => {
                eprintln!("gateway: {error}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_shutdown_signal().await;
        tracing::info!("shutdown signal received, draining");
        running.stop().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
