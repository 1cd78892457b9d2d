//! The Whisper model, loaded once per process, and the bounded pool of decoder threads every call
//! shares: an utterance (16 kHz samples and an optional prompt) goes in, its text comes back on a
//! oneshot channel. A full queue is refused at once with [`WhisperError::QueueFull`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use ct2rs::sys::{Whisper, WhisperOptions};
use ct2rs::tokenizers::hf::Tokenizer as HfTokenizer;
use ct2rs::{ComputeType, Config, Device, Tokenizer as _};
use tokio::sync::oneshot;

use crate::features::{FrontEnd, FrontEndConfig};

/// Longest audio decoded per utterance (three 30 s windows); the rest is dropped with a warning.
pub const MAX_UTTERANCE_SAMPLES_16K: usize = 90 * 16_000;
/// Whisper reads at most this many prompt tokens (half its 448-token context, less one).
const MAX_PROMPT_TOKENS: usize = 223;
/// Largest model.bin accepted (tiny is 75 MB, base 145 MB, small 480 MB).
const MAX_MODEL_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// A window whose no-speech probability is above this, with a low score, is taken as silence.
const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// Why a transcription could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WhisperError {
    #[error("whisper model not found: {dir} has no {file} (run scripts/install-models.sh)")]
    ModelMissing { dir: String, file: &'static str },
    #[error("whisper model {dir}: {message}")]
    Load { dir: String, message: String },
    #[error("whisper queue full: {max} utterances already wait for a decoder")]
    QueueFull { max: usize },
    #[error("whisper decode failed: {0}")]
    Decode(String),
    #[error("whisper decoders stopped")]
    Stopped,
    #[error("whisper decode withdrawn before it started")]
    Withdrawn,
}

/// How the shared model is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhisperOptionsConfig {
    pub model_dir: PathBuf,
    /// Decoder threads (each a CTranslate2 replica of the one loaded model).
    pub decoders: usize,
    /// CPU threads one decode uses.
    pub threads_per_decoder: usize,
    /// Beam width of a decode (1: greedy).
    pub beam_size: usize,
    /// Shortest encoder window, in seconds: an utterance is encoded in a window of its own length
    /// plus [`WINDOW_PAD_SAMPLES_16K`] of silence, at least this long; 30 (or more) is Whisper's
    /// fixed 30 s window, whatever the utterance's length.
    pub window_s: usize,
    /// Utterances that may wait for a decoder.
    pub queue_max: usize,
}

/// Silence after the audio in a window fitted to the utterance (CTranslate2's Whisper encoder
/// takes fewer than 3000 frames; the cost of a decode falls with the window).
pub const WINDOW_PAD_SAMPLES_16K: usize = 16_000;

/// One utterance's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    /// exp of the mean token log-probability (0..1), of the first window.
    pub confidence: Option<f32>,
    /// Time spent waiting for a decoder and decoding.
    pub queued_ms: u64,
    pub decode_ms: u64,
}

/// The loaded model: CTranslate2 weights, tokenizer and front end. `Send + Sync`, shared.
pub struct WhisperModel {
    whisper: Whisper,
    tokenizer: HfTokenizer,
    front_end: FrontEnd,
    /// The decoder's start tokens after the prompt.
    start_tokens: Vec<String>,
    /// Beam width of a decode (at least 1).
    beam_size: usize,
    /// Shortest encoder window in frames (`nb_max_frames`: always the full window).
    min_window_frames: usize,
}

