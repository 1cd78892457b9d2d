//! WER of the embedded recognisers outside the agent's own voice, each utterance through the
//! telephone band (8 kHz mu-law) and the provider's call stream, as on a call:
//!
//! - `human`: the real recordings of Debian `pocketsphinx-testdata` that carry transcripts
//!   (LibriVox read speech, the "cards" set, `goforward.raw`, `tidigits/dhd.2934z.raw`);
//! - `gym`: the held-out sentences of `data/heldout_gym_sentences.txt`, spoken by voices the agent
//!   never uses (espeak-ng variants; `flite:slt`, `flite:rms`, `flite:awb` through the Debian
//!   `flite` binary), clean and with white line noise at 20 dB SNR.
//!
//! - `gym-long`: the same sentences three at a time with 300 ms of quiet between them, one
//!   utterance of 8-15 s (clean): answers long enough for the callee's pauses to matter.
//!
//! Engines: `whisper` (as a call: no prompt), `whisper+hints` (the playbook's hints as prompt),
//! `whisper+trade` (the playbook's trade words as prompt, `Playbook::trade_words`),
//! with `--pause-ms N` also `whisper@pauses` (the callee's pauses told as a call with `PAUSE_MS=N`
//! tells them: Whisper decodes the utterance in segments, `offline::transcribe_mulaw_with_pauses`), and
//! `pocketsphinx` (on `gym` the playbook's vocabulary, as a call; on `human`, whose words no
//! playbook knows, its stock general English LM and dictionary in place of the call's). Needs scripts/install-models.sh,
//! `apt-get install pocketsphinx-testdata espeak-ng`.
//!
//! `cargo run -p whisper-stt --example wer-bench [-- --voices en-us,flite:slt] [--engines whisper,pocketsphinx] [--playbook FILE] [--pause-ms 120]`

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use speech::evaluation::word_errors;
use speech::stt::{PocketsphinxConfig, PocketsphinxStt, SttProvider};
use speech::Vocabulary;
use whisper_stt::offline::{comparable_words, read_wav, speak, transcribe_mulaw, transcribe_mulaw_with_pauses, Audio};
use whisper_stt::{options_from_config, WhisperDecoder, WhisperStt};

const TESTDATA: &str = "/usr/share/pocketsphinx/test/data";
const DEFAULT_VOICES: &str = "en-us,en-us+f2,en-gb+m3,en-us+f4";
const SNR_DB: f64 = 20.0;

/// The human recordings with their transcripts.
fn human_set() -> anyhow::Result<Vec<(String, Audio, String)>> {
    let mut set = Vec::new();
    let transcriptions = [("librivox", "librivox/transcription"), ("cards", "cards/cards.transcription")];
    for (folder, file) in transcriptions {
        let text = std::fs::read_to_string(Path::new(TESTDATA).join(file))
            .with_context(|| format!("{TESTDATA}/{file} (apt-get install pocketsphinx-testdata)"))?;
        for line in text.lines() {
            // "<s> words </s> (file-id)"
            let Some((words, id)) = line.rsplit_once('(') else { continue };
            let id = id.trim_end_matches(')').trim();
            let words = words.replace("<s>", "").replace("</s>", "");
            let audio = read_wav(&Path::new(TESTDATA).join(folder).join(format!("{id}.wav")))?;
            set.push((format!("{folder}/{id}"), audio, words.trim().to_owned()));
        }
    }
    // Raw 16 kHz PCM16; transcripts from pocketsphinx's own tests and the TIDIGITS file name.
    for (file, words) in
        [("goforward.raw", "go forward ten meters"), ("tidigits/dhd.2934z.raw", "two nine three four zero")]
    {
        let bytes = std::fs::read(Path::new(TESTDATA).join(file)).with_context(|| format!("{TESTDATA}/{file}"))?;
        let samples = bytes.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
        set.push((file.to_owned(), Audio { samples, sample_rate_hz: 16_000 }, words.to_owned()));
    }
    Ok(set)
}

