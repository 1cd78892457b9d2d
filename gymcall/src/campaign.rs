//! `gymcall campaign gyms.csv`: reads a CSV or JSON list of gyms, queues one call per gym through
//! the gateway's REST API, shows progress while they run, and writes the results (CSV or JSON).
//!
//! Input columns / keys: `phone_number`, `gym_name` (required), `country`, `timezone`,
//! `preferred_language`, `playbook`, `not_before`, `calling_window` (optional). Mistakes are
//! reported with the row and column before anything is queued. Each call is queued with an
//! `Idempotency-Key` derived from the file's content and the row, so running the same file
//! again follows the same calls instead of placing new ones.

use serde_json::Value;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use protocol::gym_list::{fingerprint, is_e164, GymRow, ListError, COLUMNS};

/// Reads a CSV gym list (header row first).
pub fn parse_csv(text: &str) -> Result<Vec<GymRow>, CampaignError> {
    protocol::gym_list::parse_csv(text).map_err(CampaignError::List)
}

/// Reads a JSON gym list: an array of objects with the column names as keys.
pub fn parse_json(text: &str) -> Result<Vec<GymRow>, CampaignError> {
    protocol::gym_list::parse_json(text).map_err(CampaignError::List)
}

/// `gymcall campaign` arguments.
#[derive(clap::Args, Debug)]
pub struct CampaignArgs {
    /// The gym list: a `.csv` file with a header row, or a `.json` array of objects.
    pub input: PathBuf,
    /// Where to write the results (`.csv` or `.json`; default: `<input>.results.csv`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Base URL of the gateway's REST API.
    #[arg(long, env = "GYMCALL_API_URL", default_value = "http://127.0.0.1:8000")]
    pub api: String,
    /// Bearer token (the gateway's API_TOKEN).
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds between progress checks.
    #[arg(long, default_value_t = 2)]
    pub poll_s: u64,
    /// Give up waiting after this many seconds (the calls go on; the results show where they stand).
    #[arg(long)]
    pub timeout_s: Option<u64>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub api_url: String,
    pub token: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Option<Duration>,
}

/// Why a campaign could not run.
#[derive(Debug)]
pub enum CampaignError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every mistake found in the list.
    List(Vec<ListError>),
    Api(String),
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            CampaignError::List(errors) => {
                write!(f, "the gym list has {} problem(s):", errors.len())?;
                for error in errors {
                    write!(f, "\n  {error}")?;
                }
                Ok(())
            }
            CampaignError::Api(message) => write!(f, "{message}"),
            CampaignError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for CampaignError {}

/// Reads a gym list, CSV or JSON by extension (JSON also when the text starts with `[`).
pub fn read_gyms(path: &Path) -> Result<(Vec<GymRow>, String), CampaignError> {
    let text = std::fs::read_to_string(path).map_err(|source| CampaignError::Read { path: path.to_owned(), source })?;
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) || text.trim_start().starts_with('[');
    let gyms = if json { parse_json(&text)? } else { parse_csv(&text)? };
    if gyms.is_empty() {
        return Err(CampaignError::List(vec![ListError {
            row: 0,
            column: None,
            message: "the list has no gyms".into(),
        }]));
    }
    Ok((gyms, text))
}

/// Where one gym's call stands.
#[derive(Clone, Debug)]
pub struct GymCall {
    pub gym: GymRow,
    pub call_id: Option<String>,
    /// The call as `GET /v1/calls/{id}` last showed it, or the refusal.
    pub call: Option<Value>,
    pub rejected: Option<String>,
}

impl GymCall {
    fn status(&self) -> &str {
        if self.rejected.is_some() {
            return "rejected";
        }
        self.call.as_ref().and_then(|c| c["status"].as_str()).unwrap_or("queued")
    }

    fn is_final(&self) -> bool {
        matches!(self.status(), "completed" | "failed" | "canceled" | "rejected")
    }
}

