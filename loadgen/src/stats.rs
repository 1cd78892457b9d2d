//! The bookkeeping of a load step: what one simulated call counted ([`CallTally`]), the sum over
//! a step ([`StepTally`]) and reply-latency percentiles (nearest rank over every sample kept).

use serde::Serialize;
use std::time::Duration;

/// Most latency samples one tally keeps (a step of 200 calls for 10 minutes makes ~25 000);
/// past this, samples are dropped and counted in `samples_dropped`.
pub const MAX_LATENCY_SAMPLES: usize = 1_000_000;

/// Most distinct failure messages kept per step (the rest are counted under their kind only).
pub const MAX_FAILURE_MESSAGES: usize = 8;

/// Reply latencies in milliseconds, bounded.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples_ms: Vec<u32>,
    samples_dropped: u64,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        if self.samples_ms.len() >= MAX_LATENCY_SAMPLES {
            self.samples_dropped += 1;
            return;
        }
        self.samples_ms.push(u32::try_from(latency.as_millis()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: &Latencies) {
        let room = MAX_LATENCY_SAMPLES.saturating_sub(self.samples_ms.len());
        let taken = other.samples_ms.len().min(room);
        self.samples_ms.extend_from_slice(&other.samples_ms[..taken]);
        self.samples_dropped += other.samples_dropped + (other.samples_ms.len() - taken) as u64;
    }

    pub fn len(&self) -> usize {
        self.samples_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples_ms.is_empty()
    }

    pub fn samples_dropped(&self) -> u64 {
        self.samples_dropped
    }

    /// The `percent`-th percentile by nearest rank (the smallest sample at or above that share
    /// of the samples); `None` without samples.
    pub fn percentile_ms(&self, percent: f64) -> Option<u32> {
        if self.samples_ms.is_empty() {
            return None;
        }
        let mut sorted = self.samples_ms.clone();
        sorted.sort_unstable();
        Some(nearest_rank(&sorted, percent))
    }

    /// p50, p95, p99 and the largest sample, sorting once.
    pub fn summary(&self) -> LatencySummary {
        let mut sorted = self.samples_ms.clone();
        sorted.sort_unstable();
        let pick = |percent| (!sorted.is_empty()).then(|| nearest_rank(&sorted, percent));
        LatencySummary {
            count: sorted.len(),
            p50_ms: pick(50.0),
            p95_ms: pick(95.0),
            p99_ms: pick(99.0),
            max_ms: sorted.last().copied(),
        }
    }
}

fn nearest_rank(sorted: &[u32], percent: f64) -> u32 {
    let share = if percent.is_finite() { percent.clamp(0.0, 100.0) / 100.0 } else { 1.0 };
    let rank = (share * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Reply latency percentiles of a step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub p50_ms: Option<u32>,
    pub p95_ms: Option<u32>,
    pub p99_ms: Option<u32>,
    pub max_ms: Option<u32>,
}

/// Frames that went out more than this after their deadline count as late.
pub const LATE_FRAME_THRESHOLD: Duration = Duration::from_millis(5);

/// What one simulated call counted.
#[derive(Clone, Debug, Default)]
pub struct CallTally {
    /// Callee utterances played to their last speech frame.
    pub answers_sent: u64,
    /// Answers after which agent audio arrived in time.
    pub answers_replied: u64,
    /// Answers after which no agent audio arrived within the reply timeout (or before the
    /// call ended).
    pub answers_without_reply: u64,
    pub latencies: Latencies,
    pub frames_sent: u64,
    /// Frames sent more than [`LATE_FRAME_THRESHOLD`] after their deadline.
    pub late_frames: u64,
    pub max_frame_lateness: Duration,
    /// True once any non-silent agent audio arrived (the greeting, at least).
    pub heard_agent: bool,
    /// Where each answer played to its last speech frame ended, in media time.
    pub answer_ends: Vec<crate::heard::AnswerEnd>,
}

impl CallTally {
    /// Counts one frame sent at `sent_at` for `deadline`.
    pub fn frame_sent(&mut self, lateness: Duration) {
        self.frames_sent += 1;
        if lateness > LATE_FRAME_THRESHOLD {
            self.late_frames += 1;
        }
        self.max_frame_lateness = self.max_frame_lateness.max(lateness);
    }
}

/// How a call failed, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The voice webhook was refused or did not answer with a stream.
    Webhook,
    /// The WebSocket could not be opened or broke.
    Stream,
    /// The server closed the stream with a code other than 1000.
    ClosedAbnormally,
    /// The gateway ended the stream and Twilio would have spoken its apology TwiML.
    Apology,
    /// The call ran but the agent never said anything.
    AgentSilent,
}

/// The sum over the calls of one step.
#[derive(Clone, Debug, Default)]
pub struct StepTally {
    pub calls_completed: u64,
    pub calls_failed: u64,
    pub failures: Vec<(FailureKind, u64)>,
    /// The first few distinct failure messages, for the report.
    pub failure_messages: Vec<String>,
    pub answers_sent: u64,
    pub answers_replied: u64,
    pub answers_without_reply: u64,
    pub latencies: Latencies,
    pub frames_sent: u64,
    pub late_frames: u64,
    pub max_frame_lateness: Duration,
    /// Marks the emulated playback echoed, and `clear`s the server sent (barge-ins).
    pub marks_echoed: u64,
    pub clears: u64,
    /// The answers of each call that reached the stream, for the transcript timing.
    pub spoken_calls: Vec<crate::heard::SpokenCall>,
}

