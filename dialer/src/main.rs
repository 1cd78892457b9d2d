//! `dialer`: reads its configuration from the environment, connects to NATS and places calls
//! until SIGTERM / Ctrl-C, then drains.

use std::collections::HashMap;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    probes::process::init_logging("info");
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
    let bus = bus::Bus::connect_with(&config.nats_url, "dialer", &config.nats).await?;
    let dialer = dialer::start(config, bus).await?;
    probes::process::shutdown_signal().await;
    tracing::info!("shutdown requested");
    dialer.stop().await?;
    Ok(())
}
