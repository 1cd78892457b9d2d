//! `gymcall-loadgen`: plays Twilio from the outside against a running `gymcall up` (or gateway):
//! steps of N concurrent inbound calls, each a signed voice webhook and a Media Streams
//! WebSocket streaming callee WAVs in real time, with playback, marks and `clear`; prints per
//! step the calls, answers, reply latency, late frames and the server's CPU and RSS.

use anyhow::{bail, Context};
use clap::Parser;
use loadgen::audio::read_utterances;
use loadgen::callee::TurnSettings;
use loadgen::run::{run, LoadConfig, MAX_CALLS_PER_STEP, MAX_CALL_DURATION};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Load generator: plays Twilio (webhooks, Media Streams, playback) against a running gateway")]
struct Args {
    /// Where the gateway listens.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    gateway: String,
    /// The gateway's PUBLIC_BASE_URL, when it differs from --gateway (signatures cover it).
    #[arg(long)]
    public_url: Option<String>,
    /// The gateway's TWILIO_AUTH_TOKEN (requests are signed with it).
    #[arg(long, env = "TWILIO_AUTH_TOKEN")]
    auth_token: String,
    /// The number callers dial.
    #[arg(long, default_value = "+15005550006")]
    to: String,
    /// Concurrent calls of each step.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    steps: Vec<usize>,
    /// How long each line keeps calling in a step (seconds).
    #[arg(long, default_value_t = 60)]
    call_seconds: u64,
    /// Callee utterances (WAV), played in turn and looped; default: the repository's espeak-ng recordings.
    #[arg(long, num_args = 1..)]
    audio: Vec<PathBuf>,
    /// Agent silence after agent speech before the callee answers (ms).
    #[arg(long, default_value_t = 500)]
    turn_gap_ms: u64,
    /// An answer with no reply sound within this long counts as without reply (ms).
    #[arg(long, default_value_t = 6_000)]
    reply_timeout_ms: u64,
    /// Delay between call starts within a step (ms).
    #[arg(long, default_value_t = 50)]
    ramp_ms: u64,
    /// Pause between steps (seconds).
    #[arg(long, default_value_t = 5)]
    settle_seconds: u64,
    /// The server's process id: its CPU and RSS (children included) are read from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The fake provider's process id, to report its CPU apart.
    #[arg(long)]
    fake_pid: Option<u32>,
    /// Also write the figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The server's log, written with `RUST_LOG=...,reply_stages=debug`: after each step its
    /// replies are paired with the generator's own answer ends (end of speech -> transcript).
    #[arg(long)]
    server_log: Option<PathBuf>,
}

fn default_audio() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/audio"));
    ["callee-1-drop-in.wav", "callee-2-price.wav", "callee-3-schedule.wav"].iter().map(|name| dir.join(name)).collect()
}

/// `host:port` of an `http://` or `ws://` URL.
fn authority(url: &str) -> anyhow::Result<&str> {
    let rest = url.split_once("://").map(|(_, rest)| rest).context("--gateway needs a scheme (http://)")?;
    Ok(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    probes::process::init_logging("warn");
    let args = Args::parse();
    if args.steps.is_empty() || args.steps.iter().any(|&calls| calls == 0 || calls > MAX_CALLS_PER_STEP) {
        bail!("--steps: each step is 1 to {MAX_CALLS_PER_STEP} calls");
    }
    let call_duration = Duration::from_secs(args.call_seconds);
    if call_duration.is_zero() || call_duration > MAX_CALL_DURATION {
        bail!("--call-seconds: 1 to {}", MAX_CALL_DURATION.as_secs());
    }
    let audio = if args.audio.is_empty() { default_audio() } else { args.audio };
    let utterances = read_utterances(&audio)?;
    let connect_addr = match &args.public_url {
        Some(_) => {
            let authority = authority(&args.gateway)?;
            let addr = tokio::net::lookup_host(authority).await?.next();
            Some(addr.with_context(|| format!("cannot resolve {authority}"))?)
        }
        None => None,
    };
    let config = LoadConfig {
        public_url: args.public_url.unwrap_or_else(|| args.gateway.clone()),
        connect_addr,
        auth_token: args.auth_token,
        to_number: args.to,
        steps: args.steps,
        call_duration,
        ramp_per_call: Duration::from_millis(args.ramp_ms.min(10_000)),
        settle: Duration::from_secs(args.settle_seconds.min(3_600)),
        utterances: Arc::new(utterances),
        turn: TurnSettings {
            turn_gap: Duration::from_millis(args.turn_gap_ms.clamp(20, 10_000)),
            reply_timeout: Duration::from_millis(args.reply_timeout_ms.clamp(100, 120_000)),
        },
        server_pid: args.server_pid,
        fake_pid: args.fake_pid,
        server_log: args.server_log,
    };
    println!("gymcall-loadgen: {} -> {}", config.public_url, args.gateway);
    for utterance in config.utterances.iter() {
        println!("  callee utterance {} ({} ms of speech)", utterance.name, utterance.duration_ms());
    }
    let reports = run(&config, |report| print!("{report}")).await;
    if let Some(path) = &args.json {
        let document = serde_json::json!({
            "gateway": args.gateway,
            "call_seconds": args.call_seconds,
            "turn_gap_ms": config.turn.turn_gap.as_millis() as u64,
            "reply_timeout_ms": config.turn.reply_timeout.as_millis() as u64,
            "audio": config.utterances.iter().map(|u| serde_json::json!({ "name": u.name, "speech_ms": u.duration_ms() })).collect::<Vec<_>>(),
            "steps": reports,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&document)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