impl WhisperModel {
    /// Loads `dir` (model.bin, tokenizer.json, config.json, preprocessor_config.json).
    pub fn load(config: &WhisperOptionsConfig) -> Result<WhisperModel, WhisperError> {
        let dir = &config.model_dir;
        let shown = dir.display().to_string();
        for file in ["model.bin", "tokenizer.json", "config.json", "preprocessor_config.json"] {
            if !dir.join(file).is_file() {
                return Err(WhisperError::ModelMissing { dir: shown, file });
            }
        }
        let load_error = |message: String| WhisperError::Load { dir: shown.clone(), message };
        let model_bytes = std::fs::metadata(dir.join("model.bin")).map_err(|e| load_error(e.to_string()))?.len();
        if model_bytes > MAX_MODEL_BYTES {
            return Err(load_error(format!("model.bin is {model_bytes} bytes, more than {MAX_MODEL_BYTES}")));
        }
        let tokenizer_bytes =
            std::fs::metadata(dir.join("tokenizer.json")).map_err(|e| load_error(e.to_string()))?.len();
        if tokenizer_bytes > 64 * 1024 * 1024 {
            return Err(load_error(format!("tokenizer.json is {tokenizer_bytes} bytes")));
        }
        let front_end = FrontEnd::new(FrontEndConfig::read(dir).map_err(load_error)?);
        let ct2_config = Config {
            device: Device::CPU,
            compute_type: ComputeType::INT8,
            device_indices: vec![0; config.decoders.max(1)],
            num_threads_per_replica: config.threads_per_decoder.max(1),
            ..Config::default()
        };
        let whisper = Whisper::new(dir, ct2_config).map_err(|e| load_error(e.to_string()))?;
        if whisper.n_mels() != front_end.config().feature_size {
            let message = format!(
                "model wants {} mel bins, preprocessor_config.json gives {}",
                whisper.n_mels(),
                front_end.config().feature_size
            );
            return Err(load_error(message));
        }
        let mut tokenizer = HfTokenizer::new(dir).map_err(|e| load_error(e.to_string()))?;
        tokenizer.disable_spacial_token();
        let start_tokens = if whisper.is_multilingual() {
            vec!["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
        } else {
            vec!["<|startoftranscript|>", "<|notimestamps|>"]
        };
        let start_tokens = start_tokens.into_iter().map(str::to_owned).collect();
        let frames_per_second = 16_000 / front_end.config().hop_length;
        let min_window_frames = config.window_s.saturating_mul(frames_per_second).min(front_end.config().nb_max_frames);
        Ok(WhisperModel {
            whisper,
            tokenizer,
            front_end,
            start_tokens,
            beam_size: config.beam_size.max(1),
            min_window_frames,
        })
    }

    /// The prompt tokens for `text` (Whisper's "previous text"): its last 223 tokens.
    pub fn prompt_tokens(&self, text: &str) -> Vec<String> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let mut tokens = self.tokenizer.encode(&format!(" {text}")).unwrap_or_default();
        let excess = tokens.len().saturating_sub(MAX_PROMPT_TOKENS);
        tokens.drain(..excess);
        tokens
    }

    /// Transcribes 16 kHz mono samples (-1..1) in 30 s windows, with the configured beam.
    pub fn transcribe(&self, samples_16k: &[f32], prompt: &[String]) -> Result<(String, Option<f32>), WhisperError> {
        let window = self.front_end.config().n_samples;
        let samples = &samples_16k[..samples_16k.len().min(MAX_UTTERANCE_SAMPLES_16K)];
        let mut texts = Vec::new();
        let mut confidence = None;
        // the prompt as text, to tell a decode that merely copies it
        let prompt_text = if prompt.is_empty() { String::new() } else { self.text_of(prompt.to_vec())? };
        for chunk in samples.chunks(window) {
            let seconds = chunk.len() as f32 / 16_000.0;
            let full = self.front_end.config().nb_max_frames;
            let frames = self.window_frames(chunk.len());
            let mut decoded = self.decode_window(chunk, seconds, frames, prompt, &prompt_text)?;
            // A window fitted to the utterance now and then makes Whisper say the audio twice
            // over (or more words than it can hold): that chunk is decoded again in the full
            // 30 s window Whisper was trained on.
            if frames < full && decoded.as_ref().is_some_and(|(text, _)| overfull(text, seconds)) {
                decoded = self.decode_window(chunk, seconds, full, prompt, &prompt_text)?;
            }
            // Whisper now and then stops long before the audio does ("So, on Monday and
            // Friday," for 14 s of a schedule), or takes 14 s of speech for silence: the chunk
            // is split at its longest quiet and the pieces decoded one after the other, each
            // with the text before it as context.
            if seconds >= TRUNCATED_MIN_SECONDS && decoded.as_ref().is_none_or(|(text, _)| truncated(text, seconds)) {
                let pieces = self.decode_pieces(chunk, prompt, SPLIT_DEPTH)?;
                if words_of(&pieces) > words_of(&decoded) {
                    decoded = pieces;
                }
            }
            let Some((text, score)) = decoded else { continue };
            confidence = confidence.or(score.map(f32::exp));
            texts.push(text);
        }
        Ok((texts.join(" ").trim().to_owned(), confidence))
    }

    /// `chunk` split at its longest quiet ([`quiet_split`]) and each side decoded (split again
    /// while `depth` allows and a side is itself [`truncated`]), the second with the first's text
    /// as Whisper's previous text. `None` when there is no quiet to split at or a side failed.
    fn decode_pieces(
        &self,
        chunk: &[f32],
        prompt: &[String],
        depth: u32,
    ) -> Result<Option<(String, Option<f32>)>, WhisperError> {
        let Some(at) = quiet_split(chunk) else { return Ok(None) };
        let mut texts: Vec<String> = Vec::new();
        let mut score: Option<f32> = None;
        for (index, piece) in [&chunk[..at], &chunk[at..]].into_iter().enumerate() {
            let context = if index == 0 { prompt.to_vec() } else { self.prompt_tokens(&texts.join(" ")) };
            let context_text = if context.is_empty() { String::new() } else { self.text_of(context.clone())? };
            let seconds = piece.len() as f32 / 16_000.0;
            let mut decoded =
                self.decode_window(piece, seconds, self.window_frames(piece.len()), &context, &context_text)?;
            if depth > 1
                && seconds >= TRUNCATED_MIN_SECONDS
                && decoded.as_ref().is_none_or(|(text, _)| truncated(text, seconds))
            {
                let pieces = self.decode_pieces(piece, &context, depth - 1)?;
                if words_of(&pieces) > words_of(&decoded) {
                    decoded = pieces;
                }
            }
            let Some((text, piece_score)) = decoded else { continue };
            if piece_failed(&text, seconds) {
                return Ok(None);
            }
            // the whole is as sure as its least sure piece
            score = match (score, piece_score) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            texts.push(text);
        }
        Ok((!texts.is_empty()).then(|| (texts.join(" "), score)))
    }

