//! Embedded text-to-speech with `flite-rs` (pure Rust, cmu_us_kal voice at 8 kHz), with lexicon
//! fixes for gym words the stock dictionary says wrong.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{samples_8k_to_ms, TtsChunk, TtsError, TtsErrorKind, TtsProvider};
use crate::resample;

/// Pronunciations added to flite's lexicon (`word : phones`, flite's phone set).
pub const LEXICON_FIXES: &str = "\
gi : g iy1
gis : g iy1 z
nogi : n ow1 g iy1
no-gi : n ow1 g iy1
jiu : jh uw1
jitsu : jh ih1 t s uw0
hiit : hh iy1 t
pilates : p ih0 l aa1 t iy0 z
";

/// Audio is sent in chunks of about this many samples (100 ms), and at each sentence end.
const CHUNK_SAMPLES: usize = 800;

/// A sample louder than this starts the voice of a sentence.
const ONSET_LEVEL: u16 = 300;

/// Silence kept before a sentence's voice; the rest of flite's leading silence moves after it.
const LEAD_KEPT_MS: u64 = 100;

/// Embedded flite synthesizer. Synthesis runs on the blocking pool.
#[derive(Clone)]
pub struct FliteTts {
    engine: Arc<flite_rs::Engine>,
}

impl FliteTts {
    /// Parse the embedded voice and apply [`LEXICON_FIXES`].
    pub fn new() -> Result<FliteTts, TtsError> {
        let mut engine = flite_rs::Engine::try_new()
            .map_err(|error| TtsError::new(TtsErrorKind::Engine, format!("flite voice: {error}")))?;
        engine
            .add_lex_entries(LEXICON_FIXES)
            .map_err(|error| TtsError::new(TtsErrorKind::Engine, format!("flite lexicon: {error}")))?;
        Ok(FliteTts { engine: Arc::new(engine) })
    }

    /// Synthesize the whole text to 8 kHz linear PCM, on the calling thread (blocking).
    pub fn synthesize_pcm_8k(&self, text: &str) -> Vec<i16> {
        let audio = self.engine.synthesize(text);
        resample::resample(&audio.samples, audio.sample_rate, 8_000)
    }

    fn synthesize_blocking(&self, text: &str, output: &mpsc::UnboundedSender<Result<TtsChunk, TtsError>>) {
        let rate_hz = self.engine.sample_rate();
        let mut total_samples_8k = 0usize;
        let mut pending: Vec<i16> = Vec::with_capacity(CHUNK_SAMPLES * 2);
        let send = |pcm: &mut Vec<i16>, total: &mut usize| -> bool {
            if pcm.is_empty() {
                return true;
            }
            let pcm_8k = resample::resample(pcm, rate_hz, 8_000);
            *total += pcm_8k.len();
            let mut mulaw = Vec::with_capacity(pcm_8k.len());
            protocol::mulaw::encode_into(&pcm_8k, &mut mulaw);
            pcm.clear();
            output.send(Ok(TtsChunk::Audio(Bytes::from(mulaw)))).is_ok()
        };
        // One sentence at a time, so the first audio leaves before the rest is synthesized.
        let keep_lead = LEAD_KEPT_MS as usize * rate_hz as usize / 1000;
        for sentence in protocol::spoken::sentences(text) {
            let mut receiver_alive = true;
            // flite starts each sentence with about a quarter second of silence: the voice starts
            // right away instead, and that silence goes after the sentence (same pause between
            // sentences, earlier first word)
            let mut lead: Vec<i16> = Vec::new();
            let mut moved = None;
            self.engine.synthesize_streaming(&sentence, |period| {
                if moved.is_none() {
                    lead.extend_from_slice(period);
                    let Some(onset) = lead.iter().position(|s| s.unsigned_abs() > ONSET_LEVEL) else {
                        return flite_rs::Flow::Continue;
                    };
                    let from = onset.saturating_sub(keep_lead);
                    pending.extend_from_slice(&lead[from..]);
                    moved = Some(from);
                } else {
                    pending.extend_from_slice(period);
                }
                if pending.len() >= CHUNK_SAMPLES * (rate_hz as usize / 8_000).max(1) {
                    receiver_alive = send(&mut pending, &mut total_samples_8k);
                }
                if receiver_alive {
                    flite_rs::Flow::Continue
                } else {
                    flite_rs::Flow::Stop
                }
            });
            match moved {
                Some(samples) => pending.extend(std::iter::repeat_n(0, samples)),
                None => pending.extend_from_slice(&lead), // nothing audible: as synthesized
            }
            if !receiver_alive || !send(&mut pending, &mut total_samples_8k) {
                return;
            }
        }
        let _ = output.send(Ok(TtsChunk::Done { total_ms: samples_8k_to_ms(total_samples_8k) }));
    }
}

