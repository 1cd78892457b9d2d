//! `GET /v1/calls/{call_id}/recording`: the call's stereo WAV (callee left, agent right),
//! streamed from the bus's `recordings` object bucket.
//!
//! Why the bus: the media worker that wrote the recording runs in another pod than the gateway
//! answering this request, and its `RECORDINGS_DIR` is pod-local. When a call ends the worker
//! stores the finished WAV in a NATS JetStream object store (bucket `recordings`, kept for
//! `RECORDING_RETENTION_DAYS`); any gateway can read it from there. The body is streamed in
//! chunks of at most [`CHUNK_BYTES`] as they arrive from NATS, never held whole in memory, and a
//! chunk that does not arrive within [`CHUNK_TIMEOUT`] ends the response.
//!
//! Answers: 200 `audio/wav` with its `Content-Length`; 404 `not_found` (no such call) or 404
//! `no_recording` (recording is off, the call never connected, the recording is still being
//! stored, or it is past its retention).

use super::authorize;
use super::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use protocol::calls::CallRecord;
use protocol::version::decode_json;
use protocol::{subjects, CallId};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Largest chunk read from the store and written to the client at once.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// How long the stream waits for the next chunk from the store.
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(30);

/// The call a path names, or 404. Used by the recording and transcript routes.
pub(crate) async fn existing_call(state: &AppState, raw_call_id: &str) -> Result<(CallId, CallRecord), ApiError> {
    if !CallId::is_subject_safe(raw_call_id) {
        return Err(ApiError::not_found("no such call"));
    }
    let call_id = CallId::from(raw_call_id);
    let calls = state.bus.kv(subjects::KV_CALLS).await?;
    let Some(entry) = calls.get(call_id.as_str()).await? else {
        return Err(ApiError::not_found("no such call"));
    };
    match decode_json::<CallRecord>(&entry.value) {
        Ok(record) => Ok((call_id, record)),
        Err(error) => {
            tracing::warn!(call_id = %call_id, %error, "malformed call record");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_record", "the call record cannot be read"))
        }
    }
}

fn no_recording() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_recording",
        "this call has no recording: recording is off (RECORDINGS_DIR unset on the media worker), the call \
         never connected, it is still being stored, or it is past its retention",
    )
}

/// `GET /v1/calls/{call_id}/recording`.
pub async fn get_recording(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &request)?;
    let (call_id, _record) = existing_call(&state, &path).await?;
    let Some(store) = state.bus.open_object_store(subjects::OBJ_RECORDINGS).await? else {
        return Err(no_recording());
    };
    let name = subjects::recording_object(&call_id).map_err(|_| ApiError::not_found("no such call"))?;
    let Some(object) = store.get(&name).await? else { return Err(no_recording()) };
    let size = object.size;
    let chunks = futures_util::stream::unfold(
        (object.reader, vec![0u8; CHUNK_BYTES], call_id.clone()),
        |(mut reader, mut buffer, call_id)| async move {
            match tokio::time::timeout(CHUNK_TIMEOUT, reader.read(&mut buffer)).await {
                Ok(Ok(0)) => None,
                Ok(Ok(n)) => {
                    let chunk = Bytes::copy_from_slice(&buffer[..n]);
                    Some((Ok::<_, std::io::Error>(chunk), (reader, buffer, call_id)))
                }
                Ok(Err(error)) => {
                    tracing::warn!(call_id = %call_id, %error, "reading the recording from the bus failed");
                    Some((Err(error), (reader, buffer, call_id)))
                }
                Err(_) => {
                    tracing::warn!(call_id = %call_id, "the recording stalled on the bus");
                    let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "recording read timed out");
                    Some((Err(error), (reader, buffer, call_id)))
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header(("Content-Disposition", format!("inline; filename=\"{call_id}.wav\"")))
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("Accept-Ranges", "none"))
        .no_chunking(size)
        .streaming(chunks))
}
