//! [`PiperTts`]: the `TtsProvider` of the embedded Piper voice. A text is spoken sentence by
//! sentence (`protocol::spoken::sentences`): each sentence is put in its spoken form
//! ([`crate::text`]), phonemized by espeak-ng, synthesized on the shared voice, resampled to
//! 8 kHz with `speech::resample` and sent as mu-law while the next sentence is prepared. A
//! sentence the voice fails on (its `piper-voice` process died, the queue is full) is said by the
//! fallback voice, when there is one, so the callee hears every word. Every sentence the voice
//! says is kept in the process's [`SentenceCache`]: an agent's fixed lines are synthesized once.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use speech::tts::{TtsChunk, TtsError, TtsErrorKind, TtsProvider};
use tokio::sync::mpsc;

use crate::cache::{self, Claim, Lookup, Pcm, SentenceCache};
use crate::engine::{PiperVoice, VoiceError};

/// Audio is sent in chunks of this many 8 kHz samples (100 ms).
const CHUNK_SAMPLES_8K: usize = 800;
/// Silence between two sentences of one text (Piper ends a sentence on its last sound).
const SENTENCE_GAP_MS: usize = 200;

/// Speech with the process's one Piper voice; cheap to clone, every call shares it.
#[derive(Clone)]
pub struct PiperTts {
    voice: Arc<PiperVoice>,
    fallback: Option<Arc<dyn TtsProvider>>,
    cache: SentenceCache,
}

/// One sentence synthesized, as the bench reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceTiming {
    pub phonemize_ms: u64,
    pub queued_ms: u64,
    pub synthesis_ms: u64,
    pub audio_ms: u64,
}

impl PiperTts {
    pub fn new(voice: Arc<PiperVoice>) -> PiperTts {
        PiperTts { voice, fallback: None, cache: SentenceCache::new(cache::DEFAULT_CACHE_BYTES) }
    }

    /// The same voice, keeping at most `max_bytes` of sentences (0: none).
    pub fn with_cache_bytes(self, max_bytes: usize) -> PiperTts {
        PiperTts { cache: SentenceCache::new(max_bytes), ..self }
    }

    pub fn cache(&self) -> &SentenceCache {
        &self.cache
    }

    /// One sentence at 8 kHz from the cache, from a synthesis of it already under way, or
    /// synthesized now (and kept).
    pub async fn cached_sentence_pcm_8k(&self, sentence: &str) -> Result<Pcm, VoiceError> {
        match self.cache.lookup(sentence) {
            Lookup::Ready(pcm) => Ok(pcm),
            Lookup::Pending(ready) => match cache::wait(ready).await {
                Some(pcm) => Ok(pcm),
                None => self.synthesized(sentence, None).await,
            },
            Lookup::Missing(claim) => self.synthesized(sentence, claim).await,
        }
    }

    /// `sentence` synthesized now; kept when `claim` holds it (a claim dropped on an error frees
    /// the sentence for its waiters).
    async fn synthesized(&self, sentence: &str, claim: Option<Claim>) -> Result<Pcm, VoiceError> {
        let pcm: Pcm = self.sentence_pcm_8k(sentence).await?.0.into();
        if let Some(claim) = claim {
            self.cache.fulfil(claim, pcm.clone());
        }
        Ok(pcm)
    }

    /// The same voice, with `fallback` saying any sentence it fails on.
    pub fn with_fallback(self, fallback: Arc<dyn TtsProvider>) -> PiperTts {
        PiperTts { fallback: Some(fallback), ..self }
    }

    pub fn voice(&self) -> &Arc<PiperVoice> {
        &self.voice
    }

    /// One sentence to 8 kHz linear PCM: spoken form, phonemes, synthesis, resampling.
    pub async fn sentence_pcm_8k(&self, sentence: &str) -> Result<(Vec<i16>, SentenceTiming), VoiceError> {
        let started = Instant::now();
        let spoken = crate::text::spoken_form(sentence);
        let phonemes = self.voice.phonemizer().phonemize(&spoken).await?;
        let phonemize_ms = started.elapsed().as_millis() as u64;
        let audio = self.voice.submit(phonemes)?.await.unwrap_or(Err(VoiceError::Stopped))?;
        let pcm_8k = speech::resample::resample(&audio.samples, audio.sample_rate_hz, 8_000);
        let timing = SentenceTiming {
            phonemize_ms,
            queued_ms: audio.queued_ms,
            synthesis_ms: audio.synthesis_ms,
            audio_ms: pcm_8k.len() as u64 / 8,
        };
        Ok((pcm_8k, timing))
    }

