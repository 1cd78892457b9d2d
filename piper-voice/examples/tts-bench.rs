//! The voice's benchmark: every agent line of the shipped playbooks (`playbooks/*.yaml`, see
//! `piper_tts::lines`) spoken by the Piper voice, one line at a time as a call asks for it.
//! Prints per sentence the time to its first audio (from the moment the line was asked for) and
//! its real-time factor (synthesis time / audio length), then the CPU the voice used per second of
//! speech and per call (one gym survey's worth of agent lines), beside flite's on the same lines.
//! The CPU counts this process and its `piper-voice` children (where the model runs).
//!
//! `cargo build --release -p piper-voice && cargo run --release -p piper-voice --example tts-bench [-- --threads N]`
//! (needs `scripts/install-models.sh`; PIPER_MODEL_DIR, ESPEAK_NG_BIN, PIPER_VOICE_BIN as for the
//! services).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use piper_tts::lines::{agent_lines, example_context};
use piper_tts::{PiperTts, PiperVoice};
use speech::tts::{FliteTts, TtsChunk, TtsProvider};

/// CPU time of this process and of the voice's `piper-voice` children so far (user + system).
fn process_cpu(voice: &PiperVoice) -> Duration {
    let children = voice.process_ids().into_iter().map(|pid| format!("/proc/{pid}/stat"));
    std::iter::once("/proc/self/stat".to_owned()).chain(children).map(|path| cpu_of(&path)).sum()
}

/// CPU time (user + system) of the process whose `/proc/<pid>/stat` is `path`.
fn cpu_of(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // after the command name: state is field 0, utime 11, stime 12; 100 ticks a second on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Resident memory of the voice's `piper-voice` children (MiB; VmRSS of each, summed).
fn voice_rss_mib(voice: &PiperVoice) -> f64 {
    let kib: u64 = voice
        .process_ids()
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum();
    kib as f64 / 1024.0
}

/// Speaks `line` through `tts`: (time to first audio, audio length, time to the end).
async fn speak(tts: &dyn TtsProvider, line: &str) -> anyhow::Result<(Duration, Duration, Duration)> {
    let asked = Instant::now();
    let mut chunks = tts.synthesize(line.to_owned());
    let mut first = None;
    let mut audio_ms = 0;
    while let Some(chunk) = chunks.recv().await {
        match chunk? {
            TtsChunk::Audio(bytes) => {
                first = first.or(Some(asked.elapsed()));
                audio_ms += bytes.len() as u64 / 8;
            }
            TtsChunk::Done { .. } => break,
        }
    }
    Ok((first.unwrap_or_default(), Duration::from_millis(audio_ms), asked.elapsed()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut env: HashMap<String, String> = std::env::vars().collect();
    if let Some(threads) = args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1)) {
        env.insert("PIPER_THREADS".into(), threads.clone());
    }
    let config = speech::SpeechConfig::from_env(&env)?;
    let options = piper_tts::options_from_config(&config);
    let loading = Instant::now();
    let voice = PiperVoice::shared(&options).context("piper voice (run scripts/install-models.sh)")?;
    println!(
        "piper voice {} loaded in {} ms by {}; {} synthesis process(es) of {} onnxruntime thread(s)",
        options.model_dir.display(),
        loading.elapsed().as_millis(),
        options.program.display(),
        options.workers,
        options.threads
    );
    println!("piper-voice RSS after loading: {:.1} MiB", voice_rss_mib(&voice));
    let piper = PiperTts::new(voice.clone());
    let flite = FliteTts::new()?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks");
    let mut files: Vec<_> = std::fs::read_dir(&root)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();

    // Per sentence, as the provider does it: spoken form, phonemes, synthesis, resampling.
    println!("\n{:>6} {:>6} {:>6} {:>6}  sentence", "first", "audio", "synth", "rtf");
    let (mut firsts, mut rtfs) = (Vec::new(), Vec::new());
    let mut survey_lines = Vec::new();
    for file in &files {
        if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let playbook = playbook::Playbook::load(file)?;
        println!("-- {}", file.file_name().unwrap_or_default().to_string_lossy());
        let lines = agent_lines(&playbook, &example_context());
        for line in &lines {
            for sentence in protocol::spoken::sentences(line) {
                let asked = Instant::now();
                let (_, timing) = piper.sentence_pcm_8k(&sentence).await?;
                let first_ms = asked.elapsed().as_secs_f64() * 1000.0;
                let rtf = timing.synthesis_ms as f64 / timing.audio_ms.max(1) as f64;
                println!(
                    "{first_ms:>4.0}ms {:>4}ms {:>4}ms {rtf:>6.3}  {sentence}",
                    timing.audio_ms, timing.synthesis_ms
                );
                firsts.push(first_ms);
                rtfs.push(rtf);
            }
        }
        if playbook.id == "gym-dropin" {
            survey_lines = lines;
        }
    }
    let count = firsts.len();
    let slowest = firsts.iter().copied().fold(0.0, f64::max);
    println!(
        "\n{count} sentences: time to first audio median {:.0} ms, slowest {slowest:.0} ms; real-time factor median {:.3}, worst {:.3}",
        median(&mut firsts.clone()),
        median(&mut rtfs.clone()),
        rtfs.iter().copied().fold(0.0, f64::max)
    );

    println!("piper-voice RSS after the {count} sentences: {:.1} MiB", voice_rss_mib(&voice));

    // CPU per call: one gym survey's agent lines through each provider, as a call asks for them.
    for (name, tts) in [("piper", &piper as &dyn TtsProvider), ("flite", &flite as &dyn TtsProvider)] {
        let cpu_before = process_cpu(&voice);
        let started = Instant::now();
        let (mut audio, mut firsts) = (Duration::ZERO, Vec::new());
        for line in &survey_lines {
            let (first, length, _) = speak(tts, line).await?;
            audio += length;
            firsts.push(first.as_secs_f64() * 1000.0);
        }
        let cpu = process_cpu(&voice).saturating_sub(cpu_before);
        println!(
            "{name}: gym survey's {} agent lines, {:.1} s of speech in {:.1} s wall: CPU {:.2} s per call \
             ({:.1}% of a core while speaking, {:.3} CPU-s per second of speech); first audio of a line median {:.0} ms",
            survey_lines.len(),
            audio.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / audio.as_secs_f64().max(0.001),
            cpu.as_secs_f64() / audio.as_secs_f64().max(0.001),
            median(&mut firsts)
        );
    }
    println!("piper-voice RSS at the end: {:.1} MiB", voice_rss_mib(&voice));
    Ok(())
}
