//! Unit tests of hearing: 20 ms frames stamped with fake media time, a loudness detector in
//! place of the VAD (and once the real VAD on flite speech), a scripted agent side.

use super::*;

/// `speech::SttInput` has no `PartialEq`; compare outputs field by field.
impl PartialEq for HearingOutput {
    fn eq(&self, other: &HearingOutput) -> bool {
        use HearingOutput::*;
        match (self, other) {
            (StartStt { generation: a }, StartStt { generation: b }) => a == b,
            (StopStt, StopStt) => true,
            (Stt(a), Stt(b)) => match (a, b) {
                (SttInput::Audio { mulaw: a, timestamp_ms: t }, SttInput::Audio { mulaw: b, timestamp_ms: u }) => {
                    a == b && t == u
                }
                (SttInput::UtteranceStart { timestamp_ms: a }, SttInput::UtteranceStart { timestamp_ms: b })
                | (SttInput::UtteranceEnd { timestamp_ms: a }, SttInput::UtteranceEnd { timestamp_ms: b })
                | (SttInput::Paused { timestamp_ms: a }, SttInput::Paused { timestamp_ms: b })
                | (SttInput::Resumed { timestamp_ms: a }, SttInput::Resumed { timestamp_ms: b }) => a == b,
                (SttInput::Close, SttInput::Close) => true,
                _ => false,
            },
            (Heard { at_ms: a, event: e }, Heard { at_ms: b, event: f }) => a == b && e == f,
            (ReplyAwaited { since_ms: a, endpointed_ms: c }, ReplyAwaited { since_ms: b, endpointed_ms: d }) => {
                a == b && c == d
            }
            (Transcribed { known_ms: a }, Transcribed { known_ms: b }) => a == b,
            _ => false,
        }
    }
}

/// Speech detector double: a frame is speech when it is loud.
struct Loudness;

impl SpeechDetector for Loudness {
    fn is_speech(&mut self, pcm_8k_20ms: &[i16]) -> bool {
        pcm_8k_20ms.iter().any(|s| s.unsigned_abs() > 1000)
    }
}

/// The agent side: whether its audio is unplayed, and how many barge-ins it refuses (an
/// uninterruptible utterance) before it cuts.
#[derive(Default)]
struct Agent {
    speaking: bool,
    refusals: u32,
    /// Media times of every barge-in asked for, and of the one that cut.
    asked_ms: Vec<u64>,
    cut_ms: Option<u64>,
}

impl AgentAudio for Agent {
    fn unplayed(&self, _now_ms: u64) -> bool {
        self.speaking && self.cut_ms.is_none()
    }

    fn barge_in(&mut self, now_ms: u64) -> bool {
        self.asked_ms.push(now_ms);
        if self.refusals > 0 {
            self.refusals -= 1;
            return false;
        }
        self.cut_ms = Some(now_ms);
        true
    }
}

const LOUD: i16 = 8000;

/// A call's hearing fed frame by frame from media time 0.
struct Line {
    hearing: Hearing<Loudness>,
    agent: Agent,
    now_ms: u64,
    next_frame_ms: u64,
}

impl Line {
    fn new() -> Line {
        Line::with(EndpointerConfig::default())
    }

    fn with(endpointer: EndpointerConfig) -> Line {
        let mut hearing = Hearing::new(Loudness, endpointer, "test");
        assert_eq!(hearing.poll_output(), Some(HearingOutput::StartStt { generation: 1 }));
        assert_eq!(hearing.poll_output(), None);
        Line { hearing, agent: Agent::default(), now_ms: 0, next_frame_ms: 0 }
    }

    /// `ms` of callee audio (speech or silence) in 20 ms frames; what hearing asked for.
    fn callee(&mut self, speech: bool, ms: u64) -> Vec<HearingOutput> {
        let sample = if speech { protocol::mulaw::encode(LOUD) } else { protocol::mulaw::SILENCE };
        let mut outputs = Vec::new();
        for _ in 0..ms / FRAME_MS {
            let frame = Bytes::from(vec![sample; FRAME_SAMPLES]);
            self.now_ms = self.hearing.handle_frame(self.now_ms, self.next_frame_ms, frame, &mut self.agent);
            self.next_frame_ms += FRAME_MS;
            outputs.extend(std::iter::from_fn(|| self.hearing.poll_output()));
        }
        outputs
    }

    fn stt(&mut self, generation: u32, output: Option<SttOutput>) -> Vec<HearingOutput> {
        self.hearing.handle_stt(self.now_ms, generation, output);
        std::iter::from_fn(|| self.hearing.poll_output()).collect()
    }
}

