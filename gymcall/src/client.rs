//! `gymcall call` and `gymcall calls`: the REST API of a running gateway.

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Where the gateway is and how to authenticate.
#[derive(clap::Args)]
pub struct ApiArgs {
    /// Base URL of the gateway's REST API.
    #[arg(long, env = "GYMCALL_API_URL", default_value = "http://127.0.0.1:8000")]
    pub api: String,
    /// Bearer token (the gateway's API_TOKEN).
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(clap::Args)]
pub struct CallArgs {
    /// E.164 phone number, e.g. +15551234567.
    pub phone_number: String,
    /// The gym's name, as the agent will say it.
    pub gym_name: String,
    /// IANA timezone of the gym (e.g. America/Denver).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Playbook id (default: the gateway's default, gym-dropin).
    #[arg(long)]
    pub playbook: Option<String>,
    /// ISO country code.
    #[arg(long)]
    pub country: Option<String>,
    /// Do not call before this time (RFC 3339).
    #[arg(long)]
    pub not_before: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only calls in this status (queued, dialing, in_progress, completed, failed ...).
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

fn authorized(request: reqwest::RequestBuilder, api: &ApiArgs) -> reqwest::RequestBuilder {
    match &api.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

async fn read_reply(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no error message");
        let field = body["error"]["field"].as_str().map(|f| format!(" (field {f})")).unwrap_or_default();
        bail!("gateway answered {status}: {message}{field}");
    }
    Ok(body)
}

pub async fn call(args: CallArgs) -> anyhow::Result<()> {
    let mut body = json!({ "phone_number": args.phone_number, "gym_name": args.gym_name });
    for (key, value) in [
        ("timezone", &args.timezone),
        ("playbook", &args.playbook),
        ("country", &args.country),
        ("not_before", &args.not_before),
    ] {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    let url = format!("{}/v1/calls", args.api.api.trim_end_matches('/'));
    let request = authorized(reqwest::Client::new().post(&url).json(&body), &args.api);
    let response = request.send().await.with_context(|| format!("cannot reach the gateway at {url}"))?;
    let reply = read_reply(response).await?;
    println!(
        "queued call {} (status {}); follow it with `gymcall results --follow`",
        reply["call_id"].as_str().unwrap_or("?"),
        reply["status"].as_str().unwrap_or("?")
    );
    Ok(())
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let mut url = format!("{}/v1/calls?limit={}", args.api.api.trim_end_matches('/'), args.limit);
    if let Some(status) = &args.status {
        url.push_str(&format!("&status={status}"));
    }
    let request = authorized(reqwest::Client::new().get(&url), &args.api);
    let response = request.send().await.with_context(|| format!("cannot reach the gateway at {url}"))?;
    let reply = read_reply(response).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        return Ok(());
    }
    let calls = reply["calls"].as_array().cloned().unwrap_or_default();
    if calls.is_empty() {
        println!("no calls");
    }
    for call in calls {
        println!(
            "{:<36} {:<16} {:<30} attempts {}",
            call["call_id"].as_str().unwrap_or("?"),
            call["status"].as_str().unwrap_or("?"),
            call["gym_name"].as_str().or(call["request"]["gym_name"].as_str()).unwrap_or(""),
            call["attempts"].as_array().map(|a| a.len()).or(call["attempts"].as_u64().map(|n| n as usize)).unwrap_or(0),
        );
    }
    Ok(())
}
