//! A fake OpenAI-compatible provider that answers at once, so the production speech and LLM
//! path can be measured without keys: `POST /v1/audio/transcriptions` (the next transcript of a
//! configured list: it cannot recognise, and the request carries no call identity, so the list
//! is served in turn across all calls), `POST /v1/audio/speech` (streamed 24 kHz PCM whose length
//! follows the text), `POST /v1/chat/completions` (streamed or not, the next reply of a list),
//! `GET /healthz` and `GET /stats` (requests served per route). Request bodies are capped.

pub mod chat;
pub mod voice;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use voice::Voice;

/// Largest transcription upload (a minute of 8 kHz 16-bit WAV is under 1 MiB).
pub const MAX_TRANSCRIPTION_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest JSON body (speech text, chat history).
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;
/// Longest `input` accepted by `/v1/audio/speech` (OpenAI's own limit).
pub const MAX_SPEECH_INPUT_CHARS: usize = 4_096;
/// Most entries in a transcript or reply list, and longest entry.
pub const MAX_LIST_ENTRIES: usize = 1_000;
pub const MAX_ENTRY_CHARS: usize = 2_000;

/// The transcripts served by default: what the repository's callee WAVs say, in their order.
pub const DEFAULT_TRANSCRIPTS: &[&str] = &[
    "yes we do drop ins for visitors",
    "a drop in class is thirty dollars",
    "we train monday and wednesday at six in the evening",
];

/// The agent's replies by default: questions, so that the conversation goes on.
pub const DEFAULT_REPLIES: &[&str] = &[
    "Thanks. Do you offer drop-in classes for visitors?",
    "Got it. How much is a drop-in class?",
    "Great. What days and times are the classes?",
    "Thank you. Is there a mat fee, or anything I should bring?",
];

/// How the fake answers.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    pub listen_addr: String,
    pub transcripts: Vec<String>,
    pub replies: Vec<String>,
    /// Speech length per character of text.
    pub speech_ms_per_char: u32,
    /// HTTP worker threads.
    pub workers: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            listen_addr: "127.0.0.1:0".into(),
            transcripts: DEFAULT_TRANSCRIPTS.iter().map(|s| (*s).to_owned()).collect(),
            replies: DEFAULT_REPLIES.iter().map(|s| (*s).to_owned()).collect(),
            speech_ms_per_char: 60,
            workers: 1,
        }
    }
}

/// Why the fake cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("{0} list is empty")]
    EmptyList(&'static str),
    #[error("{0} list has more than {MAX_LIST_ENTRIES} entries or an entry over {MAX_ENTRY_CHARS} characters")]
    ListTooLarge(&'static str),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

fn check_list(name: &'static str, list: &[String]) -> Result<(), FakeError> {
    if list.is_empty() {
        return Err(FakeError::EmptyList(name));
    }
    if list.len() > MAX_LIST_ENTRIES || list.iter().any(|entry| entry.chars().count() > MAX_ENTRY_CHARS) {
        return Err(FakeError::ListTooLarge(name));
    }
    Ok(())
}

/// Requests served, per route.
#[derive(Debug, Default, Serialize)]
pub struct Counters {
    pub transcriptions: AtomicU64,
    pub speech: AtomicU64,
    pub chat_streamed: AtomicU64,
    pub chat_plain: AtomicU64,
    pub refused: AtomicU64,
}

struct Shared {
    config: FakeConfig,
    voice: Voice,
    next_transcript: AtomicU64,
    next_reply: AtomicU64,
    counters: Counters,
}

impl Shared {
    fn next<'a>(counter: &AtomicU64, list: &'a [String]) -> &'a str {
        let index = counter.fetch_add(1, Ordering::Relaxed) as usize % list.len().max(1);
        list.get(index).map_or("", String::as_str)
    }
}

