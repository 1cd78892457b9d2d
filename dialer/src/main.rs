//! `dialer`: reads its configuration from the environment, connects to NATS and places calls
//! until SIGTERM / Ctrl-C, then drains.

use std::collections::HashMap;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match dialer::Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("dialer: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dialer: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: dialer::Config) -> anyhow::Result<()> {
    let bus = bus::Bus::connect(&config.nats_url, "dialer").await?;
    let dialer = dialer::start(config, bus).await?;
    shutdown_signal().await;
    tracing::info!("shutdown requested");
    dialer.stop().await?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
