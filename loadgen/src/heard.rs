//! End of speech -> transcript, checked from the outside. The generator knows when each of its
//! answers stopped (the media time just after the answer's last speech frame, from its own
//! audio); the server says, per reply, when it heard the speech end and how long after that it
//! knew the words (each reply's `speech_end_at_ms` and `heard_ms`, in the call's result and in
//! the media worker's `reply stages` log line; inbound calls, which the load generator places,
//! have no call record to read the result from over REST, so the log is read). Pairing the two
//! gives the delay from the real end of speech to the transcript, beside the server's own figure
//! (which counts from where its endpointer put the end).

use crate::stats::{Latencies, LatencySummary};
use protocol::results::ReplyStages;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// Farthest apart the generator's and the server's end of one answer may be to pair them: an
/// endpointer ends an utterance within a few frames of the last sound, and a server utterance
/// that ended elsewhere (a pause inside an answer long enough to end a turn) is not this answer.
pub const MAX_END_MISMATCH_MS: u64 = 300;

/// Answers shorter or longer than this are left out of the figures (the range the recogniser
/// target is stated for).
pub const ANSWER_MS_RANGE: std::ops::RangeInclusive<u64> = 2_000..=15_000;

/// One answer the generator played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnswerEnd {
    /// Media time just after its last speech frame.
    pub end_ms: u64,
    /// Its speech, first to last sound.
    pub speech_ms: u64,
}

/// The answers of one call, by its `CallSid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpokenCall {
    pub call_sid: String,
    pub answers: Vec<AnswerEnd>,
}

/// One answer paired with the reply that followed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeardDelay {
    pub speech_ms: u64,
    /// The generator's end of speech -> the words known (server media time).
    pub measured_ms: u64,
    /// The result's own figure: its end of speech -> the words known.
    pub reported_ms: u64,
}

/// Pairs each reply with the answer whose end is nearest its `speech_end_at_ms` (within
/// [`MAX_END_MISMATCH_MS`], each answer once). Replies without the times are skipped.
pub fn pair(answers: &[AnswerEnd], replies: &[ReplyStages]) -> Vec<HeardDelay> {
    let mut used = vec![false; answers.len()];
    let mut delays = Vec::new();
    for reply in replies {
        let (Some(server_end_ms), Some(heard_ms)) = (reply.speech_end_at_ms, reply.heard_ms) else { continue };
        let nearest = answers
            .iter()
            .enumerate()
            .filter(|(index, answer)| !used[*index] && answer.end_ms.abs_diff(server_end_ms) <= MAX_END_MISMATCH_MS)
            .min_by_key(|(_, answer)| answer.end_ms.abs_diff(server_end_ms));
        let Some((index, answer)) = nearest else { continue };
        used[index] = true;
        let known_at_ms = server_end_ms + heard_ms;
        delays.push(HeardDelay {
            speech_ms: answer.speech_ms,
            measured_ms: known_at_ms.saturating_sub(answer.end_ms),
            reported_ms: heard_ms,
        });
    }
    delays
}

/// The figures of a step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TranscriptTiming {
    /// Answers of 2-15 s paired with a reply of the server.
    pub answers_paired: usize,
    /// Answers of 2-15 s played but not paired (no reply ended near them).
    pub answers_unpaired: usize,
    /// The generator's end of speech -> the words known.
    pub measured: LatencySummary,
    /// The server's `heard_ms` of the same replies (the result's `latency.stt_ms`).
    pub reported: LatencySummary,
    /// Mean of |measured - reported| over the pairs, ms.
    pub mean_difference_ms: f64,
}

impl TranscriptTiming {
    /// Figures over the answers of [`ANSWER_MS_RANGE`].
    pub fn new(delays: &[HeardDelay], answers_in_range: usize) -> TranscriptTiming {
        let in_range: Vec<&HeardDelay> = delays.iter().filter(|d| ANSWER_MS_RANGE.contains(&d.speech_ms)).collect();
        let (mut measured, mut reported) = (Latencies::default(), Latencies::default());
        let mut difference = 0.0;
        for delay in &in_range {
            measured.record(Duration::from_millis(delay.measured_ms));
            reported.record(Duration::from_millis(delay.reported_ms));
            difference += delay.measured_ms.abs_diff(delay.reported_ms) as f64;
        }
        TranscriptTiming {
            answers_paired: in_range.len(),
            answers_unpaired: answers_in_range.saturating_sub(in_range.len()),
            measured: measured.summary(),
            reported: reported.summary(),
            mean_difference_ms: if in_range.is_empty() { 0.0 } else { difference / in_range.len() as f64 },
        }
    }
}

