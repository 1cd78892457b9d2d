//! Relay benchmark (not a test): N concurrent simulated calls at real-time pace through one
//! gateway to an in-process echo worker over a real nats-server. Prints frames relayed, frames
//! lost, and CPU per thread group, so the gateway's own share can be read off.
//!
//! `cargo run --release -p gateway --example relay_bench -- [calls=100] [seconds=10]`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use simulator::twilio::{place_call, FramesAudio};
use std::collections::BTreeMap;
use std::time::Instant;

/// CPU seconds per thread name of this process, from /proc.
fn cpu_by_thread() -> BTreeMap<String, f64> {
    let ticks_per_s = 100.0;
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let group = name.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned();
        *out.entry(group).or_insert(0.0) += (utime + stime) / ticks_per_s;
    }
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[actix_rt::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(100);
    let seconds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(10);
    let frames_per_call = seconds * 50;
    let harness = Harness::start().await;
    let _worker = spawn_echo_worker(harness.bus.clone(), "bench").await;
    let frames = test_frames(256);
    let audio_frames: Vec<_> = (0..frames_per_call).map(|i| frames[i % 256]).collect();
    let sent: Vec<u8> = audio_frames.concat();

    let before = cpu_by_thread();
    let started = Instant::now();
    let runs = (0..calls).map(|i| {
        let mut options = harness.call_options(&format!("c_bench{i}"));
        options.time_scale = 1.0;
        let audio_frames = audio_frames.clone();
        async move {
            let mut audio = FramesAudio::new(audio_frames);
            place_call(&options, &mut audio, None).await
        }
    });
    let reports = futures_util::future::join_all(runs).await;
    let wall = started.elapsed().as_secs_f64();
    let after = cpu_by_thread();

    let mut ok = 0;
    let mut lost_bytes = 0usize;
    for report in reports.iter().flatten() {
        if report.received_audio == sent {
            ok += 1;
        }
        lost_bytes += sent.len().saturating_sub(report.received_audio.len());
    }
    let failed = reports.iter().filter(|r| r.is_err()).count();
    println!("calls={calls} seconds_of_audio={seconds} wall_s={wall:.2} calls_intact={ok} calls_failed={failed} lost_bytes={lost_bytes}");
    println!("frames relayed each way: {}", harness.metric("gateway_frames_in_total").await);
    let call_seconds = (calls * seconds) as f64;
    for (group, cpu_after) in &after {
        let cpu = cpu_after - before.get(group).copied().unwrap_or(0.0);
        if cpu > 0.01 {
            println!("cpu thread-group {group:?}: {cpu:.2} s ({:.2} ms per call-second)", cpu * 1000.0 / call_seconds);
        }
    }
    println!("peak rss of the whole process (gateway + simulator + echo worker): {} KiB", peak_rss_kib());
    harness.gateway.stop().await;
}
