//! One load run: for each step of N concurrent calls, N lines each place simulated Twilio calls
//! (signed inbound voice webhook, Media Streams WebSocket, real-time audio, playback) back to back
//! until the step's call time is up, while the server's, the fake provider's and the
//! generator's own CPU and memory are read from `/proc`.

use crate::audio::Utterance;
use crate::callee::{Callee, TurnSettings};
use crate::procstat::{sample_tree, CpuMeter};
use crate::report::{ProcessFigures, StepReport};
use crate::stats::{FailureKind, StepTally};
use simulator::twilio::call::{place_call, CallOptions, SimError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most concurrent calls in one step.
pub const MAX_CALLS_PER_STEP: usize = 5_000;
/// Longest call time of a step.
pub const MAX_CALL_DURATION: Duration = Duration::from_secs(3_600);
/// A line places another call only when at least this much of the step is left.
const MIN_TIME_LEFT_TO_REDIAL: Duration = Duration::from_secs(5);
/// Pause of a line after a failed call (so a refusing server is not hammered in a loop).
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How often the server's RSS is read during a step (its peak is reported).
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);
/// How long after a step the server's last log lines may take to be written.
const LOG_SETTLE: Duration = Duration::from_secs(1);
/// Shortest CPU window worth reporting; shorter steady windows fall back to the whole step.
const MIN_CPU_WINDOW: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The URL the gateway knows itself by (`PUBLIC_BASE_URL`): webhooks and the stream URL are
    /// signed over it.
    pub public_url: String,
    /// Send traffic here instead of the public URL's host.
    pub connect_addr: Option<SocketAddr>,
    pub auth_token: String,
    /// The number callers dial (the Twilio number of the deployment).
    pub to_number: String,
    /// Concurrent calls of each step, in order.
    pub steps: Vec<usize>,
    /// How long each line keeps calling in a step.
    pub call_duration: Duration,
    /// Delay between the starts of two lines (calls do not all ring in the same millisecond).
    pub ramp_per_call: Duration,
    /// Pause between steps.
    pub settle: Duration,
    pub utterances: Arc<Vec<Utterance>>,
    pub turn: TurnSettings,
    pub server_pid: Option<u32>,
    pub fake_pid: Option<u32>,
    /// The server's log (with `reply_stages=debug`), read after each step for the end of
    /// speech -> transcript figures.
    pub server_log: Option<std::path::PathBuf>,
}

/// Runs every step in turn; `on_step` sees each report as soon as its step ends.
pub async fn run(config: &LoadConfig, mut on_step: impl FnMut(&StepReport)) -> Vec<StepReport> {
    let mut reports = Vec::new();
    for (index, &calls) in config.steps.iter().enumerate() {
        if index > 0 {
            tokio::time::sleep(config.settle).await;
        }
        let mut report = run_step(config, calls).await;
        if let Some(previous) = reports.last() {
            report.compare_with(previous);
        }
        on_step(&report);
        reports.push(report);
    }
    reports
}

/// Runs `calls` concurrent lines for the configured call time.
pub async fn run_step(config: &LoadConfig, calls: usize) -> StepReport {
    let calls = calls.clamp(1, MAX_CALLS_PER_STEP);
    let idle = config.server_pid.and_then(sample_tree);
    let step_start = Instant::now();
    let ramp = config.ramp_per_call.saturating_mul(u32::try_from(calls - 1).unwrap_or(u32::MAX));

    let mut lines = tokio::task::JoinSet::new();
    for line in 0..calls {
        let config = config.clone();
        let line_start = step_start + config.ramp_per_call.saturating_mul(u32::try_from(line).unwrap_or(u32::MAX));
        lines.spawn(async move {
            tokio::time::sleep_until(line_start).await;
            run_line(&config, line, line_start + config.call_duration).await
        });
    }

    // CPU over the steady window: every line started, none hung up yet
    let (mut window_start, mut window_end) = (step_start + ramp, step_start + config.call_duration);
    let steady = window_end > window_start + MIN_CPU_WINDOW;
    if !steady {
        window_start = step_start;
    }
    let meters = Meters { server_pid: config.server_pid, fake_pid: config.fake_pid };
    let peak_rss = Arc::new(std::sync::atomic::AtomicU64::new(idle.map_or(0, |s| s.rss_bytes)));
    let sampler = config.server_pid.map(|pid| {
        let peak_rss = peak_rss.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RSS_SAMPLE_INTERVAL).await;
                let Some(sample) = tokio::task::spawn_blocking(move || sample_tree(pid)).await.ok().flatten() else {
                    return;
                };
                peak_rss.fetch_max(sample.rss_bytes, std::sync::atomic::Ordering::Relaxed);
            }
        })
    });
    let meters = tokio::spawn(async move {
        tokio::time::sleep_until(window_start).await;
        let started = meters.start();
        if steady {
            tokio::time::sleep_until(window_end).await;
        }
        started
    });

    let mut tally = StepTally::default();
    while let Some(line) = lines.join_next().await {
        match line {
            Ok(line) => tally.merge(&line),
            Err(error) => tally.failed(FailureKind::Stream, format!("call task failed: {error}")),
        }
    }
    let started = meters.await.ok();
    if !steady {
        window_end = Instant::now();
    }
    let cpu = started.map(|started| started.read());
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let window = window_end.saturating_duration_since(window_start);
    let cpu = cpu.unwrap_or_default();
    let server = config.server_pid.zip(cpu.server).map(|(_, cores)| {
        let peak = peak_rss.load(std::sync::atomic::Ordering::Relaxed);
        ProcessFigures::new(cores, calls, idle.map_or(0, |s| s.rss_bytes), peak, idle.map_or(0, |s| s.processes))
    });
    let mut report = StepReport::new(calls, &tally, window, server, cpu.generator, cpu.fake);
    if let Some(path) = &config.server_log {
        // the last replies' lines may still be on their way to the file
        tokio::time::sleep(LOG_SETTLE).await;
        match crate::heard::measure(path, &tally.spoken_calls) {
            Ok(timing) => report.transcript_timing = Some(timing),
            Err(error) => report.failure_messages.push(format!("server log not read: {error}")),
        }
    }
    report
}

