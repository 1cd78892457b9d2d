//! Campaigns from the console: a CSV upload (the columns of `gymcall campaign`, read by
//! [`protocol::gym_list`]) queues one call per gym through the REST API's own logic; a page per
//! campaign shows its progress live and exports its results as CSV or JSON (the table
//! `gymcall campaign` writes). Campaigns are kept in the KV bucket [`KV_CAMPAIGNS`].

use super::error::ConsoleError;
use super::html::{csrf_field, escape, page, see_other};
use super::session::Session;
use super::{read_session_form, require_session, ConsoleState, MAX_CAMPAIGN_ROWS, MAX_UPLOAD_BYTES};
use crate::rest::calls::{call_json, load, queue_call};
use crate::rest::{validate, RestState};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::calls::CallRecord;
use protocol::gym_list::{self, GymRow};
use protocol::version::{decode_json, encode_json};
use protocol::{CallId, BUS_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// KV bucket of the console's campaigns.
pub const KV_CAMPAIGNS: &str = "console_campaigns";
/// Most campaigns the list shows.
const LIST_MAX: usize = 100;

/// One gym of a campaign and the call queued for it (or why none was).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignRow {
    pub row: usize,
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub call_id: Option<CallId>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A campaign as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignRecord {
    pub v: u32,
    pub campaign_id: String,
    pub name: String,
    pub created_at: String,
    pub rows: Vec<CampaignRow>,
}

/// Where one row stands: its status and the call as `GET /v1/calls/{id}` shows it.
struct RowState {
    status: String,
    call: Option<Value>,
}

impl RowState {
    fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "canceled" | "rejected")
    }
}

async fn row_states(state: &AppState, campaign: &CampaignRecord) -> Result<Vec<RowState>, ConsoleError> {
    let calls = state.bus.kv(protocol::subjects::KV_CALLS).await?;
    let mut states = Vec::with_capacity(campaign.rows.len());
    for row in &campaign.rows {
        let record_opt: Option<CallRecord> = match &row.call_id {
            Some(call_id) => load(&calls, call_id).await?.map(|(record, _)| record),
            None => None,
        };
        let state = match (&row.error, record_opt) {
            (Some(_), _) => RowState { status: "rejected".into(), call: None },
            (None, Some(record)) => {
                let call = call_json(&record);
                RowState { status: call["status"].as_str().unwrap_or("unknown").to_owned(), call: Some(call) }
            }
            (None, None) => RowState { status: "unknown".into(), call: None },
        };
        states.push(state);
    }
    Ok(states)
}

fn gym_row(row: &CampaignRow) -> GymRow {
    GymRow { row: row.row, fields: row.fields.clone() }
}

fn upload_form(session: &Session, name: &str, csv: &str, errors: &[String]) -> String {
    let errors = if errors.is_empty() {
        String::new()
    } else {
        let items: String = errors.iter().take(50).map(|e| format!("<li>{}</li>", escape(e))).collect();
        format!(
            r#"<div class="error" role="alert" id="upload-errors"><p>The list was not queued: {} problem(s).</p><ul>{items}</ul></div>"#,
            errors.len()
        )
    };
    format!(
        r#"{errors}<form method="post" action="/console/campaigns" class="card" id="campaign-form">{csrf}
<p>A CSV file with a header row: <code>phone_number</code> and <code>gym_name</code>, and optionally {optional}
(the columns of <code>gymcall campaign</code>). At most {MAX_CAMPAIGN_ROWS} gyms and {max_kib} KiB.</p>
<label for="name">Campaign name (optional)</label>
<input id="name" name="name" maxlength="100" value="{name}">
<label for="csv_file">CSV file</label>
<input id="csv_file" type="file" accept=".csv,text/csv" data-fills="csv">
<label for="csv">CSV text (filled from the file, or paste it)</label>
<textarea id="csv" name="csv" rows="8" required>{csv}</textarea>
<button type="submit">Queue the calls</button>
</form>"#,
        csrf = csrf_field(session),
        optional = gym_list::COLUMNS.iter().skip(2).map(|c| format!("<code>{c}</code>")).collect::<Vec<_>>().join(", "),
        max_kib = MAX_UPLOAD_BYTES / 1024,
        name = escape(name),
        csv = escape(csv),
    )
}

/// `GET /console/campaigns/new`.
pub async fn new_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    Ok(page(StatusCode::OK, "Upload a campaign", Some(&session), &upload_form(&session, "", "", &[])))
}

