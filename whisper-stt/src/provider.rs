//! [`WhisperStt`]: the `SttProvider` of the embedded Whisper model. Audio arrives per call as
//! 8 kHz mu-law; utterances are collected as the other per-utterance providers collect them
//! (`speech::stt::spawn_utterance_collector`), upsampled to 16 kHz and queued on the shared decoder.
//!
//! The prompt of an utterance is the agent's line the callee is answering (`SttInput::Context`,
//! from the media worker): Whisper reads it as the text just before the audio, the way it was
//! trained. On the tuning eval's answers (`examples/context-bench.rs`) that took the WER from
//! 44.4% to 38.6%; a prompted decode that copies the prompt, stops after its first sentence or
//! loops is decoded again without it (`engine::misled_by_prompt`). A keyword list is another
//! matter: with [`WhisperStt::with_hints`] the call's vocabulary (the playbook's recognition
//! hints) goes before the line; calls do not use it, because the WER bench measured it making
//! things worse (human recordings 9.9% -> 16.8%, held-out gym sentences 47.9% -> 50.6%: Whisper
//! copies words of a keyword list into unrelated speech, e.g. "gym, he was ...").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use speech::stt::{
    spawn_utterance_events, SttContext, SttInput, SttOutput, SttProvider, SttStream, Utterance, UtteranceEvent,
};
use speech::Vocabulary;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{Transcript, WhisperDecoder, WhisperError};

/// Longest prompt text built from a vocabulary (characters; the model reads 223 tokens of it).
const PROMPT_MAX_CHARS: usize = 600;

/// Speech-to-text with the process's one Whisper model; cheap to clone, every call shares it.
#[derive(Clone)]
pub struct WhisperStt {
    decoder: Arc<WhisperDecoder>,
    /// Send the call's vocabulary as the prompt.
    prompt_from_hints: bool,
}

impl WhisperStt {
    /// Whisper without a prompt (the default a call gets; see the module docs for why).
    pub fn new(decoder: Arc<WhisperDecoder>) -> WhisperStt {
        WhisperStt { decoder, prompt_from_hints: false }
    }

    /// Whisper prompted with each call's vocabulary ([`prompt_text`]).
    pub fn with_hints(decoder: Arc<WhisperDecoder>) -> WhisperStt {
        WhisperStt { decoder, prompt_from_hints: true }
    }

    pub fn decoder(&self) -> &Arc<WhisperDecoder> {
        &self.decoder
    }
}

/// The prompt text for a call: the vocabulary's subjects, then its words, then its phrases
/// without slots, comma-separated, at most [`PROMPT_MAX_CHARS`]. Nothing of a domain is added.
pub fn prompt_text(vocabulary: &Vocabulary) -> String {
    let subjects = vocabulary.subjects.iter();
    let words = vocabulary.words.iter();
    let phrases = vocabulary.phrases.iter().filter(|phrase| !phrase.contains('{'));
    let mut prompt = String::new();
    let mut seen = std::collections::HashSet::new();
    for term in subjects.chain(words).chain(phrases) {
        let term = term.trim();
        if term.is_empty() || !seen.insert(term) {
            continue;
        }
        if prompt.len() + term.len() + 2 > PROMPT_MAX_CHARS {
            break;
        }
        if !prompt.is_empty() {
            prompt.push_str(", ");
        }
        prompt.push_str(term);
    }
    prompt
}

impl SttProvider for WhisperStt {
    fn name(&self) -> &'static str {
        "whisper"
    }

    fn start(&self, context: SttContext) -> SttStream {
        let (input, input_receiver) = mpsc::unbounded_channel::<SttInput>();
        let (output_sender, output) = mpsc::unbounded_channel();
        let utterance_receiver = spawn_utterance_events(input_receiver);
        let vocabulary = context.vocabulary.as_deref().filter(|_| self.prompt_from_hints);
        let hints = vocabulary.map(prompt_text).unwrap_or_default();
        tokio::spawn(transcribe_utterances(
            self.decoder.clone(),
            context.call_id,
            hints,
            utterance_receiver,
            output_sender,
        ));
        SttStream { input, output }
    }
}

/// 8 kHz PCM -> 16 kHz samples in -1..1, through the shared telephone-band resampler.
pub fn to_model_input(pcm_8k: &[i16]) -> Vec<f32> {
    speech::resample::upsample_8k_to_16k(pcm_8k).into_iter().map(|sample| f32::from(sample) / 32_768.0).collect()
}