/// The CPU meters of one step's window.
struct Meters {
    server_pid: Option<u32>,
    fake_pid: Option<u32>,
}

#[derive(Default)]
struct CpuFigures {
    server: Option<f64>,
    generator: Option<f64>,
    fake: Option<f64>,
}

struct StartedMeters {
    server: Option<CpuMeter>,
    generator: Option<CpuMeter>,
    fake: Option<CpuMeter>,
}

impl Meters {
    fn start(self) -> StartedMeters {
        StartedMeters {
            server: self.server_pid.and_then(CpuMeter::start),
            generator: CpuMeter::start(std::process::id()),
            fake: self.fake_pid.and_then(CpuMeter::start),
        }
    }
}

impl StartedMeters {
    fn read(&self) -> CpuFigures {
        CpuFigures {
            server: self.server.and_then(|meter| meter.cores()),
            generator: self.generator.and_then(|meter| meter.cores()),
            fake: self.fake.and_then(|meter| meter.cores()),
        }
    }
}

/// One line of a step: calls placed back to back until `hang_up_at`.
async fn run_line(config: &LoadConfig, line: usize, hang_up_at: Instant) -> StepTally {
    let mut tally = StepTally::default();
    let mut call_index = 0usize;
    loop {
        let now = Instant::now();
        if call_index > 0 && now + MIN_TIME_LEFT_TO_REDIAL > hang_up_at {
            break;
        }
        let failed = place_one_call(config, line, call_index, hang_up_at, &mut tally).await;
        call_index += 1;
        if failed {
            tokio::time::sleep(PAUSE_AFTER_FAILURE).await;
        }
    }
    tally
}

/// Places one call and counts it; true when it failed.
async fn place_one_call(
    config: &LoadConfig,
    line: usize,
    call_index: usize,
    hang_up_at: Instant,
    tally: &mut StepTally,
) -> bool {
    let public = config.public_url.trim_end_matches('/');
    let mut options = CallOptions::new(format!("{public}/v1/twilio/voice"), config.auth_token.clone());
    options.connect_addr = config.connect_addr;
    options.direction = "inbound".into();
    options.from = format!("+1555{:07}", (line * 1_000 + call_index % 1_000) % 10_000_000);
    options.to = config.to_number.clone();
    options.keep_audio = false;
    options.drain_idle = Duration::from_secs(1);
    let longest = config.call_duration + config.turn.reply_timeout * 2 + Duration::from_secs(30);
    options.max_media_ms = u64::try_from(longest.as_millis()).unwrap_or(u64::MAX);

    let mut callee = Callee::new(
        config.utterances.clone(),
        line + call_index,
        config.turn,
        std::time::Instant::now(),
        hang_up_at.into_std(),
    );
    let result = place_call(&options, &mut callee, None).await;
    let call = callee.finish();
    tally.add_call(&call);
    let failure = match result {
        Err(error @ (SimError::Status { .. } | SimError::Twiml(_) | SimError::Http(_) | SimError::Url(_))) => {
            Some((FailureKind::Webhook, error.to_string()))
        }
        Err(error) => Some((FailureKind::Stream, error.to_string())),
        Ok(report) => {
            let answers = call.answer_ends.clone();
            tally.spoken_calls.push(crate::heard::SpokenCall { call_sid: report.call_sid.clone(), answers });
            tally.marks_echoed += report.marks.len() as u64;
            tally.clears += report.clears.len() as u64;
            match report.closed_by_server {
                Some(code) if code != 1000 => {
                    Some((FailureKind::ClosedAbnormally, format!("server closed the stream with {code}")))
                }
                Some(_) if !report.said_after_stream.is_empty() => {
                    Some((FailureKind::Apology, format!("caller heard: {}", report.said_after_stream.join(" "))))
                }
                _ if !call.heard_agent => Some((FailureKind::AgentSilent, "the agent never spoke".to_owned())),
                _ => None,
            }
        }
    };
    match failure {
        Some((kind, message)) => {
            tracing::debug!(line, call_index, ?kind, %message, "call failed");
            tally.failed(kind, message);
            true
        }
        None => {
            tally.completed();
            false
        }
    }
}
