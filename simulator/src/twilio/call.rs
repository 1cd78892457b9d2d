//! One simulated call, played the way Twilio plays it: a signed voice webhook, the TwiML read,
//! a signed WebSocket upgrade, `connected` / `start` / `media` every 20 ms of media time (paced by
//! absolute deadlines, scaled by `time_scale`), the app's audio played back at 8000 samples/s with
//! marks echoed when reached and `clear` honoured, then `stop`.

use super::audio::{CalleeAudio, FRAME_BYTES, FRAME_MS};
use super::playback::{ClearRecord, MarkEchoRecord, Playback};
use futures_util::{SinkExt, StreamExt};
use protocol::ids::random_sid;
use protocol::twilio::media_streams::{
    encode_inbound_media_into, Connected, Dtmf, MarkEcho, MediaFormat, Start, Stop, Track,
};
use protocol::twilio::signature::compute_signature;
use protocol::twilio::twiml::{read_connect_stream, read_says, StreamInstruction, TwimlReadError};
use protocol::twilio::webhook::FormParams;
use protocol::twilio::{decode_outbound, InboundMessage, OutboundMessage};
use protocol::{AccountSid, CallSid, StreamSid};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// When each 20 ms frame is due: `start + n × 20 ms × time_scale`, computed from the frame
/// number every time, so lateness of one frame never shifts the next (no drift).
#[derive(Clone, Copy, Debug)]
pub struct FrameClock {
    start: Instant,
    frame_duration: Duration,
}

impl FrameClock {
    pub fn new(start: Instant, time_scale: f64) -> Self {
        let scale = if time_scale.is_finite() { time_scale.max(0.0) } else { 1.0 };
        FrameClock { start, frame_duration: Duration::from_secs_f64(FRAME_MS as f64 / 1000.0 * scale) }
    }

    /// The wall-clock deadline of frame `index` (0-based).
    pub fn deadline(&self, index: u64) -> Instant {
        let nanos = self.frame_duration.as_nanos().saturating_mul(u128::from(index));
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// The header Twilio signs requests with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// How to place the call.
#[derive(Clone, Debug)]
pub struct CallOptions {
    /// The voice webhook URL as configured in Twilio (what gets signed), query included
    /// (e.g. `https://gw.example.com/v1/twilio/voice?call_id=c_1`).
    pub voice_url: String,
    /// Send HTTP and WebSocket traffic here instead of the URL's host (a TLS-terminating proxy
    /// in front of the gateway); signatures still cover the public URLs.
    pub connect_addr: Option<SocketAddr>,
    pub auth_token: String,
    pub account_sid: String,
    pub call_sid: String,
    pub from: String,
    pub to: String,
    /// `outbound-api` or `inbound`.
    pub direction: String,
    /// 1.0 = real time, 0.5 = twice as fast, 0 = as fast as possible.
    pub time_scale: f64,
    /// Write what the callee heard here (16-bit 8 kHz WAV).
    pub record_wav: Option<PathBuf>,
    /// After the callee's audio ends: hang up once nothing has arrived for this long and
    /// nothing is left to play.
    pub drain_idle: Duration,
    /// Hang up at this media time whatever happens.
    pub max_media_ms: u64,
    /// Keep the agent's audio in the report (`received_audio`, `heard`); a load generator
    /// running hundreds of calls turns it off to stay small.
    pub keep_audio: bool,
}

impl CallOptions {
    /// Defaults: a fresh CallSid, outbound-api, real time, 500 ms drain, 10 minutes at most.
    pub fn new(voice_url: impl Into<String>, auth_token: impl Into<String>) -> Self {
        CallOptions {
            voice_url: voice_url.into(),
            connect_addr: None,
            auth_token: auth_token.into(),
            account_sid: random_sid("AC"),
            call_sid: random_sid("CA"),
            from: "+15005550006".into(),
            to: "+15005550001".into(),
            direction: "outbound-api".into(),
            time_scale: 1.0,
            record_wav: None,
            drain_idle: Duration::from_millis(500),
            max_media_ms: 600_000,
            keep_audio: true,
        }
    }
}

/// Something that happened on the call, reported as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEvent {
    /// The WebSocket is open and `start` was sent.
    Started { stream_sid: String },
    /// App audio arrived (not yet played).
    AgentAudio { media_time_ms: u64, bytes: usize },
    /// A mark was echoed.
    Mark(MarkEchoRecord),
    /// A `clear` arrived.
    Clear(ClearRecord),
    /// The app closed the WebSocket.
    ServerClosed { code: u16 },
}

/// What happened on the call.
#[derive(Clone, Debug, Default)]
pub struct CallReport {
    pub twiml: Option<StreamInstruction>,
    pub call_sid: String,
    pub stream_sid: String,
    /// Media frames sent (each 160 bytes).
    pub frames_sent: u64,
    /// App audio in the order it arrived.
    pub received_audio: Vec<u8>,
    /// The played timeline (silence where nothing was queued).
    pub heard: Vec<u8>,
    pub marks: Vec<MarkEchoRecord>,
    pub clears: Vec<ClearRecord>,
    /// Close code when the app closed the socket first.
    pub closed_by_server: Option<u16>,
    /// What Twilio speaks once the app closed the socket: the `<Say>`s after `</Connect>`, or
    /// those of the TwiML a `<Redirect>` there returns.
    pub said_after_stream: Vec<String>,
    /// Media time at hang-up.
    pub media_ms: u64,
    /// Outbound messages that did not decode.
    pub bad_outbound: u64,
}

/// Why the simulated call failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("voice webhook answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("twiml: {0}")]
    Twiml(#[from] TwimlReadError),
    #[error("websocket: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("bad url {0}")]
    Url(String),
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
}

impl From<tokio_tungstenite::tungstenite::Error> for SimError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        SimError::WebSocket(Box::new(error))
    }
}

