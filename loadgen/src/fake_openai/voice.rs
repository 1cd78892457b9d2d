//! The fake's voice: a speech-like signal (a voiced buzz with a moving pitch, eight harmonics
//! and a syllable-rate envelope) computed once at start, from which each `/v1/audio/speech`
//! reply streams a stretch whose length follows the text, as 16-bit little-endian 24 kHz PCM.

use bytes::Bytes;
use std::f32::consts::TAU;
use std::sync::Arc;

/// Sample rate of OpenAI's `pcm` response format.
pub const PCM_RATE_HZ: u32 = 24_000;
/// Samples per streamed chunk (100 ms).
pub const CHUNK_SAMPLES: usize = 2_400;
/// Longest reply (seconds of audio), whatever the text.
pub const MAX_SPEECH_S: u32 = 30;
/// Shortest reply.
pub const MIN_SPEECH_MS: u32 = 300;

/// Syllables in the two seconds of the voice (4 a second); 3 and 7 are word gaps.
const SYLLABLES: usize = 8;
const SYLLABLE_SAMPLES: usize = PCM_RATE_HZ as usize / 4;

fn is_word_gap(syllable: usize) -> bool {
    syllable % 4 == 3
}

/// `syllable`, or the one after it when it is a word gap.
fn first_voiced_syllable(syllable: usize) -> usize {
    if is_word_gap(syllable) {
        (syllable + 1) % SYLLABLES
    } else {
        syllable
    }
}

/// Two seconds of the voice, played cyclically.
#[derive(Clone)]
pub struct Voice {
    samples: Arc<Vec<i16>>,
}

impl Default for Voice {
    fn default() -> Self {
        Voice::new()
    }
}

impl Voice {
    pub fn new() -> Voice {
        let length = PCM_RATE_HZ as usize * 2;
        let mut samples = Vec::with_capacity(length);
        let mut phase = 0.0f32;
        for n in 0..length {
            let t = n as f32 / PCM_RATE_HZ as f32;
            // pitch wanders around 130 Hz; syllables at 4 per second, 2 of 8 quiet (word gaps)
            let pitch_hz = 130.0 + 25.0 * (TAU * 0.7 * t).sin();
            phase = (phase + TAU * pitch_hz / PCM_RATE_HZ as f32) % TAU;
            let syllable = (t * 4.0) as usize % SYLLABLES;
            let envelope = if is_word_gap(syllable) { 0.0 } else { (std::f32::consts::PI * (t * 4.0).fract()).sin() };
            let buzz: f32 = (1..=8).map(|k| (phase * k as f32).sin() / k as f32).sum();
            samples.push((buzz * envelope * 7_000.0).clamp(-32_767.0, 32_767.0) as i16);
        }
        Voice { samples: Arc::new(samples) }
    }

    /// How many samples the text is spoken in.
    pub fn samples_for(text: &str, ms_per_char: u32) -> usize {
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        let ms = chars.saturating_mul(ms_per_char).clamp(MIN_SPEECH_MS, MAX_SPEECH_S * 1_000);
        (u64::from(ms) * u64::from(PCM_RATE_HZ) / 1_000) as usize
    }

    /// The text spoken: a stream of PCM chunks, each built when the client asks for it.
    pub fn speak(
        &self,
        text: &str,
        ms_per_char: u32,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
        let total = Voice::samples_for(text, ms_per_char);
        // different texts start at different syllables of the voice, always a voiced one and at
        // its onset: a provider that answers at once starts speaking at once (a reply starting
        // in a word gap or an envelope trough would add up to 250 ms of quiet to every latency
        // measured from the reply's first sound, depending on the text)
        let hash = text.bytes().fold(0usize, |hash, byte| hash.wrapping_mul(31).wrapping_add(usize::from(byte)));
        let start = first_voiced_syllable(hash % SYLLABLES) * SYLLABLE_SAMPLES;
        let samples = self.samples.clone();
        futures_util::stream::unfold(0usize, move |sent| {
            let samples = samples.clone();
            async move {
                if sent >= total {
                    return None;
                }
                let count = CHUNK_SAMPLES.min(total - sent);
                let mut chunk = Vec::with_capacity(count * 2);
                for index in sent..sent + count {
                    let sample = samples[(start.wrapping_add(index)) % samples.len()];
                    chunk.extend_from_slice(&sample.to_le_bytes());
                }
                Some((Ok(Bytes::from(chunk)), sent + count))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn length_follows_the_text_within_bounds() {
        assert_eq!(Voice::samples_for("Hello there.", 60), 12 * 60 * 24);
        assert_eq!(Voice::samples_for("", 60), 300 * 24, "at least 300 ms");
        assert_eq!(Voice::samples_for(&"a".repeat(100_000), 60), 30 * 24_000, "at most 30 s");
    }

    #[test]
    fn the_voice_is_loud_with_pauses() {
        let voice = Voice::new();
        let frames: Vec<f32> = voice
            .samples
            .chunks(480)
            .map(|frame| frame.iter().map(|s| f32::from(*s).abs()).sum::<f32>() / frame.len() as f32)
            .collect();
        let loud = frames.iter().filter(|mean| **mean > 1_000.0).count();
        let quiet = frames.iter().filter(|mean| **mean < 100.0).count();
        assert!(loud > frames.len() / 2, "mostly voiced: {loud} of {}", frames.len());
        assert!(quiet >= frames.len() / 5, "word gaps: {quiet} of {}", frames.len());
    }

    #[actix_web::test]
    async fn streams_the_pcm_in_chunks() {
        let voice = Voice::new();
        let chunks: Vec<Bytes> = voice.speak("Thanks, see you then.", 50).map(|c| c.unwrap()).collect().await;
        let bytes: usize = chunks.iter().map(Bytes::len).sum();
        assert_eq!(bytes, Voice::samples_for("Thanks, see you then.", 50) * 2);
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.len() <= CHUNK_SAMPLES * 2));
    }

    #[actix_web::test]
    async fn every_reply_has_sound_in_its_first_20_ms() {
        // with the old start (anywhere in the voice) a third of these began in a word gap or a
        // trough: up to 250 ms of quiet before the reply's first sound
        let voice = Voice::new();
        let texts = crate::fake_openai::DEFAULT_REPLIES.iter().map(|s| (*s).to_owned());
        for text in texts.chain((0..40).map(|n| format!("Reply number {n}."))) {
            let chunks: Vec<Bytes> = voice.speak(&text, 60).map(|c| c.unwrap()).collect().await;
            let first: Vec<i16> =
                chunks[0].chunks_exact(2).take(480).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
            let mean = first.iter().map(|s| f32::from(*s).abs()).sum::<f32>() / first.len() as f32;
            assert!(mean >= crate::audio::SOUND_MEAN_ABS as f32, "{text:?} starts quiet: mean {mean}");
        }
    }
}