/// Whisper's prompt for one utterance: the hints (if sent), then the agent's line the callee is
/// answering, as the "previous text" Whisper was trained to continue.
pub fn utterance_prompt(hints: &str, context: Option<&str>) -> String {
    match context {
        Some(line) if hints.is_empty() => line.to_owned(),
        Some(line) => {
            let hints = hints.trim_end();
            let separator = if hints.ends_with(['.', '?', '!']) { " " } else { ". " };
            format!("{hints}{separator}{line}")
        }
        None => hints.to_owned(),
    }
}

/// What a call's transcription loop waits for.
enum Next {
    Event(Option<UtteranceEvent>),
    Decoded(Result<Transcript, WhisperError>),
}

/// Shortest stretch of an utterance kept as a segment when the callee goes on after a pause
/// (8 kHz samples, 2 s): a decode started at that pause is kept, and only what follows is
/// decoded later. A shorter stretch is withdrawn and decoded again with what follows it.
pub const SEGMENT_MIN_SAMPLES_8K: usize = 2 * 8_000;

/// Quiet the callee must keep after a pause was told for the stretch before it to be kept as a
/// segment (ms; with `PAUSE_MS=120`, 220 ms of quiet in all): a shorter gap is as likely a stop
/// consonant inside a word ("prudent|ly") as a phrase boundary, and Whisper decoding the two
/// halves apart gets the word wrong.
pub const SEGMENT_QUIET_AFTER_PAUSE_MS: u64 = 100;

/// What of the open utterance is already transcribed: its first `samples` (8 kHz) and their
/// words, decoded at pauses the callee then talked on after.
#[derive(Debug, Default)]
struct Heard {
    start_ms: Option<u64>,
    samples: usize,
    text: String,
}

impl Heard {
    /// The words so far of the utterance that started at `start_ms` (a new one starts empty).
    fn of(&mut self, start_ms: u64) -> &mut Heard {
        if self.start_ms != Some(start_ms) {
            *self = Heard { start_ms: Some(start_ms), ..Heard::default() };
        }
        self
    }

    /// The words so far followed by `more`.
    fn with(&self, more: &str) -> String {
        joined(&self.text, more)
    }

    /// The utterance's samples up to `to` are transcribed: `text` is their last part.
    fn commit(&mut self, to: usize, text: &str) {
        self.text = self.with(text);
        self.samples = to.max(self.samples);
    }

    /// `prompt` followed by the words heard so far (Whisper's "previous text").
    fn with_prompt(&self, prompt: &str) -> String {
        joined(prompt, &self.text)
    }
}

/// `first` and `second`, trimmed, with one space between when both have words.
fn joined(first: &str, second: &str) -> String {
    match (first.trim(), second.trim()) {
        ("", second) => second.to_owned(),
        (first, "") => first.to_owned(),
        (first, second) => format!("{first} {second}"),
    }
}

/// A decode started at the callee's pause, of the utterance's samples `from..to` (8 kHz), before
/// the utterance's end was known. Dropped unused (the callee went on, too soon to keep it as a
/// segment), it is withdrawn: skipped if no decoder has taken it yet.
struct Speculation {
    start_ms: u64,
    /// Call time the pause was told.
    paused_at_ms: u64,
    from: usize,
    to: usize,
    /// Kept as a segment: the callee went on after its pause, and it holds enough speech.
    kept: bool,
    started: Instant,
    reply: Option<oneshot::Receiver<Result<Transcript, WhisperError>>>,
    result: Option<Result<Transcript, WhisperError>>,
    withdrawn: Arc<AtomicBool>,
}

impl Drop for Speculation {
    fn drop(&mut self) {
        self.withdrawn.store(true, Ordering::Relaxed);
    }
}

impl Speculation {
    /// Its result, waiting for the decode if it is still running.
    async fn result(mut self) -> Result<Transcript, WhisperError> {
        // wanted: not to be withdrawn while it is awaited
        self.withdrawn = Arc::new(AtomicBool::new(false));
        match (self.result.take(), self.reply.take()) {
            (Some(result), _) => result,
            (None, Some(reply)) => reply.await.unwrap_or(Err(WhisperError::Stopped)),
            (None, None) => Err(WhisperError::Stopped),
        }
    }
}

/// Queues what of `utterance` is not yet `heard` on the shared decoder (withdrawable through
/// `withdrawn` when given), prompted with the agent's line and the words heard so far.
fn submit(
    decoder: &WhisperDecoder,
    hints: &str,
    utterance: &Utterance,
    heard: &Heard,
    withdrawn: Option<Arc<AtomicBool>>,
) -> Result<oneshot::Receiver<Result<Transcript, WhisperError>>, WhisperError> {
    let from = heard.samples.min(utterance.pcm_8k.len());
    let samples = to_model_input(&utterance.pcm_8k[from..]);
    let prompt_text = heard.with_prompt(&utterance_prompt(hints, utterance.context.as_deref()));
    let prompt = Arc::new(decoder.model().prompt_tokens(&prompt_text));
    match withdrawn {
        Some(withdrawn) => decoder.submit_withdrawable(samples, prompt, withdrawn),
        None => decoder.submit(samples, prompt),
    }
}

