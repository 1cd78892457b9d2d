//! `GET /v1/calls/{call_id}/transcript`: the call's transcript from its result on the call
//! record (KV `calls`), as JSON, or as text (`[mm:ss.mmm] agent: ...` lines, the format of the
//! media worker's transcript file) when the `Accept` header prefers `text/plain`.
//!
//! 404 `not_found`: no such call; 404 `no_transcript`: the call has no result yet (still
//! queued or live, or it ended before the brain reported).

use super::authorize;
use super::error::ApiError;
use super::recording::existing_call;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::results::{Speaker, TranscriptTurn};
use serde_json::json;

/// True when `Accept` asks for `text/plain` before (or without) any JSON type.
fn wants_text(request: &HttpRequest) -> bool {
    let accept = request.headers().get("Accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    for media_range in accept.split(',') {
        let mut parts = media_range.split(';');
        let media_type = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused =
            parts.any(|p| matches!(p.trim().replace(' ', "").as_str(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        if refused {
            continue;
        }
        match media_type.as_str() {
            "text/plain" | "text/*" => return true,
            "application/json" | "application/*" | "*/*" => return false,
            _ => {}
        }
    }
    false
}

/// One transcript line as text: `[mm:ss.mmm] agent: text` (` (interrupted)` when cut).
pub fn text_line(turn: &TranscriptTurn) -> String {
    let who = match turn.speaker {
        Speaker::Agent => "agent",
        Speaker::Callee => "callee",
    };
    let at_ms = turn.at_ms;
    let cut = if turn.interrupted { " (interrupted)" } else { "" };
    format!("[{:02}:{:02}.{:03}] {who}: {}{cut}\n", at_ms / 60_000, at_ms / 1000 % 60, at_ms % 1000, turn.text)
}

/// `GET /v1/calls/{call_id}/transcript`.
pub async fn get_transcript(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let (call_id, record) = existing_call(&state, &path).await?;
    let Some(result) = record.result.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_transcript",
            format!(
                "the call has no transcript yet (status {})",
                serde_json::to_string(&record.status).unwrap_or_default()
            ),
        ));
    };
    if wants_text(&request) {
        let text: String = result.transcript.iter().map(text_line).collect();
        return Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(text));
    }
    Ok(HttpResponse::Ok().json(json!({
        "call_id": call_id,
        "status": record.status,
        "turns": result.transcript,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn text_is_chosen_only_when_accept_prefers_it() {
        let with =
            |accept: &str| wants_text(&TestRequest::default().insert_header(("Accept", accept)).to_http_request());
        assert!(with("text/plain"));
        assert!(with("text/plain, application/json"));
        assert!(!with("application/json, text/plain"));
        assert!(!with("*/*"));
        assert!(!with("text/plain;q=0, application/json"));
        assert!(!wants_text(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn a_turn_reads_like_the_recording_transcript_file() {
        let turn = TranscriptTurn {
            speaker: Speaker::Callee,
            text: "twenty dollars".into(),
            at_ms: 61_234,
            interrupted: false,
        };
        assert_eq!(text_line(&turn), "[01:01.234] callee: twenty dollars\n");
    }
}
