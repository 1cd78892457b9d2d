//! A persona on the phone: it hears the agent's audio as the simulator plays it (speech-to-text
//! on that audio, DTMF tones by ear), waits for the agent to finish, and answers with synthesized
//! speech fed back as the callee's 20 ms frames.
//!
//! Driven frame by frame on media time by the simulator: [`PersonaVoice::hear_agent_frame`] for
//! every played frame of agent audio, [`PersonaVoice::fill_frame`] for every callee frame to send.
//! Speech-to-text and synthesis run beside it through channels, so a frame call never blocks.

use super::rng::SplitMix64;
use super::timeline::{Span, SpanRecorder};
use super::{PersonaAction, Responder};
use crate::twilio::audio::{CalleeAudio, FRAME_BYTES};
use bytes::Bytes;
use protocol::dtmf::DtmfListener;
use protocol::mulaw;
use speech::{SttContext, SttInput, SttOutput, SttProvider, SttStream, TtsChunk, TtsProvider};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Frame length in samples (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 160;
/// Agent silence that ends what the persona hears as one agent utterance.
const AGENT_UTTERANCE_END_MS: u64 = 700;
/// Agent silence the persona waits for before it starts talking.
const TURN_GAP_MS: u64 = 400;
/// Continuous agent speech after which an interrupting persona talks over it.
const INTERRUPT_AFTER_MS: u64 = 1500;
/// Mean absolute level (linear PCM) above which a frame of agent audio counts as speech.
const SPEECH_LEVEL: i32 = 300;

/// One line of what the persona heard and said, for logs and test output.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonaLine {
    pub at_ms: u64,
    pub speaker: &'static str,
    pub text: String,
}

/// The persona's ears and mouth around a [`Responder`].
pub struct PersonaVoice {
    responder: Responder,
    tts: Arc<dyn TtsProvider>,
    stt: SttStream,
    dtmf: DtmfListener,
    /// μ-law samples queued to say.
    outgoing: VecDeque<u8>,
    actions: VecDeque<PersonaAction>,
    synthesizing: Option<mpsc::UnboundedReceiver<Result<TtsChunk, speech::TtsError>>>,
    pause_until_ms: u64,
    last_agent_speech_ms: Option<u64>,
    agent_utterance_start_ms: Option<u64>,
    answered: bool,
    hangup_requested: bool,
    pcm: Vec<i16>,
    lines: Vec<PersonaLine>,
    now_ms: u64,
    agent_speech: SpanRecorder,
    callee_speech: SpanRecorder,
    /// The persona's goodbye: when it started, and the last of its audio.
    goodbye: Option<Span>,
    noise: Option<LineNoise>,
}

/// White noise added to everything the persona sends, `snr_db` below its speech.
struct LineNoise {
    snr_db: f32,
    rng: SplitMix64,
    /// RMS of the persona's speech so far (a typical level until it has spoken).
    speech_rms: f64,
}

impl LineNoise {
    fn add(&mut self, pcm: &mut [i16], speech: bool) {
        if speech {
            let rms = (pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / pcm.len().max(1) as f64).sqrt();
            self.speech_rms = 0.95 * self.speech_rms + 0.05 * rms;
        }
        let deviation = self.speech_rms / 10f64.powf(f64::from(self.snr_db) / 20.0);
        for sample in pcm.iter_mut() {
            let noisy = f64::from(*sample) + deviation * self.rng.gaussian();
            *sample = noisy.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
        }
    }
}

impl PersonaVoice {
    /// `stt` should be constrained to what the agent's playbook says (see
    /// [`PersonaVoice::listening_vocabulary`]).
    pub fn new(
        responder: Responder,
        tts: Arc<dyn TtsProvider>,
        stt: &dyn SttProvider,
        vocabulary: Option<Arc<speech::Vocabulary>>,
    ) -> PersonaVoice {
        let stt = stt.start(SttContext { call_id: format!("persona-{}", responder.persona().name), vocabulary });
        PersonaVoice {
            responder,
            tts,
            stt,
            dtmf: DtmfListener::default(),
            outgoing: VecDeque::new(),
            actions: VecDeque::new(),
            synthesizing: None,
            pause_until_ms: 0,
            last_agent_speech_ms: None,
            agent_utterance_start_ms: None,
            answered: false,
            hangup_requested: false,
            pcm: Vec::with_capacity(FRAME_SAMPLES),
            lines: Vec::new(),
            now_ms: 0,
            agent_speech: SpanRecorder::default(),
            callee_speech: SpanRecorder::default(),
            goodbye: None,
            noise: None,
        }
    }