    /// One chunk (at most 30 s) decoded in an encoder window of `frames`: its text and score, or
    /// `None` for silence.
    fn decode_window(
        &self,
        chunk: &[f32],
        seconds: f32,
        frames: usize,
        prompt: &[String],
        prompt_text: &str,
    ) -> Result<Option<(String, Option<f32>)>, WhisperError> {
        let mut features = fit_window(self.front_end.log_mel(chunk), self.front_end.config().nb_max_frames, frames);
        let shape = [1, self.front_end.config().feature_size, frames];
        let view = ct2rs::sys::StorageView::new(&shape, &mut features, Device::CPU)
            .map_err(|e| WhisperError::Decode(e.to_string()))?;
        let mut start: Vec<String> = Vec::with_capacity(prompt.len() + 5);
        if !prompt.is_empty() {
            start.push("<|startofprev|>".to_owned());
            start.extend(prompt.iter().cloned());
        }
        start.extend(self.start_tokens.iter().cloned());
        // Bound the cost of a runaway decode: a fast talker says ~4 tokens a second.
        let new_tokens_max = (16.0 + 8.0 * seconds) as usize;
        let options = WhisperOptions {
            beam_size: self.beam_size,
            max_length: (start.len() + new_tokens_max).min(448),
            return_scores: true,
            return_no_speech_prob: true,
            ..WhisperOptions::default()
        };
        let results = self
            .whisper
            .generate(&view, std::slice::from_ref(&start), &options)
            .map_err(|e| WhisperError::Decode(e.to_string()))?;
        let Some(result) = results.into_iter().next() else { return Ok(None) };
        let score = result.scores.first().copied();
        if result.no_speech_prob > NO_SPEECH_THRESHOLD && score.is_none_or(|score| score < -1.0) {
            return Ok(None);
        }
        let Some(tokens) = result.sequences.into_iter().next() else { return Ok(None) };
        let mut text = self.text_of(tokens)?;
        let mut score = score;
        // The prompt (the agent's line) helps Whisper with the words of an answer, but now
        // and then it copies the prompt, stops after the first sentence, or loops: then the
        // audio is decoded again without it, and the better of the two kept.
        if !prompt.is_empty() && misled_by_prompt(&text, seconds, score, &prompt_text) {
            let bare: Vec<String> = self.start_tokens.clone();
            let bare_options = WhisperOptions { max_length: (bare.len() + new_tokens_max).min(448), ..options.clone() };
            let results = self
                .whisper
                .generate(&view, &[bare], &bare_options)
                .map_err(|e| WhisperError::Decode(e.to_string()))?;
            if let Some(result) = results.into_iter().next() {
                let bare_score = result.scores.first().copied();
                if let Some(tokens) = result.sequences.into_iter().next() {
                    let bare_text = self.text_of(tokens)?;
                    let words = |text: &str| text.split_whitespace().count();
                    // a copy of the prompt is worth nothing: anything heard beats it
                    let better = copies_prompt(&text, &prompt_text)
                        || !degenerate(&bare_text, seconds, bare_score)
                            && (degenerate(&text, seconds, score)
                                || words(&bare_text) > words(&text)
                                || bare_score.unwrap_or(f32::MIN) > score.unwrap_or(f32::MIN));
                    if better && !bare_text.is_empty() {
                        text = bare_text;
                        score = bare_score;
                        start = self.start_tokens.clone();
                    }
                }
            }
        }
        // Whisper's own remedy for a failed greedy decode (a phrase looped, a long stretch of
        // speech given a word or two, a low average log-probability): decode again with a
        // beam and a repetition penalty, and keep that when it is better ([`rank`]). A prompted
        // decode that failed with and without its prompt is retried both ways: the beam can
        // loop on the prompt's words ("So, on Monday and Friday, now, on Monday and Sunday,
        // Monday, Monday, ...") where the bare audio gives the sentence.
        if degenerate(&text, seconds, score) {
            let mut starts = vec![start.clone()];
            if start != self.start_tokens {
                starts.push(self.start_tokens.clone());
            }
            for retry_start in starts {
                let max_length = (retry_start.len() + new_tokens_max).min(448);
                let retry = WhisperOptions { beam_size: 5, repetition_penalty: 1.1, max_length, ..options.clone() };
                let results = self
                    .whisper
                    .generate(&view, &[retry_start], &retry)
                    .map_err(|e| WhisperError::Decode(e.to_string()))?;
                let Some(result) = results.into_iter().next() else { continue };
                let retry_score = result.scores.first().copied();
                let Some(tokens) = result.sequences.into_iter().next() else { continue };
                let retry_text = self.text_of(tokens)?;
                if !retry_text.is_empty() && rank(&retry_text, seconds, retry_score) > rank(&text, seconds, score) {
                    text = retry_text;
                    score = retry_score;
                }
            }
        }
        Ok(Some((text, score)))
    }
}

