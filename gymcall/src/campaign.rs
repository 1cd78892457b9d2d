//! `gymcall campaign gyms.csv`: reads a CSV or JSON list of gyms, queues one call per gym through
//! the gateway's REST API, shows progress while they run, and writes the results (CSV or JSON).
//!
//! Input columns / keys: `phone_number`, `gym_name` (required), `country`, `timezone`,
//! `preferred_language`, `playbook`, `not_before`, `calling_window` (optional). Mistakes are
//! reported with the row and column before anything is queued. Each call is queued with an
//! `Idempotency-Key` derived from the file's content and the row, so running the same file
//! again follows the same calls instead of placing new ones.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Columns a gym list may have: the fields of a call request.
pub const COLUMNS: &[&str] = protocol::calls::CallRequest::FIELDS;

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

/// A mistake in the gym list, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// 1-based data row (CSV: the header is row 0; JSON: array index + 1).
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "row {}, column {column}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

impl std::error::Error for ListError {}

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

/// One gym of the list: its row and the request fields (strings, empty ones left out).
#[derive(Clone, Debug, PartialEq)]
pub struct GymRow {
    pub row: usize,
    pub fields: Map<String, Value>,
}

impl GymRow {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or_default()
    }
}

/// Splits CSV text into records (RFC 4180: quoted fields, `""` escapes, CRLF or LF).
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, ListError> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut quote_started_row = 0usize;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                quote_started_row = records.len();
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(ListError {
            row: quote_started_row,
            column: None,
            message: "a quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    // Blank lines are not rows.
    Ok(records.into_iter().filter(|r| !(r.len() == 1 && r[0].trim().is_empty())).collect())
}

fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// Checks what can be checked before asking the gateway; collects every mistake.
fn check_rows(rows: &[GymRow]) -> Vec<ListError> {
    let mut errors = Vec::new();
    let mut numbers = std::collections::HashMap::new();
    for row in rows {
        let error = |column: &str, message: String| ListError { row: row.row, column: Some(column.into()), message };
        let phone = row.get("phone_number");
        if phone.is_empty() {
            errors.push(error("phone_number", "is empty".into()));
        } else if !is_e164(phone) {
            errors.push(error("phone_number", format!("{phone:?} is not an E.164 number such as +14155550123")));
        } else if let Some(first) = numbers.insert(phone.to_owned(), row.row) {
            errors.push(error("phone_number", format!("{phone} is already on row {first}")));
        }
        if row.get("gym_name").is_empty() {
            errors.push(error("gym_name", "is empty".into()));
        }
    }
    errors
}

/// Reads a CSV gym list (header row first).
pub fn parse_csv(text: &str) -> Result<Vec<GymRow>, CampaignError> {
    let records = csv_records(text.trim_start_matches('\u{feff}')).map_err(|e| CampaignError::List(vec![e]))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(CampaignError::List(vec![ListError { row: 0, column: None, message: "the file is empty".into() }]));
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let mut errors = Vec::new();
    for (index, name) in header.iter().enumerate() {
        if !COLUMNS.contains(&name.as_str()) {
            errors.push(ListError {
                row: 0,
                column: Some(name.clone()),
                message: format!("unknown column (column {}); known columns: {}", index + 1, COLUMNS.join(", ")),
            });
        }
    }
    for required in ["phone_number", "gym_name"] {
        if !header.iter().any(|h| h == required) {
            errors.push(ListError {
                row: 0,
                column: Some(required.into()),
                message: "the header has no such column".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(CampaignError::List(errors));
    }
    let mut gyms = Vec::new();
    for (index, record) in rows.iter().enumerate() {
        let row = index + 1;
        if record.len() != header.len() {
            errors.push(ListError {
                row,
                column: None,
                message: format!("has {} fields, the header has {}", record.len(), header.len()),
            });
            continue;
        }
        let mut fields = Map::new();
        for (name, value) in header.iter().zip(record) {
            let value = value.trim();
            if !value.is_empty() {
                fields.insert(name.clone(), Value::String(value.to_owned()));
            }
        }
        gyms.push(GymRow { row, fields });
    }
    errors.extend(check_rows(&gyms));
    if errors.is_empty() {
        Ok(gyms)
    } else {
        Err(CampaignError::List(errors))
    }
}

/// Reads a JSON gym list: an array of objects with the column names as keys.
pub fn parse_json(text: &str) -> Result<Vec<GymRow>, CampaignError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CampaignError::List(vec![ListError { row: 0, column: None, message: format!("not valid JSON: {e}") }])
    })?;
    let Value::Array(items) = value else {
        return Err(CampaignError::List(vec![ListError {
            row: 0,
            column: None,
            message: "expected a JSON array of gyms".into(),
        }]));
    };
    let mut errors = Vec::new();
    let mut gyms = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let row = index + 1;
        let Value::Object(object) = item else {
            errors.push(ListError { row, column: None, message: "is not an object".into() });
            continue;
        };
        let mut fields = Map::new();
        for (key, value) in object {
            if !COLUMNS.contains(&key.as_str()) {
                errors.push(ListError {
                    row,
                    column: Some(key),
                    message: format!("unknown key; known keys: {}", COLUMNS.join(", ")),
                });
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(text) if text.trim().is_empty() => {}
                Value::String(text) => {
                    fields.insert(key, Value::String(text.trim().to_owned()));
                }
                _ => errors.push(ListError { row, column: Some(key), message: "must be a string".into() }),
            }
        }
        gyms.push(GymRow { row, fields });
    }
    errors.extend(check_rows(&gyms));
    if errors.is_empty() {
        Ok(gyms)
    } else {
        Err(CampaignError::List(errors))
    }
}

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

