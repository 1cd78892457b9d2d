//! The `brain-worker` binary: reads its configuration from the environment, connects to NATS,
//! runs conversations until SIGTERM / Ctrl-C, then drains them.

use std::collections::HashMap;
use std::process::ExitCode;

use brain_worker::Config;

fn main() -> ExitCode {
    probes::process::init_logging("info");
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
    let bus = bus::Bus::connect_with(&config.nats_url, &config.worker_id, &config.nats).await?;
    let grace = config.shutdown_grace;
    let brain = brain_worker::start(config, bus).await?;
    probes::process::shutdown_signal().await;
    tracing::info!(active_calls = brain.active_calls(), "shutting down, draining calls");
    brain.stop(grace).await;
    Ok(())
}