/// The stages of every reply in a server log (`RUST_LOG=reply_stages=debug`: the media worker's
/// `reply stages` lines, the same stages each call's result carries), by `CallSid`.
pub fn replies_from_log(log: &str) -> HashMap<String, Vec<ReplyStages>> {
    let mut replies: HashMap<String, Vec<ReplyStages>> = HashMap::new();
    for line in log.lines().filter(|line| line.contains("reply stages")) {
        let line = strip_ansi(line);
        let field = |name: &str| {
            let at = line.find(&format!("{name}="))? + name.len() + 1;
            let value = &line[at..];
            Some(value[..value.find([' ', '}', ':']).unwrap_or(value.len())].to_owned())
        };
        let number = |name: &str| field(name).and_then(|value| value.parse::<u64>().ok());
        let (Some(call_sid), Some(speech_end_at_ms), Some(heard_ms)) =
            (field("call_sid"), number("speech_end_at_ms"), number("heard_ms"))
        else {
            continue;
        };
        let stages = ReplyStages {
            speech_end_at_ms: Some(speech_end_at_ms),
            heard_ms: Some(heard_ms),
            ..ReplyStages::default()
        };
        replies.entry(call_sid).or_default().push(stages);
    }
    replies
}

/// `line` without terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads the server log at `path` (at most its last [`MAX_LOG_BYTES`]) and pairs its replies
/// with the answers of `calls`.
pub fn measure(path: &std::path::Path, calls: &[SpokenCall]) -> Result<TranscriptTiming, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let length = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(MAX_LOG_BYTES))).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let replies = replies_from_log(&String::from_utf8_lossy(&bytes));
    let answers_in_range = calls
        .iter()
        .flat_map(|call| &call.answers)
        .filter(|answer| ANSWER_MS_RANGE.contains(&answer.speech_ms))
        .count();
    let delays: Vec<HeardDelay> = calls
        .iter()
        .filter_map(|call| replies.get(&call.call_sid).map(|stages| pair(&call.answers, stages)))
        .flatten()
        .collect();
    Ok(TranscriptTiming::new(&delays, answers_in_range))
}

/// Most of a server log read after a step (its end).
pub const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(speech_end_at_ms: u64, heard_ms: u64) -> ReplyStages {
        ReplyStages { speech_end_at_ms: Some(speech_end_at_ms), heard_ms: Some(heard_ms), ..ReplyStages::default() }
    }

    #[test]
    fn each_reply_pairs_with_the_nearest_answer_end_and_counts_from_it() {
        let answers = [
            AnswerEnd { end_ms: 5_000, speech_ms: 3_000 },
            AnswerEnd { end_ms: 12_000, speech_ms: 4_000 },
            AnswerEnd { end_ms: 30_000, speech_ms: 9_000 },
        ];
        // the server put the ends 20 ms late, 40 ms early, and one where no answer ended
        let replies = [reply(5_020, 260), reply(11_960, 300), reply(20_000, 100), ReplyStages::default()];
        let delays = pair(&answers, &replies);
        assert_eq!(
            delays,
            vec![
                HeardDelay { speech_ms: 3_000, measured_ms: 280, reported_ms: 260 },
                HeardDelay { speech_ms: 4_000, measured_ms: 260, reported_ms: 300 },
            ]
        );
        // an answer is paired once
        assert_eq!(pair(&answers[..1], &[reply(5_000, 200), reply(5_010, 200)]).len(), 1);
    }

    #[test]
    fn the_reply_stage_lines_of_a_server_log_are_read_by_call() {
        let log = "2026-12-05T17:00:00Z DEBUG call{call_id=c1 stream_sid=MZ1 call_sid=CA1}: reply_stages: reply stages reply_ms=900 endpoint_ms=400 stt_ms=0 brain_ms=20 tts_ms=100 play_ms=0 heard_ms=260 speech_end_at_ms=5020
2026-12-05T17:00:01Z  INFO call{call_id=c1 stream_sid=MZ1 call_sid=CA1}: media_worker: callee transcript words=3
\u{1b}[2m2026-12-05T17:00:02Z\u{1b}[0m DEBUG call{call_id=c2 stream_sid=MZ2 call_sid=CA2}: reply_stages: reply stages reply_ms=800 heard_ms=\u{1b}[3m300\u{1b}[0m speech_end_at_ms=11960
2026-12-05T17:00:03Z DEBUG call{call_id=c1 stream_sid=MZ1 call_sid=CA1}: reply_stages: reply stages reply_ms=800 heard_ms=280 speech_end_at_ms=9000
";
        let replies = replies_from_log(log);
        assert_eq!(replies.len(), 2);
        assert_eq!(replies["CA1"], vec![reply(5_020, 260), reply(9_000, 280)]);
        assert_eq!(replies["CA2"], vec![reply(11_960, 300)]);
    }

    #[test]
    fn figures_cover_the_answers_of_two_to_fifteen_seconds() {
        let delays = [
            HeardDelay { speech_ms: 3_000, measured_ms: 280, reported_ms: 260 },
            HeardDelay { speech_ms: 4_000, measured_ms: 260, reported_ms: 300 },
            HeardDelay { speech_ms: 1_000, measured_ms: 900, reported_ms: 900 },
        ];
        let timing = TranscriptTiming::new(&delays, 3);
        assert_eq!((timing.answers_paired, timing.answers_unpaired), (2, 1));
        assert_eq!((timing.measured.p50_ms, timing.measured.max_ms), (Some(260), Some(280)));
        assert_eq!(timing.reported.max_ms, Some(300));
        assert!((timing.mean_difference_ms - 30.0).abs() < 1e-9);
    }
}