    /// `sentence` said by the fallback voice as 8 kHz PCM; `None` without one or when it fails
    /// too.
    async fn fallback_pcm_8k(&self, sentence: &str) -> Option<Vec<i16>> {
        let fallback = self.fallback.as_ref()?;
        let mut chunks = fallback.synthesize(sentence.to_owned());
        let mut pcm = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            match chunk {
                Ok(TtsChunk::Audio(mulaw)) => protocol::mulaw::decode_into(&mulaw, &mut pcm),
                Ok(TtsChunk::Done { .. }) => break,
                Err(error) => {
                    tracing::warn!(%error, fallback = fallback.name(), "the fallback voice failed too");
                    return None;
                }
            }
        }
        tracing::info!(fallback = fallback.name(), "a sentence said by the fallback voice");
        Some(pcm)
    }
}

fn tts_error(error: VoiceError) -> TtsError {
    let kind = match error {
        VoiceError::QueueFull { .. } | VoiceError::Stopped => TtsErrorKind::Unavailable,
        _ => TtsErrorKind::Engine,
    };
    TtsError::new(kind, error.to_string())
}

impl TtsProvider for PiperTts {
    fn name(&self) -> &'static str {
        "piper"
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (output, receiver) = mpsc::unbounded_channel();
        let tts = self.clone();
        tokio::spawn(async move {
            let mut total_samples = 0usize;
            for (index, sentence) in protocol::spoken::sentences(&text).iter().enumerate() {
                if output.is_closed() {
                    return; // barge-in or hang-up: nothing more to say
                }
                let pcm_8k = match tts.cached_sentence_pcm_8k(sentence).await {
                    Ok(pcm_8k) => pcm_8k,
                    Err(error) => {
                        tracing::warn!(%error, pending = tts.voice.pending(), "piper synthesis failed");
                        match tts.fallback_pcm_8k(sentence).await {
                            Some(pcm_8k) => pcm_8k.into(),
                            None => {
                                let _ = output.send(Err(tts_error(error)));
                                return;
                            }
                        }
                    }
                };
                let gap = if index > 0 && !pcm_8k.is_empty() { SENTENCE_GAP_MS * 8 } else { 0 };
                let mut pcm_8k_with_gap = Vec::with_capacity(gap + pcm_8k.len());
                pcm_8k_with_gap.extend(std::iter::repeat_n(0, gap));
                pcm_8k_with_gap.extend_from_slice(&pcm_8k);
                let pcm_8k = pcm_8k_with_gap;
                total_samples += pcm_8k.len();
                for chunk in pcm_8k.chunks(CHUNK_SAMPLES_8K) {
                    let mut mulaw = Vec::with_capacity(chunk.len());
                    protocol::mulaw::encode_into(chunk, &mut mulaw);
                    if output.send(Ok(TtsChunk::Audio(Bytes::from(mulaw)))).is_err() {
                        return;
                    }
                }
            }
            let _ = output.send(Ok(TtsChunk::Done { total_ms: total_samples as u64 / 8 }));
        });
        receiver
    }

    fn prepare(&self, text: String) {
        if !self.cache.enabled() {
            return;
        }
        let tts = self.clone();
        tokio::spawn(async move {
            for sentence in protocol::spoken::sentences(&text) {
                // only what nobody has said or is saying: a sentence under way is left to it
                if let Lookup::Missing(Some(claim)) = tts.cache.lookup(&sentence) {
                    if let Err(error) = tts.synthesized(&sentence, Some(claim)).await {
                        tracing::debug!(%error, "a sentence prepared ahead failed; it is synthesized when said");
                        return;
                    }
                }
            }
        });
    }
}
