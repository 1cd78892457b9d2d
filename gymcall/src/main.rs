//! `gymcall`: the one command a user starts with. `demo` runs a whole call offline in one
//! process, `up` runs every service in one process for real Twilio, and the rest talk to a
//! running deployment (REST API or NATS).

use gymcall::{campaign, client, demo, eval, personas, results, transcribe, up};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "gymcall", version, about = "AI phone agent that calls gyms and collects drop-in information")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one whole call offline: every service plus a simulated gym, in one process.
    Demo(demo::DemoArgs),
    /// Run every service in one process for real Twilio (no simulator).
    Up(up::UpArgs),
    /// Place a call through the REST API of a running gateway.
    Call(client::CallArgs),
    /// List calls known to a running gateway.
    Calls(client::ListArgs),
    /// Print call results from NATS as they arrive.
    Results(results::ResultsArgs),
    /// Queue calls for a CSV/JSON list of gyms, show progress, write the results.
    Campaign(campaign::CampaignArgs),
    /// Transcribe WAV files through the telephone band with the call's recogniser.
    Transcribe(transcribe::TranscribeArgs),
    /// Simulated receptionists for `eval`: `personas generate --seed S --count N --out DIR`.
    Personas(personas::PersonasArgs),
    /// Call every persona in a folder and report accuracy, dead air, endings and call length.
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    probes::process::limit_malloc_arenas();
    let cli = Cli::parse();
    probes::process::init_logging("warn");
    // The services' per-call actors need an actix System; its tokio runtime is multi-threaded
    // so the simulator, speech engines and HTTP clients run beside them.
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|error| {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1)
        })
    });
    let outcome = system.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Up(args) => up::run(args).await,
            Command::Call(args) => client::call(args).await,
            Command::Calls(args) => client::list(args).await,
            Command::Results(args) => results::run(args).await,
            Command::Campaign(args) => campaign::run(args).await,
            Command::Transcribe(args) => transcribe::run(args).await,
            Command::Personas(args) => personas::run(args).await,
            Command::Eval(args) => eval::run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