impl WhisperModel {
    /// Encoder frames for `samples` of audio: the audio and its padding, at least
    /// `min_window_frames`, an even number (the encoder's second convolution halves it), at most
    /// the full window.
    fn window_frames(&self, samples: usize) -> usize {
        let config = self.front_end.config();
        let wanted = (samples + WINDOW_PAD_SAMPLES_16K).div_ceil(config.hop_length).max(self.min_window_frames);
        (wanted.div_ceil(2) * 2).min(config.nb_max_frames)
    }

    /// The text of a decoded token sequence (special tokens left out).
    fn text_of(&self, tokens: Vec<String>) -> Result<String, WhisperError> {
        let tokens: Vec<String> =
            tokens.into_iter().filter(|token| !(token.starts_with("<|") && token.ends_with("|>"))).collect();
        let text = self.tokenizer.decode(tokens).map_err(|e| WhisperError::Decode(e.to_string()))?;
        Ok(text.trim().to_owned())
    }
}

/// True when `text` looks like what a window fitted to the utterance sometimes gives: a run of
/// five words said twice, or more words than `seconds` of speech can hold (five a second).
pub fn overfull(text: &str, seconds: f32) -> bool {
    let words = plain_words(text);
    let too_many = too_many_words(text, seconds);
    let runs: Vec<&[String]> = words.windows(5).collect();
    let repeated = runs.iter().enumerate().any(|(at, run)| runs.iter().skip(at + 5).any(|later| later == run));
    too_many || repeated
}

/// More words than `seconds` of speech can hold (five a second).
fn too_many_words(text: &str, seconds: f32) -> bool {
    plain_words(text).len() as f32 > 5.0 * seconds.max(1.0) + 2.0
}

/// The first `frames` columns of row-major `rows x full` features (all of them when `frames` is
/// `full`).
fn fit_window(features: Vec<f32>, full: usize, frames: usize) -> Vec<f32> {
    if frames >= full || full == 0 {
        return features;
    }
    features.chunks_exact(full).flat_map(|row| row[..frames].iter().copied()).collect()
}

/// Average log-probability under which a decode is retried (Whisper's `logprob_threshold`).
const RETRY_LOGPROB: f32 = -1.0;

/// True when a greedy decode of `seconds` of speech looks failed: a word run repeated over and
/// over (most word trigrams the same), far fewer words than the speech could hold (one word a
/// 2.5 s), or a low average log-probability.
pub fn degenerate(text: &str, seconds: f32, score: Option<f32>) -> bool {
    let words = plain_words(text);
    let looped = repeats(&words);
    let sparse = seconds >= 3.0 && (words.len() as f32) < seconds / 2.5;
    looped || sparse || score.is_some_and(|score| score < RETRY_LOGPROB)
}

/// True when `text` loops: four words the same in a row, most word trigrams the same, or more
/// words than `seconds` of speech can hold.
pub fn looped(text: &str, seconds: f32) -> bool {
    repeats(&plain_words(text)) || too_many_words(text, seconds)
}

/// Four words the same in a row, or most word trigrams the same.
fn repeats(words: &[String]) -> bool {
    let trigrams: Vec<&[String]> = words.windows(3).collect();
    let distinct: std::collections::HashSet<&[String]> = trigrams.iter().copied().collect();
    let stuck = words.windows(4).any(|run| run.iter().all(|word| *word == run[0]));
    stuck || (trigrams.len() >= 6 && distinct.len() * 2 < trigrams.len())
}

/// True when a piece of a split chunk failed, and with it the split: its words loop or are more
/// than its audio can hold. A piece Whisper was unsure of is still words (the whole it would
/// replace was cut short), and a run of words said twice is how schedules are said ("... class
/// on Saturday and Sunday from nine thirty ..., and gi class on Saturday and Sunday from ten").
fn piece_failed(text: &str, seconds: f32) -> bool {
    looped(text, seconds)
}

/// How good a decode of `seconds` of speech is, for choosing between retries: one that did not
/// fail beats one that did, a failed one that does not loop beats a loop (a loop's tokens are
/// likely, so its average log-probability is often the higher), then the higher score.
fn rank(text: &str, seconds: f32, score: Option<f32>) -> (bool, bool, f32) {
    (!degenerate(text, seconds, score), !looped(text, seconds), score.unwrap_or(f32::MIN))
}

