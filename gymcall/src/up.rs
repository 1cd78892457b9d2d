//! `gymcall up`: gateway, media worker, brain worker and dialer in one process on an in-process
//! bus, for local use with real Twilio. Configured by the same environment variables as the
//! separate services (`LISTEN_ADDR`, `PUBLIC_BASE_URL`, `TWILIO_*`, ...); stops gracefully on
//! Ctrl-C / SIGTERM.

use crate::stack::{Stack, StackOptions};
use anyhow::bail;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where call records, recordings and transcripts are kept.
    #[arg(long, env = "GYMCALL_DATA_DIR", default_value = "gymcall-data")]
    pub data_dir: PathBuf,
}

/// The variables `up` cannot run without, with what each is for.
const REQUIRED: &[(&str, &str)] = &[
    ("PUBLIC_BASE_URL", "the https URL Twilio reaches this machine at (a tunnel)"),
    ("TWILIO_ACCOUNT_SID", "your Twilio account"),
    ("TWILIO_AUTH_TOKEN", "your Twilio auth token (signatures and the REST API)"),
    ("TWILIO_FROM_NUMBER", "the Twilio number calls come from"),
    ("API_TOKEN", "the bearer token of this REST API"),
];

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|(name, _)| env.get(*name).is_none_or(|v| v.trim().is_empty()))
        .map(|(name, why)| format!("  {name}: {why}"))
        .collect();
    if !missing.is_empty() {
        bail!("gymcall up needs these environment variables:\n{}", missing.join("\n"));
    }
    let mut extra_env: Vec<(String, String)> = env.clone().into_iter().collect();
    if !env.contains_key("LISTEN_ADDR") {
        extra_env.push(("LISTEN_ADDR".into(), "0.0.0.0:8000".into()));
    }
    if !env.contains_key("RECORDINGS_DIR") {
        extra_env.push(("RECORDINGS_DIR".into(), args.data_dir.join("recordings").display().to_string()));
    }
    if !env.contains_key("MACHINE_DETECTION") {
        extra_env.push(("MACHINE_DETECTION".into(), "Enable".into()));
    }
    let stack = Stack::start(StackOptions {
        out_dir: args.data_dir.clone(),
        twilio_api_base: None,
        twilio_account_sid: env.get("TWILIO_ACCOUNT_SID").cloned().unwrap_or_default(),
        twilio_auth_token: env.get("TWILIO_AUTH_TOKEN").cloned().unwrap_or_default(),
        speech: None,
        extra_env,
    })
    .await?;
    eprintln!(
        "gymcall up: listening on {} (Twilio voice webhook: {}/v1/twilio/voice); data in {}",
        stack.api_base,
        env.get("PUBLIC_BASE_URL").map(String::as_str).unwrap_or(""),
        args.data_dir.display()
    );
    eprintln!("place a call with: gymcall call +15551234567 \"Gym name\" --timezone America/Denver");
    // a browser on this machine: 127.0.0.1 rather than the wildcard address (the console's cookie is
    // Secure, which browsers take over plain http only from localhost)
    let console_base = stack.api_base.replace("://0.0.0.0:", "://127.0.0.1:");
    eprintln!("or open the web console at {console_base}/console (log in with API_TOKEN)");
    probes::process::shutdown_signal().await;
    eprintln!("stopping: letting live calls finish ...");
    stack.stop().await;
    eprintln!("stopped");
    Ok(())
}
