//! The Piper voice every call of a process shares: `workers` child processes of the
//! `piper-voice` program (each holding the model through sherpa-onnx, see [`crate::wire`]) behind
//! one bounded queue. A sentence's phonemes go in, its audio (the model's rate) comes back on a
//! oneshot channel; a full queue is refused at once with [`VoiceError::QueueFull`].
//!
//! The native libraries run only in the children. A child that dies (a signal, an exit), stops
//! answering for [`SYNTHESIS_TIMEOUT`] or breaks the protocol fails the sentence it held with
//! [`VoiceError::Synthesis`] (the provider says that sentence with its fallback voice) and is
//! started again for the next sentence, no sooner than [`RESTART_BACKOFF`] after a failed start.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::phonemes::{PhonemeError, Phonemizer};
use crate::wire::{self, Reply};

/// Longest phoneme string of one sentence (a long sentence is ~300); the rest is not said.
pub const MAX_PHONEMES: usize = 2_000;

/// Longest phoneme string the child synthesizes in one run (about 10 s of speech): a longer
/// sentence is said in runs split at its clauses ([`runs`]). What a run costs in memory grows with
/// its audio (onnxruntime keeps the largest tensors it has needed, ~15 MB a second of speech for
/// this voice), so the cap bounds the voice's memory, and the child's warm-up at load runs a
/// sentence of this length so that memory is taken at start, not by whichever call first says a
/// long sentence (piper-voice/src/model.rs).
pub const MAX_PHONEMES_PER_RUN: usize = 160;

/// `phonemes` in runs of at most `cap` characters: whole clauses (ended by `,` `;` `:` `.` `!`
/// `?`) together where they fit, a longer clause at its spaces, a longer word where it must.
pub fn runs(phonemes: &str, cap: usize) -> Vec<String> {
    let cap = cap.max(1);
    let mut pieces: Vec<String> = Vec::new();
    let mut clause = String::new();
    for ch in phonemes.chars() {
        clause.push(ch);
        if matches!(ch, ',' | ';' | ':' | '.' | '!' | '?') {
            pieces.push(std::mem::take(&mut clause));
        }
    }
    pieces.push(clause);
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    let push = |run: &mut String, out: &mut Vec<String>| {
        let taken = std::mem::take(run);
        if !taken.trim().is_empty() {
            out.push(taken.trim().to_owned());
        }
    };
    for piece in pieces {
        if run.chars().count() + piece.chars().count() <= cap {
            run.push_str(&piece);
            continue;
        }
        push(&mut run, &mut out);
        if piece.chars().count() <= cap {
            run.push_str(&piece);
            continue;
        }
        for word in piece.split_inclusive(' ') {
            if run.chars().count() + word.chars().count() > cap {
                push(&mut run, &mut out);
            }
            let mut rest: Vec<char> = word.chars().collect();
            while rest.len() > cap {
                let tail = rest.split_off(cap);
                out.push(rest.iter().collect());
                rest = tail;
            }
            run.extend(rest);
        }
    }
    push(&mut run, &mut out);
    out
}

/// Longest a child may take to load the model and say it is ready.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest one sentence may take before its child is killed and started again.
pub const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(30);
/// After a child failed to start, sentences fail at once (the fallback voice says them) for this
/// long before another start is tried.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(5);
/// The program's name, looked for beside the running executable and on PATH.
pub const PROGRAM: &str = "piper-voice";

/// Why speech could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VoiceError {
    #[error("piper voice not found: {dir} has no {file} (run scripts/install-models.sh)")]
    ModelMissing { dir: String, file: &'static str },
    #[error("piper voice {dir}: {message}")]
    Load { dir: String, message: String },
    #[error(transparent)]
    Phonemes(#[from] PhonemeError),
    #[error("piper queue full: {max} sentences already wait for a synthesis process")]
    QueueFull { max: usize },
    #[error("piper synthesis failed: {0}")]
    Synthesis(String),
    #[error("piper synthesis processes stopped")]
    Stopped,
}

/// How the shared voice is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceOptions {
    /// `model.onnx` (with sherpa-onnx's metadata) and `tokens.txt`.
    pub model_dir: PathBuf,
    /// The espeak-ng program that makes the phonemes.
    pub espeak_ng_bin: String,
    /// The `piper-voice` program that synthesizes them ([`locate_program`]).
    pub program: PathBuf,
    /// Synthesis processes sharing the queue.
    pub workers: usize,
    /// CPU threads one synthesis uses (onnxruntime's intra-op threads).
    pub threads: usize,
    /// Sentences that may wait for a synthesis process.
    pub queue_max: usize,
}