/// `POST /console/campaigns`: reads the list (every mistake named by row and column, nothing
/// queued when there is one), queues each gym as `POST /v1/calls` would, with the same
/// `Idempotency-Key` as `gymcall campaign` (the same file queued twice follows the same calls),
/// stores the campaign and opens its page.
pub async fn upload(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    rest: web::Data<RestState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ConsoleError> {
    let (session, form) = read_session_form(&state, &console, &request, payload, MAX_UPLOAD_BYTES).await?;
    let name: String = form.get("name").map(|n| n.trim().chars().take(100).collect()).unwrap_or_default();
    let csv = form.get("csv").cloned().unwrap_or_default();
    let refuse = |status: StatusCode, errors: Vec<String>| {
        page(status, "Upload a campaign", Some(&session), &upload_form(&session, &name, &csv, &errors))
    };
    let gyms = match gym_list::parse_csv(&csv) {
        Ok(gyms) if gyms.is_empty() => {
            return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, vec!["the list has no gyms".into()]))
        }
        Ok(gyms) if gyms.len() > MAX_CAMPAIGN_ROWS => {
            let message = format!("the list has {} gyms; at most {MAX_CAMPAIGN_ROWS} are taken at once", gyms.len());
            return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, vec![message]));
        }
        Ok(gyms) => gyms,
        Err(errors) => {
            return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, errors.iter().map(ToString::to_string).collect()))
        }
    };
    let key_prefix = format!("campaign-{}", gym_list::fingerprint(&csv));
    let mut rows = Vec::with_capacity(gyms.len());
    for gym in gyms {
        let body = serde_json::to_vec(&Value::Object(gym.fields.clone())).unwrap_or_default();
        let queued = match validate::call_request(&body, &rest.known_playbooks, &rest.default_playbook) {
            Ok(call_request) => {
                queue_call(&state, &rest, call_request, Some(format!("{key_prefix}-{}", gym.row))).await
            }
            Err(error) => Err(error),
        };
        let (call_id, error) = match queued {
            Ok((record, _)) => (Some(record.call_id), None),
            Err(error) if error.status.is_client_error() => {
                let column = error.field.as_deref().map(|f| format!(", column {f}")).unwrap_or_default();
                (None, Some(format!("row {}{column}: {}", gym.row, error.message)))
            }
            Err(error) => return Err(error.into()),
        };
        rows.push(CampaignRow { row: gym.row, fields: gym.fields, call_id, error });
    }
    let campaign_id = protocol::ids::random_sid("k_");
    let campaign = CampaignRecord {
        v: BUS_VERSION,
        campaign_id: campaign_id.clone(),
        name: if name.is_empty() { format!("{} gyms", rows.len()) } else { name.clone() },
        created_at: protocol::calls::now_rfc3339(),
        rows,
    };
    state.bus.kv(KV_CAMPAIGNS).await?.create(&campaign_id, encode_json(&campaign).into()).await?;
    tracing::info!(campaign_id = %campaign_id, gyms = campaign.rows.len(), "console campaign queued");
    Ok(see_other(&format!("/console/campaigns/{campaign_id}")))
}

async fn load_campaign(state: &AppState, raw_id: &str) -> Result<CampaignRecord, ConsoleError> {
    let not_found = || ConsoleError::NotFound("no such campaign".into());
    if !CallId::is_subject_safe(raw_id) {
        return Err(not_found());
    }
    let entry = state.bus.kv(KV_CAMPAIGNS).await?.get(raw_id).await?.ok_or_else(not_found)?;
    decode_json::<CampaignRecord>(&entry.value).map_err(|error| {
        tracing::warn!(campaign_id = raw_id, %error, "malformed campaign record");
        ConsoleError::Unavailable("the campaign record cannot be read".into())
    })
}