/// The running fake.
pub struct RunningFake {
    pub local_addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningFake {
    /// `http://ADDR`: the `OPENAI_BASE_URL` / `LLM_BASE_URL` to give the server.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops serving (requests in flight finish).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// Binds and serves on the current actix system.
pub async fn start(config: FakeConfig) -> Result<RunningFake, FakeError> {
    check_list("transcript", &config.transcripts)?;
    check_list("reply", &config.replies)?;
    let listen_addr = config.listen_addr.clone();
    let workers = config.workers.max(1);
    let shared = web::Data::new(Shared {
        config,
        voice: Voice::new(),
        next_transcript: AtomicU64::new(0),
        next_reply: AtomicU64::new(0),
        counters: Counters::default(),
    });
    let server = HttpServer::new(move || App::new().app_data(shared.clone()).configure(routes))
        .workers(workers)
        .disable_signals()
        .bind(&listen_addr)
        .map_err(|source| FakeError::Bind { addr: listen_addr.clone(), source })?;
    let local_addr = server.addrs().first().copied().ok_or_else(|| FakeError::Bind {
        addr: listen_addr.clone(),
        source: std::io::Error::other("no address bound"),
    })?;
    let server = server.run();
    let handle = server.handle();
    let task = actix_web::rt::spawn(server);
    Ok(RunningFake { local_addr, handle, task })
}

fn routes(config: &mut web::ServiceConfig) {
    let json_limit = web::PayloadConfig::new(MAX_JSON_BODY_BYTES);
    config
        .service(
            web::resource("/v1/audio/transcriptions")
                .app_data(web::PayloadConfig::new(MAX_TRANSCRIPTION_BODY_BYTES))
                .route(web::post().to(transcriptions)),
        )
        .service(web::resource("/v1/audio/speech").app_data(json_limit.clone()).route(web::post().to(speech_route)))
        .service(web::resource("/v1/chat/completions").app_data(json_limit).route(web::post().to(chat_completions)))
        .route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
        .route("/stats", web::get().to(stats));
}

fn refuse(shared: &Shared, message: impl Into<String>) -> HttpResponse {
    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    HttpResponse::BadRequest().json(json!({ "error": { "code": "invalid_request", "message": message.into() } }))
}

async fn transcriptions(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    // multipart: only check that a file part is there; what it says cannot be recognised here
    if !body.windows(11).any(|window| window == b"name=\"file\"") {
        return refuse(&shared, "multipart body without a file part");
    }
    shared.counters.transcriptions.fetch_add(1, Ordering::Relaxed);
    let text = Shared::next(&shared.next_transcript, &shared.config.transcripts);
    HttpResponse::Ok().json(json!({ "text": text }))
}

async fn speech_route(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else { return refuse(&shared, "body is not JSON") };
    let Some(input) = request.get("input").and_then(Value::as_str) else { return refuse(&shared, "input missing") };
    if input.chars().count() > MAX_SPEECH_INPUT_CHARS {
        return refuse(&shared, format!("input longer than {MAX_SPEECH_INPUT_CHARS} characters"));
    }
    match request.get("response_format").and_then(Value::as_str) {
        Some("pcm") => {}
        other => return refuse(&shared, format!("response_format {other:?}: this fake speaks pcm only")),
    }
    shared.counters.speech.fetch_add(1, Ordering::Relaxed);
    let audio = shared.voice.speak(input, shared.config.speech_ms_per_char);
    HttpResponse::Ok().content_type("audio/pcm").streaming(audio)
}

async fn chat_completions(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let request = match chat::read_request(&body) {
        Ok(request) => request,
        Err(error) => return refuse(&shared, error.to_string()),
    };
    let id = shared.next_reply.load(Ordering::Relaxed);
    let reply = Shared::next(&shared.next_reply, &shared.config.replies);
    let created_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if request.stream {
        shared.counters.chat_streamed.fetch_add(1, Ordering::Relaxed);
        let events = chat::stream_events(id, created_s, &request.model, reply);
        let body = futures_util::stream::iter(
            events.into_iter().map(|event| Ok::<_, std::convert::Infallible>(web::Bytes::from(event))),
        );
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("Cache-Control", "no-cache"))
            .streaming(body)
    } else {
        shared.counters.chat_plain.fetch_add(1, Ordering::Relaxed);
        HttpResponse::Ok().json(chat::completion(id, created_s, &request.model, reply))
    }
}

async fn stats(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(&shared.counters)
}

#[cfg(test)]
mod tests;