/// One sentence's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceAudio {
    /// Mono 16-bit samples at the model's rate.
    pub samples: Vec<i16>,
    pub sample_rate_hz: u32,
    pub queued_ms: u64,
    pub synthesis_ms: u64,
}

/// A running `piper-voice` child: its stdin, and the replies its reader thread parsed.
struct ChildVoice {
    process: Child,
    stdin: ChildStdin,
    replies: Receiver<Result<Reply, String>>,
}

/// What went wrong with one sentence.
enum Fault {
    /// The child said it could not (it keeps running).
    Refused(String),
    /// The child is gone or broken: it is killed and started again for the next sentence.
    Broken(String),
}

impl ChildVoice {
    /// Starts the program and waits for its `ready`; returns the model's sample rate.
    fn start(options: &VoiceOptions) -> Result<(ChildVoice, u32), VoiceError> {
        let load_error = |message: String| VoiceError::Load { dir: options.model_dir.display().to_string(), message };
        let mut command = Command::new(&options.program);
        command
            .arg("--model-dir")
            .arg(&options.model_dir)
            .arg("--threads")
            .arg(options.threads.clamp(1, 64).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // its own process group: a Ctrl-C at the terminal stops the parent, which ends the child
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut process = command.spawn().map_err(|error| {
            load_error(format!(
                "cannot run {}: {error} (build it with `cargo build --release -p piper-voice`, or set PIPER_VOICE_BIN)",
                options.program.display()
            ))
        })?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(load_error("no pipes to piper-voice".into()));
        };
        let (sender, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name("piper-voice-reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let reply = match wire::read_reply(&mut reader) {
                        Ok(Some(reply)) => Ok(reply),
                        Ok(None) => Err("closed its output".to_owned()),
                        Err(error) => Err(error.to_string()),
                    };
                    let last = reply.is_err();
                    if sender.send(reply).is_err() || last {
                        return;
                    }
                }
            })
            .map_err(|error| load_error(error.to_string()))?;
        let mut child = ChildVoice { process, stdin, replies };
        let ready = child.replies.recv_timeout(LOAD_TIMEOUT);
        match ready {
            Ok(Ok(Reply::Ready { sample_rate_hz })) => Ok((child, sample_rate_hz)),
            Ok(Ok(Reply::Error(message))) => {
                child.stop();
                Err(load_error(message))
            }
            Ok(Ok(Reply::Audio(_))) => {
                child.stop();
                Err(load_error("piper-voice sent audio before it was ready".into()))
            }
            Ok(Err(problem)) => {
                let status = child.stop();
                Err(load_error(format!("piper-voice {problem} before it was ready ({status})")))
            }
            Err(_) => {
                child.stop();
                Err(load_error(format!("piper-voice was not ready within {} s", LOAD_TIMEOUT.as_secs())))
            }
        }
    }

    /// The sentence's audio, in runs of at most [`MAX_PHONEMES_PER_RUN`] phonemes.
    fn synthesize(&mut self, phonemes: &str) -> Result<Vec<i16>, Fault> {
        let phonemes: String = phonemes.chars().take(MAX_PHONEMES).collect();
        let mut audio = Vec::new();
        for run in runs(&phonemes, MAX_PHONEMES_PER_RUN) {
            audio.extend(self.synthesize_run(&run)?);
        }
        Ok(audio)
    }

    fn synthesize_run(&mut self, phonemes: &str) -> Result<Vec<i16>, Fault> {
        if let Err(error) = wire::write_request(&mut self.stdin, phonemes) {
            return Err(Fault::Broken(format!("cannot write to piper-voice: {error}")));
        }
        match self.replies.recv_timeout(SYNTHESIS_TIMEOUT) {
            Ok(Ok(Reply::Audio(samples))) => Ok(samples),
            Ok(Ok(Reply::Error(message))) => Err(Fault::Refused(message)),
            Ok(Ok(Reply::Ready { .. })) => Err(Fault::Broken("piper-voice said ready again".into())),
            Ok(Err(problem)) => Err(Fault::Broken(format!("piper-voice {problem}"))),
            Err(RecvTimeoutError::Timeout) => {
                Err(Fault::Broken(format!("piper-voice gave no audio within {} s", SYNTHESIS_TIMEOUT.as_secs())))
            }
            Err(RecvTimeoutError::Disconnected) => Err(Fault::Broken("piper-voice's reader stopped".into())),
        }
    }

    /// Kills the child and reaps it; says how it ended ("signal: 11 (SIGSEGV)" for a crash that
    /// came first).
    fn stop(&mut self) -> String {
        let ended = self.process.try_wait().ok().flatten();
        if ended.is_none() {
            let _ = self.process.kill();
        }
        match ended.map(Ok).unwrap_or_else(|| self.process.wait()) {
            Ok(status) => status.to_string(),
            Err(error) => error.to_string(),
        }
    }
}