/// Fewer words a second than this, over [`TRUNCATED_MIN_SECONDS`] or more of audio, from a
/// prompted decode: it most likely stopped early (people say 2-3 words a second).
const TRUNCATED_WORDS_PER_SECOND: f32 = 1.2;
const TRUNCATED_MIN_SECONDS: f32 = 4.0;

/// The number of words in a decode (none for silence).
fn words_of(decoded: &Option<(String, Option<f32>)>) -> usize {
    decoded.as_ref().map_or(0, |(text, _)| plain_words(text).len())
}

/// How many times a truncated chunk may be split again (at most `2^SPLIT_DEPTH` pieces).
const SPLIT_DEPTH: u32 = 2;

/// True when `text` holds far fewer words than `seconds` of audio of [`TRUNCATED_MIN_SECONDS`]
/// or more: the decode most likely stopped early.
pub fn truncated(text: &str, seconds: f32) -> bool {
    seconds >= TRUNCATED_MIN_SECONDS && (plain_words(text).len() as f32) < seconds * TRUNCATED_WORDS_PER_SECOND
}

/// 20 ms at 16 kHz: the frame of [`quiet_split`].
const QUIET_FRAME: usize = 320;
/// Each side of a split keeps at least this much audio.
const SPLIT_MIN_SIDE: usize = 16_000;
/// A quiet to split at lasts at least this many frames (100 ms).
const QUIET_MIN_FRAMES: usize = 5;

/// Where to split 16 kHz `samples`: the middle of their longest run of quiet frames (energy 20 dB
/// under the loud frames, the 95th percentile) between two loud ones that leaves a second of
/// audio or more on each side, if there is one of 100 ms or more (silence before the first word
/// or after the last is no pause).
pub fn quiet_split(samples: &[f32]) -> Option<usize> {
    let energies: Vec<f32> =
        samples.chunks(QUIET_FRAME).map(|f| f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).collect();
    let mut sorted = energies.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let loud = *sorted.get(sorted.len().checked_sub(1)? * 95 / 100)?;
    if loud <= 0.0 {
        return None;
    }
    let quiet = loud / 100.0;
    let first = SPLIT_MIN_SIDE.div_ceil(QUIET_FRAME);
    let last = samples.len().saturating_sub(SPLIT_MIN_SIDE) / QUIET_FRAME;
    let mut best: Option<(usize, usize)> = None; // (length, start)
    let mut run_start = None;
    let mut heard_loud = false;
    for (index, energy) in energies.iter().enumerate() {
        match (energy < &quiet, run_start) {
            (true, None) if heard_loud => run_start = Some(index),
            (false, Some(start)) => {
                // the run's middle must leave a second on each side
                let middle = start + (index - start) / 2;
                if (first..last).contains(&middle) && best.is_none_or(|(length, _)| index - start > length) {
                    best = Some((index - start, start));
                }
                run_start = None;
            }
            _ => {}
        }
        heard_loud |= energy >= &quiet;
    }
    let (length, start) = best.filter(|(length, _)| *length >= QUIET_MIN_FRAMES)?;
    Some((start + length / 2) * QUIET_FRAME)
}

/// The words of `text`, lowercase, without punctuation ("half-half-half" is three words).
fn plain_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// True when `text` is a copy of a run of three or more of the prompt's words: Whisper
/// repeating its "previous text" instead of hearing the audio.
pub fn copies_prompt(text: &str, prompt_text: &str) -> bool {
    let words = plain_words(text);
    let prompt = plain_words(prompt_text);
    words.len() >= 3 && prompt.windows(words.len()).any(|run| run == words.as_slice())
}

/// True when a decode prompted with `prompt_text` looks led astray by it: failed
/// ([`degenerate`]), a copy of the prompt ([`copies_prompt`]), or far fewer words than `seconds`
/// of speech hold (stopped after the first sentence).
pub fn misled_by_prompt(text: &str, seconds: f32, score: Option<f32>, prompt_text: &str) -> bool {
    degenerate(text, seconds, score) || copies_prompt(text, prompt_text) || truncated(text, seconds)
}

/// The decoders loaded in this process, by canonical model directory.
type LoadedDecoders = Vec<(PathBuf, Weak<WhisperDecoder>)>;

/// One utterance waiting for a decoder.
struct Job {
    samples_16k: Vec<f32>,
    prompt: Arc<Vec<String>>,
    /// Set by the submitter when it no longer wants the result: skipped if not yet started.
    withdrawn: Option<Arc<AtomicBool>>,
    queued_at: Instant,
    reply: oneshot::Sender<Result<Transcript, WhisperError>>,
}

/// The shared model and its decoder threads; dropping the last handle stops them.
pub struct WhisperDecoder {
    model: Arc<WhisperModel>,
    jobs: SyncSender<Job>,
    queue_max: usize,
    waiting: Arc<AtomicUsize>,
    decoders: usize,
    /// 16 kHz samples of every utterance decoded so far (withdrawn ones not counted).
    decoded_samples: Arc<AtomicU64>,
}

