//! The Piper voice, loaded once per process through sherpa-onnx, and the bounded pool of
//! synthesis threads every call shares: a sentence's phonemes go in, its audio (the model's rate,
//! -1..1) comes back on a oneshot channel. A full queue is refused at once with
//! [`VoiceError::QueueFull`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

/// Stack of each synthesis thread.
const SYNTHESIS_STACK_BYTES: usize = 16 << 20;

use sherpa_onnx::{GenerationConfig, OfflineTts, OfflineTtsConfig, OfflineTtsModelConfig, OfflineTtsVitsModelConfig};
use tokio::sync::oneshot;

use crate::phonemes::{PhonemeError, Phonemizer};

/// Largest model.onnx accepted (Piper medium voices are 63 MB, high ones ~110 MB).
const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;
/// Longest phoneme string synthesized at once (a long sentence is ~300).
pub const MAX_PHONEMES: usize = 2_000;

/// Why speech could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VoiceError {
    #[error("piper voice not found: {dir} has no {file} (run scripts/install-models.sh)")]
    ModelMissing { dir: String, file: &'static str },
    #[error("piper voice {dir}: {message}")]
    Load { dir: String, message: String },
    #[error(transparent)]
    Phonemes(#[from] PhonemeError),
    #[error("piper queue full: {max} sentences already wait for a synthesis thread")]
    QueueFull { max: usize },
    #[error("piper synthesis failed: {0}")]
    Synthesis(String),
    #[error("piper synthesis threads stopped")]
    Stopped,
}

/// How the shared voice is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceOptions {
    /// `model.onnx` (with sherpa-onnx's metadata) and `tokens.txt`.
    pub model_dir: PathBuf,
    /// The espeak-ng program that makes the phonemes.
    pub espeak_ng_bin: String,
    /// Synthesis threads sharing the one loaded model.
    pub workers: usize,
    /// CPU threads one synthesis uses (onnxruntime's intra-op threads).
    pub threads: usize,
    /// Sentences that may wait for a synthesis thread.
    pub queue_max: usize,
}

/// One sentence's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceAudio {
    /// Mono samples in -1..1 at the model's rate.
    pub samples: Vec<f32>,
    pub sample_rate_hz: u32,
    pub queued_ms: u64,
    pub synthesis_ms: u64,
}

/// The loaded model. `Send + Sync`: onnxruntime sessions run concurrently.
pub struct PiperModel {
    tts: OfflineTts,
    sample_rate_hz: u32,
    /// The phoneme symbols of tokens.txt; others are dropped before synthesis.
    symbols: HashSet<char>,
    phonemizer: Phonemizer,
}