/// How the campaign went.
#[derive(Debug)]
pub struct CampaignReport {
    pub calls: Vec<GymCall>,
    /// False when the timeout came first.
    pub all_final: bool,
    pub output: PathBuf,
}

fn api_error(body: &Value, status: reqwest::StatusCode) -> (String, Option<String>) {
    let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
    (format!("{status}: {message}"), body["error"]["field"].as_str().map(str::to_owned))
}

/// Runs a campaign: queue every gym, follow them to the end (or the timeout), write the results.
/// Progress lines go to `progress`.
pub async fn run_campaign(
    options: &CampaignOptions,
    progress: &mut (dyn Write + Send),
) -> Result<CampaignReport, CampaignError> {
    let (gyms, text) = read_gyms(&options.input)?;
    let key_prefix = format!("campaign-{}", fingerprint(&text));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| CampaignError::Api(format!("http client: {e}")))?;
    let api = options.api_url.trim_end_matches('/').to_owned();
    let with_token = |request: reqwest::RequestBuilder| match &options.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let _ = writeln!(progress, "queueing {} calls through {api}", gyms.len());
    let mut calls = Vec::new();
    for gym in gyms {
        let request = with_token(http.post(format!("{api}/v1/calls")))
            .header("Idempotency-Key", format!("{key_prefix}-{}", gym.row))
            .json(&Value::Object(gym.fields.clone()));
        let response = request.send().await.map_err(|e| CampaignError::Api(format!("cannot reach {api}: {e}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CampaignError::Api("the gateway refused the API token (set API_TOKEN or --token)".into()));
        }
        if status.is_success() {
            let call_id = body["call_id"].as_str().map(str::to_owned);
            calls.push(GymCall { gym, call_id, call: None, rejected: None });
        } else {
            let (message, field) = api_error(&body, status);
            let error = ListError { row: gym.row, column: field, message };
            let _ = writeln!(progress, "rejected: {error}");
            calls.push(GymCall { gym, call_id: None, call: None, rejected: Some(error.to_string()) });
        }
    }
    let deadline = options.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last_line = String::new();
    loop {
        for call in calls.iter_mut().filter(|c| !c.is_final()) {
            let Some(call_id) = &call.call_id else { continue };
            let response = with_token(http.get(format!("{api}/v1/calls/{call_id}"))).send().await;
            match response {
                Ok(response) if response.status().is_success() => {
                    if let Ok(body) = response.json::<Value>().await {
                        call.call = Some(body);
                    }
                }
                Ok(response) => {
                    let _ = writeln!(
                        progress,
                        "row {}: gateway answered {} for call {call_id}",
                        call.gym.row,
                        response.status()
                    );
                }
                Err(error) => {
                    let _ = writeln!(progress, "cannot reach the gateway: {error}");
                }
            }
        }
        let line = progress_line(&calls);
        if line != last_line {
            let _ = writeln!(progress, "{line}");
            last_line = line;
        }
        let all_final = calls.iter().all(GymCall::is_final);
        let timed_out = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        if all_final || timed_out {
            if timed_out && !all_final {
                let _ = writeln!(progress, "timeout: writing results with the calls as they stand");
            }
            write_results(&options.output, &calls)?;
            let _ = writeln!(progress, "results written to {}", options.output.display());
            return Ok(CampaignReport { calls, all_final, output: options.output.clone() });
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

fn progress_line(calls: &[GymCall]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for call in calls {
        *counts.entry(call.status()).or_default() += 1;
    }
    let done = calls.iter().filter(|c| c.is_final()).count();
    let parts: Vec<String> = counts.iter().map(|(status, n)| format!("{status} {n}")).collect();
    format!("[{done}/{} done] {}", calls.len(), parts.join(", "))
}

/// One result per gym, as JSON ([`protocol::gym_list::result_row`]).
pub fn result_json(call: &GymCall) -> Value {
    protocol::gym_list::result_row(
        &call.gym,
        call.call_id.as_deref(),
        call.status(),
        call.call.as_ref(),
        call.rejected.clone(),
    )
}

/// Writes the results as JSON (`.json`) or CSV (anything else; one column per result field).
pub fn write_results(path: &Path, calls: &[GymCall]) -> Result<(), CampaignError> {
    let write_error = |source| CampaignError::Write { path: path.to_owned(), source };
    let results: Vec<Value> = calls.iter().map(result_json).collect();
    let text = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        serde_json::to_string_pretty(&results).map_err(|e| write_error(std::io::Error::other(e)))? + "\n"
    } else {
        protocol::gym_list::results_csv(&results)
    };
    std::fs::write(path, text).map_err(write_error)
}

/// `gymcall campaign`: the CLI entry point.
pub async fn run(args: CampaignArgs) -> anyhow::Result<()> {
    let output = args.output.clone().unwrap_or_else(|| {
        let mut name = args.input.file_stem().map(|s| s.to_os_string()).unwrap_or_default();
        name.push(".results.csv");
        args.input.with_file_name(name)
    });
    let options = CampaignOptions {
        input: args.input,
        output,
        api_url: args.api,
        token: args.token,
        poll_interval: Duration::from_secs(args.poll_s.max(1)),
        timeout: args.timeout_s.map(Duration::from_secs),
    };
    let mut stderr = std::io::stderr();
    let report = run_campaign(&options, &mut stderr).await?;
    let failed = report.calls.iter().filter(|c| matches!(c.status(), "failed" | "rejected")).count();
    eprintln!("{} calls, {failed} failed or rejected; results in {}", report.calls.len(), report.output.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_results_as_csv_and_json() {
        let dir = std::env::temp_dir().join(format!("gymcall-campaign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gym = |row: usize, name: &str| GymRow {
            row,
            fields: [("phone_number", format!("+1415555010{row}")), ("gym_name", name.to_owned())]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        };
        let calls = vec![
            GymCall {
                gym: gym(1, "Mat, Inc"),
                call_id: Some("c_1".into()),
                call: Some(
                    json!({"status":"completed","attempt_count":2,"call_sid":"CA1","result":{"outcome":"completed","fields":{"drop_in_price":{"value":"$25"},"mat_fee":{"value":null}}}}),
                ),
                rejected: None,
            },
            GymCall {
                gym: gym(2, "B"),
                call_id: None,
                call: None,
                rejected: Some("row 2, column timezone: bad".into()),
            },
        ];
        let csv = dir.join("out.csv");
        write_results(&csv, &calls).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "row,phone_number,gym_name,call_id,status,attempts,call_sid,error,outcome,drop_in_price,mat_fee"
        );
        assert_eq!(lines[1], "1,+14155550101,\"Mat, Inc\",c_1,completed,2,CA1,,completed,$25,");
        assert!(lines[2].starts_with("2,+14155550102,B,,rejected,0,,\"row 2, column timezone: bad\""));
        let json_path = dir.join("out.json");
        write_results(&json_path, &calls).unwrap();
        let parsed: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert_eq!(parsed[0]["fields"]["drop_in_price"]["value"], "$25");
        assert_eq!(parsed[1]["status"], "rejected");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn idempotency_keys_follow_the_content() {
        assert_eq!(fingerprint("a,b\n"), fingerprint("a,b\n"));
        assert_ne!(fingerprint("a,b\n"), fingerprint("a,c\n"));
    }
}

/// The whole path: a CSV of 20 gyms queued through a real gateway's REST API, placed by the
/// dialer against the fake Twilio, followed to the end, results written.
#[cfg(test)]
mod stack_tests {
    use super::*;
    use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig, Outcome};
    use std::collections::HashMap;

    #[actix_rt::test]
    async fn campaign_of_20_gyms_from_csv_to_results() {
        let nats = testkit::NatsServer::start().await.unwrap();
        let twilio = FakeTwilio::start(FakeTwilioConfig {
            auth_token: "campaign-twilio-token".into(),
            step_delay: Duration::from_millis(20),
            answered_call_duration: Duration::from_millis(100),
            ..FakeTwilioConfig::default()
        })
        .await
        .unwrap();
        let port = testkit::free_port().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut config = gateway::Config::for_tests(&base, twilio.auth_token(), &nats.url());
        config.listen_addr = format!("127.0.0.1:{port}");
        config.api_token = Some("campaign-token".into());
        let gateway = gateway::start(config, bus::Bus::connect(&nats.url(), "gateway").await.unwrap()).await.unwrap();
        let env: HashMap<String, String> = [
            ("TWILIO_ACCOUNT_SID", twilio.account_sid().to_owned()),
            ("TWILIO_AUTH_TOKEN", twilio.auth_token().to_owned()),
            ("TWILIO_FROM_NUMBER", "+15005550006".to_owned()),
            ("TWILIO_API_BASE", twilio.base_url()),
            ("PUBLIC_BASE_URL", base.clone()),
            ("CALLING_WINDOW", "00:00-24:00".to_owned()),
            ("RETRY_BUSY_S", "1".to_owned()),
            ("RETRY_NO_ANSWER_S", "1".to_owned()),
            ("RETRY_MACHINE_S", "1".to_owned()),
            ("SHUTDOWN_GRACE_S", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let dialer = dialer::start(
            dialer::Config::from_env(&env).unwrap(),
            bus::Bus::connect(&nats.url(), "dialer").await.unwrap(),
        )
        .await
        .unwrap();

        let dir = std::env::temp_dir().join(format!("gymcall-stack-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut csv = String::from("phone_number,gym_name,timezone\n");
        for i in 0..20 {
            let number = format!("+1720555{:04}", 3000 + i);
            let script = match i % 5 {
                0 => vec![Outcome::Busy, Outcome::Answer],
                1 => vec![Outcome::NoAnswer],
                2 => vec![Outcome::Machine, Outcome::Answer],
                _ => vec![Outcome::Answer],
            };
            twilio.script(&number, script);
            csv.push_str(&format!("{number},Gym {i},America/Denver\n"));
        }
        // One row the gateway refuses: the campaign goes on and reports it.
        csv.push_str("+17205559999,Bad Zone Gym,America/Atlantis\n");
        let input = dir.join("gyms.csv");
        std::fs::write(&input, &csv).unwrap();
        let options = CampaignOptions {
            input,
            output: dir.join("results.json"),
            api_url: base.clone(),
            token: Some("campaign-token".into()),
            poll_interval: Duration::from_millis(200),
            timeout: Some(Duration::from_secs(90)),
        };
        let mut progress = Vec::new();
        let report = run_campaign(&options, &mut progress).await.unwrap();
        assert!(report.all_final);
        let results: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&options.output).unwrap()).unwrap();
        assert_eq!(results.len(), 21);
        for (i, result) in results.iter().take(20).enumerate() {
            let (status, attempts) = match i % 5 {
                0 | 2 => ("completed", 2),
                1 => ("failed", 3),
                _ => ("completed", 1),
            };
            assert_eq!(
                (result["status"].as_str(), result["attempts"].as_u64()),
                (Some(status), Some(attempts)),
                "{result}"
            );
        }
        assert_eq!(results[20]["status"], "rejected");
        assert!(results[20]["error"].as_str().unwrap().contains("row 21, column timezone"), "{}", results[20]);
        let progress = String::from_utf8(progress).unwrap();
        assert!(progress.contains("[21/21 done]"), "{progress}");
        // Running the same file again follows the same calls: nothing new is placed.
        let placed = twilio.created_calls().len();
        let again = run_campaign(&options, &mut Vec::new()).await.unwrap();
        assert_eq!(
            again.calls.iter().map(|c| c.call_id.clone()).collect::<Vec<_>>(),
            report.calls.iter().map(|c| c.call_id.clone()).collect::<Vec<_>>()
        );
        assert_eq!(twilio.created_calls().len(), placed);
        dialer.stop().await.unwrap();
        gateway.stop().await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
