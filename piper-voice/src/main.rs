//! piper-voice: the Piper voice's own process. It loads one model (sherpa-onnx, onnxruntime) and
//! turns the phoneme lines it reads on stdin into audio on stdout (`piper_tts::wire`), one
//! sentence at a time, until stdin closes. The agent's processes (`gymcall`, `media-worker`) run
//! it as a child through `piper_tts::PiperVoice`, so they never map the native libraries: a crash
//! in them costs a sentence (flite says it) and a restart.
//!
//! Usage: `piper-voice --model-dir DIR [--threads N]`. Diagnostics go to stderr.

mod model;

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use piper_tts::wire;

const USAGE: &str = "usage: piper-voice --model-dir DIR [--threads N]";

fn main() -> ExitCode {
    probes::process::limit_malloc_arenas();
    probes::process::report_fatal_signals("piper-voice");
    let mut args = std::env::args().skip(1);
    let (mut model_dir, mut threads) = (None, 1usize);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model-dir" => model_dir = args.next().map(PathBuf::from),
            "--threads" => match args.next().and_then(|n| n.parse::<usize>().ok()).filter(|n| (1..=64).contains(n)) {
                Some(n) => threads = n,
                None => return usage("--threads takes a number from 1 to 64"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let Some(model_dir) = model_dir else {
        return usage("--model-dir is required");
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let model = match model::PiperModel::load(&model_dir, threads) {
        Ok(model) => model,
        Err(message) => {
            let _ = wire::write_error(&mut out, &message);
            return ExitCode::from(2);
        }
    };
    if wire::write_ready(&mut out, model.sample_rate_hz()).is_err() {
        return ExitCode::FAILURE; // the parent went away
    }
    let mut input = BufReader::new(std::io::stdin().lock());
    loop {
        let phonemes = match wire::read_line(&mut input) {
            Ok(Some(line)) => line,
            Ok(None) => return ExitCode::SUCCESS, // the parent closed its side
            Err(error) => {
                eprintln!("piper-voice: {error}");
                let _ = wire::write_error(&mut out, &error.to_string());
                return ExitCode::FAILURE;
            }
        };
        let written = match model.synthesize(&phonemes) {
            Ok(samples) => {
                let pcm: Vec<i16> = samples.iter().map(|&s| (s.clamp(-1.0, 1.0) * 32_767.0) as i16).collect();
                wire::write_audio(&mut out, &pcm)
            }
            Err(message) => wire::write_error(&mut out, &message),
        };
        if written.and_then(|()| out.flush()).is_err() {
            return ExitCode::FAILURE;
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("piper-voice: {problem}\n{USAGE}");
    ExitCode::from(2)
}
