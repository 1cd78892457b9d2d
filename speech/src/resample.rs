//! Sample-rate conversion for telephone audio (8 kHz <-> 16 kHz, 24 kHz -> 8 kHz) with a
//! Blackman-windowed sinc filter, so downsampling does not alias and upsampling does not image.

use std::f64::consts::PI;

/// Zero crossings of the sinc kernel on each side of the centre.
const ZERO_CROSSINGS: f64 = 16.0;

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

/// Resampler for audio that arrives in pieces: output does not depend on how the input was cut.
#[derive(Debug, Clone)]
pub struct StreamResampler {
    step: f64,
    cutoff: f64,
    half_width: f64,
    /// Input not yet needed by any later output; `buffer[0]` is input sample number `base`.
    buffer: Vec<i16>,
    base: usize,
    next_output: u64,
    input_total: usize,
    passthrough: bool,
}

impl StreamResampler {
    pub fn new(from_hz: u32, to_hz: u32) -> StreamResampler {
        let passthrough = from_hz == to_hz || from_hz == 0 || to_hz == 0;
        let step = if passthrough { 1.0 } else { f64::from(from_hz) / f64::from(to_hz) };
        // Cut off just below the lower Nyquist frequency, as a fraction of the input's.
        let cutoff = (1.0 / step).min(1.0) * 0.92;
        StreamResampler {
            step,
            cutoff,
            half_width: ZERO_CROSSINGS / cutoff,
            buffer: Vec::new(),
            base: 0,
            next_output: 0,
            input_total: 0,
            passthrough,
        }
    }

    /// Add input; returns every output sample whose filter window is now complete.
    pub fn push(&mut self, input: &[i16]) -> Vec<i16> {
        if self.passthrough {
            return input.to_vec();
        }
        self.buffer.extend_from_slice(input);
        self.input_total += input.len();
        self.drain(false)
    }

    /// No more input: returns the remaining output (the signal is taken as silent past its end).
    pub fn finish(&mut self) -> Vec<i16> {
        if self.passthrough {
            return Vec::new();
        }
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Vec<i16> {
        let mut output = Vec::new();
        let output_limit = (self.input_total as f64 / self.step).floor() as u64;
        while self.next_output < output_limit {
            let centre = self.next_output as f64 * self.step;
            let last_needed = (centre + self.half_width).floor() as usize;
            if !at_end && last_needed >= self.input_total {
                break;
            }
            let first = ((centre - self.half_width).ceil().max(0.0) as usize).max(self.base);
            let last = last_needed.min(self.input_total.saturating_sub(1));
            let mut sum = 0.0;
            for index in first..=last {
                let sample = self.buffer[index - self.base];
                sum += f64::from(sample) * kernel(index as f64 - centre, self.cutoff, self.half_width);
            }
            output.push(sum.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16);
            self.next_output += 1;
        }
        // Drop input no later output can reach.
        let next_centre = self.next_output as f64 * self.step;
        let keep_from = ((next_centre - self.half_width).ceil().max(0.0) as usize).min(self.input_total);
        if keep_from > self.base {
            self.buffer.drain(..keep_from - self.base);
            self.base = keep_from;
        }
        output
    }
}

fn kernel(distance: f64, cutoff: f64, half_width: f64) -> f64 {
    let x = distance * cutoff;
    let sinc = if x.abs() < 1e-9 { 1.0 } else { (PI * x).sin() / (PI * x) };
    let position = distance / half_width; // -1..1
    let window = 0.42 + 0.5 * (PI * position).cos() + 0.08 * (2.0 * PI * position).cos();
    cutoff * sinc * window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency_hz: f64, rate_hz: u32, samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|n| (8000.0 * (2.0 * PI * frequency_hz * n as f64 / f64::from(rate_hz)).sin()) as i16)
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len() as f64).sqrt()
    }

    #[test]
    fn upsampling_keeps_a_voice_band_tone() {
        let input = tone(1000.0, 8000, 8000);
        let output = upsample_8k_to_16k(&input);
        assert_eq!(output.len(), 16000);
        let expected = tone(1000.0, 16000, 16000);
        // Compare the middle, away from the edges.
        let error: Vec<i16> = output[1000..15000].iter().zip(&expected[1000..15000]).map(|(a, b)| a - b).collect();
        assert!(rms(&error) < 0.02 * rms(&expected), "error rms {}", rms(&error));
    }

    #[test]
    fn pieces_resample_like_the_whole() {
        let input = tone(440.0, 24000, 4801);
        let whole = downsample_24k_to_8k(&input);
        let mut resampler = StreamResampler::new(24_000, 8_000);
        let mut pieces = Vec::new();
        for piece in input.chunks(333) {
            pieces.extend(resampler.push(piece));
        }
        pieces.extend(resampler.finish());
        assert_eq!(pieces, whole);
    }

    #[test]
    fn downsampling_removes_what_the_lower_rate_cannot_hold() {
        let audible = downsample_24k_to_8k(&tone(1000.0, 24000, 24000));
        let aliasing = downsample_24k_to_8k(&tone(6000.0, 24000, 24000));
        assert_eq!(audible.len(), 8000);
        assert!(rms(&audible[500..7500]) > 5000.0);
        assert!(rms(&aliasing[500..7500]) < 100.0, "6 kHz leaked: rms {}", rms(&aliasing[500..7500]));
    }
}
