//! `gymcall results --follow`: subscribes to `results.>` on NATS and prints each result.

use anyhow::Context;
use protocol::results::CallResult;

#[derive(clap::Args)]
pub struct ResultsArgs {
    /// Keep printing results as they arrive (otherwise: print the next one and exit).
    #[arg(long)]
    pub follow: bool,
    /// Print each result as one line of JSON (default: a readable summary plus the JSON).
    #[arg(long)]
    pub json: bool,
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222", hide_env_values = true)]
    pub nats_url: String,
}

/// A short human-readable summary of a result.
pub fn summary(result: &CallResult) -> String {
    let mut out = format!("call {} ({}): {:?}\n", result.call_id, result.playbook, result.outcome);
    for (name, field) in &result.fields {
        out.push_str(&format!("  {name:<18} {:<15} {}\n", format!("{:?}", field.status).to_lowercase(), field.value));
    }
    let replies = &result.latency.voice_to_voice_ms;
    if !replies.is_empty() {
        let mut sorted = replies.clone();
        sorted.sort_unstable();
        out.push_str(&format!(
            "  voice to voice: median {} ms, slowest {} ms over {} replies (callee stops talking -> agent audio)\n",
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1],
            sorted.len()
        ));
    }
    out
}

pub async fn run(args: ResultsArgs) -> anyhow::Result<()> {
    let bus = bus::Bus::connect(&args.nats_url, "gymcall-results")
        .await
        .with_context(|| format!("cannot connect to NATS at {}", probes::redact_url(&args.nats_url)))?;
    let mut results = bus.subscribe(protocol::subjects::RESULTS_ALL).await?;
    bus.flush().await?;
    eprintln!("waiting for results on {} ...", protocol::subjects::RESULTS_ALL);
    while let Some(message) = results.next().await {
        match protocol::version::decode_json::<CallResult>(&message.payload) {
            Ok(result) => {
                if args.json {
                    println!("{}", serde_json::to_string(&result)?);
                } else {
                    println!("{}{}", summary(&result), serde_json::to_string_pretty(&result)?);
                }
            }
            Err(error) => eprintln!("skipping a malformed result on {}: {error}", message.subject),
        }
        if !args.follow {
            break;
        }
    }
    Ok(())
}
