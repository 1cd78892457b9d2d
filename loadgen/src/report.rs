//! What a step reports: the figures as a serialisable [`StepReport`] (the `--json` file) and as
//! the lines printed after each step.

use crate::stats::{FailureKind, LatencySummary, StepTally};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;

/// CPU and memory of the server's process tree over a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessFigures {
    /// Cores busy on average over the CPU window (1.0 = one core).
    pub cores: f64,
    /// `cores / calls` as a percentage of one core.
    pub percent_of_core_per_call: f64,
    /// RSS before the step started.
    pub rss_idle_mib: f64,
    /// Largest RSS read during the step.
    pub rss_peak_mib: f64,
    /// `(peak - idle) / calls`.
    pub rss_per_call_mib: f64,
    /// Processes in the tree (the server and its descendants) before the step.
    pub processes: usize,
    /// `(peak - previous step's peak) / (calls - previous step's calls)`: what each call beyond
    /// the previous step's added, with the models and the first calls' buffers already counted.
    /// `None` on the first step (or after a step with as many calls).
    pub rss_per_extra_call_mib: Option<f64>,
}

impl ProcessFigures {
    pub fn new(cores: f64, calls: usize, rss_idle_bytes: u64, rss_peak_bytes: u64, processes: usize) -> Self {
        let calls_f = calls.max(1) as f64;
        ProcessFigures {
            cores,
            percent_of_core_per_call: cores * 100.0 / calls_f,
            rss_idle_mib: rss_idle_bytes as f64 / MIB,
            rss_peak_mib: rss_peak_bytes as f64 / MIB,
            rss_per_call_mib: rss_peak_bytes.saturating_sub(rss_idle_bytes) as f64 / MIB / calls_f,
            processes,
            rss_per_extra_call_mib: None,
        }
    }
}

impl StepReport {
    /// Sets `rss_per_extra_call_mib` from the step before this one.
    pub fn compare_with(&mut self, previous: &StepReport) {
        let extra_calls = self.concurrent_calls.saturating_sub(previous.concurrent_calls);
        if let (Some(server), Some(before)) = (self.server.as_mut(), previous.server.as_ref()) {
            if extra_calls > 0 {
                let grown = (server.rss_peak_mib - before.rss_peak_mib).max(0.0);
                server.rss_per_extra_call_mib = Some(grown / extra_calls as f64);
            }
        }
    }
}

/// A failure kind and how many calls it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    pub kind: FailureKind,
    pub calls: u64,
}

/// The figures of one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub concurrent_calls: usize,
    pub calls_completed: u64,
    pub calls_failed: u64,
    pub failures: Vec<FailureCount>,
    pub failure_messages: Vec<String>,
    pub answers_sent: u64,
    pub answers_replied: u64,
    pub answers_without_reply: u64,
    /// From an answer's last speech frame sent to the first agent audio with sound received.
    pub reply_latency: LatencySummary,
    pub frames_sent: u64,
    /// Frames sent more than 5 ms after their deadline.
    pub late_frames: u64,
    pub max_frame_lateness_ms: u64,
    /// Marks echoed by the emulated playback, and `clear`s received (barge-ins).
    pub marks_echoed: u64,
    pub clears: u64,
    /// Wall time the CPU figures cover.
    pub cpu_window_s: f64,
    pub server: Option<ProcessFigures>,
    pub generator_cores: Option<f64>,
    pub fake_provider_cores: Option<f64>,
    /// End of speech -> transcript, when the results were read (`--api-token`).
    pub transcript_timing: Option<crate::heard::TranscriptTiming>,
}

impl StepReport {
    pub fn new(
        calls: usize,
        tally: &StepTally,
        cpu_window: Duration,
        server: Option<ProcessFigures>,
        generator_cores: Option<f64>,
        fake_provider_cores: Option<f64>,
    ) -> StepReport {
        StepReport {
            concurrent_calls: calls,
            calls_completed: tally.calls_completed,
            calls_failed: tally.calls_failed,
            failures: tally.failures.iter().map(|(kind, calls)| FailureCount { kind: *kind, calls: *calls }).collect(),
            failure_messages: tally.failure_messages.clone(),
            answers_sent: tally.answers_sent,
            answers_replied: tally.answers_replied,
            answers_without_reply: tally.answers_without_reply,
            reply_latency: tally.latencies.summary(),
            frames_sent: tally.frames_sent,
            late_frames: tally.late_frames,
            max_frame_lateness_ms: u64::try_from(tally.max_frame_lateness.as_millis()).unwrap_or(u64::MAX),
            marks_echoed: tally.marks_echoed,
            clears: tally.clears,
            cpu_window_s: cpu_window.as_secs_f64(),
            server,
            generator_cores,
            fake_provider_cores,
            transcript_timing: None,
        }
    }
}