impl PiperModel {
    /// Loads `options.model_dir`, checks espeak-ng runs, and synthesizes one short sentence (a
    /// model that loads but cannot speak is refused here, not on a call).
    pub fn load(options: &VoiceOptions) -> Result<PiperModel, VoiceError> {
        let dir = &options.model_dir;
        let shown = dir.display().to_string();
        for file in ["model.onnx", "tokens.txt"] {
            if !dir.join(file).is_file() {
                return Err(VoiceError::ModelMissing { dir: shown, file });
            }
        }
        let load_error = |message: String| VoiceError::Load { dir: shown.clone(), message };
        let model_bytes = std::fs::metadata(dir.join("model.onnx")).map_err(|e| load_error(e.to_string()))?.len();
        if model_bytes > MAX_MODEL_BYTES {
            return Err(load_error(format!("model.onnx is {model_bytes} bytes, more than {MAX_MODEL_BYTES}")));
        }
        let symbols = read_symbols(&dir.join("tokens.txt")).map_err(load_error)?;
        // sherpa-onnx ends the process (exit -1) on a model without its metadata: checked first.
        let metadata = read_metadata(&dir.join("model.onnx")).map_err(load_error)?;
        for (key, wanted) in [("model_type", Some("vits")), ("comment", Some("piper")), ("sample_rate", None)] {
            match (metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()), wanted) {
                (None, _) => {
                    let message = format!(
                        "model.onnx has no sherpa-onnx metadata {key:?} (prepare it with scripts/install-voice.sh)"
                    );
                    return Err(load_error(message));
                }
                (Some(value), Some(wanted)) if value != wanted => {
                    return Err(load_error(format!("model.onnx metadata {key}={value:?}, expected {wanted:?}")));
                }
                _ => {}
            }
        }
        let phonemizer = Phonemizer::new(&options.espeak_ng_bin);
        phonemizer.check()?;
        let path = |file: &str| Some(dir.join(file).display().to_string());
        let config = OfflineTtsConfig {
            model: OfflineTtsModelConfig {
                vits: OfflineTtsVitsModelConfig {
                    model: path("model.onnx"),
                    tokens: path("tokens.txt"),
                    ..OfflineTtsVitsModelConfig::default()
                },
                num_threads: options.threads.max(1) as i32,
                ..OfflineTtsModelConfig::default()
            },
            max_num_sentences: 1,
            ..OfflineTtsConfig::default()
        };
        let tts = OfflineTts::create(&config).ok_or_else(|| {
            load_error(
                "sherpa-onnx could not load model.onnx (not a Piper VITS model with sherpa-onnx metadata?)".into(),
            )
        })?;
        let sample_rate_hz = u32::try_from(tts.sample_rate()).unwrap_or(0);
        if !(8_000..=48_000).contains(&sample_rate_hz) {
            return Err(load_error(format!("model sample rate {sample_rate_hz} Hz")));
        }
        let model = PiperModel { tts, sample_rate_hz, symbols, phonemizer };
        // "hello." : a short sentence through the whole model
        let warm_up = model.synthesize("hˈɛloʊ.").map_err(|error| load_error(format!("test sentence: {error}")))?;
        if warm_up.is_empty() {
            return Err(load_error("test sentence gave no audio".into()));
        }
        Ok(model)
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    pub fn phonemizer(&self) -> &Phonemizer {
        &self.phonemizer
    }

    /// Synthesizes one sentence's phonemes on the calling thread (blocking). Symbols the voice
    /// does not know are dropped; nothing left gives no audio.
    pub fn synthesize(&self, phonemes: &str) -> Result<Vec<f32>, VoiceError> {
        let codepoints: Vec<i32> = phonemes
            .chars()
            .filter(|symbol| self.symbols.contains(symbol))
            .take(MAX_PHONEMES)
            .map(|symbol| symbol as i32)
            .collect();
        if !codepoints.iter().any(|&c| char::from_u32(c as u32).is_some_and(char::is_alphabetic)) {
            return Ok(Vec::new());
        }
        let generation = GenerationConfig { phoneme_codepoints: Some(vec![codepoints]), ..GenerationConfig::default() };
        let audio = self
            .tts
            .generate_with_config::<fn(&[f32], f32) -> bool>("", &generation, None)
            .ok_or_else(|| VoiceError::Synthesis("sherpa-onnx returned no audio".into()))?;
        Ok(audio.samples().to_vec())
    }
}

/// The phoneme symbols in a tokens.txt ("symbol id" per line; the space symbol's line is " 3").
fn read_symbols(path: &Path) -> Result<HashSet<char>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("tokens.txt: {e}"))?;
    let mut symbols = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let Some((symbol, id)) = line.rsplit_once(' ') else {
            return Err(format!("tokens.txt:{}: not 'symbol id'", number + 1));
        };
        let mut characters = symbol.chars();
        let (Some(symbol), None, Ok(_)) = (characters.next(), characters.next(), id.trim().parse::<u32>()) else {
            return Err(format!("tokens.txt:{}: not 'symbol id': {line:?}", number + 1));
        };
        symbols.insert(symbol);
    }
    if symbols.len() < 10 {
        return Err(format!("tokens.txt has {} symbols", symbols.len()));
    }
    Ok(symbols)
}