    /// Adds white noise to the line, `snr_db` below the persona's speech, from `seed`.
    pub fn with_line_noise(mut self, snr_db: f32, seed: u64) -> PersonaVoice {
        self.noise = Some(LineNoise { snr_db, rng: SplitMix64::new(seed), speech_rms: 2500.0 });
        self
    }

    /// When the agent spoke (as the persona heard it played).
    pub fn agent_speech(&self) -> &[Span] {
        self.agent_speech.spans()
    }

    /// When the persona spoke.
    pub fn callee_speech(&self) -> &[Span] {
        self.callee_speech.spans()
    }

    /// The persona's goodbye line, once said.
    pub fn goodbye(&self) -> Option<Span> {
        self.goodbye
    }

    /// What an agent running `playbook` says, as a vocabulary for the persona's recogniser:
    /// every line of the playbook plus the playbook's words, answer patterns (numbers, prices,
    /// days, times), subjects and pronunciations.
    pub fn listening_vocabulary(
        playbook: &playbook::Playbook,
        context: &std::collections::BTreeMap<String, String>,
    ) -> speech::Vocabulary {
        let values = playbook.template_context(context);
        let mut lines = vec![playbook.disclosure.clone(), playbook.opening.clone(), playbook.closing.clone()];
        if let playbook::Voicemail::LeaveMessage { message } = &playbook.voicemail {
            lines.push(message.clone());
        }
        for field in &playbook.fields {
            lines.extend(field.question.iter().cloned());
            lines.extend(field.follow_up.iter().cloned());
            lines.extend(field.read_back.iter().map(|r| r.replace("{value}", "")));
            lines.extend(field.noted.iter().map(|r| r.replace("{value}", "")));
        }
        let lines: Vec<String> =
            lines.iter().map(|l| playbook::render(l, &values)).filter(|l| !l.trim().is_empty()).collect();
        speech::Vocabulary::new()
            .with_phrases(playbook.answer_patterns())
            .with_subjects(playbook.subjects())
            .with_pronunciations(playbook.pronunciations())
            .with_phrases(lines)
            .with_phrases(playbook.vocabulary_phrases())
    }

    /// Everything heard and said so far.
    pub fn lines(&self) -> &[PersonaLine] {
        &self.lines
    }

    /// True once the persona has hung up and said everything it queued.
    pub fn finished(&self) -> bool {
        self.hangup_requested && self.outgoing.is_empty() && self.actions.is_empty() && self.synthesizing.is_none()
    }

    /// One frame of agent audio, played at media time `at_ms`.
    pub fn hear_agent_frame(&mut self, at_ms: u64, frame: &[u8]) {
        self.now_ms = self.now_ms.max(at_ms);
        self.pcm.clear();
        mulaw::decode_into(frame, &mut self.pcm);
        // every frame goes to the recogniser (it keeps a short pre-roll of the quiet before an
        // utterance); speech frames open and extend the utterance
        let _ = self.stt.input.send(SttInput::Audio { mulaw: Bytes::copy_from_slice(frame), timestamp_ms: at_ms });
        if let Some(key) = self.dtmf.push(&self.pcm) {
            self.lines.push(PersonaLine { at_ms, speaker: "agent", text: format!("(key {key})") });
            let actions = self.responder.on_digit(key);
            self.queue(actions);
            return;
        }
        let level = self.pcm.iter().map(|&s| (s as i32).abs()).sum::<i32>() / self.pcm.len().max(1) as i32;
        if level < SPEECH_LEVEL || self.dtmf.in_tone() {
            return;
        }
        if self.agent_utterance_start_ms.is_none() {
            self.agent_utterance_start_ms = Some(at_ms);
            let _ = self.stt.input.send(SttInput::UtteranceStart { timestamp_ms: at_ms });
        }
        self.last_agent_speech_ms = Some(at_ms);
        self.agent_speech.speech(at_ms, 20);
        if let Some(start) = self.agent_utterance_start_ms {
            if at_ms.saturating_sub(start) >= INTERRUPT_AFTER_MS && self.outgoing.is_empty() {
                if let Some(line) = self.responder.interruption() {
                    self.say_now(line);
                }
            }
        }
    }