/// The audio on the line: 8 kHz, optionally with white noise `snr_db` below the speech, mu-law.
fn on_the_line(audio: &Audio, snr_db: Option<f64>, seed: u64) -> Vec<u8> {
    let mut pcm = speech::resample::resample(&audio.samples, audio.sample_rate_hz, 8_000);
    if let Some(snr_db) = snr_db {
        let power = pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64;
        let noise_rms = (power / 10f64.powf(snr_db / 10.0)).sqrt();
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for sample in &mut pcm {
            // Sum of four uniforms: close enough to Gaussian, unit variance after scaling.
            let mut sum = 0.0;
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                sum += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            }
            let noisy = f64::from(*sample) + sum * 3f64.sqrt() * noise_rms;
            *sample = noisy.clamp(-32_768.0, 32_767.0) as i16;
        }
    }
    let mut mulaw = Vec::with_capacity(pcm.len());
    protocol::mulaw::encode_into(&pcm, &mut mulaw);
    mulaw
}

/// Errors and words per (set, voice, condition, engine).
type Tally = BTreeMap<(String, String, String, String), (usize, usize)>;

/// Scores one transcript into `tally` (printed too when `verbose`).
fn tally_one(
    tally: &mut Tally,
    verbose: bool,
    (set, voice, condition, engine): (&String, &String, &String, &str),
    reference: &str,
    text: &str,
) {
    let (errors, words) = word_errors(&comparable_words(reference), &comparable_words(text));
    if verbose {
        println!("{set}\t{voice}\t{condition}\t{engine}\t{errors}/{words}\t{text}");
    }
    // Human recordings are reported per set, not per file.
    let voice = if set == "human" { "human speakers".to_owned() } else { voice.clone() };
    let entry = tally.entry((set.clone(), voice, condition.clone(), engine.to_owned())).or_default();
    entry.0 += errors;
    entry.1 += words;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut voices = DEFAULT_VOICES.to_owned();
    let mut playbook_file = None;
    let mut verbose = false;
    let mut only_engines: Option<String> = None;
    let mut pause_ms: Option<u64> = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--voices" => voices = arguments.next().ok_or_else(|| anyhow!("--voices needs a list"))?,
            "--playbook" => playbook_file = Some(arguments.next().ok_or_else(|| anyhow!("--playbook needs a file"))?),
            "--verbose" => verbose = true,
            "--engines" => only_engines = Some(arguments.next().ok_or_else(|| anyhow!("--engines needs a list"))?),
            "--pause-ms" => {
                let value = arguments.next().ok_or_else(|| anyhow!("--pause-ms needs milliseconds"))?;
                let value: u64 = value.parse().map_err(|_| anyhow!("--pause-ms {value}: not a number"))?;
                if !(40..500).contains(&value) {
                    bail!("--pause-ms {value}: between 40 and 499 (below the endpoint silence)");
                }
                pause_ms = Some(value);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let playbook = match &playbook_file {
        Some(path) => playbook::Playbook::load(path).map_err(|e| anyhow!("{e}"))?,
        None => playbook::PlaybookSet::built_in()
            .and_then(|set| set.get(playbook::DEFAULT_PLAYBOOK).cloned())
            .map_err(|e| anyhow!("{e}"))?,
    };
    let vocabulary = Arc::new(Vocabulary::from_hints(&playbook.recognition_hints()));
    let trade_words = Arc::new(Vocabulary::new().with_subjects(playbook.trade_words()));
    // the decoder settings a service would read (WHISPER_BEAM, WHISPER_WINDOW_S, ...)
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let config = speech::SpeechConfig::from_env(&env).map_err(|e| anyhow!("{e}"))?;
    let decoder = WhisperDecoder::shared(&options_from_config(&config))?;
    let whisper = WhisperStt::new(decoder.clone());
    let whisper_hints = WhisperStt::with_hints(decoder.clone());
    let settled = move || decoder.pending() == 0;
    let sphinx_call = PocketsphinxStt::new(PocketsphinxConfig::default())?;
    let mut general = PocketsphinxConfig::default();
    let model = general.model_dir.clone();
    general.extra_arguments.push(("-lm".into(), model.join("en-us.lm.bin").display().to_string()));
    general.extra_arguments.push(("-dict".into(), model.join("cmudict-en-us.dict").display().to_string()));
    let sphinx_general = PocketsphinxStt::new(general)?;
    println!("playbook {} (hints for the prompt and the call LM); voices {voices}; noise {SNR_DB} dB SNR", playbook.id);

    // (set, voice, condition, audio on the line, reference)
    let mut items: Vec<(String, String, String, Vec<u8>, String)> = Vec::new();
    for (id, audio, reference) in human_set()? {
        items.push(("human".into(), id, "clean".into(), on_the_line(&audio, None, 0), reference));
    }
    for voice in voices.split(',') {
        for (index, sentence) in whisper_stt::heldout::heldout_gym_sentences().into_iter().enumerate() {
            let audio = speak(voice, sentence).map_err(|error| anyhow!(error))?;
            for (condition, snr) in [("clean", None), ("noise20db", Some(SNR_DB))] {
                let line = on_the_line(&audio, snr, index as u64 + 1);
                items.push(("gym".into(), voice.to_owned(), condition.into(), line, sentence.to_owned()));
            }
        }
        let sentences = whisper_stt::heldout::heldout_gym_sentences();
        for (index, three) in sentences.chunks(3).enumerate() {
            let mut joined = Audio { samples: Vec::new(), sample_rate_hz: 0 };
            for sentence in three {
                let audio = speak(voice, sentence).map_err(|error| anyhow!(error))?;
                if joined.sample_rate_hz != 0 && joined.sample_rate_hz != audio.sample_rate_hz {
                    bail!("{voice} spoke at {} and {} Hz", joined.sample_rate_hz, audio.sample_rate_hz);
                }
                joined.sample_rate_hz = audio.sample_rate_hz;
                if !joined.samples.is_empty() {
                    joined.samples.extend(std::iter::repeat_n(0, audio.sample_rate_hz as usize * 3 / 10));
                }
                joined.samples.extend_from_slice(&audio.samples);
            }
            let line = on_the_line(&joined, None, index as u64 + 1);
            items.push(("gym-long".into(), voice.to_owned(), "clean".into(), line, three.join(" ")));
        }
    }
    let mut tally = Tally::new();
    let mut decode_ms: BTreeMap<String, (u128, usize)> = BTreeMap::new();
    for (set, voice, condition, line, reference) in &items {
        let engines: [(&str, &dyn SttProvider, Option<Arc<Vocabulary>>); 4] = [
            ("whisper", &whisper, Some(vocabulary.clone())),
            ("whisper+hints", &whisper_hints, Some(vocabulary.clone())),
            ("whisper+trade", &whisper_hints, Some(trade_words.clone())),
            if set == "human" {
                ("pocketsphinx", &sphinx_general, Some(vocabulary.clone()))
            } else {
                ("pocketsphinx", &sphinx_call, Some(vocabulary.clone()))
            },
        ];
        let at_pauses = pause_ms.map(|pause_ms| ("whisper@pauses", &whisper as &dyn SttProvider, pause_ms));
        for (engine, provider, hints) in engines {
            if only_engines.as_ref().is_some_and(|only| !only.split(',').any(|e| e == engine)) {
                continue;
            }
            let started = Instant::now();
            let text = transcribe_mulaw(provider, line, hints, Duration::from_secs(120)).await?;
            let spent = decode_ms.entry(engine.to_owned()).or_default();
            spent.0 += started.elapsed().as_millis();
            spent.1 += 1;
            tally_one(&mut tally, verbose, (set, voice, condition, engine), reference, &text);
        }
        if let Some((engine, provider, pause_ms)) = at_pauses {
            let hints = Some(vocabulary.clone());
            let text =
                transcribe_mulaw_with_pauses(provider, line, hints, Duration::from_secs(120), pause_ms, &settled)
                    .await?;
            // (its time includes the waits at pauses: not a latency)
            tally_one(&mut tally, verbose, (set, voice, condition, engine), reference, &text);
        }
    }
    println!("\n| set | voice | condition | engine | WER | errors / words |\n|---|---|---|---|---|---|");
    let mut per_engine: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    for ((set, voice, condition, engine), (errors, words)) in &tally {
        let wer = 100.0 * *errors as f64 / (*words).max(1) as f64;
        println!("| {set} | {voice} | {condition} | {engine} | {wer:.1}% | {errors} / {words} |");
        let total = per_engine.entry((set.clone(), condition.clone(), engine.clone())).or_default();
        total.0 += errors;
        total.1 += words;
    }
    println!("\n| set | condition | engine | WER (all voices) |\n|---|---|---|---|");
    for ((set, condition, engine), (errors, words)) in per_engine {
        println!(
            "| {set} | {condition} | {engine} | {:.1}% ({errors} / {words}) |",
            100.0 * errors as f64 / words.max(1) as f64
        );
    }
    for (engine, (total_ms, count)) in decode_ms {
        println!(
            "{engine}: {count} utterances, mean {} ms from end of audio to transcript",
            total_ms / count.max(1) as u128
        );
    }
    Ok(())
}
