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

/// A decode started at the callee's pause, before the utterance's end was known. Dropped
/// unused (the callee went on), it is withdrawn: skipped if no decoder has taken it yet.
struct Speculation {
    start_ms: u64,
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

/// Queues `utterance` on the shared decoder (withdrawable through `withdrawn` when given).
fn submit(
    decoder: &WhisperDecoder,
    hints: &str,
    utterance: &Utterance,
    withdrawn: Option<Arc<AtomicBool>>,
) -> Result<oneshot::Receiver<Result<Transcript, WhisperError>>, WhisperError> {
    let samples = to_model_input(&utterance.pcm_8k);
    let prompt_text = utterance_prompt(hints, utterance.context.as_deref());
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

/// One call's utterances through the shared decoder, in order. At a pause of the callee
/// (`SttInput::Paused`) the utterance so far is decoded at once if a decoder is idle
/// ([`room_for_a_guess`]), and its words go out as an interim transcript; if the callee says no
/// more, that decode is the final transcript, ready before the endpointer decides. A resumption
/// drops it: withdrawn if still queued, otherwise the decoder's work on it is lost (the cost of
/// starting early).
async fn transcribe_utterances(
    decoder: Arc<WhisperDecoder>,
    call_id: String,
    hints: String,
    mut events: mpsc::UnboundedReceiver<UtteranceEvent>,
    output: mpsc::UnboundedSender<SttOutput>,
) {
    let mut speculation: Option<Speculation> = None;
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
                let Some(speculation) = speculation.as_mut() else { continue };
                speculation.reply = None;
                if let Ok(transcript) = &result {
                    tracing::trace!(
                        %call_id,
                        decode_ms = transcript.decode_ms,
                        since_pause_ms = speculation.started.elapsed().as_millis() as u64,
                        "whisper transcript at the pause"
                    );
                    if !transcript.text.is_empty()
                        && output.send(SttOutput::Interim { text: transcript.text.clone() }).is_err()
                    {
                        return;
                    }
                }
                speculation.result = Some(result);
                continue;
            }
        };
        let utterance = match event {
            UtteranceEvent::Paused(so_far) => {
                speculation = None;
                if room_for_a_guess(&decoder) {
                    let withdrawn = Arc::new(AtomicBool::new(false));
                    if let Ok(reply) = submit(&decoder, &hints, &so_far, Some(withdrawn.clone())) {
                        speculation = Some(Speculation {
                            start_ms: so_far.start_ms,
                            started: Instant::now(),
                            reply: Some(reply),
                            result: None,
                            withdrawn,
                        });
                    }
                }
                continue;
            }
            UtteranceEvent::Resumed => {
                speculation = None;
                continue;
            }
            UtteranceEvent::Ended(utterance) => utterance,
        };
        let received = Instant::now();
        let early = match speculation.take() {
            Some(speculation) if speculation.start_ms == utterance.start_ms => speculation.result().await.ok(),
            _ => None,
        };
        let from_pause = early.is_some();
        let result = match early {
            Some(transcript) => Ok(transcript),
            None => match submit(&decoder, &hints, &utterance, None) {
                Ok(reply) => reply.await.unwrap_or(Err(WhisperError::Stopped)),
                Err(refused) => Err(refused),
            },
        };
        let message = match result {
            Ok(transcript) => {
                tracing::debug!(
                    %call_id,
                    audio_ms = utterance.end_ms.saturating_sub(utterance.start_ms),
                    queued_ms = transcript.queued_ms,
                    decode_ms = transcript.decode_ms,
                    from_pause,
                    total_ms = received.elapsed().as_millis() as u64,
                    "whisper transcript"
                );
                if transcript.text.is_empty() {
                    continue;
                }
                SttOutput::Final {
                    text: transcript.text,
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
    use super::utterance_prompt;

    #[test]
    fn the_prompt_is_the_agent_line_after_any_hints() {
        assert_eq!(utterance_prompt("", None), "");
        assert_eq!(utterance_prompt("", Some("Is there a mat fee?")), "Is there a mat fee?");
        assert_eq!(utterance_prompt("mat fee, gi", None), "mat fee, gi");
        assert_eq!(utterance_prompt("mat fee, gi", Some("Which days?")), "mat fee, gi. Which days?");
    }
}
