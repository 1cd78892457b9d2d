//! Deepgram live streaming speech-to-text over WebSocket: mu-law 8 kHz audio goes straight in as
//! binary frames; JSON `Results` messages come back with interim and final transcripts.
//!
//! Protocol: `GET wss://api.deepgram.com/v1/listen?encoding=mulaw&sample_rate=8000&...` with
//! `Authorization: Token <key>`; client text messages `{"type":"KeepAlive"}`,
//! `{"type":"Finalize"}` and `{"type":"CloseStream"}`; server `Results` carry `is_final`,
//! `speech_final` and `from_finalize`, plus `Metadata`, `SpeechStarted` and `UtteranceEnd`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{SttContext, SttInput, SttOutput, SttProvider, SttStream};
use crate::retry::{with_retries, Attempt, RetryPolicy};

/// Deepgram closes a stream that gets no audio for 10 s; keep it alive well before that.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(4);
/// How long to wait for the last results after `CloseStream`.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Consecutive dropped sessions (each reconnected) before giving up.
const MAX_RECONNECTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepgramConfig {
    pub api_key: String,
    /// `wss://api.deepgram.com` in production.
    pub base_url: String,
    pub model: String,
    /// Deepgram's own endpointing silence (ms) for `speech_final`.
    pub endpointing_ms: u64,
    /// Send `KeepAlive` when no audio went out for this long ([`DEFAULT_KEEP_ALIVE`]).
    pub keep_alive: Duration,
    pub retry: RetryPolicy,
}

pub struct DeepgramStt {
    config: DeepgramConfig,
}

impl DeepgramStt {
    pub fn new(config: DeepgramConfig) -> DeepgramStt {
        DeepgramStt { config }
    }
}

impl SttProvider for DeepgramStt {
    fn name(&self) -> &'static str {
        "deepgram"
    }

    fn start(&self, context: SttContext) -> SttStream {
        let (input, input_receiver) = mpsc::unbounded_channel();
        let (output_sender, output) = mpsc::unbounded_channel();
        tokio::spawn(run_call(self.config.clone(), context, input_receiver, output_sender));
        SttStream { input, output }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug)]
struct ConnectError {
    message: String,
    retryable: bool,
}

fn listen_url(config: &DeepgramConfig) -> String {
    let base = config.base_url.trim_end_matches('/');
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("encoding", "mulaw")
        .append_pair("sample_rate", "8000")
        .append_pair("channels", "1")
        .append_pair("interim_results", "true")
        .append_pair("punctuate", "true")
        .append_pair("smart_format", "true")
        .append_pair("model", &config.model)
        .append_pair("endpointing", &config.endpointing_ms.to_string());
    format!("{base}/v1/listen?{}", query.finish())
}

async fn connect_once(config: &DeepgramConfig, attempt: u32) -> Attempt<Socket, ConnectError> {
    let mut request = match listen_url(config).into_client_request() {
        Ok(request) => request,
        Err(error) => {
            return Attempt::Fatal(ConnectError { message: format!("deepgram url: {error}"), retryable: false })
        }
    };
    let authorization = match HeaderValue::from_str(&format!("Token {}", config.api_key)) {
        Ok(value) => value,
        Err(_) => {
            return Attempt::Fatal(ConnectError {
                message: "deepgram api key is not a valid header".into(),
                retryable: false,
            })
        }
    };
    request.headers_mut().insert("Authorization", authorization);
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _response)) => Attempt::Done(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status();
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let message = format!("deepgram http {}: {}", status.as_u16(), body.chars().take(300).collect::<String>());
            tracing::debug!(attempt, status = status.as_u16(), "deepgram handshake refused");
            if status.as_u16() == 429 || status.is_server_error() {
                Attempt::Retry(ConnectError { message, retryable: true }, None)
            } else {
                Attempt::Fatal(ConnectError { message, retryable: false })
            }
        }
        Err(error) => {
            tracing::debug!(attempt, %error, "deepgram connect failed");
            Attempt::Retry(ConnectError { message: format!("deepgram connect: {error}"), retryable: true }, None)
        }
    }
}

enum SessionEnd {
    /// The call closed the stream (or stopped listening): done.
    Finished,
    /// The connection broke; reconnect.
    Dropped(String),
    /// The service reported an error it will not recover from.
    Failed(String),
}