impl WhisperDecoder {
    /// Loads the model and starts `decoders` threads behind a queue of `queue_max`.
    pub fn start(config: &WhisperOptionsConfig) -> Result<WhisperDecoder, WhisperError> {
        let started = Instant::now();
        let model = Arc::new(WhisperModel::load(config)?);
        let queue_max = config.queue_max.max(1);
        let (jobs, receiver) = sync_channel::<Job>(queue_max);
        let receiver = Arc::new(Mutex::new(receiver));
        let waiting = Arc::new(AtomicUsize::new(0));
        let decoded_samples = Arc::new(AtomicU64::new(0));
        for index in 0..config.decoders.max(1) {
            let (model, receiver, waiting) = (model.clone(), receiver.clone(), waiting.clone());
            let decoded = decoded_samples.clone();
            std::thread::Builder::new()
                .name(format!("whisper-decoder-{index}"))
                .spawn(move || decode_jobs(&model, &receiver, &waiting, &decoded))
                .map_err(|e| WhisperError::Load {
                    dir: config.model_dir.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        tracing::info!(
            model_dir = %config.model_dir.display(),
            decoders = config.decoders,
            threads_per_decoder = config.threads_per_decoder,
            queue_max,
            load_ms = started.elapsed().as_millis() as u64,
            "whisper model loaded"
        );
        Ok(WhisperDecoder { model, jobs, queue_max, waiting, decoders: config.decoders.max(1), decoded_samples })
    }

    /// The one decoder for `config.model_dir` in this process: loaded on first use, shared after.
    pub fn shared(config: &WhisperOptionsConfig) -> Result<Arc<WhisperDecoder>, WhisperError> {
        static LOADED: OnceLock<Mutex<LoadedDecoders>> = OnceLock::new();
        let key = std::fs::canonicalize(&config.model_dir).unwrap_or_else(|_| config.model_dir.clone());
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|poison| poison.into_inner());
        loaded.retain(|(_, decoder)| decoder.strong_count() > 0);
        if let Some(decoder) = loaded.iter().find(|(dir, _)| *dir == key).and_then(|(_, decoder)| decoder.upgrade()) {
            return Ok(decoder);
        }
        let decoder = Arc::new(WhisperDecoder::start(config)?);
        loaded.push((key, Arc::downgrade(&decoder)));
        Ok(decoder)
    }

    pub fn model(&self) -> &WhisperModel {
        &self.model
    }

    /// Queues one utterance; refused at once when `queue_max` already wait.
    pub fn submit(
        &self,
        samples_16k: Vec<f32>,
        prompt: Arc<Vec<String>>,
    ) -> Result<oneshot::Receiver<Result<Transcript, WhisperError>>, WhisperError> {
        self.queue(samples_16k, prompt, None)
    }

    /// [`WhisperDecoder::submit`] for a result that may not be wanted after all: setting
    /// `withdrawn` before a decoder takes the utterance skips it (answered with
    /// [`WhisperError::Withdrawn`]); once started, it runs to the end.
    pub fn submit_withdrawable(
        &self,
        samples_16k: Vec<f32>,
        prompt: Arc<Vec<String>>,
        withdrawn: Arc<AtomicBool>,
    ) -> Result<oneshot::Receiver<Result<Transcript, WhisperError>>, WhisperError> {
        self.queue(samples_16k, prompt, Some(withdrawn))
    }

    fn queue(
        &self,
        samples_16k: Vec<f32>,
        prompt: Arc<Vec<String>>,
        withdrawn: Option<Arc<AtomicBool>>,
    ) -> Result<oneshot::Receiver<Result<Transcript, WhisperError>>, WhisperError> {
        let (reply, receiver) = oneshot::channel();
        let job = Job { samples_16k, prompt, withdrawn, queued_at: Instant::now(), reply };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let refused = match self.jobs.try_send(job) {
            Ok(()) => return Ok(receiver),
            Err(TrySendError::Full(_)) => WhisperError::QueueFull { max: self.queue_max },
            Err(TrySendError::Disconnected(_)) => WhisperError::Stopped,
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Err(refused)
    }

    /// Utterances queued or being decoded.
    pub fn pending(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Seconds of audio the decoders have been given so far (withdrawn utterances not counted):
    /// what recognition costs grows with it.
    pub fn audio_decoded_s(&self) -> f64 {
        self.decoded_samples.load(Ordering::Relaxed) as f64 / 16_000.0
    }

    /// True while a decoder thread has nothing to do: work started now would not wait.
    pub fn idle(&self) -> bool {
        self.pending() < self.decoders
    }

    /// Decodes on the calling thread (for tools and benches that own their thread).
    pub fn transcribe_now(&self, samples_16k: &[f32], prompt: &[String]) -> Result<Transcript, WhisperError> {
        let started = Instant::now();
        let (text, confidence) = self.model.transcribe(samples_16k, prompt)?;
        Ok(Transcript { text, confidence, queued_ms: 0, decode_ms: started.elapsed().as_millis() as u64 })
    }
}

fn decode_jobs(model: &WhisperModel, receiver: &Mutex<Receiver<Job>>, waiting: &AtomicUsize, decoded: &AtomicU64) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|poison| poison.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return, // every sender dropped
            }
        };
        if job.withdrawn.as_ref().is_some_and(|withdrawn| withdrawn.load(Ordering::Relaxed)) {
            waiting.fetch_sub(1, Ordering::Relaxed);
            let _ = job.reply.send(Err(WhisperError::Withdrawn));
            continue;
        }
        let queued_ms = job.queued_at.elapsed().as_millis() as u64;
        decoded.fetch_add(job.samples_16k.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let result = model.transcribe(&job.samples_16k, &job.prompt).map(|(text, confidence)| Transcript {
            text,
            confidence,
            queued_ms,
            decode_ms: started.elapsed().as_millis() as u64,
        });
        waiting.fetch_sub(1, Ordering::Relaxed);
        let _ = job.reply.send(result);
    }
}

/// `model_dir` as given, or relative to the repository root for tools run from a crate folder.
pub fn locate_model_dir(model_dir: &Path) -> PathBuf {
    if model_dir.is_absolute() || model_dir.join("model.bin").is_file() {
        return model_dir.to_path_buf();
    }
    let in_repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(model_dir);
    if in_repository.join("model.bin").is_file() {
        in_repository
    } else {
        model_dir.to_path_buf()
    }
}

#[cfg(test)]
mod degenerate_tests {
    use super::{copies_prompt, degenerate, fit_window, misled_by_prompt, overfull, piece_failed, rank};

