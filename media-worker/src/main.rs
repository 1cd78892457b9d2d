//! The `media-worker` binary: reads its configuration from the environment, connects to NATS,
//! takes calls until SIGTERM / Ctrl-C, then drains them.

use std::collections::HashMap;
use std::process::ExitCode;

use media_worker::Config;

fn main() -> ExitCode {
    probes::process::limit_malloc_arenas();
    probes::process::init_logging("info");
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match Config::from_env(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("media-worker: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    // The embedded Whisper recogniser when chosen or installed, else as `speech` configures; the
    // Piper voice likewise (flite when it is not installed or cannot load).
    let providers = match whisper_stt::providers_from_config(&config.speech) {
        Ok(providers) => piper_tts::with_piper_voice(&config.speech, providers),
        Err(error) => {
            eprintln!("media-worker: speech providers: {error}");
            return ExitCode::from(2);
        }
    };
    let system = actix_rt::System::new();
    let result = system.block_on(run(config, providers));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("media-worker: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, providers: speech::Providers) -> anyhow::Result<()> {
    let bus = bus::Bus::connect_with(&config.nats_url, &config.worker_id, &config.nats).await?;
    let worker = media_worker::start(config, bus, providers).await?;
    probes::process::shutdown_signal().await;
    tracing::info!(active_calls = worker.active_calls(), "shutting down, draining calls");
    worker.stop().await;
    Ok(())
}
