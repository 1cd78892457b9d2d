//! In-band DTMF: the dual-tone μ-law audio the agent plays to press keys on the far end.
//!
//! Why in-band: a Twilio bidirectional Media Stream accepts only `media`, `mark` and `clear`
//! from us; there is no message to send a DTMF event (RFC 4733) to the far end, and `<Play
//! digits>` would need the call's TwiML replaced, which ends the stream. So the digits are
//! synthesized as audio (8 kHz, the ITU-T Q.23 frequency pairs) and queued like speech; IVRs
//! detect them in the audio the same way they detect a handset's tones.

/// Sample rate of the generated audio.
pub const SAMPLE_RATE_HZ: u32 = 8000;
/// Length of each digit's tone.
pub const TONE_MS: u64 = 100;
/// Silence after each digit.
pub const GAP_MS: u64 = 100;

pub use protocol::dtmf::frequencies;

/// μ-law audio for `digits`: per key, [`TONE_MS`] of its two tones then [`GAP_MS`] of silence.
/// A `w` or `,` waits 500 ms (as in Twilio's `sendDigits`); other characters are skipped.
pub fn tones_mulaw(digits: &str) -> Vec<u8> {
    let tone_samples = (SAMPLE_RATE_HZ as u64 * TONE_MS / 1000) as usize;
    let gap_samples = (SAMPLE_RATE_HZ as u64 * GAP_MS / 1000) as usize;
    let mut out = Vec::with_capacity(digits.len() * (tone_samples + gap_samples));
    for digit in digits.chars() {
        if digit == 'w' || digit == 'W' || digit == ',' {
            out.resize(out.len() + SAMPLE_RATE_HZ as usize / 2, protocol::mulaw::SILENCE);
            continue;
        }
        let Some((low, high)) = frequencies(digit) else { continue };
        for n in 0..tone_samples {
            let t = n as f32 / SAMPLE_RATE_HZ as f32;
            // each tone at about -7 dBm0: well inside what receivers accept, no clipping
            let value = 7000.0 * (2.0 * std::f32::consts::PI * low * t).sin()
                + 7000.0 * (2.0 * std::f32::consts::PI * high * t).sin();
            out.push(protocol::mulaw::encode(value as i16));
        }
        out.resize(out.len() + gap_samples, protocol::mulaw::SILENCE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goertzel power of `frequency` in `samples`.
    fn power(samples: &[f32], frequency: f32) -> f32 {
        let coefficient = 2.0 * (2.0 * std::f32::consts::PI * frequency / SAMPLE_RATE_HZ as f32).cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in samples {
            let s0 = x + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coefficient * s1 * s2
    }

    /// Decodes keys the way an IVR does: the strongest row and column tone of each tone burst.
    fn detect(mulaw: &[u8]) -> String {
        use protocol::dtmf::{COLUMNS_HZ as COLUMNS, KEYS, ROWS_HZ as ROWS};
        let samples: Vec<f32> = mulaw.iter().map(|&c| protocol::mulaw::decode(c) as f32).collect();
        let mut keys = String::new();
        for block in samples.chunks(800) {
            let tone = &block[..800.min(block.len())];
            if tone.iter().all(|s| s.abs() < 100.0) {
                continue;
            }
            let best =
                |set: &[f32; 4]| (0..4).max_by(|&a, &b| power(tone, set[a]).total_cmp(&power(tone, set[b]))).unwrap();
            keys.push(KEYS[best(&ROWS)][best(&COLUMNS)]);
        }
        keys
    }

    #[test]
    fn every_key_decodes_back_to_itself() {
        let digits = "0123456789*#ABCD";
        let audio = tones_mulaw(digits);
        assert_eq!(audio.len(), digits.len() * 1600);
        assert_eq!(detect(&audio), digits);
    }

    #[test]
    fn pauses_and_unknown_characters() {
        let audio = tones_mulaw("1w2x");
        assert_eq!(audio.len(), 1600 + 4000 + 1600);
        assert!(audio[1600..5600].iter().all(|&c| c == protocol::mulaw::SILENCE));
        assert_eq!(frequencies('x'), None);
    }
}
