//! Sample-rate conversion for telephone audio (8 kHz <-> 16 kHz, 22.05 / 24 kHz -> 8 kHz) with a
//! Blackman-windowed sinc filter, so downsampling does not alias and upsampling does not image.
//!
//! The filter is applied in polyphase form: for a rate change of `L/M` (reduced) every output sample
//! falls on one of `L` positions between two input samples, so the kernel is evaluated once per
//! position when the converter is first built and each output sample is a dot product of stored taps
//! with the input. The tables are shared by every call that converts between the same two rates
//! (one copy per process). Rates whose ratio needs more than [`MAX_PHASES`] positions use the nearest
//! of `MAX_PHASES` evenly spaced ones (a timing error below 1/2048 of an input sample).
//!
//! [`reference`] keeps the direct form (the kernel evaluated for every tap of every sample), which is
//! what the tables are checked against and what `examples/resample-bench.rs` compares speed with.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

/// The filter: zero crossings of the sinc kernel on each side of the centre, and the cut-off as a
/// fraction of the lower Nyquist frequency. 32 crossings at 0.95 keep the telephone band (300-3400
/// Hz) within 0.5 dB and stop what would alias by more than 60 dB (`resample::tests`); the direct
/// form could only afford 16 crossings at 0.92, which took 3400 Hz down by 0.9 dB.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub zero_crossings: f64,
    pub cutoff_fraction: f64,
}

/// The filter calls use.
pub const SHAPE: Shape = Shape { zero_crossings: 32.0, cutoff_fraction: 0.95 };

/// Longest half width of the kernel, in input samples (reached only when the input rate is more
/// than ~14 times the output's; the filter is then shorter so a table stays bounded).
const MAX_HALF_WIDTH: f64 = 480.0;

/// Most pairs of rates whose tables are kept for the whole process.
const SHARED_PAIRS: usize = 16;

/// Most filter positions kept for one pair of rates (bounds a table to a few hundred KB).
pub const MAX_PHASES: u64 = 1024;

/// 8 kHz -> 16 kHz.
pub fn upsample_8k_to_16k(input: &[i16]) -> Vec<i16> {
    resample(input, 8_000, 16_000)
}

/// 16 kHz -> 8 kHz.
pub fn downsample_16k_to_8k(input: &[i16]) -> Vec<i16> {
    resample(input, 16_000, 8_000)
}

/// 24 kHz -> 8 kHz.
pub fn downsample_24k_to_8k(input: &[i16]) -> Vec<i16> {
    resample(input, 24_000, 8_000)
}

/// Any rate to any rate (both non-zero); returns the input unchanged when the rates match.
pub fn resample(input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    if from_hz == to_hz || from_hz == 0 || to_hz == 0 || input.is_empty() {
        return input.to_vec();
    }
    let mut resampler = StreamResampler::new(from_hz, to_hz);
    let mut output = resampler.push(input);
    output.extend(resampler.finish());
    output
}

/// The kernel's cut-off (as a fraction of the input's Nyquist frequency) and half width (in input
/// samples) for a rate change: just below the lower of the two Nyquist frequencies.
fn filter_shape(from_hz: u32, to_hz: u32, shape: Shape) -> (f64, f64) {
    let step = f64::from(from_hz) / f64::from(to_hz);
    let cutoff = (1.0 / step).min(1.0) * shape.cutoff_fraction;
    (cutoff, (shape.zero_crossings / cutoff).min(MAX_HALF_WIDTH))
}