/// `url` with its scheme and authority replaced by `addr` (plain http / ws) when `addr` is set.
pub fn transport_url(url: &str, addr: Option<SocketAddr>) -> Result<String, SimError> {
    let Some(addr) = addr else { return Ok(url.to_owned()) };
    let scheme_end = url.find("://").ok_or_else(|| SimError::Url(url.to_owned()))?;
    let scheme = match &url[..scheme_end] {
        "https" | "http" => "http",
        "wss" | "ws" => "ws",
        _ => return Err(SimError::Url(url.to_owned())),
    };
    let rest = &url[scheme_end + 3..];
    let tail = rest.find(['/', '?', '#']).map(|i| &rest[i..]).unwrap_or("");
    Ok(format!("{scheme}://{addr}{tail}"))
}

/// The form parameters Twilio posts to the voice webhook.
pub fn voice_webhook_params(options: &CallOptions) -> FormParams {
    let status = if options.direction == "inbound" { "ringing" } else { "in-progress" };
    FormParams(
        [
            ("AccountSid", options.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", options.call_sid.as_str()),
            ("CallStatus", status),
            ("Called", options.to.as_str()),
            ("Caller", options.from.as_str()),
            ("Direction", options.direction.as_str()),
            ("From", options.from.as_str()),
            ("To", options.to.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
    )
}

/// Posts a signed form webhook to `url` as Twilio does and returns (status, body).
pub async fn post_signed_form(
    client: &reqwest::Client,
    url: &str,
    connect_addr: Option<SocketAddr>,
    auth_token: &str,
    params: &FormParams,
) -> Result<(u16, String), SimError> {
    let signature = compute_signature(auth_token, url, params.pairs());
    let response = client
        .post(transport_url(url, connect_addr)?)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(SIGNATURE_HEADER, signature)
        .header("User-Agent", "TwilioProxy/1.1")
        .body(params.encode())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Places one call: webhook, TwiML, WebSocket, audio both ways, `stop`.
pub async fn place_call(
    options: &CallOptions,
    audio: &mut dyn CalleeAudio,
    events: Option<UnboundedSender<SimEvent>>,
) -> Result<CallReport, SimError> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    let params = voice_webhook_params(options);
    let (status, body) =
        post_signed_form(&client, &options.voice_url, options.connect_addr, &options.auth_token, &params).await?;
    if status != 200 {
        return Err(SimError::Status { status, body });
    }
    run_twiml(options, &body, audio, events).await
}

/// Runs the Media Stream that a voice webhook's TwiML asks for, when the webhook itself was
/// already posted (by the fake Twilio REST API, say): WebSocket, audio both ways, `stop`; and,
/// when the app closed the socket, the TwiML after `</Connect>` (its `<Say>`s, or a `<Redirect>`
/// fetched like Twilio does).
pub async fn run_twiml(
    options: &CallOptions,
    twiml: &str,
    audio: &mut dyn CalleeAudio,
    events: Option<UnboundedSender<SimEvent>>,
) -> Result<CallReport, SimError> {
    let instruction = read_connect_stream(twiml)?;
    let mut report = run_stream(options, &instruction, audio, events).await?;
    if report.closed_by_server.is_some() {
        report.said_after_stream = instruction.say_after.clone();
        if let Some(redirect) = &instruction.redirect_after {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
            let params = voice_webhook_params(options);
            let (status, body) =
                post_signed_form(&client, redirect, options.connect_addr, &options.auth_token, &params).await?;
            if status != 200 {
                return Err(SimError::Status { status, body });
            }
            let (says, _hangup) = read_says(&body)?;
            report.said_after_stream.extend(says);
        }
    }
    report.twiml = Some(instruction);
    if let Some(path) = &options.record_wav {
        super::audio::write_mulaw_wav(path, &report.heard)?;
    }
    Ok(report)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the Media Streams WebSocket for `stream_url` with a signed upgrade.
pub async fn open_stream_socket(
    stream_url: &str,
    connect_addr: Option<SocketAddr>,
    signature: Option<String>,
) -> Result<Ws, SimError> {
    let mut request = transport_url(stream_url, connect_addr)?.into_client_request()?;
    if let Some(signature) = signature {
        let value = HeaderValue::from_str(&signature).map_err(|_| SimError::Url("signature header".into()))?;
        request.headers_mut().insert(SIGNATURE_HEADER, value);
    }
    let (socket, _response) = tokio_tungstenite::connect_async(request).await?;
    Ok(socket)
}

struct Sender<'a> {
    ws: &'a mut Ws,
    sequence_number: u64,
}

impl Sender<'_> {
    async fn send(&mut self, text: String) -> Result<(), SimError> {
        self.ws.send(WsMessage::text(text)).await?;
        Ok(())
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence_number += 1;
        self.sequence_number
    }
}

async fn run_stream(
    options: &CallOptions,
    instruction: &StreamInstruction,
    audio: &mut dyn CalleeAudio,
    events: Option<UnboundedSender<SimEvent>>,
) -> Result<CallReport, SimError> {
    let emit = |event: SimEvent| {
        if let Some(events) = &events {
            let _ = events.send(event);
        }
    };
    let signature = compute_signature(&options.auth_token, &instruction.url, &[]);
    let mut ws = open_stream_socket(&instruction.url, options.connect_addr, Some(signature)).await?;
    let stream_sid = random_sid("MZ");
    let mut report =
        CallReport { call_sid: options.call_sid.clone(), stream_sid: stream_sid.clone(), ..Default::default() };
    let mut tx = Sender { ws: &mut ws, sequence_number: 0 };

    tx.send(InboundMessage::Connected(Connected { protocol: "Call".into(), version: "1.0.0".into() }).to_json())
        .await?;
    let start = Start {
        sequence_number: tx.next_sequence(),
        stream_sid: StreamSid::from(stream_sid.as_str()),
        account_sid: AccountSid::from(options.account_sid.as_str()),
        call_sid: CallSid::from(options.call_sid.as_str()),
        tracks: vec![Track::Inbound],
        media_format: MediaFormat::default(),
        custom_parameters: instruction.parameters.clone(),
    };
    tx.send(InboundMessage::Start(start).to_json()).await?;
    emit(SimEvent::Started { stream_sid: stream_sid.clone() });

    let mut playback = Playback::new();
    let mut chunk = 0u64;
    let mut tick_index = 0u64;
    let mut callee_done = false;
    let mut text = String::with_capacity(512);
    let mut played = [0u8; FRAME_BYTES];
    let mut decoded = Vec::with_capacity(1024);
    let clock = FrameClock::new(Instant::now(), options.time_scale);

    loop {
        let media_ms = tick_index * FRAME_MS;
        let tick_wanted = !callee_done || !playback.is_idle();
        if media_ms > options.max_media_ms {
            break;
        }
        let deadline = clock.deadline(tick_index);
        tokio::select! {
            biased;
            incoming = tx.ws.next() => {
                let text_in = match incoming {
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(WsMessage::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                        report.closed_by_server = Some(code);
                        emit(SimEvent::ServerClosed { code });
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "simulator websocket error");
                        report.closed_by_server = Some(1006);
                        emit(SimEvent::ServerClosed { code: 1006 });
                        break;
                    }
                    None => {
                        report.closed_by_server = Some(1006);
                        emit(SimEvent::ServerClosed { code: 1006 });
                        break;
                    }
                };
                match decode_outbound(text_in.as_str()) {
                    Ok(message) if message.stream_sid() != stream_sid => report.bad_outbound += 1,
                    Ok(message @ OutboundMessage::Media { .. }) => {
                        if message.decode_payload_into(&mut decoded).is_err() {
                            report.bad_outbound += 1;
                            continue;
                        }
                        audio.on_agent_audio_received(std::time::Instant::now(), &decoded);
                        if options.keep_audio {
                            report.received_audio.extend_from_slice(&decoded);
                        }
                        playback.push_audio(&decoded);
                        emit(SimEvent::AgentAudio { media_time_ms: media_ms, bytes: decoded.len() });
                    }
                    Ok(OutboundMessage::Mark { name, .. }) => playback.push_mark(&name, media_ms),
                    Ok(OutboundMessage::Clear { .. }) => {
                        let clear = playback.clear(media_ms);
                        emit(SimEvent::Clear(clear.clone()));
                        report.clears.push(clear);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "simulator got a bad message from the app");
                        report.bad_outbound += 1;
                    }
                }
                for echo in playback.take_echoes() {
                    send_mark_echo(&mut tx, &stream_sid, &echo).await?;
                    emit(SimEvent::Mark(echo.clone()));
                    report.marks.push(echo);
                }
            }
            _ = tokio::time::sleep_until(deadline), if tick_wanted => {
                if !callee_done {
                    while let Some(key) = audio.next_dtmf(media_ms) {
                        let dtmf = Dtmf {
                            sequence_number: tx.next_sequence(),
                            stream_sid: StreamSid::from(stream_sid.as_str()),
                            track: Track::Inbound,
                            digit: key.to_string(),
                        };
                        tx.send(InboundMessage::Dtmf(dtmf).to_json()).await?;
                    }
                    match audio.next_frame(media_ms) {
                        Some(frame) => {
                            chunk += 1;
                            let sequence = tx.next_sequence();
                            encode_inbound_media_into(&stream_sid, sequence, chunk, media_ms, &frame, &mut text);
                            tx.send(std::mem::take(&mut text)).await?;
                            audio.on_frame_sent(deadline.into_std(), std::time::Instant::now());
                            report.frames_sent += 1;
                        }
                        None => callee_done = true,
                    }
                }
                playback.play(media_ms, &mut played);
                if options.keep_audio {
                    report.heard.extend_from_slice(&played);
                }
                audio.on_agent_audio(media_ms, &played);
                for echo in playback.take_echoes() {
                    send_mark_echo(&mut tx, &stream_sid, &echo).await?;
                    emit(SimEvent::Mark(echo.clone()));
                    report.marks.push(echo);
                }
                tick_index += 1;
            }
            _ = tokio::time::sleep(options.drain_idle), if !tick_wanted => break,
        }
    }
    report.media_ms = tick_index * FRAME_MS;

    if report.closed_by_server.is_some() {
        return Ok(report);
    }
    let stop = Stop {
        sequence_number: tx.next_sequence(),
        stream_sid: StreamSid::from(stream_sid.as_str()),
        account_sid: AccountSid::from(options.account_sid.as_str()),
        call_sid: CallSid::from(options.call_sid.as_str()),
    };
    tx.send(InboundMessage::Stop(stop).to_json()).await?;
    let _ = tx
        .ws
        .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async { while let Some(Ok(_)) = tx.ws.next().await {} }).await;
    Ok(report)
}