/// Whether a decode at a pause may start: only on a decoder with nothing else to do (a guess
/// that waits in the queue delays the calls whose utterance has ended, and costs CPU the rest of
/// the call needs).
fn room_for_a_guess(decoder: &WhisperDecoder) -> bool {
    decoder.idle()
}

/// Starts decoding what of `so_far` is not yet `heard`, if a decoder is idle.
fn guess(decoder: &WhisperDecoder, hints: &str, so_far: &Utterance, heard: &Heard) -> Option<Speculation> {
    if !room_for_a_guess(decoder) {
        return None;
    }
    let withdrawn = Arc::new(AtomicBool::new(false));
    let reply = submit(decoder, hints, so_far, heard, Some(withdrawn.clone())).ok()?;
    Some(Speculation {
        start_ms: so_far.start_ms,
        paused_at_ms: so_far.end_ms,
        from: heard.samples.min(so_far.pcm_8k.len()),
        to: so_far.pcm_8k.len(),
        kept: false,
        started: Instant::now(),
        reply: Some(reply),
        result: None,
        withdrawn,
    })
}

/// One call's utterances through the shared decoder, in order.
///
/// At a pause of the callee (`SttInput::Paused`) what is not yet transcribed of the utterance is
/// decoded at once if a decoder is idle ([`room_for_a_guess`]), and the words so far go out as an
/// interim transcript; if the callee says no more, that decode completes the final transcript,
/// ready before the endpointer decides. If the callee goes on after a quiet of at least
/// [`SEGMENT_QUIET_AFTER_PAUSE_MS`] more and the decoded stretch holds at least
/// [`SEGMENT_MIN_SAMPLES_8K`], it is kept as a segment: its words become the "previous
/// text" of the next decode, which takes only the audio after it. So a long answer is
/// transcribed piece by piece while it is spoken, and its end costs the decode of its last
/// piece. A shorter stretch is dropped at the resumption: withdrawn if still queued, otherwise
/// the decoder's work on it is lost (the cost of starting early).
async fn transcribe_utterances(
    decoder: Arc<WhisperDecoder>,
    call_id: String,
    hints: String,
    mut events: mpsc::UnboundedReceiver<UtteranceEvent>,
    output: mpsc::UnboundedSender<SttOutput>,
) {
    let mut heard = Heard::default();
    let mut speculation: Option<Speculation> = None;
    // the utterance so far while the callee is quiet after a pause
    let mut paused: Option<Utterance> = None;
    loop {
        let next = {
            let running = speculation.as_mut().and_then(|speculation| speculation.reply.as_mut());
            let decoded = async {
                match running {
                    Some(reply) => reply.await.unwrap_or(Err(WhisperError::Stopped)),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => Next::Event(event),
                result = decoded => Next::Decoded(result),
            }
        };
        let event = match next {
            Next::Event(Some(event)) => event,
            Next::Event(None) => return,
            Next::Decoded(result) => {
                let Some(running) = speculation.as_mut() else { continue };
                running.reply = None;
                if running.kept {
                    // a segment is in: its words are the previous text of the rest
                    let segment = speculation.take().expect("a kept speculation");
                    if let Ok(transcript) = &result {
                        heard.of(segment.start_ms).commit(segment.to, &transcript.text);
                        tracing::trace!(
                            %call_id,
                            decode_ms = transcript.decode_ms,
                            segment_ms = (segment.to - segment.from) as u64 / 8,
                            "whisper segment"
                        );
                    }
                    // quiet again since: the rest can be guessed now
                    if let Some(so_far) = &paused {
                        speculation = guess(&decoder, &hints, so_far, heard.of(so_far.start_ms));
                    }
                    continue;
                }
                if let Ok(transcript) = &result {
                    tracing::trace!(
                        %call_id,
                        decode_ms = transcript.decode_ms,
                        since_pause_ms = running.started.elapsed().as_millis() as u64,
                        "whisper transcript at the pause"
                    );
                    let so_far = heard.of(running.start_ms).with(&transcript.text);
                    if !so_far.is_empty() && output.send(SttOutput::Interim { text: so_far }).is_err() {
                        return;
                    }
                }
                running.result = Some(result);
                continue;
            }
        };
        let utterance = match event {
            UtteranceEvent::Paused(so_far) => {
                heard.of(so_far.start_ms);
                let segment_running = speculation.as_ref().is_some_and(|running| running.kept);
                if !segment_running {
                    drop(speculation.take()); // withdrawn before the next guess
                    speculation = guess(&decoder, &hints, &so_far, &heard);
                }
                // with a segment still decoding, the rest is guessed when it is in
                paused = Some(so_far);
                continue;
            }
            UtteranceEvent::Resumed { at_ms } => {
                paused = None;
                let segment = |running: &Speculation| {
                    running.to - running.from >= SEGMENT_MIN_SAMPLES_8K
                        && at_ms.saturating_sub(running.paused_at_ms) >= SEGMENT_QUIET_AFTER_PAUSE_MS
                };
                match speculation.take() {
                    Some(mut running) if running.kept || segment(&running) => {
                        running.kept = true;
                        match running.result.take() {
                            Some(Ok(transcript)) => {
                                heard.of(running.start_ms).commit(running.to, &transcript.text);
                            }
                            Some(Err(_)) => {} // decoded again with what follows
                            None => speculation = Some(running),
                        }
                    }
                    _ => {} // dropped: withdrawn
                }
                continue;
            }
            UtteranceEvent::Ended(utterance) => utterance,
        };
        paused = None;
        let received = Instant::now();
        heard.of(utterance.start_ms);
        // a segment still decoding: its words come first
        if speculation.as_ref().is_some_and(|running| running.kept && running.start_ms == utterance.start_ms) {
            let segment = speculation.take().expect("a kept speculation");
            let to = segment.to;
            if let Ok(transcript) = segment.result().await {
                heard.commit(to, &transcript.text);
            }
        }
        let early = match speculation.take() {
            Some(speculation) if speculation.start_ms == utterance.start_ms && speculation.from == heard.samples => {
                speculation.result().await.ok()
            }
            _ => None,
        };
        let from_pause = early.is_some();
        let result = match early {
            Some(transcript) => Ok(transcript),
            None => match submit(&decoder, &hints, &utterance, &heard, None) {
                Ok(reply) => reply.await.unwrap_or(Err(WhisperError::Stopped)),
                Err(refused) => Err(refused),
            },
        };
        let heard_before = std::mem::take(&mut heard);
        let message = match result {
            Ok(transcript) => {
                tracing::debug!(
                    %call_id,
                    audio_ms = utterance.end_ms.saturating_sub(utterance.start_ms),
                    segments_ms = heard_before.samples as u64 / 8,
                    queued_ms = transcript.queued_ms,
                    decode_ms = transcript.decode_ms,
                    from_pause,
                    total_ms = received.elapsed().as_millis() as u64,
                    "whisper transcript"
                );
                let text = heard_before.with(&transcript.text);
                if text.is_empty() {
                    continue;
                }
                SttOutput::Final {
                    text,
                    confidence: transcript.confidence,
                    start_ms: utterance.start_ms,
                    end_ms: utterance.end_ms,
                }
            }
            Err(error) => {
                tracing::warn!(%call_id, %error, pending = decoder.pending(), "whisper transcription failed");
                // A full queue may clear; a stopped decoder or a decode error will not.
                let retryable = matches!(error, WhisperError::QueueFull { .. });
                SttOutput::Failed { message: error.to_string(), retryable }
            }
        };
        if output.send(message).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{utterance_prompt, Heard};

    #[test]
    fn the_prompt_is_the_agent_line_after_any_hints() {
        assert_eq!(utterance_prompt("", None), "");
        assert_eq!(utterance_prompt("", Some("Is there a mat fee?")), "Is there a mat fee?");
        assert_eq!(utterance_prompt("mat fee, gi", None), "mat fee, gi");
        assert_eq!(utterance_prompt("mat fee, gi", Some("Which days?")), "mat fee, gi. Which days?");
    }

    #[test]
    fn the_words_of_kept_segments_lead_the_rest_and_a_new_utterance_starts_empty() {
        let mut heard = Heard::default();
        assert_eq!(heard.of(1_000).with("we open at six"), "we open at six");
        heard.of(1_000).commit(16_000, "Monday and Wednesday,");
        heard.of(1_000).commit(40_000, " ");
        assert_eq!(heard.samples, 40_000);
        assert_eq!(heard.with(" at seven. "), "Monday and Wednesday, at seven.");
        assert_eq!(heard.with(""), "Monday and Wednesday,");
        assert_eq!(heard.with_prompt("Which days?"), "Which days? Monday and Wednesday,");
        assert_eq!(heard.of(9_000).with("yes"), "yes");
        assert_eq!((heard.samples, heard.with_prompt("Which days?").as_str()), (0, "Which days?"));
    }
}