    #[test]
    fn a_retry_that_loops_does_not_replace_a_decode_that_does_not() {
        // tuning seed 323 (espeak-ng en-gb-x-rp+f1, the agent's line as prompt): the first 8.8 s
        // of a schedule answer; a loop's tokens are likely, so it scores higher than the words
        let looped = "So, on Monday and Friday, now, on Monday and Sunday, Monday, Monday, Monday, Monday, Monday, \
                      Monday, Monday, Monday, Monday, Monday, Monday, Monday, Monday, Monday,";
        let short = "So, on Monday and Friday,";
        assert!(rank(short, 8.8, Some(-1.30)) > rank(looped, 8.8, Some(-0.43)));
        // a decode that did not fail beats both, whatever its score
        let words = "on Monday and Friday, an announcement last September. On Saturday and Sunday, Monday, \
                     last weekend and November in the morning.";
        assert!(rank(words, 8.8, Some(-0.94)) > rank(looped, 8.8, Some(-0.43)));
        assert!(rank(words, 8.8, Some(-0.94)) > rank(short, 8.8, Some(-1.30)));
        // between two that did not fail, the score
        assert!(rank(words, 8.8, Some(-0.5)) > rank(words, 8.8, Some(-0.6)));
    }

    #[test]
    fn a_piece_of_a_split_fails_only_when_it_loops_or_holds_too_many_words() {
        // tuning seed 323: the second piece of a 13.8 s correction, a schedule that says "class on
        // Saturday and Sunday from" twice, as schedules do
        let schedule = "Our class in all instruments, class on Monday and Friday from 10mm to 11mm, peak class on \
                        Saturday and Sunday from 930mm to 1030mm, and peak class on Saturday and Sunday from 10mm to 11mm.";
        assert!(overfull(schedule, 12.6), "what a whole decode is checked for");
        assert!(!piece_failed(schedule, 12.6));
        // unsure is not failed: the piece "No, not quite" at an average log-probability of -1.13
        assert!(degenerate("No, not quite", 1.2, Some(-1.13)));
        assert!(!piece_failed("No, not quite", 1.2));
        assert!(piece_failed("Monday, Monday, Monday, Monday, Monday", 8.8));
        assert!(piece_failed("one two three four five six seven eight nine ten eleven twelve thirteen", 1.5));
    }

    #[test]
    fn a_sentence_said_twice_over_or_too_many_words_is_overfull() {
        // decodes of a fitted window (wer-bench, flite rms voice)
        let twice = "We ask visitors to sign a release form before they step on the mat. We ask visitors to sign a release form before they step on";
        assert!(overfull(twice, 4.5));
        assert!(overfull("Hi this is the front desk how can i help you? Hi this is the front desk how can i", 3.0));
        assert!(!overfull("We ask visitors to sign a release form before they step on the mat.", 4.5));
        assert!(!overfull("Seven of clubs, seven of clubs.", 2.5), "a short phrase said twice is speech");
        assert!(overfull("one two three four five six seven eight nine ten eleven twelve thirteen", 1.5));
    }