impl Drop for ChildVoice {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The voices loaded in this process: options (model directory made canonical) -> voice. A voice
/// is shared only with the same options: one asked for with another espeak-ng, program or worker
/// count is its own (found by `missing_files_and_espeak_fall_back_to_flite_with_the_reason`,
/// which got the voice another test had started with a working espeak-ng).
type LoadedVoices = Vec<(VoiceOptions, Weak<PiperVoice>)>;

/// One sentence waiting for a synthesis process.
struct Job {
    phonemes: String,
    queued_at: Instant,
    reply: oneshot::Sender<Result<SentenceAudio, VoiceError>>,
}

/// What every synthesis thread shares.
struct Shared {
    options: VoiceOptions,
    sample_rate_hz: u32,
    waiting: AtomicUsize,
    restarts: AtomicUsize,
    /// The process ids of the running children (for the bench's CPU figures).
    pids: Mutex<Vec<u32>>,
}

/// The shared voice and its synthesis processes; dropping the last handle stops them.
pub struct PiperVoice {
    jobs: SyncSender<Job>,
    queue_max: usize,
    phonemizer: Phonemizer,
    shared: Arc<Shared>,
}

impl PiperVoice {
    /// Checks the model files and espeak-ng, starts `workers` `piper-voice` children (each
    /// loads the model and says a test sentence before it is ready) behind a queue of
    /// `queue_max`.
    pub fn start(options: &VoiceOptions) -> Result<PiperVoice, VoiceError> {
        let started = Instant::now();
        let dir = &options.model_dir;
        for file in ["model.onnx", "tokens.txt"] {
            if !dir.join(file).is_file() {
                return Err(VoiceError::ModelMissing { dir: dir.display().to_string(), file });
            }
        }
        let phonemizer = Phonemizer::new(&options.espeak_ng_bin);
        phonemizer.check()?;
        let mut children = Vec::new();
        let mut sample_rate_hz = 0;
        for _ in 0..options.workers.max(1) {
            let (child, rate) = ChildVoice::start(options)?;
            sample_rate_hz = rate;
            children.push(child);
        }
        let shared = Arc::new(Shared {
            options: options.clone(),
            sample_rate_hz,
            waiting: AtomicUsize::new(0),
            restarts: AtomicUsize::new(0),
            pids: Mutex::new(children.iter().map(|child| child.process.id()).collect()),
        });
        let queue_max = options.queue_max.max(1);
        let (jobs, receiver) = sync_channel::<Job>(queue_max);
        let receiver = Arc::new(Mutex::new(receiver));
        for (index, child) in children.into_iter().enumerate() {
            let (receiver, shared) = (receiver.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("piper-voice-{index}"))
                .spawn(move || synthesize_jobs(child, &receiver, &shared))
                .map_err(|e| VoiceError::Load { dir: dir.display().to_string(), message: e.to_string() })?;
        }
        tracing::info!(
            model_dir = %dir.display(),
            program = %options.program.display(),
            workers = options.workers,
            threads = options.threads,
            queue_max,
            sample_rate_hz,
            load_ms = started.elapsed().as_millis() as u64,
            "piper voice loaded"
        );
        Ok(PiperVoice { jobs, queue_max, phonemizer, shared })
    }