impl StepTally {
    /// Adds the counts of one call, completed or not.
    pub fn add_call(&mut self, call: &CallTally) {
        self.answers_sent += call.answers_sent;
        self.answers_replied += call.answers_replied;
        self.answers_without_reply += call.answers_without_reply;
        self.latencies.merge(&call.latencies);
        self.frames_sent += call.frames_sent;
        self.late_frames += call.late_frames;
        self.max_frame_lateness = self.max_frame_lateness.max(call.max_frame_lateness);
    }

    pub fn completed(&mut self) {
        self.calls_completed += 1;
    }

    pub fn failed(&mut self, kind: FailureKind, message: String) {
        self.calls_failed += 1;
        match self.failures.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += 1,
            None => self.failures.push((kind, 1)),
        }
        if self.failure_messages.len() < MAX_FAILURE_MESSAGES && !self.failure_messages.contains(&message) {
            self.failure_messages.push(message);
        }
    }

    pub fn merge(&mut self, other: &StepTally) {
        self.calls_completed += other.calls_completed;
        for (kind, count) in &other.failures {
            for _ in 0..*count {
                self.calls_failed += 1;
                match self.failures.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, total)) => *total += 1,
                    None => self.failures.push((*kind, 1)),
                }
            }
        }
        for message in &other.failure_messages {
            if self.failure_messages.len() < MAX_FAILURE_MESSAGES && !self.failure_messages.contains(message) {
                self.failure_messages.push(message.clone());
            }
        }
        self.answers_sent += other.answers_sent;
        self.answers_replied += other.answers_replied;
        self.answers_without_reply += other.answers_without_reply;
        self.latencies.merge(&other.latencies);
        self.frames_sent += other.frames_sent;
        self.late_frames += other.late_frames;
        self.max_frame_lateness = self.max_frame_lateness.max(other.max_frame_lateness);
        self.marks_echoed += other.marks_echoed;
        self.clears += other.clears;
        self.spoken_calls.extend(other.spoken_calls.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latencies(values_ms: &[u64]) -> Latencies {
        let mut latencies = Latencies::default();
        for &ms in values_ms {
            latencies.record(Duration::from_millis(ms));
        }
        latencies
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let hundred = latencies(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(hundred.percentile_ms(50.0), Some(50));
        assert_eq!(hundred.percentile_ms(95.0), Some(95));
        assert_eq!(hundred.percentile_ms(99.0), Some(99));
        assert_eq!(hundred.percentile_ms(100.0), Some(100));
        assert_eq!(hundred.percentile_ms(0.0), Some(1));

        let few = latencies(&[700, 400, 1000]);
        let summary = few.summary();
        assert_eq!(
            summary,
            LatencySummary { count: 3, p50_ms: Some(700), p95_ms: Some(1000), p99_ms: Some(1000), max_ms: Some(1000) }
        );
        let one = latencies(&[612]);
        assert_eq!(one.summary().p50_ms, Some(612));
        assert_eq!(one.summary().p99_ms, Some(612));
    }

    #[test]
    fn no_samples_no_percentiles() {
        let empty = Latencies::default();
        assert_eq!(empty.percentile_ms(50.0), None);
        assert_eq!(empty.summary(), LatencySummary::default());
    }

    #[test]
    fn a_slow_tail_shows_in_p99_not_p50() {
        let mut values = vec![500u64; 98];
        values.extend([5_000, 9_000]);
        let summary = latencies(&values).summary();
        assert_eq!((summary.p50_ms, summary.p95_ms, summary.p99_ms), (Some(500), Some(500), Some(5_000)));
        assert_eq!(summary.max_ms, Some(9_000));
    }

    #[test]
    fn merging_calls_adds_counts_and_samples() {
        let mut first =
            CallTally { answers_sent: 3, answers_replied: 2, answers_without_reply: 1, ..Default::default() };
        first.latencies = latencies(&[600, 800]);
        first.frame_sent(Duration::from_millis(1));
        first.frame_sent(Duration::from_millis(6));
        let mut second = CallTally { answers_sent: 1, answers_replied: 1, ..Default::default() };
        second.latencies = latencies(&[700]);
        second.frame_sent(Duration::from_millis(30));

        let mut step = StepTally::default();
        step.add_call(&first);
        step.completed();
        step.add_call(&second);
        step.failed(FailureKind::ClosedAbnormally, "closed 1011".into());
        assert_eq!((step.calls_completed, step.calls_failed), (1, 1));
        assert_eq!((step.answers_sent, step.answers_replied, step.answers_without_reply), (4, 3, 1));
        assert_eq!(step.latencies.summary().p50_ms, Some(700));
        assert_eq!((step.frames_sent, step.late_frames), (3, 2), "late means more than 5 ms after the deadline");
        assert_eq!(step.max_frame_lateness, Duration::from_millis(30));

        step.marks_echoed = 5;
        step.clears = 1;
        let mut total = StepTally::default();
        total.merge(&step);
        total.merge(&step);
        assert_eq!((total.calls_completed, total.calls_failed), (2, 2));
        assert_eq!(total.failures, vec![(FailureKind::ClosedAbnormally, 2)]);
        assert_eq!(total.failure_messages, vec!["closed 1011".to_owned()], "messages kept once");
        assert_eq!(total.latencies.len(), 6);
        assert_eq!((total.marks_echoed, total.clears), (10, 2));
    }

    #[test]
    fn samples_past_the_cap_are_counted_not_kept() {
        let mut full = Latencies { samples_ms: vec![1; MAX_LATENCY_SAMPLES], samples_dropped: 0 };
        full.record(Duration::from_millis(2));
        full.merge(&latencies(&[3, 4]));
        assert_eq!(full.len(), MAX_LATENCY_SAMPLES);
        assert_eq!(full.samples_dropped(), 3);
    }
}
