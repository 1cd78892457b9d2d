use std::f64::consts::PI;

use super::*;

fn tone(frequency_hz: f64, rate_hz: u32, samples: usize) -> Vec<i16> {
    (0..samples).map(|n| (8000.0 * (2.0 * PI * frequency_hz * n as f64 / f64::from(rate_hz)).sin()) as i16).collect()
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Gain in dB of a one-second tone through `from -> to`, measured away from the edges.
fn gain_db(frequency_hz: f64, from_hz: u32, to_hz: u32) -> f64 {
    let input = tone(frequency_hz, from_hz, from_hz as usize);
    let output = resample(&input, from_hz, to_hz);
    let margin = to_hz as usize / 10;
    20.0 * (rms(&output[margin..output.len() - margin]) / rms(&input)).log10()
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
    for (from_hz, to_hz) in [(24_000, 8_000), (22_050, 8_000), (8_000, 16_000), (7_999, 8_000)] {
        let input = tone(440.0, from_hz, 4801);
        let whole = resample(&input, from_hz, to_hz);
        let mut resampler = StreamResampler::new(from_hz, to_hz);
        let mut pieces = Vec::new();
        for piece in input.chunks(333) {
            pieces.extend(resampler.push(piece));
        }
        pieces.extend(resampler.finish());
        assert_eq!(pieces, whole, "{from_hz} -> {to_hz}");
    }
}

#[test]
fn downsampling_removes_what_the_lower_rate_cannot_hold() {
    let audible = downsample_24k_to_8k(&tone(1000.0, 24000, 24000));
    let aliasing = downsample_24k_to_8k(&tone(6000.0, 24000, 24000));
    assert_eq!(audible.len(), 8000);
    assert!(rms(&audible[500..7500]) > 5000.0);
    assert!(rms(&aliasing[500..7500]) < 100.0, "6 kHz leaked: rms {}", rms(&aliasing[500..7500]));
}

/// The tables compute the same filter as the direct form: every output sample within one step of
/// rounding, for the rates calls use and for pairs that need many filter positions.
#[test]
fn the_tables_agree_with_the_direct_form() {
    let mut speech_like = tone(440.0, 48_000, 12_000);
    for (index, sample) in tone(2900.0, 48_000, 12_000).iter().enumerate() {
        speech_like[index] = speech_like[index].saturating_add(*sample / 2);
    }
    for (from_hz, to_hz) in [(24_000, 8_000), (22_050, 8_000), (16_000, 8_000), (8_000, 16_000), (8_000, 44_100)] {
        let input = &speech_like[..from_hz as usize / 4];
        let fast = resample(input, from_hz, to_hz);
        let direct = reference::resample(input, from_hz, to_hz);
        assert_eq!(fast.len(), direct.len(), "{from_hz} -> {to_hz}");
        let worst = fast.iter().zip(&direct).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).max().unwrap();
        assert!(worst <= 1, "{from_hz} -> {to_hz}: off by {worst}");
    }
    // 7999 -> 8000 needs 8000 positions; the nearest of MAX_PHASES is used: small timing error only.
    let input = &speech_like[..7999];
    let fast = resample(input, 7_999, 8_000);
    let direct = reference::resample(input, 7_999, 8_000);
    let error: Vec<i16> = fast.iter().zip(&direct).map(|(a, b)| a - b).collect();
    assert!(rms(&error) < 0.01 * rms(&direct), "error rms {} of {}", rms(&error), rms(&direct));
}

/// The telephone band (300-3400 Hz) passes flat and everything a lower rate cannot hold is stopped,
/// for the conversions calls make (TTS at 24 and 22.05 kHz to 8 kHz; 8 kHz to a 16 kHz recogniser).
#[test]
fn frequency_response_is_flat_in_the_voice_band_and_stops_aliases() {
    for (from_hz, to_hz) in [(24_000, 8_000), (22_050, 8_000), (16_000, 8_000)] {
        for frequency in [300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
            let gain = gain_db(frequency, from_hz, to_hz);
            assert!(gain.abs() < 0.5, "{from_hz} -> {to_hz}: {frequency} Hz at {gain:.2} dB");
        }
        for frequency in [4400.0, 5000.0, 6000.0, 7000.0] {
            let gain = gain_db(frequency, from_hz, to_hz);
            assert!(gain < -60.0, "{from_hz} -> {to_hz}: {frequency} Hz leaks at {gain:.1} dB");
        }
    }
    // Upsampling: the band passes, and nothing is imaged above the old Nyquist frequency.
    for frequency in [300.0, 1000.0, 3000.0, 3400.0] {
        let gain = gain_db(frequency, 8_000, 16_000);
        assert!(gain.abs() < 0.5, "8000 -> 16000: {frequency} Hz at {gain:.2} dB");
    }
    let input = tone(3000.0, 8_000, 8_000);
    let output = upsample_8k_to_16k(&input);
    let image = tone_power(&output[1600..14400], 5000.0, 16_000);
    let wanted = tone_power(&output[1600..14400], 3000.0, 16_000);
    let image_db = 10.0 * (image / wanted).log10();
    assert!(image_db < -60.0, "image of 3 kHz at 5 kHz: {image_db:.1} dB");
}

#[test]
fn every_table_is_bounded() {
    for (from_hz, to_hz) in [(7_999, 8_000), (384_000, 8_000), (8_000, 384_001), (1, 1_000_000), (1_000_000, 1)] {
        let taps = Taps::build(from_hz, to_hz);
        assert!(taps.phases <= MAX_PHASES);
        assert!(taps.table.len() <= (MAX_PHASES as usize) * 2 * (MAX_HALF_WIDTH as usize + 1), "{from_hz} -> {to_hz}");
    }
    // And a converter for such rates still runs without panicking.
    let input = tone(100.0, 1_000, 1_000);
    assert_eq!(resample(&input, 1_000_000, 1).len(), 0);
    assert_eq!(resample(&input, 1, 50).len(), 50_000);
}

/// Rates from outside (a WAV header) cannot grow the shared tables without bound.
#[test]
fn shared_tables_are_kept_for_a_bounded_number_of_rate_pairs() {
    for from_hz in 9_001..9_001 + 2 * SHARED_PAIRS as u32 {
        let taps = Taps::shared(from_hz, 8_000);
        assert!(taps.phases >= 1);
    }
    assert!(shared_tables().len() <= SHARED_PAIRS, "{} pairs kept", shared_tables().len());
    // the calls' own rates still convert (shared or not)
    assert_eq!(downsample_24k_to_8k(&tone(440.0, 24_000, 2_400)).len(), 800);
}