fn ms(value: Option<u32>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v}"))
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "step: {} concurrent calls", self.concurrent_calls)?;
        write!(f, "  calls: {} completed, {} failed", self.calls_completed, self.calls_failed)?;
        for failure in &self.failures {
            write!(f, " ({:?}: {})", failure.kind, failure.calls)?;
        }
        writeln!(f)?;
        for message in &self.failure_messages {
            writeln!(f, "    e.g. {message}")?;
        }
        writeln!(
            f,
            "  answers: {} sent, {} replied, {} without any reply",
            self.answers_sent, self.answers_replied, self.answers_without_reply
        )?;
        let latency = &self.reply_latency;
        writeln!(
            f,
            "  reply latency (last speech frame -> first reply sound): p50 {} / p95 {} / p99 {} / max {} ms over {} replies",
            ms(latency.p50_ms),
            ms(latency.p95_ms),
            ms(latency.p99_ms),
            ms(latency.max_ms),
            latency.count
        )?;
        writeln!(
            f,
            "  late frames (> 5 ms after deadline): {} of {} (worst {} ms)",
            self.late_frames, self.frames_sent, self.max_frame_lateness_ms
        )?;
        writeln!(f, "  playback: {} marks echoed, {} clears (barge-ins)", self.marks_echoed, self.clears)?;
        match &self.server {
            Some(server) => writeln!(
                f,
                "  server: {:.2} cores = {:.2}% of a core per call; RSS {:.0} MiB peak ({:.0} MiB idle, {:.2} MiB per call) [{:.0} s window, {} process(es)]",
                server.cores,
                server.percent_of_core_per_call,
                server.rss_peak_mib,
                server.rss_idle_mib,
                server.rss_per_call_mib,
                self.cpu_window_s,
                server.processes
            )
            .and_then(|()| match server.rss_per_extra_call_mib {
                Some(extra) => writeln!(f, "  server RSS per extra call (peak over the previous step's peak): {extra:.2} MiB"),
                None => Ok(()),
            })?,
            None => writeln!(f, "  server: not measured (no --server-pid)")?,
        }
        if let Some(timing) = &self.transcript_timing {
            writeln!(
                f,
                "  end of speech -> transcript, answers of 2-15 s: p50 {} / p95 {} / max {} ms from the generator's end of speech; the server's stt_ms p50 {} / p95 {} ms; mean difference {:.0} ms; {} answers paired, {} not",
                ms(timing.measured.p50_ms),
                ms(timing.measured.p95_ms),
                ms(timing.measured.max_ms),
                ms(timing.reported.p50_ms),
                ms(timing.reported.p95_ms),
                timing.mean_difference_ms,
                timing.answers_paired,
                timing.answers_unpaired
            )?;
        }
        let cores = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} cores"));
        writeln!(
            f,
            "  apart from the server: generator {}, fake provider {}",
            cores(self.generator_cores),
            cores(self.fake_provider_cores)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_figures_divide_by_the_calls() {
        let figures = ProcessFigures::new(0.5, 10, 100 * 1024 * 1024, 110 * 1024 * 1024, 1);
        assert!((figures.percent_of_core_per_call - 5.0).abs() < 1e-9);
        assert!((figures.rss_per_call_mib - 1.0).abs() < 1e-9);
        let shrunk = ProcessFigures::new(0.1, 2, 100, 50, 1);
        assert_eq!(shrunk.rss_per_call_mib, 0.0, "a peak below idle is no growth");
    }

    #[test]
    fn rss_per_extra_call_is_the_growth_over_the_previous_step() {
        let step = |calls: usize, peak_mib: u64| {
            let server = ProcessFigures::new(0.5, calls, 80 << 20, peak_mib << 20, 1);
            StepReport::new(calls, &StepTally::default(), Duration::from_secs(60), Some(server), None, None)
        };
        let (one, mut four, mut eight) = (step(1, 200), step(4, 212), step(8, 230));
        four.compare_with(&one);
        eight.compare_with(&four);
        assert_eq!(four.server.as_ref().unwrap().rss_per_extra_call_mib, Some(4.0));
        assert_eq!(eight.server.as_ref().unwrap().rss_per_extra_call_mib, Some(4.5));
        assert!(eight.to_string().contains("RSS per extra call (peak over the previous step's peak): 4.50 MiB"));
        let mut again = step(8, 220);
        again.compare_with(&eight);
        assert_eq!(again.server.as_ref().unwrap().rss_per_extra_call_mib, None, "no extra calls");
    }
}