async fn run_call(
    config: DeepgramConfig,
    context: SttContext,
    mut input: mpsc::UnboundedReceiver<SttInput>,
    output: mpsc::UnboundedSender<SttOutput>,
) {
    let mut reconnects = 0u32;
    let mut replay = Replay::default();
    loop {
        let socket = match with_retries(config.retry, |attempt| connect_once(&config, attempt)).await {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(call_id = %context.call_id, error = %error.message, "deepgram unavailable");
                let _ = output.send(SttOutput::Failed { message: error.message, retryable: error.retryable });
                return;
            }
        };
        tracing::debug!(call_id = %context.call_id, "deepgram connected");
        let mut session = Session { replay: std::mem::take(&mut replay), ..Session::default() };
        let end = session.run(socket, config.keep_alive, &mut input, &output).await;
        replay = std::mem::take(&mut session.replay);
        match end {
            SessionEnd::Finished => return,
            SessionEnd::Failed(message) => {
                tracing::warn!(call_id = %context.call_id, %message, "deepgram error");
                let _ = output.send(SttOutput::Failed { message, retryable: false });
                return;
            }
            SessionEnd::Dropped(reason) => {
                reconnects = if session.got_results { 1 } else { reconnects + 1 };
                if reconnects > MAX_RECONNECTS {
                    let message = format!("deepgram kept dropping the stream: {reason}");
                    tracing::warn!(call_id = %context.call_id, %message, "deepgram gave up");
                    let _ = output.send(SttOutput::Failed { message, retryable: true });
                    return;
                }
                tracing::warn!(call_id = %context.call_id, %reason, reconnects, "deepgram stream dropped, reconnecting");
            }
        }
    }
}

/// Audio sent but not yet covered by a final result, re-sent after a reconnect so a dropped
/// connection loses no words.
#[derive(Default)]
struct Replay {
    frames: std::collections::VecDeque<(bytes::Bytes, u64)>,
    /// `Finalize` was sent and its result has not come back.
    finalize_pending: bool,
}

/// Longest audio kept for replay (60 s of 20 ms frames).
const MAX_REPLAY_FRAMES: usize = 3_000;

/// One WebSocket connection's worth of recognition.
#[derive(Default)]
struct Session {
    replay: Replay,
    /// Call time of the first audio sent on this connection; Deepgram's times count from it.
    origin_ms: Option<u64>,
    /// Final segments of the utterance in progress.
    segments: Vec<Segment>,
    got_results: bool,
}

struct Segment {
    text: String,
    confidence: f32,
    start_ms: u64,
    end_ms: u64,
}

#[derive(Debug, Deserialize)]
struct ServerMessage {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    is_final: bool,
    #[serde(default)]
    speech_final: bool,
    #[serde(default)]
    from_finalize: bool,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    duration: f64,
    channel: Option<Channel>,
    description: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    #[serde(default)]
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Deserialize)]
struct Alternative {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    confidence: f32,
}

