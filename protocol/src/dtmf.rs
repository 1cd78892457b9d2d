//! The DTMF keypad as audio (ITU-T Q.23): each key is one low (row) and one high (column)
//! tone. Used to play keys in band and to hear them (the simulated IVR), with one keypad table,
//! one tone generator and one detector for both sides.
//!
//! Why in band: a Twilio bidirectional Media Stream accepts only `media`, `mark` and `clear`
//! from us; there is no message to send a DTMF event (RFC 4733) to the far end, and `<Play
//! digits>` would need the call's TwiML replaced, which ends the stream. So the digits are
//! synthesized as audio (8 kHz) and queued like speech; IVRs detect them in the audio the same
//! way they detect a handset's tones.

/// Row frequencies, low group.
pub const ROWS_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column frequencies, high group.
pub const COLUMNS_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad: `KEYS[row][column]`.
pub const KEYS: [[char; 4]; 4] =
    [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

/// The (low, high) frequency pair of a key (`a`-`d` read as `A`-`D`), or `None`.
pub fn frequencies(key: char) -> Option<(f32, f32)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter()
        .enumerate()
        .find_map(|(row, keys)| keys.iter().position(|k| *k == key).map(|column| (ROWS_HZ[row], COLUMNS_HZ[column])))
}

/// Sample rate of the generated and detected audio.
pub const SAMPLE_RATE_HZ: u32 = 8000;
/// Length of each generated digit's tone.
pub const TONE_MS: u64 = 100;
/// Silence after each generated digit.
pub const GAP_MS: u64 = 100;

/// μ-law audio for `digits`: per key, [`TONE_MS`] of its two tones then [`GAP_MS`] of silence.
/// A `w` or `,` waits 500 ms (as in Twilio's `sendDigits`); other characters are skipped.
pub fn tones_mulaw(digits: &str) -> Vec<u8> {
    let tone_samples = (SAMPLE_RATE_HZ as u64 * TONE_MS / 1000) as usize;
    let gap_samples = (SAMPLE_RATE_HZ as u64 * GAP_MS / 1000) as usize;
    let mut out = Vec::with_capacity(digits.len().min(1024) * (tone_samples + gap_samples));
    for digit in digits.chars() {
        if digit == 'w' || digit == 'W' || digit == ',' {
            out.resize(out.len() + SAMPLE_RATE_HZ as usize / 2, crate::mulaw::SILENCE);
            continue;
        }
        let Some((low, high)) = frequencies(digit) else { continue };
        for n in 0..tone_samples {
            let t = n as f32 / SAMPLE_RATE_HZ as f32;
            // each tone at about -7 dBm0: well inside what receivers accept, no clipping
            let value = 7000.0 * (2.0 * std::f32::consts::PI * low * t).sin()
                + 7000.0 * (2.0 * std::f32::consts::PI * high * t).sin();
            out.push(crate::mulaw::encode(value as i16));
        }
        out.resize(out.len() + gap_samples, crate::mulaw::SILENCE);
    }
    out
}

/// Goertzel power of `frequency_hz` in 8 kHz `samples`.
fn goertzel_power(samples: &[f32], frequency_hz: f32) -> f32 {
    let omega = 2.0 * std::f32::consts::PI * frequency_hz / SAMPLE_RATE_HZ as f32;
    let coefficient = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

/// The key a frame of 8 kHz audio holds, if it is a clean DTMF tone: one row and one column
/// tone, each clearly the strongest of its group, together carrying nearly all of the frame's
/// energy (speech spreads it), neither more than 8 dB louder than the other ("twist").
pub fn detect_key(pcm: &[i16]) -> Option<char> {
    if pcm.len() < 80 {
        return None;
    }
    let samples: Vec<f32> = pcm.iter().map(|&s| s as f32 / 32768.0).collect();
    let energy: f32 = samples.iter().map(|x| x * x).sum::<f32>() * samples.len() as f32 / 2.0;
    if energy < 1e-3 {
        return None;
    }
    let strongest = |freqs: &[f32; 4]| {
        let powers: Vec<f32> = freqs.iter().map(|&f| goertzel_power(&samples, f)).collect();
        let (index, &best) = powers.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let second = powers.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, p)| *p).fold(0.0, f32::max);
        (best > 4.0 * second).then_some((index, best))
    };
    let (row, row_power) = strongest(&ROWS_HZ)?;
    let (column, column_power) = strongest(&COLUMNS_HZ)?;
    let twist = row_power.max(column_power) / row_power.min(column_power).max(f32::MIN_POSITIVE);
    if row_power + column_power < 0.7 * energy || twist > 6.3 {
        return None;
    }
    Some(KEYS[row][column])
}

/// Turns a frame-by-frame stream into key presses: a key counts once it has lasted three frames
/// (60 ms; DTMF tones last 70 ms or more), and again only after a gap.
#[derive(Debug, Default)]
pub struct DtmfListener {
    current: Option<char>,
    frames: u32,
    reported: bool,
}

impl DtmfListener {
    /// True while the last frame held a DTMF tone (so it is not speech).
    pub fn in_tone(&self) -> bool {
        self.current.is_some()
    }

    /// Feeds one frame; returns a key when a press is recognised.
    pub fn push(&mut self, pcm: &[i16]) -> Option<char> {
        let key = detect_key(pcm);
        if key != self.current {
            self.current = key;
            self.frames = 0;
            self.reported = false;
        }
        self.frames = self.frames.saturating_add(1);
        if let Some(key) = key {
            if self.frames >= 3 && !self.reported {
                self.reported = true;
                return Some(key);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys heard in μ-law audio, 20 ms frame by frame, as the simulated IVR hears them.
    fn hear(mulaw: &[u8]) -> String {
        let pcm: Vec<i16> = mulaw.iter().map(|&c| crate::mulaw::decode(c)).collect();
        let mut listener = DtmfListener::default();
        pcm.chunks(160).filter_map(|frame| listener.push(frame)).collect()
    }

    #[test]
    fn every_generated_key_is_heard_once() {
        let digits = "0123456789*#ABCD";
        let audio = tones_mulaw(digits);
        assert_eq!(audio.len(), digits.len() * 1600);
        assert_eq!(hear(&audio), digits);
    }

    #[test]
    fn pauses_and_unknown_characters() {
        let audio = tones_mulaw("1w2x");
        assert_eq!(audio.len(), 1600 + 4000 + 1600);
        assert!(audio[1600..5600].iter().all(|&c| c == crate::mulaw::SILENCE));
        assert_eq!(hear(&audio), "12");
    }

    #[test]
    fn speech_like_audio_is_not_a_key() {
        let audio: Vec<i16> = (0..1600)
            .map(|n| (((n as f32) * 0.07).sin() * 6000.0 + ((n as f32) * 0.31).sin() * 3000.0) as i16)
            .collect();
        let mut listener = DtmfListener::default();
        assert!(audio.chunks(160).all(|frame| listener.push(frame).is_none()));
        assert!(!listener.in_tone());
    }

    #[test]
    fn keys_map_to_their_frequency_pairs() {
        assert_eq!(frequencies('1'), Some((697.0, 1209.0)));
        assert_eq!(frequencies('0'), Some((941.0, 1336.0)));
        assert_eq!(frequencies('#'), Some((941.0, 1477.0)));
        assert_eq!(frequencies('d'), Some((941.0, 1633.0)));
        assert_eq!(frequencies('x'), None);
    }
}