fn kernel(distance: f64, cutoff: f64, half_width: f64) -> f64 {
    if distance.abs() >= half_width {
        return 0.0;
    }
    let x = distance * cutoff;
    let sinc = if x.abs() < 1e-9 { 1.0 } else { (PI * x).sin() / (PI * x) };
    let position = distance / half_width; // -1..1
    let window = 0.42 + 0.5 * (PI * position).cos() + 0.08 * (2.0 * PI * position).cos();
    cutoff * sinc * window
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The precomputed filter for one pair of rates.
#[derive(Debug)]
struct Taps {
    /// Output samples advance `step_num / step_den` input samples each (the reduced `from / to`).
    step_num: u64,
    step_den: u64,
    /// Positions between two input samples the table holds (`step_den`, or [`MAX_PHASES`]).
    phases: u64,
    /// Taps each position uses: input samples `i - reach + 1 ..= i + reach` around sample `i`.
    reach: usize,
    /// `phases` rows of `2 * reach` taps.
    table: Vec<f32>,
}

impl Taps {
    fn build(from_hz: u32, to_hz: u32) -> Taps {
        let divisor = gcd(u64::from(from_hz), u64::from(to_hz));
        let (step_num, step_den) = (u64::from(from_hz) / divisor, u64::from(to_hz) / divisor);
        let phases = step_den.min(MAX_PHASES);
        let (cutoff, half_width) = filter_shape(from_hz, to_hz, SHAPE);
        let reach = half_width.ceil() as usize;
        let width = 2 * reach;
        let mut table = Vec::with_capacity(phases as usize * width);
        for phase in 0..phases {
            let fraction = phase as f64 / phases as f64;
            for tap in 0..width {
                let distance = (tap as f64 - reach as f64 + 1.0) - fraction;
                table.push(kernel(distance, cutoff, half_width) as f32);
            }
        }
        Taps { step_num, step_den, phases, reach, table }
    }

    /// Shared tables: built once per pair of rates per process. Rates can come from outside (a
    /// WAV file's header), so at most [`SHARED_PAIRS`] pairs are kept; others get tables of their own.
    fn shared(from_hz: u32, to_hz: u32) -> Arc<Taps> {
        let mut cache = shared_tables();
        if let Some(taps) = cache.get(&(from_hz, to_hz)) {
            return taps.clone();
        }
        let taps = Arc::new(Taps::build(from_hz, to_hz));
        if cache.len() < SHARED_PAIRS {
            cache.insert((from_hz, to_hz), taps.clone());
        }
        taps
    }

    /// Input sample at or before output `n`, and the table row for the distance past it.
    fn locate(&self, n: u64) -> (u64, usize) {
        let position = u128::from(n) * u128::from(self.step_num);
        let mut whole = (position / u128::from(self.step_den)) as u64;
        let remainder = (position % u128::from(self.step_den)) as u64;
        let mut phase = (u128::from(remainder) * u128::from(self.phases) + u128::from(self.step_den) / 2)
            / u128::from(self.step_den);
        if phase as u64 == self.phases {
            whole += 1;
            phase = 0;
        }
        (whole, phase as usize)
    }

    fn row(&self, phase: usize) -> &[f32] {
        let width = 2 * self.reach;
        &self.table[phase * width..(phase + 1) * width]
    }
}

/// The tables shared by every call, by pair of rates.
fn shared_tables() -> std::sync::MutexGuard<'static, HashMap<(u32, u32), Arc<Taps>>> {
    static CACHE: OnceLock<Mutex<HashMap<(u32, u32), Arc<Taps>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resampler for audio that arrives in pieces: output does not depend on how the input was cut.
#[derive(Debug, Clone)]
pub struct StreamResampler {
    /// `None` when the rates match (input passes through).
    taps: Option<Arc<Taps>>,
    /// Input not yet needed by any later output, as `f32`, preceded by `reach - 1` zeros at the
    /// start of the stream; `buffer[0]` is padded input sample number `base`.
    buffer: Vec<f32>,
    base: u64,
    next_output: u64,
    input_total: u64,
    /// The stream ends after `input_total * to_hz / from_hz` output samples (rounded down).
    to_hz: u32,
    from_hz: u32,
}

impl StreamResampler {
    pub fn new(from_hz: u32, to_hz: u32) -> StreamResampler {
        let passthrough = from_hz == to_hz || from_hz == 0 || to_hz == 0;
        let taps = (!passthrough).then(|| Taps::shared(from_hz, to_hz));
        let padding = taps.as_ref().map_or(0, |taps| taps.reach - 1);
        StreamResampler { taps, buffer: vec![0.0; padding], base: 0, next_output: 0, input_total: 0, to_hz, from_hz }
    }

    /// Add input; returns every output sample whose filter window is now complete.
    pub fn push(&mut self, input: &[i16]) -> Vec<i16> {
        if self.taps.is_none() {
            return input.to_vec();
        }
        self.buffer.extend(input.iter().map(|&sample| f32::from(sample)));
        self.input_total += input.len() as u64;
        self.drain(false)
    }

    /// No more input: returns the remaining output (the signal is taken as silent past its end).
    /// The stream ends here; input pushed afterwards follows the silence.
    pub fn finish(&mut self) -> Vec<i16> {
        let Some(taps) = &self.taps else { return Vec::new() };
        self.buffer.extend(std::iter::repeat_n(0.0, 2 * taps.reach));
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Vec<i16> {
        let Some(taps) = self.taps.clone() else { return Vec::new() };
        let output_limit = self.input_total * u64::from(self.to_hz) / u64::from(self.from_hz);
        let reach = taps.reach as u64;
        let mut output = Vec::with_capacity(output_limit.saturating_sub(self.next_output) as usize);
        while self.next_output < output_limit {
            let (whole, phase) = taps.locate(self.next_output);
            if !at_end && whole + reach >= self.input_total {
                break;
            }
            // Padded index of input sample `whole - reach + 1` is `whole`.
            let start = (whole - self.base) as usize;
            let window = &self.buffer[start..start + 2 * taps.reach];
            let sum: f32 = window.iter().zip(taps.row(phase)).map(|(sample, tap)| sample * tap).sum();
            output.push(sum.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16);
            self.next_output += 1;
        }
        // Drop input no later output can reach.
        let (next_whole, _) = taps.locate(self.next_output);
        let keep_from = next_whole.min(self.base + self.buffer.len() as u64);
        if keep_from > self.base {
            self.buffer.drain(..(keep_from - self.base) as usize);
            self.base = keep_from;
        }
        output
    }
}

/// Power of one frequency in a block of samples (Goertzel), for checking a resampler's frequency
/// response (`resample::tests`, `examples/resample-bench.rs`). Grows with the square of the length.
pub fn tone_power(samples: &[i16], frequency_hz: f64, rate_hz: u32) -> f64 {
    let coefficient = 2.0 * (2.0 * PI * frequency_hz / f64::from(rate_hz)).cos();
    let (mut previous, mut before) = (0.0, 0.0);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    previous * previous + before * before - coefficient * previous * before
}

/// The direct form of the same filter: the kernel evaluated for every tap of every output sample.
/// Slow (two trigonometric calls per tap); kept as the definition the tables are checked against
/// and as the baseline of `examples/resample-bench.rs`.
pub mod reference {
    use super::{filter_shape, kernel, Shape, SHAPE};

    /// The filter the direct form used in calls before the tables.
    pub const PREVIOUS: Shape = Shape { zero_crossings: 16.0, cutoff_fraction: 0.92 };

    /// Whole-signal conversion with the kernel evaluated in place, with the filter calls use.
    pub fn resample(input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
        resample_shaped(input, from_hz, to_hz, SHAPE)
    }

    /// Whole-signal conversion with the kernel evaluated in place, with any filter.
    pub fn resample_shaped(input: &[i16], from_hz: u32, to_hz: u32, shape: Shape) -> Vec<i16> {
        if from_hz == to_hz || from_hz == 0 || to_hz == 0 || input.is_empty() {
            return input.to_vec();
        }
        let step = f64::from(from_hz) / f64::from(to_hz);
        let (cutoff, half_width) = filter_shape(from_hz, to_hz, shape);
        let outputs = (input.len() as u64 * u64::from(to_hz) / u64::from(from_hz)) as usize;
        (0..outputs)
            .map(|n| {
                let centre = n as f64 * step;
                let first = (centre - half_width).ceil().max(0.0) as usize;
                let last = ((centre + half_width).floor() as usize).min(input.len() - 1);
                let sum: f64 = (first..=last)
                    .map(|index| f64::from(input[index]) * kernel(index as f64 - centre, cutoff, half_width))
                    .sum();
                sum.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
