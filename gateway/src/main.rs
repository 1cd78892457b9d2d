//! The gateway binary: read the environment, connect to NATS, serve, drain on SIGTERM.

use std::collections::HashMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    probes::process::init_logging("info");
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match gateway::Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gateway: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    actix_rt::System::new().block_on(async move {
        let bus = match bus::Bus::connect_with(&config.nats_url, "gateway", &config.nats).await {
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
        probes::process::shutdown_signal().await;
        tracing::info!("shutdown signal received, draining");
        running.stop().await;
        ExitCode::SUCCESS
    })
}
