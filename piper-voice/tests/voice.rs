//! The Piper voice as a call uses it: one voice (its `piper-voice` child processes) shared by every
//! caller, a bounded queue that refuses at once, sentence-by-sentence 8 kHz mu-law, a child that
//! dies costing one sentence (flite says it) and a restart, and the fallback to flite (with the
//! reason named) when the voice cannot load. Needs `scripts/install-models.sh` and espeak-ng.

use std::path::PathBuf;
use std::sync::Arc;

use piper_tts::{PiperTts, PiperVoice, VoiceError, VoiceOptions};
use speech::tts::{TtsChunk, TtsProvider};

/// The program this package builds (cargo builds it for these tests).
const PROGRAM: &str = env!("CARGO_BIN_EXE_piper-voice");

fn installed() -> VoiceOptions {
    VoiceOptions { program: PROGRAM.into(), ..piper_tts::options_from_config(&config()) }
}

fn config() -> speech::SpeechConfig {
    speech::SpeechConfig { piper_voice_bin: PROGRAM.into(), ..speech::SpeechConfig::default() }
}

fn fallback_providers() -> speech::Providers {
    speech::from_config(&speech::SpeechConfig::default()).expect("embedded providers")
}

#[test]
fn every_caller_shares_one_loaded_voice() {
    let first = PiperVoice::shared(&installed()).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    let second = PiperVoice::shared(&installed()).expect("voice");
    assert!(Arc::ptr_eq(&first, &second), "the model was loaded twice");
    assert_eq!(first.sample_rate_hz(), 22_050);
    assert_eq!(first.process_ids().len(), 1, "one synthesis process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once() {
    let options = VoiceOptions { queue_max: 1, workers: 1, ..installed() };
    let voice = PiperVoice::start(&options).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    let long = "ðɪs ɪz ɐ lˈɔŋ sˈɛntəns ðæt tˈeɪks ɐ wˈaɪl tə sˈeɪ, ənd wˈʌn mˈɔːɹ æftɚ ɪt.".repeat(3);
    let mut accepted = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        match voice.submit(long.clone()) {
            Ok(reply) => accepted.push(reply),
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    assert_eq!(refused, Some(VoiceError::QueueFull { max: 1 }), "{} accepted", accepted.len());
    for reply in accepted {
        let audio = reply.await.expect("reply").expect("synthesized");
        assert!(audio.samples.len() > 22_050, "{} samples", audio.samples.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_streams_sentence_by_sentence_as_8k_mulaw() {
    let voice = PiperVoice::shared(&installed()).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    let tts = PiperTts::new(voice);
    let text = "Hi, this is Sam. A drop-in is $30. Classes are at 6:30 PM on Mondays.";
    let mut chunks = tts.synthesize(text.to_owned());
    let (mut mulaw, mut chunk_count, mut done_ms) = (Vec::new(), 0, None);
    while let Some(chunk) = chunks.recv().await {
        match chunk.expect("piper synthesis") {
            TtsChunk::Audio(bytes) => {
                assert!(done_ms.is_none(), "audio after done");
                chunk_count += 1;
                mulaw.extend_from_slice(&bytes);
            }
            TtsChunk::Done { total_ms } => done_ms = Some(total_ms),
        }
    }
    let total_ms = done_ms.expect("done");
    assert_eq!(total_ms, mulaw.len() as u64 / 8, "Done reports the 8 kHz audio sent");
    assert!((3_000..12_000).contains(&total_ms), "{total_ms} ms for three sentences");
    assert!(chunk_count >= 3, "{chunk_count} chunks");
    let mut pcm = Vec::new();
    protocol::mulaw::decode_into(&mulaw, &mut pcm);
    let loud = pcm.iter().filter(|s| s.unsigned_abs() > 1_000).count();
    assert!(loud * 4 > pcm.len(), "mostly silence: {loud} of {} samples loud", pcm.len());
    // the three sentences, each alone, add up to the text (plus the gaps between them)
    let mut sentence_ms = 0;
    for sentence in protocol::spoken::sentences(text) {
        sentence_ms += tts.sentence_pcm_8k(&sentence).await.expect("sentence").1.audio_ms;
    }
    assert!(total_ms.abs_diff(sentence_ms + 400) < 600, "{total_ms} ms vs sentences {sentence_ms} ms + gaps");
}

#[test]
fn missing_files_and_espeak_fall_back_to_flite_with_the_reason() {
    let missing = VoiceOptions { model_dir: PathBuf::from("/nonexistent/piper-joe"), ..installed() };
    let error = PiperVoice::start(&missing).err().expect("no voice there");
    assert!(matches!(error, VoiceError::ModelMissing { file: "model.onnx", .. }), "{error}");

    let no_espeak = VoiceOptions { espeak_ng_bin: "/nonexistent/espeak-ng".into(), ..installed() };
    let error = PiperVoice::start(&no_espeak).err().expect("no espeak-ng");
    assert!(error.to_string().contains("ESPEAK_NG_BIN"), "{error}");

    let mut config = speech::SpeechConfig {
        tts_provider: speech::config::TtsProviderKind::Piper,
        espeak_ng_bin: "/nonexistent/espeak-ng".into(),
        ..config()
    };
    assert_eq!(piper_tts::with_piper_voice(&config, fallback_providers()).tts.name(), "flite");
    config.espeak_ng_bin = "espeak-ng".into();
    assert_eq!(piper_tts::with_piper_voice(&config, fallback_providers()).tts.name(), "piper");
}

#[test]
fn a_bad_model_is_refused_at_load() {
    let dir = std::env::temp_dir().join(format!("piper-bad-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(installed().model_dir.join("tokens.txt"), dir.join("tokens.txt"))
        .unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    std::fs::write(dir.join("model.onnx"), b"this is not an onnx model").expect("write");
    let options = VoiceOptions { model_dir: dir.clone(), ..installed() };
    let error = PiperVoice::start(&options).err().expect("garbage loads");
    assert!(matches!(&error, VoiceError::Load { message, .. } if message.contains("not an ONNX model")), "{error}");
    // A real ONNX model without sherpa-onnx's metadata would make sherpa-onnx end the process.
    let raw = installed().model_dir.join("model.onnx");
    let mut onnx = std::fs::read(&raw).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    let metadata_at = onnx.windows(12).position(|w| w == b"\n\nmodel_type").expect("metadata written") - 2;
    onnx.truncate(metadata_at);
    std::fs::write(dir.join("model.onnx"), &onnx).expect("write");
    let error = PiperVoice::start(&options).err().expect("a model without metadata loads");
    assert!(error.to_string().contains("no sherpa-onnx metadata \"model_type\""), "{error}");
    let config = speech::SpeechConfig {
        piper_model_dir: dir.display().to_string(),
        tts_provider: speech::config::TtsProviderKind::Piper,
        ..config()
    };
    assert_eq!(piper_tts::with_piper_voice(&config, fallback_providers()).tts.name(), "flite");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auto_is_piper_where_the_voice_and_program_are_and_flite_elsewhere() {
    let auto = speech::SpeechConfig { tts_provider: speech::config::TtsProviderKind::Auto, ..config() };
    assert_eq!(piper_tts::with_piper_voice(&auto, fallback_providers()).tts.name(), "piper");
    let no_program = speech::SpeechConfig { piper_voice_bin: "/nonexistent/piper-voice".into(), ..auto.clone() };
    assert_eq!(piper_tts::with_piper_voice(&no_program, fallback_providers()).tts.name(), "flite");
    let no_voice = speech::SpeechConfig { piper_model_dir: "/nonexistent/piper-joe".into(), ..auto };
    assert_eq!(piper_tts::with_piper_voice(&no_voice, fallback_providers()).tts.name(), "flite");
}

/// `tts` speaking `text`: the 8 kHz audio it sent (decoded from mu-law), and whether it ended with
/// `Done`.
async fn say(tts: &dyn TtsProvider, text: &str) -> (Vec<i16>, bool) {
    let mut chunks = tts.synthesize(text.to_owned());
    let (mut mulaw, mut done) = (Vec::new(), false);
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(TtsChunk::Audio(bytes)) => mulaw.extend_from_slice(&bytes),
            Ok(TtsChunk::Done { .. }) => {
                done = true;
                break;
            }
            Err(error) => panic!("{} failed: {error}", tts.name()),
        }
    }
    let mut pcm = Vec::new();
    protocol::mulaw::decode_into(&mulaw, &mut pcm);
    (pcm, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthesis_process_that_dies_costs_one_sentence_said_by_flite_and_is_started_again() {
    // its own voice (not the shared one), so killing its process disturbs no other test
    let voice =
        Arc::new(PiperVoice::start(&installed()).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)")));
    let flite: Arc<dyn TtsProvider> = Arc::new(speech::tts::FliteTts::new().expect("flite"));
    // (no sentence cache: the same sentence is synthesized each time it is said)
    let tts = PiperTts::new(voice.clone()).with_cache_bytes(0).with_fallback(flite.clone());
    let sentence = "Is there a mat fee?";
    let (piper_audio, done) = say(&tts, sentence).await;
    assert!(done && piper_audio.len() > 4_000, "{} samples from piper", piper_audio.len());
    let (flite_audio, _) = say(flite.as_ref(), sentence).await;
    assert!(piper_audio != flite_audio, "the first sentence is Piper's");

    // the process dies at once, as on a crash in onnxruntime (a SIGSEGV sent with kill would be
    // caught by Rust's stack-overflow handler, so SIGKILL stands in for it)
    let pids = voice.process_ids();
    assert_eq!(pids.len(), 1);
    let killed = std::process::Command::new("kill").args(["-KILL", &pids[0].to_string()]).status().expect("kill");
    assert!(killed.success());
    std::thread::sleep(std::time::Duration::from_millis(200));

    // the sentence it would have said comes from flite, whole, and the call goes on
    let (fallback_audio, done) = say(&tts, sentence).await;
    assert!(done, "the text ends with Done, not an error");
    let differing = fallback_audio.iter().zip(&flite_audio).filter(|(a, b)| a != b).count();
    assert!(
        fallback_audio.len() == flite_audio.len() && differing == 0,
        "flite said the sentence the dead process could not: {} samples against flite's {}, {differing} differ",
        fallback_audio.len(),
        flite_audio.len()
    );
    assert_eq!(voice.restarts(), 0, "started again only when the next sentence comes");

    // the next sentence starts a new process and is Piper's again
    let (again, done) = say(&tts, sentence).await;
    assert!(done && again.len() > 4_000);
    assert!(again != flite_audio, "Piper speaks again");
    assert_eq!(voice.restarts(), 1);
    let new_pids = voice.process_ids();
    assert_eq!(new_pids.len(), 1);
    assert_ne!(new_pids, pids, "a new process");
}

#[test]
fn a_program_that_is_not_piper_voice_is_refused_at_load() {
    // `true` exits at once without a word: not ready
    let options = VoiceOptions { program: "true".into(), ..installed() };
    let error = PiperVoice::start(&options).err().expect("`true` is no voice");
    assert!(error.to_string().contains("before it was ready"), "{error}");
}

/// All the 8 kHz mu-law of one `synthesize`.
async fn said(tts: &PiperTts, text: &str) -> Vec<u8> {
    let mut chunks = tts.synthesize(text.to_owned());
    let mut mulaw = Vec::new();
    while let Some(chunk) = chunks.recv().await {
        match chunk.expect("piper synthesis") {
            TtsChunk::Audio(bytes) => mulaw.extend_from_slice(&bytes),
            TtsChunk::Done { .. } => return mulaw,
        }
    }
    panic!("no Done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_introduction_and_every_line_said_once_play_from_memory() {
    let voice = PiperVoice::shared(&installed()).unwrap_or_else(|e| panic!("{e} (run scripts/install-models.sh)"));
    let tts = PiperTts::new(voice.clone());
    let intro = "Hi, this is Sam, calling about drop-in classes. Do you take drop-in visitors?";
    tts.prepare(intro.to_owned());
    // asked for while it is being prepared: it waits for that synthesis, it does not start another
    let first = said(&tts, intro).await;
    assert_eq!(tts.cache().size().0, 2, "both sentences kept");
    // the voice is sampled (each synthesis sounds a little different): the same audio again is
    // the kept audio
    let again = said(&tts, intro).await;
    assert_eq!(first, again, "the second time plays from memory");
    let fresh = PiperTts::new(voice.clone()).with_cache_bytes(0);
    assert_ne!(said(&fresh, intro).await, first, "without the cache each time is synthesized anew");
    assert_eq!(fresh.cache().size(), (0, 0));

    // a sentence of the cache and a new one in one text: the new one is synthesized and kept
    said(&tts, "Do you take drop-in visitors? Great, thanks.").await;
    assert_eq!(tts.cache().size().0, 3);
}

#[test]
fn a_crash_in_the_voice_process_says_where_on_stderr_and_ends_with_the_same_signal() {
    use std::io::{BufRead, Read};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(PROGRAM)
        .args(["--model-dir", &installed().model_dir.display().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("piper-voice starts");
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut ready).expect("reads");
    assert!(ready.starts_with("ready "), "{ready:?} (run scripts/install-models.sh)");
    // as on a fault inside onnxruntime (the handler cannot tell a sent SIGSEGV from a real one)
    let killed = Command::new("kill").args(["-SEGV", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("reads");
    assert_eq!(status.signal(), Some(11), "dies of the same signal: {status:?}");
    assert!(stderr.contains("piper-voice: fatal signal 11; native stack:\n"), "{stderr}");
    let frames = stderr.lines().skip_while(|l| !l.contains("native stack")).skip(1).count();
    assert!(frames >= 2, "the frames of the stack follow: {stderr}");
}
