//! When each side of a persona's call was speaking, as the callee heard and said it (media time),
//! and what an evaluation reads from that: the agent's dead air and how the call ended.

use serde::Serialize;

/// Quiet shorter than this inside a side's speech does not end its turn (breaths, commas).
pub const SPEECH_MERGE_MS: u64 = 700;
/// Agent silence longer than this while it holds the line is dead air.
pub const DEAD_AIR_MS: u64 = 3000;

/// A stretch of media time, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Span {
    pub fn ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Turns 20 ms frames marked speech or not into spans of speech.
#[derive(Clone, Debug, Default)]
pub struct SpanRecorder {
    spans: Vec<Span>,
}

impl SpanRecorder {
    /// A frame of speech starting at `at_ms` (frames without speech need no call).
    pub fn speech(&mut self, at_ms: u64, frame_ms: u64) {
        let end_ms = at_ms + frame_ms;
        match self.spans.last_mut() {
            Some(last) if at_ms <= last.end_ms + SPEECH_MERGE_MS => last.end_ms = last.end_ms.max(end_ms),
            _ => self.spans.push(Span { start_ms: at_ms, end_ms }),
        }
    }

    pub fn spans(&self) -> &[Span] {
        &self.spans
    }
}

/// Who ended the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The agent's side closed the stream (hung up).
    Agent,
    /// The persona hung up (after its goodbye, or a voicemail that ended).
    Callee,
    /// The simulator's time limit, or an error on the line.
    Limit,
}

/// Both sides' speech on one call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallTimeline {
    pub callee_speech: Vec<Span>,
    pub agent_speech: Vec<Span>,
    /// The persona's goodbye line (after the agent's closing).
    pub goodbye: Option<Span>,
    /// When the call's audio ended.
    pub end_ms: u64,
    pub ended_by: EndedBy,
}

impl CallTimeline {
    /// Silences over `over_ms` on the agent's side while it holds the line: from the end of the
    /// callee's speech to the agent's next audio (or to the end of a call the agent left open),
    /// unless the callee speaks first (it is on hold, or adds something) or has said goodbye.
    pub fn dead_air(&self, over_ms: u64) -> Vec<Span> {
        let mut silences = Vec::new();
        for (index, callee) in self.callee_speech.iter().enumerate() {
            if self.goodbye.is_some_and(|goodbye| callee.end_ms >= goodbye.start_ms) {
                break;
            }
            let next_callee = self.callee_speech.get(index + 1).map(|s| s.start_ms);
            let next_agent = self.agent_speech.iter().map(|s| s.start_ms).find(|&start| start >= callee.end_ms);
            // the agent already talking when the callee stopped is no silence
            let agent_talking =
                self.agent_speech.iter().any(|s| s.start_ms < callee.end_ms && s.end_ms > callee.end_ms);
            if agent_talking {
                continue;
            }
            let silence_end = match (next_agent, next_callee) {
                (Some(agent), Some(callee_again)) if callee_again < agent => continue,
                (Some(agent), _) => agent,
                (None, Some(_)) => continue,
                // nothing more from either side: the agent left the line open until the end
                (None, None) => self.end_ms,
            };
            let silence = Span { start_ms: callee.end_ms, end_ms: silence_end };
            if silence.ms() > over_ms {
                silences.push(silence);
            }
        }
        silences
    }

    /// The agent's side hung up, after the persona's goodbye had been said in full.
    pub fn hung_up_after_goodbye(&self) -> bool {
        self.ended_by == EndedBy::Agent && self.goodbye.is_some_and(|goodbye| self.end_ms >= goodbye.end_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start_ms: u64, end_ms: u64) -> Span {
        Span { start_ms, end_ms }
    }

    #[test]
    fn frames_merge_into_turns() {
        let mut recorder = SpanRecorder::default();
        for at in (0..1000).step_by(20).chain((1400..2000).step_by(20)).chain((5000..5100).step_by(20)) {
            recorder.speech(at, 20);
        }
        assert_eq!(recorder.spans(), &[span(0, 2000), span(5000, 5100)]);
    }

    #[test]
    fn dead_air_is_the_agents_silence_after_the_callee() {
        let timeline = CallTimeline {
            // greeting, an answer, "hold on" and its return 4 s later, a last answer
            callee_speech: vec![span(0, 2000), span(6000, 8000), span(14000, 15000), span(19000, 19500)],
            // a reply 1 s after the greeting, one 4.5 s after the answer (dead air); nothing
            // while the callee holds (the callee's silence); nothing after the last answer for
            // 5.5 s (left open)
            agent_speech: vec![span(3000, 5500), span(12500, 13500)],
            goodbye: None,
            end_ms: 25000,
            ended_by: EndedBy::Limit,
        };
        assert_eq!(timeline.dead_air(DEAD_AIR_MS), vec![span(8000, 12500), span(19500, 25000)]);
        assert!(!timeline.hung_up_after_goodbye());
        let goodbye = CallTimeline {
            goodbye: Some(span(19000, 19500)),
            end_ms: 20000,
            ended_by: EndedBy::Agent,
            ..timeline.clone()
        };
        assert_eq!(goodbye.dead_air(DEAD_AIR_MS), vec![span(8000, 12500)]);
        assert!(goodbye.hung_up_after_goodbye());
        let cut_off = CallTimeline { end_ms: 19200, ..goodbye };
        assert!(!cut_off.hung_up_after_goodbye());
    }
}