    #[test]
    fn a_fitted_window_keeps_the_first_frames_of_every_mel_row() {
        // 2 mel rows of 5 frames
        let features = vec![0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0];
        assert_eq!(fit_window(features.clone(), 5, 2), vec![0.0, 1.0, 10.0, 11.0]);
        assert_eq!(fit_window(features.clone(), 5, 5), features);
        assert_eq!(fit_window(features.clone(), 5, 9), features);
    }

    #[test]
    fn decodes_led_astray_by_the_agent_line_are_recognised() {
        // context-bench on the tuning eval's answers (seeds 100-111, 200-215), espeak-ng voices
        let prompt = "No problem, let's move on. Which days and times are your classes?";
        // a 7 s schedule answer given back as the prompt's first sentence
        assert!(copies_prompt("No problem, let's move on.", prompt));
        assert!(misled_by_prompt("No problem, let's move on.", 7.0, Some(-0.2), prompt));
        // a 12 s schedule stopped after its first clause
        let first_clause = "On Monday, Tuesday and Thursday, they're not leveled class from 11 till 1.";
        assert!(misled_by_prompt(first_clause, 12.0, Some(-0.3), "Which days and times are your classes?"));
        // one word over and over
        assert!(degenerate("4, 4, 4, 4, 4, 4", 3.0, Some(-0.2)));
        // ordinary answers, also those that repeat a word or two of the question, are kept
        assert!(!copies_prompt("Mondays and Wednesdays at six.", prompt));
        assert!(!copies_prompt("Your classes?", prompt), "two words are not a copy");
        assert!(!misled_by_prompt("Yes, ten dollars for the mat fee.", 2.5, Some(-0.3), "Is there a mat fee?"));
        assert!(!misled_by_prompt(first_clause, 5.0, Some(-0.3), "Which days and times are your classes?"));
    }

    #[test]
    fn a_chunk_is_split_in_its_longest_quiet_with_a_second_of_audio_on_each_side() {
        use super::{quiet_split, truncated};
        let tone = |n: usize| (0..n).map(|i| (i as f32 * 0.3).sin() * 0.3).collect::<Vec<f32>>();
        let mut audio = tone(40_000);
        audio.extend(vec![0.0; 3_200]); // 200 ms of quiet
        audio.extend(tone(30_000));
        audio.extend(vec![0.0; 8_000]); // 500 ms of quiet
        audio.extend(tone(40_000));
        audio.extend(vec![0.0; 48_000]); // 3 s of quiet at the end: no pause between words
        let mut leading = vec![0.0; 48_000]; // nor 3 s before the first
        leading.extend(audio);
        let audio = leading;
        let at = quiet_split(&audio).expect("a quiet to split at") - 48_000;
        let long_quiet = 40_000 + 3_200 + 30_000..40_000 + 3_200 + 30_000 + 8_000;
        assert!(long_quiet.contains(&at), "{at}");
        assert_eq!(quiet_split(&tone(100_000)), None, "speech without a pause is not split");
        assert_eq!(quiet_split(&vec![0.0; 100_000]), None, "silence is not split");
        // tuning seeds 323 and 325: 48 words said in 14 s heard as "So, on Monday and Friday," and
        // "No, not quite."
        assert!(truncated("So, on Monday and Friday,", 14.0));
        assert!(truncated("No, not quite.", 13.0));
        assert!(!truncated("Yes, we take drop-ins.", 2.0));
        assert!(!truncated("We have kids class on monday from six thirty p m to eight p m", 6.0));
    }

    #[test]
    fn failed_greedy_decodes_are_recognised() {
        // both heard in `gymcall eval` (tuning seeds, espeak-ng voices): a 7 s schedule answer
        // given one word, and a phrase looped to the token limit
        assert!(degenerate("and", 7.0, Some(-0.4)));
        let looped = "So, the main answer and main from mid-day deal half one last fundamental answer and main \
                      answer and main answer and main answer and main answer and main answer and main answer";
        assert!(degenerate(looped, 6.0, Some(-0.3)));
        assert!(degenerate("thanks for calling", 1.5, Some(-1.4)));
        // tuning seeds 338 and 336 (espeak-ng): a word looped with hyphens, and a day said four
        // times over
        assert!(degenerate(
            "So, in the evening, I'm half-half-half-half-half-half-half-half-half-half-",
            8.0,
            Some(-0.3)
        ));
        assert!(degenerate("on Tuesday and Friday, Monday, Monday, Monday, Monday.", 5.0, Some(-0.3)));
        // ordinary answers are kept as they are
        assert!(!degenerate("Yes, we take drop-ins.", 1.8, Some(-0.2)));
        assert!(!degenerate("No.", 0.6, Some(-0.3)));
        assert!(!degenerate(
            "Monday and Wednesday at six, Monday and Wednesday at seven thirty, and Saturday at ten",
            6.0,
            Some(-0.3)
        ));
    }
}