impl TtsProvider for FliteTts {
    fn name(&self) -> &'static str {
        "flite"
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let synthesizer = self.clone();
        tokio::task::spawn_blocking(move || synthesizer.synthesize_blocking(&text, &sender));
        receiver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gi_is_said_like_ghee() {
        let tts = FliteTts::new().expect("flite voice");
        let phones = tts.engine.phones("gi");
        assert!(phones.contains("g iy"), "phones for gi: {phones}");
    }

    #[tokio::test]
    async fn empty_and_odd_text_finish_cleanly() {
        let tts = FliteTts::new().expect("flite voice");
        for text in ["", "   ", "🙂 $$$ ... ???", "Call 555-0100, ext. 12 — ok?"] {
            let mut chunks = tts.synthesize(text.to_string());
            let mut finished = false;
            while let Some(chunk) = chunks.recv().await {
                if let Ok(TtsChunk::Done { .. }) = chunk.as_ref().map_err(|error| error.to_string()) {
                    finished = true;
                }
            }
            assert!(finished, "no Done for {text:?}");
        }
    }

    #[tokio::test]
    async fn each_sentence_starts_speaking_at_once_and_keeps_its_length() {
        let tts = FliteTts::new().expect("flite voice");
        for text in ["How much is a drop-in?", "30 dollars for a drop-in, got it.", "Hi, this is Sam."] {
            let untrimmed = tts.synthesize_pcm_8k(text);
            let untrimmed_lead = untrimmed.iter().position(|s| s.unsigned_abs() > ONSET_LEVEL).unwrap();
            let mut chunks = tts.synthesize(text.to_string());
            let mut mulaw = Vec::new();
            while let Some(chunk) = chunks.recv().await {
                if let TtsChunk::Audio(bytes) = chunk.expect("flite synthesis") {
                    mulaw.extend_from_slice(&bytes);
                }
            }
            let mut pcm = Vec::new();
            protocol::mulaw::decode_into(&mulaw, &mut pcm);
            let lead = pcm.iter().position(|s| s.unsigned_abs() > ONSET_LEVEL).unwrap();
            assert!(untrimmed_lead > 1200, "flite pads {text:?} with {} ms", untrimmed_lead / 8);
            assert!(lead <= 8 * (LEAD_KEPT_MS as usize + 10), "{text:?} starts after {} ms", lead / 8);
            assert!(pcm.len().abs_diff(untrimmed.len()) <= 8, "{text:?}: {} vs {} samples", pcm.len(), untrimmed.len());
        }
    }

    #[tokio::test]
    async fn synthesis_streams_mulaw_chunks_and_reports_the_length() {
        let tts = FliteTts::new().expect("flite voice");
        let mut chunks = tts.synthesize("Hello. We are open until nine tonight.".to_string());
        let mut audio_bytes = 0usize;
        let mut audio_chunks = 0usize;
        let mut done_ms = None;
        while let Some(chunk) = chunks.recv().await {
            match chunk.expect("flite synthesis") {
                TtsChunk::Audio(bytes) => {
                    assert!(done_ms.is_none(), "audio after done");
                    audio_bytes += bytes.len();
                    audio_chunks += 1;
                }
                TtsChunk::Done { total_ms } => done_ms = Some(total_ms),
            }
        }
        let total_ms = done_ms.expect("done chunk");
        assert_eq!(total_ms, audio_bytes as u64 / 8);
        assert!(total_ms > 1000 && total_ms < 6000, "total {total_ms} ms");
        assert!(audio_chunks > 2, "{audio_chunks} chunks");
    }
}
