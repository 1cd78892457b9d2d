//! `simulator`: place one simulated Twilio call against a running gateway.

use anyhow::Context;
use clap::Parser;
use simulator::twilio::{place_call, CallOptions, CalleeAudio, FramesAudio};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Plays Twilio against a gateway: signed voice webhook, Media Streams WebSocket, playback")]
struct Args {
    /// Voice webhook URL as Twilio would call it (signed), e.g. http://127.0.0.1:8000/v1/twilio/voice?call_id=c_1
    #[arg(long)]
    voice_url: String,
    /// Send traffic to this address instead of the URL's host (for a public https URL in front of a local gateway).
    #[arg(long)]
    connect: Option<SocketAddr>,
    #[arg(long, env = "TWILIO_AUTH_TOKEN")]
    auth_token: String,
    /// WAV file the callee plays (any rate; converted to 8 kHz μ-law). Default: 3 s of silence.
    #[arg(long)]
    wav: Option<PathBuf>,
    /// Write what the callee heard here.
    #[arg(long)]
    record: Option<PathBuf>,
    /// 1 = real time, 0 = as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// `outbound-api` or `inbound`.
    #[arg(long, default_value = "outbound-api")]
    direction: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    probes::process::init_logging("info");
    let args = Args::parse();
    let mut options = CallOptions::new(args.voice_url, args.auth_token);
    options.connect_addr = args.connect;
    options.time_scale = args.time_scale;
    options.record_wav = args.record;
    options.direction = args.direction;
    let mut audio: Box<dyn CalleeAudio> = match &args.wav {
        Some(path) => {
            Box::new(simulator::twilio::audio::wav_audio(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => Box::new(FramesAudio::silence(150)),
    };
    let report = place_call(&options, audio.as_mut(), None).await?;
    println!(
        "call {} stream {}: sent {} frames, received {} bytes of agent audio, {} marks echoed, {} clears, media {} ms, closed by app: {:?}",
        report.call_sid,
        report.stream_sid,
        report.frames_sent,
        report.received_audio.len(),
        report.marks.len(),
        report.clears.len(),
        report.media_ms,
        report.closed_by_server,
    );
    for text in &report.said_after_stream {
        println!("twilio then says: {text}");
    }
    Ok(())
}