/// FNV-1a, to derive stable idempotency keys from the list's content.
fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
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

fn result_field_names(calls: &[GymCall]) -> BTreeSet<String> {
    calls
        .iter()
        .filter_map(|c| c.call.as_ref()?.get("result")?.get("fields")?.as_object())
        .flat_map(|fields| fields.keys().cloned())
        .collect()
}

fn csv_escape(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn field_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One result per gym, as JSON.
pub fn result_json(call: &GymCall) -> Value {
    let view = call.call.as_ref();
    json!({
        "row": call.gym.row,
        "phone_number": call.gym.get("phone_number"),
        "gym_name": call.gym.get("gym_name"),
        "call_id": call.call_id,
        "status": call.status(),
        "attempts": view.and_then(|c| c["attempt_count"].as_u64()).unwrap_or(0),
        "call_sid": view.and_then(|c| c["call_sid"].as_str()),
        "error": call.rejected.clone().or_else(|| view.and_then(|c| c["last_error"].as_str()).map(str::to_owned)),
        "outcome": view.and_then(|c| c["result"]["outcome"].as_str()),
        "fields": view.and_then(|c| c["result"].get("fields")).cloned().unwrap_or(Value::Null),
    })
}

/// Writes the results as JSON (`.json`) or CSV (anything else; one column per result field).
pub fn write_results(path: &Path, calls: &[GymCall]) -> Result<(), CampaignError> {
    let write_error = |source| CampaignError::Write { path: path.to_owned(), source };
    let text = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let results: Vec<Value> = calls.iter().map(result_json).collect();
        serde_json::to_string_pretty(&results).map_err(|e| write_error(std::io::Error::other(e)))? + "\n"
    } else {
        let fields = result_field_names(calls);
        let mut header =
            vec!["row", "phone_number", "gym_name", "call_id", "status", "attempts", "call_sid", "error", "outcome"]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
        header.extend(fields.iter().cloned());
        let mut out = header.join(",") + "\n";
        for call in calls {
            let result = result_json(call);
            let mut cells: Vec<String> =
                ["row", "phone_number", "gym_name", "call_id", "status", "attempts", "call_sid", "error", "outcome"]
                    .iter()
                    .map(|k| field_text(&result[*k]))
                    .collect();
            for field in &fields {
                cells.push(field_text(&result["fields"][field]["value"]));
            }
            out.push_str(&cells.iter().map(|c| csv_escape(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
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

    #[test]
    fn reads_csv_with_quotes_and_optional_columns() {
        let text = "phone_number,gym_name,timezone\r\n+14155550123,\"Ten Point, SF\",America/Los_Angeles\r\n\n+13035550100,\"The \"\"Mat\"\" Room\",\n";
        let gyms = parse_csv(text).unwrap();
        assert_eq!(gyms.len(), 2);
        assert_eq!(gyms[0].get("gym_name"), "Ten Point, SF");
        assert_eq!(gyms[1].get("gym_name"), "The \"Mat\" Room");
        assert!(!gyms[1].fields.contains_key("timezone"), "empty cells are left out");
        assert_eq!(gyms[1].row, 2);
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        let CampaignError::List(errors) = parse_csv("phone,gym_name\n+14155550123,A\n").unwrap_err() else { panic!() };
        assert!(errors.iter().any(|e| e.row == 0 && e.column.as_deref() == Some("phone")));
        assert!(errors.iter().any(|e| e.column.as_deref() == Some("phone_number")));
        let text =
            "phone_number,gym_name\n+14155550123,A\n415-555-0100,B\n+14155550123,C\n+14155550199,\n+1415,D,extra\n";
        let CampaignError::List(errors) = parse_csv(text).unwrap_err() else { panic!() };
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"row 2, column phone_number: \"415-555-0100\" is not an E.164 number such as +14155550123".to_string()
            ),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("row 3, column phone_number") && s.contains("already on row 1")),
            "{shown:?}"
        );
        assert!(shown.contains(&"row 4, column gym_name: is empty".to_string()), "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("row 5: has 3 fields")), "{shown:?}");
        let CampaignError::List(errors) = parse_csv("phone_number,gym_name\n\"+1415,A\n").unwrap_err() else {
            panic!()
        };
        assert!(errors[0].message.contains("never closed"));
    }

    #[test]
    fn reads_json_and_names_bad_keys() {
        let gyms = parse_json(r#"[{"phone_number":"+14155550123","gym_name":"A","timezone":null},{"phone_number":"+14155550124","gym_name":"B","playbook":"gym-dropin"}]"#).unwrap();
        assert_eq!(gyms.len(), 2);
        assert_eq!(gyms[1].get("playbook"), "gym-dropin");
        let CampaignError::List(errors) = parse_json(r#"[{"phone_number":"+14155550123","gym_name":"A","city":"SF"},{"phone_number":4155550124,"gym_name":"B"},7]"#).unwrap_err() else { panic!() };
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(shown.iter().any(|s| s.starts_with("row 1, column city: unknown key")), "{shown:?}");
        assert!(shown.iter().any(|s| s == "row 2, column phone_number: must be a string"), "{shown:?}");
        assert!(shown.iter().any(|s| s == "row 3: is not an object"), "{shown:?}");
    }

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
