//! A Media Streams `media` frame stamped half an hour ahead, replayed through the gateway to the
//! real media-worker binary recording the call: the recording grows by at most a couple of
//! seconds of silence, not by the half hour (57 MB), and the gateway counts the anomaly.

mod common;

use common::FakeBrain;
use protocol::brain::HeardEvent;
use protocol::twilio::media_streams::{encode_inbound_media_into, InboundMessage, MediaFormat, Start, Stop, Track};
use protocol::twilio::signature::compute_signature;
use protocol::{AccountSid, CallSid, StreamSid};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PUBLIC_BASE_URL: &str = "https://gw.example.test";
const AUTH_TOKEN: &str = "token-timestamps-1";

async fn ready_worker(nats_url: &str, recordings_dir: &std::path::Path) -> tokio::process::Child {
    let port = testkit::free_port().unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_media-worker"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NATS_URL", nats_url)
        .env("WORKER_ID", "w-rec")
        .env("MEDIA_ARBITERS", "1")
        .env("SHUTDOWN_GRACE_S", "0.5")
        .env("RECORDINGS_DIR", recordings_dir)
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("media-worker binary starts");
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if response.status() == 200 {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("media worker never became ready");
}

/// Twilio's side of the socket, written by hand: a signed upgrade, then masked text frames.
struct TwilioSocket(TcpStream);

impl TwilioSocket {
    async fn open(addr: std::net::SocketAddr) -> TwilioSocket {
        let signature = compute_signature(AUTH_TOKEN, "wss://gw.example.test/v1/twilio/stream", &[]);
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /v1/twilio/stream HTTP/1.1\r\nHost: gw.example.test\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             X-Twilio-Signature: {signature}\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(socket.read(&mut byte).await.unwrap(), 1, "upgrade answered");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        TwilioSocket(socket)
    }

    async fn send(&mut self, text: &str) {
        let mut frame = vec![0x81];
        match text.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]); // zero mask: the payload goes as it is
        frame.extend_from_slice(text.as_bytes());
        self.0.write_all(&frame).await.unwrap();
    }
}

#[actix_rt::test]
async fn a_media_timestamp_half_an_hour_ahead_costs_the_recording_at_most_two_seconds() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "test").await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;
    let recordings = tempfile::tempdir().unwrap();
    let _worker = ready_worker(&nats.url(), recordings.path()).await;
    let gateway = gateway::start(gateway::Config::for_tests(PUBLIC_BASE_URL, AUTH_TOKEN, &nats.url()), bus.clone())
        .await
        .unwrap();

    // the stream token the voice webhook gives Twilio for this call (the gateway checks it)
    let mut options =
        simulator::twilio::CallOptions::new(format!("{PUBLIC_BASE_URL}/v1/twilio/voice?call_id=c_jump"), AUTH_TOKEN);
    options.call_sid = "CAtimestampjump".into();
    options.connect_addr = Some(gateway.local_addr());
    let params = simulator::twilio::call::voice_webhook_params(&options);
    let (status, twiml) = simulator::twilio::call::post_signed_form(
        &reqwest::Client::new(),
        &options.voice_url,
        options.connect_addr,
        AUTH_TOKEN,
        &params,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{twiml}");
    let token = protocol::twilio::twiml::read_connect_stream(&twiml).unwrap().parameters["stream_token"].clone();

    let mut twilio = TwilioSocket::open(gateway.local_addr()).await;
    let stream_sid = "MZtimestampjump";
    let start = Start {
        sequence_number: 1,
        stream_sid: StreamSid::from(stream_sid),
        account_sid: AccountSid::from("AC00000000000000000000000000000000"),
        call_sid: CallSid::from("CAtimestampjump"),
        tracks: vec![Track::Inbound],
        media_format: MediaFormat::default(),
        custom_parameters: [("call_id".to_owned(), "c_jump".to_owned()), ("stream_token".to_owned(), token)].into(),
    };
    twilio.send(&InboundMessage::Start(start).to_json()).await;
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;

    let silence = [0xFFu8; 160];
    let mut text = String::new();
    let half_hour_ms = 30 * 60 * 1000;
    let mut frames = 0u64;
    for index in 0..101u64 {
        let timestamp_ms = if index == 50 { half_hour_ms } else { index * 20 };
        encode_inbound_media_into(stream_sid, index + 2, index + 1, timestamp_ms, &silence, &mut text);
        twilio.send(&text).await;
        frames += 1;
    }
    let stop = Stop {
        sequence_number: 200,
        stream_sid: StreamSid::from(stream_sid),
        account_sid: AccountSid::from("AC00000000000000000000000000000000"),
        call_sid: CallSid::from("CAtimestampjump"),
    };
    twilio.send(&InboundMessage::Stop(stop).to_json()).await;
    brain.wait_for(Duration::from_secs(30), |e| matches!(e, HeardEvent::CallEnded { .. })).await;

    // the WAV is finished when the call ends; give the file system a moment
    let wav = recordings.path().join("c_jump.wav");
    let mut size = 0;
    for _ in 0..50 {
        size = std::fs::metadata(&wav).map(|m| m.len()).unwrap_or(0);
        if size > 44 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stereo_bytes_per_ms = 8 * 2 * 2;
    let bound = frames * 20 * stereo_bytes_per_ms + 2_000 * stereo_bytes_per_ms + 4096;
    println!("recording {size} bytes for {frames} frames (bound {bound})");
    assert!(size > 44, "the call was recorded");
    assert!(size <= bound, "recording of {frames} frames is {size} bytes, more than {bound}: the jump was filled");
    assert_eq!(gateway.state().metrics.bad_messages("timestamp_jump"), 1, "the anomaly is counted");
    gateway.stop().await;
}