/// `GET /console/campaigns`: newest first.
pub async fn list_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    let bucket = state.bus.kv(KV_CAMPAIGNS).await?;
    let mut campaigns = Vec::new();
    for key in bucket.keys().await? {
        if let Some(entry) = bucket.get(&key).await? {
            if let Ok(campaign) = decode_json::<CampaignRecord>(&entry.value) {
                campaigns.push(campaign);
            }
        }
    }
    campaigns.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    campaigns.truncate(LIST_MAX);
    let body = if campaigns.is_empty() {
        r#"<p>No campaigns yet. <a href="/console/campaigns/new">Upload one</a>.</p>"#.to_owned()
    } else {
        let rows: String = campaigns
            .iter()
            .map(|c| {
                format!(
                    r#"<tr><td><a href="/console/campaigns/{id}">{name}</a></td><td>{created}</td><td>{count}</td></tr>"#,
                    id = escape(&c.campaign_id),
                    name = escape(&c.name),
                    created = escape(&c.created_at),
                    count = c.rows.len()
                )
            })
            .collect();
        format!(
            r#"<table class="calls"><caption>Campaigns, newest first</caption><thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Gyms</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    Ok(page(StatusCode::OK, "Campaigns", Some(&session), &body))
}

fn progress_json(campaign: &CampaignRecord, states: &[RowState]) -> Value {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for state in states {
        *counts.entry(state.status.as_str()).or_default() += 1;
    }
    let rows: Vec<Value> = campaign
        .rows
        .iter()
        .zip(states)
        .map(|(row, state)| {
            json!({
                "row": row.row,
                "status": state.status,
                "call_id": row.call_id,
                "outcome": state.call.as_ref().and_then(|c| c["result"]["outcome"].as_str()),
            })
        })
        .collect();
    json!({
        "total": states.len(),
        "done": states.iter().filter(|s| s.is_final()).count(),
        "counts": counts,
        "rows": rows,
    })
}

/// `GET /console/campaigns/{id}`: counts, a progress bar and one line per gym, updated live.
pub async fn campaign_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let session = require_session(&state, &console, &request)?;
    let campaign = load_campaign(&state, &path).await?;
    let states = row_states(&state, &campaign).await?;
    let progress = progress_json(&campaign, &states);
    let id = escape(&campaign.campaign_id);
    let total = states.len();
    let done = progress["done"].as_u64().unwrap_or(0);
    let counts: String = progress["counts"]
        .as_object()
        .map(|counts| {
            counts.iter().map(|(status, n)| format!("<li>{}: {n}</li>", escape(&status.replace('_', " ")))).collect()
        })
        .unwrap_or_default();
    let rows: String = campaign
        .rows
        .iter()
        .zip(&states)
        .map(|(row, row_state)| {
            let gym = gym_row(row);
            let call = match &row.call_id {
                Some(call_id) => format!(r#"<a href="/console/calls/{0}">{0}</a>"#, escape(call_id.as_str())),
                None => escape(row.error.as_deref().unwrap_or_default()),
            };
            format!(
                r#"<tr data-row="{n}"><td>{n}</td><td>{gym}</td><td>{number}</td><td class="row-status">{status}</td><td>{call}</td></tr>"#,
                n = row.row,
                gym = escape(gym.get("gym_name")),
                number = escape(gym.get("phone_number")),
                status = escape(&row_state.status.replace('_', " ")),
            )
        })
        .collect();
    let body = format!(
        r#"<section id="campaign" data-progress="/console/campaigns/{id}/progress" aria-labelledby="progress-label">
<p><span id="progress-label">Progress</span>: <span id="progress-text" aria-live="polite">{done} of {total} done</span></p>
<progress id="campaign-progress" max="{total}" value="{done}" aria-labelledby="progress-label"></progress>
<ul id="counts" class="counts">{counts}</ul>
<p>Results: <a id="export-csv" href="/console/campaigns/{id}/results.csv" download>CSV</a> · <a id="export-json" href="/console/campaigns/{id}/results.json" download>JSON</a></p>
<table class="calls"><caption>Gyms</caption><thead><tr><th scope="col">Row</th><th scope="col">Gym</th><th scope="col">Number</th><th scope="col">Status</th><th scope="col">Call</th></tr></thead><tbody>{rows}</tbody></table>
</section>"#
    );
    Ok(page(StatusCode::OK, &format!("Campaign: {}", campaign.name), Some(&session), &body))
}

/// `GET /console/campaigns/{id}/progress`: `{total, done, counts, rows}` for the page's script.
pub async fn progress(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    let campaign = load_campaign(&state, &path).await?;
    let states = row_states(&state, &campaign).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(progress_json(&campaign, &states)))
}

/// `GET /console/campaigns/{id}/results.csv` or `.json`: the table `gymcall campaign` writes.
pub async fn export(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    require_session(&state, &console, &request)?;
    let (raw_id, format) = path.into_inner();
    if format != "csv" && format != "json" {
        return Err(ConsoleError::NotFound("results come as .csv or .json".into()));
    }
    let campaign = load_campaign(&state, &raw_id).await?;
    let states = row_states(&state, &campaign).await?;
    let results: Vec<Value> = campaign
        .rows
        .iter()
        .zip(&states)
        .map(|(row, row_state)| {
            gym_list::result_row(
                &gym_row(row),
                row.call_id.as_ref().map(CallId::as_str),
                &row_state.status,
                row_state.call.as_ref(),
                row.error.clone(),
            )
        })
        .collect();
    let (content_type, body) = if format == "json" {
        ("application/json", serde_json::to_string_pretty(&results).unwrap_or_default() + "\n")
    } else {
        ("text/csv; charset=utf-8", gym_list::results_csv(&results))
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!(r#"attachment; filename="campaign-{}-results.{format}""#, campaign.campaign_id),
        ))
        .body(body))
}