/// The `metadata_props` (key, value) of an ONNX file: the top-level fields of its ModelProto are
/// walked and every other field skipped, so the 63 MB graph is never read.
fn read_metadata(path: &Path) -> Result<Vec<(String, String)>, String> {
    use std::io::{BufReader, Read, Seek, SeekFrom};
    fn varint(reader: &mut impl Read) -> std::io::Result<Option<u64>> {
        let (mut value, mut shift, mut byte) = (0u64, 0, [0u8; 1]);
        loop {
            if reader.read(&mut byte)? == 0 {
                return if shift == 0 { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
            }
            value |= u64::from(byte[0] & 0x7F) << shift;
            shift += 7;
            if byte[0] & 0x80 == 0 || shift > 63 {
                return Ok(Some(value));
            }
        }
    }
    fn strings(entry: &[u8]) -> Option<(String, String)> {
        let (mut key, mut value, mut at) = (None, None, 0);
        while at < entry.len() {
            let tag = entry[at];
            let length = *entry.get(at + 1)? as usize; // keys and values here are short
            let text = String::from_utf8_lossy(entry.get(at + 2..at + 2 + length)?).into_owned();
            match tag {
                0x0A => key = Some(text),
                0x12 => value = Some(text),
                _ => {}
            }
            at += 2 + length;
        }
        Some((key?, value.unwrap_or_default()))
    }
    let bad = |message: String| format!("model.onnx: {message}");
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut reader = BufReader::new(file);
    let mut metadata = Vec::new();
    while let Some(tag) = varint(&mut reader).map_err(|e| bad(e.to_string()))? {
        match tag & 7 {
            0 => {
                varint(&mut reader).map_err(|e| bad(e.to_string()))?;
            }
            2 => {
                let length = varint(&mut reader).map_err(|e| bad(e.to_string()))?.unwrap_or(0);
                if tag >> 3 == 14 && length < 4096 {
                    let mut entry = vec![0u8; length as usize];
                    reader.read_exact(&mut entry).map_err(|e| bad(e.to_string()))?;
                    metadata.extend(strings(&entry));
                } else {
                    let offset = i64::try_from(length).map_err(|_| bad("field too long".into()))?;
                    reader.seek(SeekFrom::Current(offset)).map_err(|e| bad(e.to_string()))?;
                }
            }
            other => return Err(bad(format!("not an ONNX model (wire type {other})"))),
        }
    }
    Ok(metadata)
}

/// The voices loaded in this process, by canonical model directory.
type LoadedVoices = Vec<(PathBuf, Weak<PiperVoice>)>;

/// One sentence waiting for a synthesis thread.
struct Job {
    phonemes: String,
    queued_at: Instant,
    reply: oneshot::Sender<Result<SentenceAudio, VoiceError>>,
}

/// The shared model and its synthesis threads; dropping the last handle stops them.
pub struct PiperVoice {
    model: Arc<PiperModel>,
    jobs: SyncSender<Job>,
    queue_max: usize,
    waiting: Arc<AtomicUsize>,
}

impl PiperVoice {
    /// Loads the model and starts `workers` threads behind a queue of `queue_max`.
    pub fn start(options: &VoiceOptions) -> Result<PiperVoice, VoiceError> {
        let started = Instant::now();
        let model = Arc::new(PiperModel::load(options)?);
        let queue_max = options.queue_max.max(1);
        let (jobs, receiver) = sync_channel::<Job>(queue_max);
        let receiver = Arc::new(Mutex::new(receiver));
        let waiting = Arc::new(AtomicUsize::new(0));
        for index in 0..options.workers.max(1) {
            let (model, receiver, waiting) = (model.clone(), receiver.clone(), waiting.clone());
            std::thread::Builder::new()
                .name(format!("piper-voice-{index}"))
                // onnxruntime runs the whole model on this thread (one intra-op thread): give it
                // a main thread's stack rather than Rust's 2 MiB default
                .stack_size(SYNTHESIS_STACK_BYTES)
                .spawn(move || synthesize_jobs(&model, &receiver, &waiting))
                .map_err(|e| VoiceError::Load {
                    dir: options.model_dir.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        tracing::info!(
            model_dir = %options.model_dir.display(),
            workers = options.workers,
            threads = options.threads,
            queue_max,
            sample_rate_hz = model.sample_rate_hz,
            load_ms = started.elapsed().as_millis() as u64,
            "piper voice loaded"
        );
        Ok(PiperVoice { model, jobs, queue_max, waiting })
    }

    /// The one voice for `options.model_dir` in this process: loaded on first use, shared after.
    pub fn shared(options: &VoiceOptions) -> Result<Arc<PiperVoice>, VoiceError> {
        static LOADED: OnceLock<Mutex<LoadedVoices>> = OnceLock::new();
        let key = std::fs::canonicalize(&options.model_dir).unwrap_or_else(|_| options.model_dir.clone());
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|poison| poison.into_inner());
        loaded.retain(|(_, voice)| voice.strong_count() > 0);
        if let Some(voice) = loaded.iter().find(|(dir, _)| *dir == key).and_then(|(_, voice)| voice.upgrade()) {
            return Ok(voice);
        }
        let voice = Arc::new(PiperVoice::start(options)?);
        loaded.push((key, Arc::downgrade(&voice)));
        Ok(voice)
    }

    pub fn model(&self) -> &PiperModel {
        &self.model
    }

    /// Queues one sentence's phonemes; refused at once when `queue_max` already wait.
    pub fn submit(&self, phonemes: String) -> Result<oneshot::Receiver<Result<SentenceAudio, VoiceError>>, VoiceError> {
        let (reply, receiver) = oneshot::channel();
        let job = Job { phonemes, queued_at: Instant::now(), reply };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let refused = match self.jobs.try_send(job) {
            Ok(()) => return Ok(receiver),
            Err(TrySendError::Full(_)) => VoiceError::QueueFull { max: self.queue_max },
            Err(TrySendError::Disconnected(_)) => VoiceError::Stopped,
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Err(refused)
    }

    /// Sentences queued or being synthesized.
    pub fn pending(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

fn synthesize_jobs(model: &PiperModel, receiver: &Mutex<Receiver<Job>>, waiting: &AtomicUsize) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|poison| poison.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return, // every sender dropped
            }
        };
        let queued_ms = job.queued_at.elapsed().as_millis() as u64;
        let started = Instant::now();
        // A caller that hung up meanwhile needs nothing synthesized.
        let result = if job.reply.is_closed() {
            Err(VoiceError::Stopped)
        } else {
            model.synthesize(&job.phonemes).map(|samples| SentenceAudio {
                samples,
                sample_rate_hz: model.sample_rate_hz,
                queued_ms,
                synthesis_ms: started.elapsed().as_millis() as u64,
            })
        };
        waiting.fetch_sub(1, Ordering::Relaxed);
        let _ = job.reply.send(result);
    }
}

/// `model_dir` as given, or relative to the repository root for tools run from a crate folder.
pub fn locate_model_dir(model_dir: &Path) -> PathBuf {
    if model_dir.is_absolute() || model_dir.join("model.onnx").is_file() {
        return model_dir.to_path_buf();
    }
    let in_repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(model_dir);
    if in_repository.join("model.onnx").is_file() {
        in_repository
    } else {
        model_dir.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_with_the_space_symbol() {
        let dir = std::env::temp_dir().join(format!("piper-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tokens.txt");
        std::fs::write(&path, "_ 0\n^ 1\n$ 2\n  3\n! 4\na 14\nb 15\nc 16\nd 17\ne 18\nɡ 66\n").expect("write");
        let symbols = read_symbols(&path).expect("tokens");
        assert!(symbols.contains(&' ') && symbols.contains(&'ɡ') && symbols.contains(&'_'));
        std::fs::write(&path, "_ 0\nab 1\n").expect("write");
        assert!(read_symbols(&path).unwrap_err().contains("tokens.txt:2"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_files_are_named() {
        let options = VoiceOptions {
            model_dir: PathBuf::from("/nonexistent/piper"),
            espeak_ng_bin: "espeak-ng".into(),
            workers: 1,
            threads: 1,
            queue_max: 4,
        };
        let error = PiperModel::load(&options).err().expect("no model there");
        assert_eq!(error, VoiceError::ModelMissing { dir: "/nonexistent/piper".into(), file: "model.onnx" });
        assert!(error.to_string().contains("scripts/install-models.sh"));
    }
}
