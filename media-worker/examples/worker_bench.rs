//! Media worker benchmark (not a test): N concurrent calls at real-time pace over a real
//! nats-server into one in-process media worker (webrtc VAD and endpointing on every frame,
//! canned STT/TTS doubles (a recorded reply, no synthesis), a canned brain that answers every final transcript). Prints the reply
//! latency (end of the callee's speech -> first reply audio back at the caller, wall clock),
//! CPU seconds per thread group (the `actix-rt|system` group holds the call actors' arbiters;
//! the main thread also runs this load generator and the NATS client), and RSS per call.
//!
//! `cargo run --release -p media-worker --example worker_bench -- [calls=100] [seconds=20] [arbiters=2]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use protocol::brain::{BrainAssignReply, Heard, HeardEvent, Say, SayCommand};
use protocol::media::{self, MediaOut, OutEvent, StreamEvent};
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use protocol::StreamSid;

fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
        let group = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == ':').to_owned();
        *out.entry(group).or_insert(0.0) += ticks / 100.0;
    }
    out
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Canned TTS: the same recorded reply for every sentence, in 100 ms chunks.
struct CannedTts(Bytes);

impl speech::TtsProvider for CannedTts {
    fn name(&self) -> &'static str {
        "canned"
    }

    fn synthesize(
        &self,
        _text: String,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Result<speech::TtsChunk, speech::TtsError>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut offset = 0;
        while offset < self.0.len() {
            let end = (offset + 800).min(self.0.len());
            let _ = tx.send(Ok(speech::TtsChunk::Audio(self.0.slice(offset..end))));
            offset = end;
        }
        let _ = tx.send(Ok(speech::TtsChunk::Done { total_ms: self.0.len() as u64 / 8 }));
        rx
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[actix_rt::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let arbiters: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(2);

    let nats = testkit::NatsServer::start().await.expect("nats-server");
    let bus = bus::Bus::connect(&nats.url(), "bench").await.unwrap();
    let mut config = media_worker::Config::for_tests(&nats.url(), "bench-worker");
    config.max_calls = calls + 10;
    config.arbiters = arbiters;
    let worker_bus = bus::Bus::connect(&nats.url(), "bench-worker").await.unwrap();
    let rss_before_kib = rss_kib("VmRSS:");
    let reply_audio = Bytes::from(spoken("Thanks, a drop in is twenty dollars."));
    let providers =
        speech::Providers { stt: std::sync::Arc::new(CountingStt), tts: std::sync::Arc::new(CannedTts(reply_audio)) };
    let worker = media_worker::start(config, worker_bus, providers).await.unwrap();

    // canned brain: answers every final transcript with one sentence
    let mut assign_requests = bus.queue_subscribe(subjects::BRAIN_ASSIGN, subjects::BRAIN_QUEUE_GROUP).await.unwrap();
    let mut heard = bus.subscribe("brain.heard.>").await.unwrap();
    let brain_bus = bus.clone();
    actix_rt::spawn(async move {
        loop {
            tokio::select! {
                Some(request) = assign_requests.next() => {
                    let reply = BrainAssignReply { v: 1, worker_id: "canned".into() };
                    let _ = brain_bus.respond(&request, encode_json(&reply)).await;
                }
                Some(message) = heard.next() => {
                    if message.reply.is_some() {
                        let _ = brain_bus.respond(&message, Bytes::new()).await;
                    }
                    let Ok(heard) = decode_json::<Heard>(&message.payload) else { continue };
                    if let HeardEvent::Transcript { is_final: true, utterance_seq, .. } = heard.event {
                        let command = SayCommand::Speak {
                            utterance_id: format!("r{utterance_seq}"),
                            text: "Thanks, a drop-in is twenty dollars.".into(),
                            end_of_turn: true,
                            uninterruptible: false, context: true,
                        };
                        let say = Say { v: 1, call_id: heard.call_id.clone(), command };
                        let _ = brain_bus.publish(subjects::media_say(&heard.call_id).unwrap(), encode_json(&say)).await;
                    }
                }
                else => break,
            }
        }
    });
    bus.flush().await.unwrap();

    // the callee: 1.2 s of speech then 2.8 s of silence, over and over (the reply fits the gap)
    let speech = spoken("How much is a drop in class?");
    let speech_frames = speech.len().div_ceil(160);
    let cycle_frames = 200usize;
    let mut clip = speech.clone();
    clip.resize(cycle_frames * 160, protocol::mulaw::SILENCE);
    let speech_end_frame = speech_frames;

    let mut sids = Vec::with_capacity(calls);
    for i in 0..calls {
        let sid = format!("MZbench{i}");
        let mut taken = false;
        for _ in 0..5 {
            if assign(&bus, &format!("c_bench{i}"), &sid).await.is_ok() {
                taken = true;
                break;
            }
        }
        assert!(taken, "call {i} not taken");
        sids.push(StreamSid::from(sid.as_str()));
    }
    let mut out = bus.subscribe("media.out.>").await.unwrap();
    bus.flush().await.unwrap();

    let cpu_before = cpu_by_thread();
    let started = Instant::now();
    let frames_total = seconds * 50;
    // per call: when its current turn's speech ended (wall clock), if the reply has not come yet
    let mut awaiting: HashMap<String, Instant> = HashMap::new();
    let mut latencies_ms: Vec<f64> = Vec::new();
    let mut audio_frames_back = 0u64;
    let in_subjects: Vec<String> = sids.iter().map(|s| subjects::media_in(s).unwrap()).collect();
    let mut frame = Vec::with_capacity(170);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let mut tick = 0u64;
    while tick < frames_total {
        tokio::select! {
            _ = ticker.tick() => {
                for (call, subject) in in_subjects.iter().enumerate() {
                    // calls are spread over the cycle, as real calls are not in step
                    let index = (tick as usize + call * 7) % cycle_frames;
                    let payload = &clip[index * 160..(index + 1) * 160];
                    media::encode_inbound_audio(tick as u32 + 1, (tick * 20) as u32, payload, &mut frame);
                    let _ = bus.publish(subject.clone(), Bytes::copy_from_slice(&frame)).await;
                    if index + 1 == speech_end_frame {
                        awaiting.insert(sids[call].to_string(), Instant::now());
                    }
                }
                tick += 1;
            }
            Some(message) = out.next() => {
                let sid = subjects::last_token(&message.subject).to_owned();
                match media::decode_media_out(&message.payload) {
                    Ok(MediaOut::Audio(_)) => {
                        audio_frames_back += 1;
                        if let Some(since) = awaiting.remove(&sid) {
                            latencies_ms.push(since.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                    Ok(MediaOut::Event(OutEvent::Mark { name })) => {
                        let echo = media::encode_stream_event(&StreamEvent::Mark { name });
                        let _ = bus.publish(subjects::media_in(&StreamSid::from(sid.as_str())).unwrap(), echo).await;
                    }
                    _ => {}
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = cpu_by_thread();
    let rss_now_kib = rss_kib("VmRSS:");
    for sid in &sids {
        let stop = media::encode_stream_event(&StreamEvent::Stop { reason: "bench over".into() });
        let _ = bus.publish(subjects::media_in(sid).unwrap(), stop).await;
    }

    latencies_ms.sort_by(f64::total_cmp);
    println!("calls {calls}, {seconds} s at real time, {arbiters} arbiters, elapsed {elapsed:.1} s");
    println!(
        "frames in at worker {}, agent frames out {} (seen back {audio_frames_back})",
        worker.stats().frames_in.load(std::sync::atomic::Ordering::Relaxed),
        worker.stats().frames_out.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!(
        "reply latency (speech end -> first reply audio, wall clock, includes {} ms endpointing silence): n={} p50={:.0} ms p95={:.0} ms p99={:.0} ms max={:.0} ms",
        500,
        latencies_ms.len(),
        percentile(&latencies_ms, 0.5),
        percentile(&latencies_ms, 0.95),
        percentile(&latencies_ms, 0.99),
        latencies_ms.last().copied().unwrap_or(f64::NAN)
    );
    let mut total = 0.0;
    for (group, after) in &cpu_after {
        let used = after - cpu_before.get(group).copied().unwrap_or(0.0);
        total += used;
        if used > 0.01 {
            println!("cpu {group:>24}: {used:6.2} s ({:.1}% of one core)", used / elapsed * 100.0);
        }
    }
    println!("cpu total (this process): {total:.2} s = {:.1}% of one core", total / elapsed * 100.0);
    println!(
        "rss {} KiB before the worker, {} KiB with {calls} live calls: {:.0} KiB per call (worker + generator)",
        rss_before_kib,
        rss_now_kib,
        (rss_now_kib.saturating_sub(rss_before_kib)) as f64 / calls as f64
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop().await;
}
