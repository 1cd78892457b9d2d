//! Resampler benchmark: speed per second of audio and frequency response, side by side, for the
//! conversions a call makes (TTS at 24 and 22.05 kHz to 8 kHz; 8 kHz to 16 kHz for PocketSphinx):
//!
//! - `direct`: the kernel evaluated for every tap, with the filter calls used before the tables
//!   (`speech::resample::reference::PREVIOUS`: 16 zero crossings, cut-off at 0.92 of Nyquist),
//! - `tables`: `speech::resample::StreamResampler`, the precomputed polyphase filter calls use now
//!   (`speech::resample::SHAPE`: 32 zero crossings, cut-off at 0.95),
//! - `rubato`: the `rubato` crate's synchronous FFT resampler (`Fft`, fixed input chunks of 20 ms).
//!
//! Run: `cargo run --release -p speech --example resample-bench [seconds]` (default 30 s of audio).
//! Input: a synthetic mix (speech-band tones plus noise) generated here; the figures do not depend on
//! any recording. Time is one busy thread's wall time around each run (run it on an idle machine)
//! per second of audio.

use std::f64::consts::PI;
use std::time::Instant;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use speech::resample::{reference, tone_power, StreamResampler};

const PAIRS: [(u32, u32); 3] = [(24_000, 8_000), (22_050, 8_000), (8_000, 16_000)];

fn main() {
    let seconds: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(30);
    println!("resampler benchmark: {seconds} s of audio per conversion, one thread");
    println!();
    println!("| conversion | engine | time per second of audio | x real time | first output after | passband 300-3400 Hz | worst alias/image |");
    println!("|---|---|---|---|---|---|---|");
    for (from_hz, to_hz) in PAIRS {
        let input = test_signal(from_hz, seconds);
        for engine in ["direct", "tables", "rubato"] {
            // The direct form is slow: time it on a tenth of the audio and scale.
            let input = if engine == "direct" { &input[..input.len() / 10] } else { &input[..] };
            let audio_seconds = input.len() as f64 / f64::from(from_hz);
            let started = Instant::now();
            let output = run(engine, input, from_hz, to_hz);
            let busy = started.elapsed().as_secs_f64();
            assert!(!output.is_empty());
            let (passband, alias) = response(engine, from_hz, to_hz);
            let delay_ms = delay_ms(engine, from_hz, to_hz);
            println!(
                "| {from_hz} -> {to_hz} | {engine} | {:.2} ms | {:.0}x | {delay_ms:.1} ms | {passband} | {alias:.1} dB |",
                busy * 1000.0 / audio_seconds,
                audio_seconds / busy.max(1e-9),
            );
        }
    }
}

/// Streams `input` through one engine in 20 ms pieces, as a call does.
fn run(engine: &str, input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    let piece = from_hz as usize / 50;
    match engine {
        "direct" => reference::resample_shaped(input, from_hz, to_hz, reference::PREVIOUS),
        "tables" => {
            let mut resampler = StreamResampler::new(from_hz, to_hz);
            let mut output = Vec::new();
            for chunk in input.chunks(piece) {
                output.extend(resampler.push(chunk));
            }
            output.extend(resampler.finish());
            output
        }
        _ => rubato_stream(input, from_hz, to_hz, piece),
    }
}

fn rubato_stream(input: &[i16], from_hz: u32, to_hz: u32, piece: usize) -> Vec<i16> {
    let mut resampler =
        Fft::<f32>::new(from_hz as usize, to_hz as usize, piece, 1, FixedSync::Input).expect("rubato resampler");
    let mut out_buffer = vec![0.0f32; resampler.output_frames_max()];
    let mut output = Vec::with_capacity(input.len() * to_hz as usize / from_hz as usize + piece);
    let mut in_buffer = vec![0.0f32; resampler.input_frames_max()];
    let mut position = 0;
    while position < input.len() + resampler.output_delay() * from_hz as usize / to_hz as usize + piece {
        let needed = resampler.input_frames_next();
        for (index, slot) in in_buffer[..needed].iter_mut().enumerate() {
            *slot = input.get(position + index).map_or(0.0, |&sample| f32::from(sample));
        }
        position += needed;
        let adapter_in = InterleavedSlice::new(&in_buffer[..needed], 1, needed).expect("input adapter");
        let frames_out = out_buffer.len();
        let mut adapter_out = InterleavedSlice::new_mut(&mut out_buffer, 1, frames_out).expect("output adapter");
        let (_, written) = resampler.process_into_buffer(&adapter_in, &mut adapter_out, None).expect("rubato process");
        output.extend(out_buffer[..written].iter().map(|&sample| sample.round().clamp(-32768.0, 32767.0) as i16));
    }
    let delay = resampler.output_delay().min(output.len());
    output.drain(..delay);
    output.truncate(input.len() * to_hz as usize / from_hz as usize);
    output
}