async fn send_mark_echo(tx: &mut Sender<'_>, stream_sid: &str, echo: &MarkEchoRecord) -> Result<(), SimError> {
    let mark = MarkEcho {
        sequence_number: tx.next_sequence(),
        stream_sid: StreamSid::from(stream_sid),
        name: echo.name.clone(),
    };
    tx.send(InboundMessage::Mark(mark).to_json()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_deadlines_come_from_the_frame_number() {
        let start = Instant::now();
        let real_time = FrameClock::new(start, 1.0);
        assert_eq!(real_time.deadline(0), start);
        assert_eq!(real_time.deadline(50), start + Duration::from_secs(1));
        assert_eq!(real_time.deadline(180_000), start + Duration::from_secs(3600), "no drift after an hour");
        let double_speed = FrameClock::new(start, 0.5);
        assert_eq!(double_speed.deadline(100), start + Duration::from_secs(1));
        let fastest = FrameClock::new(start, 0.0);
        assert_eq!(fastest.deadline(1_000_000), start);
    }

    #[test]
    fn transport_url_keeps_path_and_query() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            transport_url("https://gw.example.com/v1/twilio/voice?call_id=c_1", Some(addr)).unwrap(),
            "http://127.0.0.1:9000/v1/twilio/voice?call_id=c_1"
        );
        assert_eq!(
            transport_url("wss://gw.example.com:443/v1/twilio/stream", Some(addr)).unwrap(),
            "ws://127.0.0.1:9000/v1/twilio/stream"
        );
        assert_eq!(transport_url("wss://gw.example.com/x", None).unwrap(), "wss://gw.example.com/x");
    }
}