    /// The callee frame to send at media time `at_ms`, written into `out` (160 μ-law bytes).
    /// Returns false once the persona has hung up.
    pub fn fill_frame(&mut self, at_ms: u64, out: &mut [u8]) -> bool {
        self.now_ms = self.now_ms.max(at_ms);
        if !self.answered {
            self.answered = true;
            let actions = self.responder.answer();
            self.queue(actions);
        }
        // the agent's utterance ended: send it to the recogniser
        if let (Some(_), Some(last)) = (self.agent_utterance_start_ms, self.last_agent_speech_ms) {
            if at_ms.saturating_sub(last) >= AGENT_UTTERANCE_END_MS {
                self.agent_utterance_start_ms = None;
                let _ = self.stt.input.send(SttInput::UtteranceEnd { timestamp_ms: last });
            }
        }
        while let Ok(output) = self.stt.output.try_recv() {
            if let SttOutput::Final { text, .. } = output {
                if text.trim().is_empty() {
                    continue;
                }
                tracing::info!(target: "persona", at_ms, heard = %text, "persona heard the agent");
                self.lines.push(PersonaLine { at_ms, speaker: "agent", text: text.clone() });
                let actions = self.responder.on_agent_said(&text);
                self.queue(actions);
            }
        }
        self.pump_synthesis();
        self.start_next_action(at_ms);
        for byte in out.iter_mut() {
            *byte = self.outgoing.pop_front().unwrap_or(mulaw::SILENCE);
        }
        self.pcm.clear();
        mulaw::decode_into(out, &mut self.pcm);
        let level = self.pcm.iter().map(|&s| (s as i32).abs()).sum::<i32>() / self.pcm.len().max(1) as i32;
        let speech = level >= SPEECH_LEVEL;
        if speech {
            self.callee_speech.speech(at_ms, 20);
            if let Some(goodbye) = &mut self.goodbye {
                goodbye.end_ms = at_ms + 20;
            }
        }
        if let Some(noise) = &mut self.noise {
            noise.add(&mut self.pcm, speech);
            for (byte, &sample) in out.iter_mut().zip(self.pcm.iter()) {
                *byte = mulaw::encode(sample);
            }
        }
        !(self.hangup_requested && self.outgoing.is_empty() && self.actions.is_empty() && self.synthesizing.is_none())
    }

    fn queue(&mut self, actions: Vec<PersonaAction>) {
        self.actions.extend(actions);
    }

    fn say_now(&mut self, text: String) {
        self.actions.push_front(PersonaAction::Say(text));
    }

    fn pump_synthesis(&mut self) {
        let Some(receiver) = &mut self.synthesizing else { return };
        loop {
            match receiver.try_recv() {
                Ok(Ok(TtsChunk::Audio(audio))) => self.outgoing.extend(audio.iter()),
                Ok(Ok(TtsChunk::Done { .. })) | Ok(Err(_)) | Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.synthesizing = None;
                    // a short breath between sentences
                    self.outgoing.extend(std::iter::repeat_n(mulaw::SILENCE, 1600));
                    return;
                }
                Err(mpsc::error::TryRecvError::Empty) => return,
            }
        }
    }

    fn start_next_action(&mut self, at_ms: u64) {
        if self.synthesizing.is_some() || !self.outgoing.is_empty() || at_ms < self.pause_until_ms {
            return;
        }
        // wait for the agent to finish before answering
        let agent_busy = self.agent_utterance_start_ms.is_some()
            || self.last_agent_speech_ms.is_some_and(|last| at_ms.saturating_sub(last) < TURN_GAP_MS);
        let interrupting =
            matches!(self.actions.front(), Some(PersonaAction::Say(text)) if text.starts_with("Sorry, sorry"));
        if agent_busy && !interrupting {
            return;
        }
        match self.actions.pop_front() {
            Some(PersonaAction::Say(text)) => {
                tracing::info!(target: "persona", at_ms, says = %text, "persona speaks");
                self.lines.push(PersonaLine { at_ms, speaker: "callee", text: text.clone() });
                if self.responder.has_ended() && self.goodbye.is_none() {
                    self.goodbye = Some(Span { start_ms: at_ms, end_ms: at_ms });
                }
                self.synthesizing = Some(self.tts.synthesize(text));
            }
            Some(PersonaAction::Pause { ms }) => self.pause_until_ms = at_ms + ms,
            Some(PersonaAction::Beep) => {
                let beep = (0..3200).map(|n| {
                    let sample = ((2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 8000.0).sin() * 8000.0) as i16;
                    mulaw::encode(sample)
                });
                self.outgoing.extend(beep);
            }
            Some(PersonaAction::Hangup) => self.hangup_requested = true,
            None => {}
        }
    }
}

impl CalleeAudio for PersonaVoice {
    fn next_frame(&mut self, media_time_ms: u64) -> Option<[u8; FRAME_BYTES]> {
        let mut frame = [mulaw::SILENCE; FRAME_BYTES];
        self.fill_frame(media_time_ms, &mut frame).then_some(frame)
    }

    fn on_agent_audio(&mut self, media_time_ms: u64, audio: &[u8]) {
        for (index, frame) in audio.chunks(FRAME_BYTES).enumerate() {
            self.hear_agent_frame(media_time_ms + index as u64 * 20, frame);
        }
    }
}