impl Session {
    async fn run(
        &mut self,
        mut socket: Socket,
        keep_alive_every: Duration,
        input: &mut mpsc::UnboundedReceiver<SttInput>,
        output: &mpsc::UnboundedSender<SttOutput>,
    ) -> SessionEnd {
        // Re-send what a dropped connection may have lost.
        let pending: Vec<(bytes::Bytes, u64)> = self.replay.frames.iter().cloned().collect();
        for (audio, timestamp_ms) in pending {
            self.origin_ms.get_or_insert(timestamp_ms);
            if let Err(error) = socket.send(Message::Binary(audio)).await {
                return SessionEnd::Dropped(format!("replay: {error}"));
            }
        }
        if self.replay.finalize_pending {
            if let Err(error) = socket.send(control("Finalize")).await {
                return SessionEnd::Dropped(format!("replay: {error}"));
            }
        }
        let mut keep_alive = tokio::time::interval(keep_alive_every.max(Duration::from_millis(10)));
        keep_alive.tick().await;
        let mut sent_audio_since_tick = false;
        let mut closing_deadline: Option<tokio::time::Instant> = None;
        loop {
            let deadline = closing_deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                message = input.recv(), if closing_deadline.is_none() => {
                    let outgoing = match message {
                        Some(SttInput::Audio { mulaw, timestamp_ms }) => {
                            self.origin_ms.get_or_insert(timestamp_ms);
                            sent_audio_since_tick = true;
                            self.replay.frames.push_back((mulaw.clone(), timestamp_ms));
                            if self.replay.frames.len() > MAX_REPLAY_FRAMES {
                                self.replay.frames.pop_front();
                            }
                            Message::Binary(mulaw)
                        }
                        Some(
                            SttInput::UtteranceStart { .. }
                            | SttInput::Context { .. }
                            | SttInput::Paused { .. }
                            | SttInput::Resumed { .. },
                        ) => continue,
                        Some(SttInput::UtteranceEnd { .. }) => {
                            self.replay.finalize_pending = true;
                            control("Finalize")
                        }
                        Some(SttInput::Close) | None => {
                            closing_deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                            control("CloseStream")
                        }
                    };
                    if let Err(error) = socket.send(outgoing).await {
                        return SessionEnd::Dropped(format!("send: {error}"));
                    }
                }
                _ = keep_alive.tick(), if closing_deadline.is_none() => {
                    if !sent_audio_since_tick {
                        if let Err(error) = socket.send(control("KeepAlive")).await {
                            return SessionEnd::Dropped(format!("keepalive: {error}"));
                        }
                    }
                    sent_audio_since_tick = false;
                }
                _ = tokio::time::sleep_until(deadline), if closing_deadline.is_some() => {
                    self.flush(output);
                    return SessionEnd::Finished;
                }
                incoming = socket.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(end) = self.handle_text(&text, output) {
                            return end;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None if closing_deadline.is_some() => {
                        self.flush(output);
                        return SessionEnd::Finished;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        self.flush(output);
                        let reason = frame.map(|frame| format!("{} {}", u16::from(frame.code), frame.reason)).unwrap_or_default();
                        return SessionEnd::Dropped(format!("closed by deepgram: {reason}"));
                    }
                    None => {
                        self.flush(output);
                        return SessionEnd::Dropped("connection ended".into());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        self.flush(output);
                        if closing_deadline.is_some() {
                            return SessionEnd::Finished;
                        }
                        return SessionEnd::Dropped(format!("receive: {error}"));
                    }
                },
            }
        }
    }

    fn handle_text(&mut self, text: &str, output: &mpsc::UnboundedSender<SttOutput>) -> Option<SessionEnd> {
        let message: ServerMessage = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "deepgram sent a message that is not json");
                return None;
            }
        };
        match message.kind.as_str() {
            "Results" => {
                self.got_results = true;
                let alternative = message.channel.as_ref().and_then(|channel| channel.alternatives.first())?;
                let transcript = alternative.transcript.trim();
                if !message.is_final {
                    if !transcript.is_empty() {
                        let mut text: Vec<&str> = self.segments.iter().map(|segment| segment.text.as_str()).collect();
                        text.push(transcript);
                        let _ = output.send(SttOutput::Interim { text: text.join(" ") });
                    }
                    return None;
                }
                if !transcript.is_empty() {
                    let origin = self.origin_ms.unwrap_or(0);
                    self.segments.push(Segment {
                        text: transcript.to_string(),
                        confidence: alternative.confidence,
                        start_ms: origin + seconds_to_ms(message.start),
                        end_ms: origin + seconds_to_ms(message.start + message.duration),
                    });
                }
                if message.from_finalize {
                    self.replay.finalize_pending = false;
                }
                if message.speech_final || message.from_finalize {
                    let covered_until_ms =
                        self.origin_ms.unwrap_or(0) + seconds_to_ms(message.start + message.duration);
                    while self.replay.frames.front().is_some_and(|(_, timestamp_ms)| *timestamp_ms < covered_until_ms) {
                        self.replay.frames.pop_front();
                    }
                    self.flush(output);
                }
                None
            }
            "UtteranceEnd" => {
                self.flush(output);
                None
            }
            "Error" => {
                let description = message.description.or(message.message).unwrap_or_else(|| text.to_string());
                Some(SessionEnd::Failed(format!("deepgram error: {description}")))
            }
            _ => None,
        }
    }

    /// Report the utterance gathered so far as one final transcript.
    fn flush(&mut self, output: &mpsc::UnboundedSender<SttOutput>) {
        if self.segments.is_empty() {
            return;
        }
        let segments = std::mem::take(&mut self.segments);
        let text = segments.iter().map(|segment| segment.text.as_str()).collect::<Vec<_>>().join(" ");
        let confidence = segments.iter().map(|segment| segment.confidence).sum::<f32>() / segments.len() as f32;
        let start_ms = segments.first().map_or(0, |segment| segment.start_ms);
        let end_ms = segments.last().map_or(0, |segment| segment.end_ms);
        let _ = output.send(SttOutput::Final { text, confidence: Some(confidence), start_ms, end_ms });
    }
}

fn control(kind: &str) -> Message {
    Message::Text(format!("{{\"type\":\"{kind}\"}}").into())
}

fn seconds_to_ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}