/// (timestamp, ms) of every audio chunk sent to STT.
fn stt_audio(outputs: &[HearingOutput]) -> Vec<(u64, u64)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            HearingOutput::Stt(SttInput::Audio { mulaw, timestamp_ms }) => {
                Some((*timestamp_ms, mulaw.len() as u64 / 8))
            }
            _ => None,
        })
        .collect()
}

fn without_audio(outputs: Vec<HearingOutput>) -> Vec<HearingOutput> {
    outputs.into_iter().filter(|o| !matches!(o, HearingOutput::Stt(SttInput::Audio { .. }))).collect()
}

/// STT failed (or closed) at media time `at_ms`, as the brain is told.
fn failure_at(at_ms: u64, message: &str) -> HearingOutput {
    HearingOutput::Heard {
        at_ms,
        event: HeardEvent::ProviderFailure { stage: ProviderStage::Stt, message: message.into() },
    }
}

#[test]
fn silence_and_a_short_click_do_nothing() {
    let mut line = Line::new();
    assert_eq!(line.callee(false, 2000), vec![]);
    // 60 ms of sound is under the 120 ms that confirm speech
    assert_eq!(line.callee(true, 60), vec![]);
    assert_eq!(line.callee(false, 1000), vec![]);
    assert_eq!(line.now_ms, 3060, "the media time follows the frames");
    assert!(line.agent.asked_ms.is_empty());
}

#[test]
fn an_utterance_is_streamed_to_stt_from_its_preroll_and_ended_after_the_endpoint_silence() {
    let mut line = Line::new();
    assert_eq!(line.callee(false, 500), vec![]);

    let speech = line.callee(true, 400);
    // confirmed after 120 ms of speech (at 620), reported as starting at its onset (500)
    assert_eq!(
        without_audio(speech.clone()),
        vec![
            HearingOutput::Heard { at_ms: 500, event: HeardEvent::SpeechStarted },
            HearingOutput::Stt(SttInput::UtteranceStart { timestamp_ms: 500 }),
        ]
    );
    // the onset from the preroll ring: 100 ms before the start up to the confirming frame's end
    let audio = stt_audio(&speech);
    assert_eq!(audio[0], (400, 220));
    let onset = match &speech[2] {
        HearingOutput::Stt(SttInput::Audio { mulaw, .. }) => mulaw.clone(),
        other => panic!("expected the onset, got {other:?}"),
    };
    assert!(onset[..800].iter().all(|&b| b == protocol::mulaw::SILENCE), "the 100 ms lead is the silence before");
    assert!(onset[800..].iter().all(|&b| b == protocol::mulaw::encode(LOUD)), "then the speech");

    let ending = line.callee(false, 600);
    // 500 ms of silence end it; its end is the end of the last speech frame
    assert_eq!(
        without_audio(ending.clone()),
        vec![
            HearingOutput::Stt(SttInput::UtteranceEnd { timestamp_ms: 900 }),
            // decided when the frame holding the 500th ms of silence has arrived
            HearingOutput::ReplyAwaited { since_ms: 900, endpointed_ms: 1400 },
        ]
    );
    // every frame between, once, in order: no gap and no overlap from the onset on
    let audio: Vec<(u64, u64)> = audio.into_iter().chain(stt_audio(&ending)).collect();
    for pair in audio.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "{audio:?}");
    }
    let (last_ms, last_len_ms) = audio[audio.len() - 1];
    assert_eq!(last_ms + last_len_ms, 1380, "the frame that ends the utterance is not sent");
}

#[test]
fn transcripts_are_numbered_per_utterance_and_empty_finals_dropped() {
    let mut line = Line::new();
    line.callee(false, 300);
    line.callee(true, 300);
    assert_eq!(
        line.stt(1, Some(SttOutput::Interim { text: "hel".into() })),
        vec![HearingOutput::Heard {
            at_ms: 600,
            event: HeardEvent::Transcript {
                utterance_seq: 0,
                text: "hel".into(),
                is_final: false,
                confidence: None,
                start_ms: 300,
                end_ms: 600,
            },
        }]
    );
    line.callee(false, 600);
    let final_of =
        |text: &str| SttOutput::Final { text: text.into(), confidence: Some(0.8), start_ms: 300, end_ms: 600 };
    let heard = |utterance_seq: u64, text: &str| HearingOutput::Heard {
        at_ms: 600,
        event: HeardEvent::Transcript {
            utterance_seq,
            text: text.into(),
            is_final: true,
            confidence: Some(0.8),
            start_ms: 300,
            end_ms: 600,
        },
    };
    // nothing recognised is told as an empty final: the brain stops waiting for it
    let transcribed = HearingOutput::Transcribed { known_ms: 1200 };
    assert_eq!(
        line.stt(1, Some(final_of("  "))),
        vec![transcribed.clone(), heard(0, "")],
        "nothing recognised: told as empty"
    );
    assert_eq!(line.stt(1, Some(final_of("hello there"))), vec![transcribed.clone(), heard(1, "hello there")]);
    assert_eq!(line.stt(1, Some(final_of("who is it"))), vec![transcribed, heard(2, "who is it")]);
}