    /// The one voice for these `options` in this process: loaded on first use, shared after.
    pub fn shared(options: &VoiceOptions) -> Result<Arc<PiperVoice>, VoiceError> {
        static LOADED: OnceLock<Mutex<LoadedVoices>> = OnceLock::new();
        let model_dir = std::fs::canonicalize(&options.model_dir).unwrap_or_else(|_| options.model_dir.clone());
        let key = VoiceOptions { model_dir, ..options.clone() };
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|poison| poison.into_inner());
        loaded.retain(|(_, voice)| voice.strong_count() > 0);
        if let Some(voice) = loaded.iter().find(|(loaded, _)| *loaded == key).and_then(|(_, voice)| voice.upgrade()) {
            return Ok(voice);
        }
        let voice = Arc::new(PiperVoice::start(options)?);
        loaded.push((key, Arc::downgrade(&voice)));
        Ok(voice)
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.shared.sample_rate_hz
    }

    pub fn phonemizer(&self) -> &Phonemizer {
        &self.phonemizer
    }

    /// Queues one sentence's phonemes; refused at once when `queue_max` already wait.
    pub fn submit(&self, phonemes: String) -> Result<oneshot::Receiver<Result<SentenceAudio, VoiceError>>, VoiceError> {
        let (reply, receiver) = oneshot::channel();
        let job = Job { phonemes, queued_at: Instant::now(), reply };
        self.shared.waiting.fetch_add(1, Ordering::Relaxed);
        let refused = match self.jobs.try_send(job) {
            Ok(()) => return Ok(receiver),
            Err(TrySendError::Full(_)) => VoiceError::QueueFull { max: self.queue_max },
            Err(TrySendError::Disconnected(_)) => VoiceError::Stopped,
        };
        self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
        Err(refused)
    }

    /// Sentences queued or being synthesized.
    pub fn pending(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }

    /// How many times a synthesis process was started again after it failed.
    pub fn restarts(&self) -> usize {
        self.shared.restarts.load(Ordering::Relaxed)
    }

    /// The process ids of the synthesis processes running now.
    pub fn process_ids(&self) -> Vec<u32> {
        self.shared.pids.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }
}

fn synthesize_jobs(first: ChildVoice, receiver: &Mutex<Receiver<Job>>, shared: &Shared) {
    let mut child = Some(first);
    let mut retry_at: Option<Instant> = None;
    let set_pid = |old: Option<u32>, new: Option<u32>| {
        let mut pids = shared.pids.lock().unwrap_or_else(|poison| poison.into_inner());
        pids.retain(|pid| Some(*pid) != old);
        pids.extend(new);
    };
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|poison| poison.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return, // every sender dropped: the child is killed with `child`
            }
        };
        let queued_ms = job.queued_at.elapsed().as_millis() as u64;
        let started = Instant::now();
        // A caller that hung up meanwhile needs nothing synthesized.
        let result = if job.reply.is_closed() {
            Err(VoiceError::Stopped)
        } else {
            if child.is_none() && retry_at.is_none_or(|at| Instant::now() >= at) {
                match ChildVoice::start(&shared.options) {
                    Ok((started_child, _)) => {
                        set_pid(None, Some(started_child.process.id()));
                        shared.restarts.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(pid = started_child.process.id(), "piper-voice started again");
                        child = Some(started_child);
                        retry_at = None;
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in_s = RESTART_BACKOFF.as_secs(), "piper-voice cannot start");
                        retry_at = Some(Instant::now() + RESTART_BACKOFF);
                    }
                }
            }
            match child.as_mut() {
                None => Err(VoiceError::Synthesis("piper-voice is not running (starting it again failed)".into())),
                Some(running) => match running.synthesize(&job.phonemes) {
                    Ok(samples) => Ok(SentenceAudio {
                        samples,
                        sample_rate_hz: shared.sample_rate_hz,
                        queued_ms,
                        synthesis_ms: started.elapsed().as_millis() as u64,
                    }),
                    Err(Fault::Refused(message)) => Err(VoiceError::Synthesis(message)),
                    Err(Fault::Broken(problem)) => {
                        let mut broken = child.take().expect("a running child");
                        let pid = broken.process.id();
                        let status = broken.stop();
                        set_pid(Some(pid), None);
                        // the sentence's phonemes, so a crash can be tried again on its input
                        tracing::warn!(
                            pid,
                            %status,
                            %problem,
                            phonemes = %job.phonemes,
                            "piper-voice failed; it starts again for the next sentence"
                        );
                        Err(VoiceError::Synthesis(format!("{problem} ({status})")))
                    }
                },
            }
        };
        shared.waiting.fetch_sub(1, Ordering::Relaxed);
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

