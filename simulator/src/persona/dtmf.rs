//! Hears DTMF key presses in 8 kHz audio (Goertzel filters on the eight DTMF frequencies), the way
//! an IVR menu on the far end of a phone line hears the agent's in-band tones.

use protocol::dtmf::{COLUMNS_HZ as COLUMNS, KEYS, ROWS_HZ as ROWS};

fn goertzel_power(samples: &[f32], frequency_hz: f32) -> f32 {
    let omega = 2.0 * std::f32::consts::PI * frequency_hz / 8000.0;
    let coefficient = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

/// The key a frame of audio holds, if it is a clean DTMF tone.
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
        let (index, &best) =
            powers.iter().enumerate().max_by(|a, b| a.1.partial_cmp(b.1).unwrap_or(std::cmp::Ordering::Equal))?;
        let second = powers.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, p)| *p).fold(0.0, f32::max);
        (best > 4.0 * second).then_some((index, best))
    };
    let (row, row_power) = strongest(&ROWS)?;
    let (column, column_power) = strongest(&COLUMNS)?;
    // both tones together carry nearly all of the frame's energy (speech spreads it), and
    // neither is more than 8 dB louder than the other (DTMF "twist")
    let twist = row_power.max(column_power) / row_power.min(column_power).max(f32::MIN_POSITIVE);
    if row_power + column_power < 0.7 * energy || twist > 6.3 {
        return None;
    }
    Some(KEYS[row][column])
}

/// Turns a frame-by-frame stream into key presses: a key counts once it has lasted three frames
/// (60 ms; DTMF tones last 70 ms or more), and again only after a gap.
#[derive(Default)]
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
        self.frames += 1;
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

    fn tone(key: char, samples: usize) -> Vec<i16> {
        let (row, column) =
            KEYS.iter().enumerate().find_map(|(r, keys)| keys.iter().position(|k| *k == key).map(|c| (r, c))).unwrap();
        (0..samples)
            .map(|n| {
                let t = n as f32 / 8000.0;
                let v = (2.0 * std::f32::consts::PI * ROWS[row] * t).sin()
                    + (2.0 * std::f32::consts::PI * COLUMNS[column] * t).sin();
                (v * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn hears_each_key_once_per_press() {
        for key in ['1', '5', '9', '0', '*', '#'] {
            let mut listener = DtmfListener::default();
            let audio = tone(key, 800);
            let mut heard = Vec::new();
            for frame in audio.chunks(160) {
                heard.extend(listener.push(frame));
            }
            for _ in 0..3 {
                heard.extend(listener.push(&[0; 160]));
            }
            assert_eq!(heard, vec![key]);
        }
    }

    #[test]
    fn speech_like_audio_is_not_a_key() {
        let audio: Vec<i16> = (0..1600)
            .map(|n| (((n as f32) * 0.07).sin() * 6000.0 + ((n as f32) * 0.31).sin() * 3000.0) as i16)
            .collect();
        let mut listener = DtmfListener::default();
        assert!(audio.chunks(160).all(|frame| listener.push(frame).is_none()));
    }
}