#[test]
fn the_recogniser_is_told_of_pauses_and_words_known_at_the_pause_date_the_final_transcript() {
    let mut line = Line::with(EndpointerConfig { pause_ms: 120, ..EndpointerConfig::default() });
    line.callee(false, 300);
    line.callee(true, 600);
    // 200 ms of quiet: a pause at 120 ms of it, then the callee goes on
    let paused = without_audio(line.callee(false, 200));
    assert_eq!(paused, vec![HearingOutput::Stt(SttInput::Paused { timestamp_ms: 1020 })]);
    let resumed = without_audio(line.callee(true, 400));
    assert_eq!(resumed, vec![HearingOutput::Stt(SttInput::Resumed { timestamp_ms: 1100 })]);
    // speech ends at 1500: the pause at 1620, the words at 1700, the endpoint at 2000
    let quiet = without_audio(line.callee(false, 200));
    assert_eq!(quiet, vec![HearingOutput::Stt(SttInput::Paused { timestamp_ms: 1620 })]);
    let interim = line.stt(1, Some(SttOutput::Interim { text: "yes we do".into() }));
    assert!(matches!(
        &interim[..],
        [HearingOutput::Heard { event: HeardEvent::Transcript { is_final: false, .. }, .. }]
    ));
    let ended = without_audio(line.callee(false, 400));
    assert_eq!(
        ended,
        vec![
            HearingOutput::Stt(SttInput::UtteranceEnd { timestamp_ms: 1500 }),
            HearingOutput::ReplyAwaited { since_ms: 1500, endpointed_ms: 2000 },
        ]
    );
    let final_of = |text: &str| SttOutput::Final { text: text.into(), confidence: None, start_ms: 300, end_ms: 1500 };
    let outputs = line.stt(1, Some(final_of("yes we do")));
    assert_eq!(outputs[0], HearingOutput::Transcribed { known_ms: 1700 }, "the words were known at the interim");
    // other words than the interim's: known when they came
    line.callee(true, 400);
    line.callee(false, 600);
    line.stt(1, Some(SttOutput::Interim { text: "no".into() }));
    let now_ms = line.now_ms;
    let outputs = line.stt(1, Some(final_of("no we don't")));
    assert_eq!(outputs[0], HearingOutput::Transcribed { known_ms: now_ms });
}

#[test]
fn speech_over_unplayed_agent_audio_cuts_it_once_after_the_barge_in_minimum() {
    let mut line = Line::new();
    line.agent.speaking = true;
    line.callee(false, 500);
    let outputs = line.callee(true, 1000);
    // 200 ms of speech from the onset at 500: cut at 700, once
    assert_eq!(line.agent.asked_ms, vec![700]);
    assert_eq!(line.agent.cut_ms, Some(700));
    assert!(outputs.contains(&HearingOutput::Heard { at_ms: 500, event: HeardEvent::SpeechStarted }));
    line.agent.cut_ms = None; // more agent audio queued meanwhile: the same utterance does not cut again
    line.callee(true, 200);
    let ending = line.callee(false, 600);
    assert_eq!(line.agent.asked_ms, vec![700]);
    assert!(
        !ending.iter().any(|o| matches!(o, HearingOutput::ReplyAwaited { .. })),
        "the agent was still talking: no reply awaited"
    );
    // the next utterance may cut again
    line.callee(true, 300);
    assert_eq!(line.agent.asked_ms, vec![700, 2500]);
}

#[test]
fn an_agent_that_cannot_be_cut_is_asked_again_frame_by_frame() {
    let mut line = Line::new();
    line.agent.speaking = true;
    line.agent.refusals = 2; // an uninterruptible utterance still playing
    line.callee(false, 500);
    line.callee(true, 600);
    assert_eq!(line.agent.asked_ms, vec![700, 720, 740]);
    assert_eq!(line.agent.cut_ms, Some(740));
}