/// The `piper-voice` program: `configured` when set (`PIPER_VOICE_BIN`), else the one beside the
/// running executable (an installed image, `target/<profile>/`), or one folder up (a test
/// binary in `target/<profile>/deps/`), else the name alone (looked up on PATH).
pub fn locate_program(configured: &str) -> PathBuf {
    if !configured.trim().is_empty() {
        return PathBuf::from(configured);
    }
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    for dir in beside.iter().flat_map(|dir| [Some(dir.clone()), dir.parent().map(Path::to_path_buf)]).flatten() {
        let candidate = dir.join(PROGRAM);
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from(PROGRAM)
}

/// True when [`locate_program`] found a program file (or PATH has one).
pub fn program_found(program: &Path) -> bool {
    if program.components().count() > 1 {
        return program.is_file();
    }
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod runs_tests {
    use super::runs;

    #[test]
    fn a_long_sentence_is_split_at_its_clauses_and_nothing_is_lost() {
        let sentence = "sˌoʊ ðæts mˈʌndeɪ, wˈɛnzdeɪ ænd fɹˈaɪdeɪ æt sˈɪks θˈɜːɾi, tˈuːzdeɪ æt nˈuːn.";
        assert_eq!(runs(sentence, 200), vec![sentence.to_owned()], "a sentence within the cap is one run");
        let split = runs(sentence, 45);
        assert_eq!(split, vec!["sˌoʊ ðæts mˈʌndeɪ,", "wˈɛnzdeɪ ænd fɹˈaɪdeɪ æt sˈɪks θˈɜːɾi,", "tˈuːzdeɪ æt nˈuːn."]);
        assert!(split.iter().all(|run| run.chars().count() <= 45));
        let said: String = split.join(" ");
        assert_eq!(said, sentence, "every phoneme is said, in order");
    }

    #[test]
    fn a_clause_longer_than_the_cap_is_split_at_its_spaces_and_a_word_where_it_must() {
        let clause = "wˈɛnzdeɪ ænd fɹˈaɪdeɪ æt sˈɪks θˈɜːɾi";
        let split = runs(clause, 16);
        assert!(split.iter().all(|run| run.chars().count() <= 16), "{split:?}");
        assert_eq!(split.join(" "), clause);
        let word = "a".repeat(25);
        assert_eq!(runs(&word, 10), vec!["a".repeat(10), "a".repeat(10), "a".repeat(5)]);
        assert!(runs("  ", 10).is_empty(), "no run without phonemes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_the_configured_one_or_looked_up() {
        assert_eq!(locate_program("/opt/piper-voice"), PathBuf::from("/opt/piper-voice"));
        let found = locate_program("");
        assert!(found == PathBuf::from(PROGRAM) || found.ends_with(PROGRAM), "{}", found.display());
        assert!(!program_found(Path::new("/nonexistent/piper-voice")));
    }

    #[test]
    fn a_missing_program_is_named_with_how_to_build_it() {
        let dir = std::env::temp_dir().join(format!("piper-program-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("model.onnx"), b"x").expect("write");
        std::fs::write(dir.join("tokens.txt"), b"x").expect("write");
        let options = VoiceOptions {
            model_dir: dir.clone(),
            espeak_ng_bin: "true".into(),
            program: PathBuf::from("/nonexistent/piper-voice"),
            workers: 1,
            threads: 1,
            queue_max: 4,
        };
        let error = ChildVoice::start(&options).err().expect("no program there");
        assert!(error.to_string().contains("cargo build --release -p piper-voice"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_files_are_named() {
        let options = VoiceOptions {
            model_dir: PathBuf::from("/nonexistent/piper"),
            espeak_ng_bin: "espeak-ng".into(),
            program: PathBuf::from(PROGRAM),
            workers: 1,
            threads: 1,
            queue_max: 4,
        };
        let error = PiperVoice::start(&options).err().expect("no model there");
        assert_eq!(error, VoiceError::ModelMissing { dir: "/nonexistent/piper".into(), file: "model.onnx" });
        assert!(error.to_string().contains("scripts/install-models.sh"));
    }
}