/// How much input a streaming engine must hold before a sample comes out: the filter's reach for
/// the tables, the chunk plus the FFT's delay for rubato (the direct form is not streamed).
fn delay_ms(engine: &str, from_hz: u32, to_hz: u32) -> f64 {
    let input_ms = |samples: usize| samples as f64 * 1000.0 / f64::from(from_hz);
    match engine {
        "tables" => {
            let mut resampler = StreamResampler::new(from_hz, to_hz);
            let mut fed = 0;
            while resampler.push(&[0]).is_empty() {
                fed += 1;
            }
            input_ms(fed + 1)
        }
        "rubato" => {
            let piece = from_hz as usize / 50;
            let resampler = Fft::<f32>::new(from_hz as usize, to_hz as usize, piece, 1, FixedSync::Input)
                .expect("rubato resampler");
            input_ms(piece) + resampler.output_delay() as f64 * 1000.0 / f64::from(to_hz)
        }
        _ => f64::NAN,
    }
}

/// Speech-band tones plus a little noise above 4 kHz (which a downsampler must remove).
fn test_signal(rate_hz: u32, seconds: usize) -> Vec<i16> {
    let mut noise = 0x2545_f491_u32;
    (0..rate_hz as usize * seconds)
        .map(|n| {
            let t = n as f64 / f64::from(rate_hz);
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let hiss = (f64::from(noise % 2000) - 1000.0) * 0.5;
            let voice: f64 = [220.0, 700.0, 1800.0, 3100.0].iter().map(|f| 2500.0 * (2.0 * PI * f * t).sin()).sum();
            (voice + hiss) as i16
        })
        .collect()
}

/// Worst passband deviation (dB) over 300-3400 Hz, and the loudest tone the lower rate cannot hold
/// (or, upsampling, the loudest image above the input's Nyquist frequency), in dB.
fn response(engine: &str, from_hz: u32, to_hz: u32) -> (String, f64) {
    let gain = |frequency: f64, measure_at: f64| {
        let input = tone(frequency, from_hz);
        let output = run(engine, &input, from_hz, to_hz);
        let margin = to_hz as usize / 10;
        let middle = &output[margin..output.len().saturating_sub(margin)];
        // Goertzel power grows with the square of the block length.
        let power = tone_power(middle, measure_at, to_hz) / (middle.len() as f64).powi(2);
        let reference = tone_power(&input, frequency, from_hz) / (input.len() as f64).powi(2);
        10.0 * (power.max(1e-30) / reference).log10()
    };
    let (mut low, mut high) = (f64::MAX, f64::MIN);
    for frequency in [300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
        let db = gain(frequency, frequency);
        low = low.min(db);
        high = high.max(db);
    }
    let passband = format!("{low:+.2} / {high:+.2} dB");
    let alias = if to_hz < from_hz {
        // A tone above the output's Nyquist frequency folds to `to - f`.
        [4400.0, 5000.0, 6000.0, 7000.0]
            .iter()
            .filter(|&&f| f < f64::from(from_hz) / 2.0)
            .map(|&f| gain(f, f64::from(to_hz) - f))
            .fold(f64::MIN, f64::max)
    } else {
        // A tone below the input's Nyquist frequency is imaged at `from - f`.
        [1000.0, 2000.0, 3000.0, 3400.0].iter().map(|&f| gain(f, f64::from(from_hz) - f)).fold(f64::MIN, f64::max)
    };
    (passband, alias)
}

fn tone(frequency_hz: f64, rate_hz: u32) -> Vec<i16> {
    (0..rate_hz as usize)
        .map(|n| (8000.0 * (2.0 * PI * frequency_hz * n as f64 / f64::from(rate_hz)).sin()) as i16)
        .collect()
}