#[test]
fn no_barge_in_while_the_agent_is_silent() {
    let mut line = Line::new();
    line.callee(false, 500);
    line.callee(true, 1000);
    let ending = line.callee(false, 600);
    assert!(line.agent.asked_ms.is_empty());
    assert!(ending.contains(&HearingOutput::ReplyAwaited { since_ms: 1500, endpointed_ms: 2000 }));
}

#[test]
fn a_failed_stt_stream_is_restarted_three_times_and_told_of_the_utterance_in_progress() {
    let mut line = Line::new();
    line.callee(false, 500);
    line.callee(true, 200);
    let failed = |message: &str| Some(SttOutput::Failed { message: message.into(), retryable: true });
    assert_eq!(
        line.stt(1, failed("quota")),
        vec![
            failure_at(700, "quota"),
            HearingOutput::StartStt { generation: 2 },
            HearingOutput::Stt(SttInput::UtteranceStart { timestamp_ms: 500 }),
        ]
    );
    // the replaced stream is no longer heard
    let late = SttOutput::Final { text: "late".into(), confidence: None, start_ms: 500, end_ms: 700 };
    assert_eq!(line.stt(1, Some(late)), vec![]);
    assert_eq!(line.stt(1, None), vec![]);
    // the new stream gets the audio that follows
    assert_eq!(stt_audio(&line.callee(true, 20)), vec![(700, 20)]);

    // a stream that closes counts as a failure too
    let closed = line.stt(2, None);
    assert_eq!(closed[0], failure_at(720, "stt stream closed"));
    assert_eq!(closed[1], HearingOutput::StartStt { generation: 3 });
    assert_eq!(line.stt(3, failed("again"))[1], HearingOutput::StartStt { generation: 4 });
    // the fourth failure: given up for this call
    assert_eq!(line.stt(4, failed("for good")), vec![failure_at(720, "for good"), HearingOutput::StopStt]);
    assert_eq!(line.stt(4, None), vec![], "the old stream is ignored");
    // hearing goes on (speech start, reply latency) but STT is told nothing more
    let rest = line.callee(false, 600);
    assert_eq!(rest, vec![HearingOutput::ReplyAwaited { since_ms: 720, endpointed_ms: 1220 }]);
    let next = line.callee(true, 300);
    assert_eq!(next, vec![HearingOutput::Heard { at_ms: 1320, event: HeardEvent::SpeechStarted }]);
}

#[test]
fn a_gap_in_the_stream_drops_the_preroll_from_before_it() {
    let mut line = Line::new();
    line.callee(false, 500);
    line.next_frame_ms = 2000; // frames lost between 500 and 2000
    let speech = line.callee(true, 200);
    assert_eq!(stt_audio(&speech)[0], (2000, 120), "the onset starts at the first frame after the gap");
}

#[test]
fn the_webrtc_vad_hears_flite_speech_as_one_utterance() {
    let flite = speech::tts::FliteTts::new().expect("the embedded flite voice");
    let mut mulaw = vec![protocol::mulaw::SILENCE; 4000];
    protocol::mulaw::encode_into(&flite.synthesize_pcm_8k("Hello, who is this?"), &mut mulaw);
    mulaw.extend(vec![protocol::mulaw::SILENCE; 8000]);
    let mut hearing = Hearing::new(Vad::new(speech::VadMode::Aggressive), EndpointerConfig::default(), "test");
    let mut agent = Agent::default();
    let mut now_ms = 0;
    let mut outputs = Vec::new();
    for (index, frame) in mulaw.chunks_exact(FRAME_SAMPLES).enumerate() {
        now_ms = hearing.handle_frame(now_ms, index as u64 * FRAME_MS, Bytes::copy_from_slice(frame), &mut agent);
        outputs.extend(std::iter::from_fn(|| hearing.poll_output()));
    }
    let bounds: Vec<&HearingOutput> = outputs
        .iter()
        .filter(|o| {
            matches!(
                o,
                HearingOutput::Stt(SttInput::UtteranceStart { .. } | SttInput::UtteranceEnd { .. })
                    | HearingOutput::Heard { .. }
            )
        })
        .collect();
    assert_eq!(bounds.len(), 3, "one start, one end: {bounds:?}");
    let HearingOutput::Heard { at_ms: start_ms, event: HeardEvent::SpeechStarted } = bounds[0] else {
        panic!("{bounds:?}")
    };
    assert!((500..1500).contains(start_ms), "speech starts after the 500 ms of silence: {start_ms}");
}
