//! Shared plumbing of the HTTP text-to-speech clients: one POST per sentence, retried while no
//! audio has been sent, streamed as mu-law chunks.

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{samples_8k_to_ms, TtsChunk, TtsError, TtsErrorKind};
use crate::resample::StreamResampler;
use crate::retry::{is_retryable_status, retry_after, with_retries, Attempt, RetryPolicy};

/// What the response body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyAudio {
    /// mu-law 8 kHz bytes, passed through.
    Mulaw8k,
    /// 16-bit little-endian PCM at this rate, resampled to 8 kHz and encoded.
    PcmLe { rate_hz: u32 },
}

pub(crate) type Sink = mpsc::UnboundedSender<Result<TtsChunk, TtsError>>;

/// POST `build()` for each sentence in turn; send the audio; end with `Done` or one `Err`.
pub(crate) async fn synthesize_sentences<B>(
    provider: &'static str,
    sentences: Vec<String>,
    policy: RetryPolicy,
    audio: BodyAudio,
    build: B,
    sink: Sink,
) where
    B: Fn(&str) -> reqwest::RequestBuilder,
{
    let mut total_samples = 0usize;
    for sentence in sentences {
        let response = with_retries(policy, |attempt| {
            let request = build(&sentence);
            async move { send_once(provider, attempt, request).await }
        })
        .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(provider, kind = ?error.kind, error = %error.message, "tts request failed");
                let _ = sink.send(Err(error));
                return;
            }
        };
        match stream_body(response, audio, &sink).await {
            Ok(Some(samples)) => total_samples += samples,
            Ok(None) => return, // receiver gone
            Err(error) => {
                tracing::warn!(provider, error = %error.message, "tts stream broke");
                let _ = sink.send(Err(error));
                return;
            }
        }
    }
    let _ = sink.send(Ok(TtsChunk::Done { total_ms: samples_8k_to_ms(total_samples) }));
}

async fn send_once(
    provider: &'static str,
    attempt: u32,
    request: reqwest::RequestBuilder,
) -> Attempt<reqwest::Response, TtsError> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(provider, attempt, %error, "tts connect failed");
            return Attempt::Retry(TtsError::new(TtsErrorKind::Connect, error.to_string()), None);
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Done(response);
    }
    let wait = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = format!("{provider} http {}: {}", status.as_u16(), truncate(&body, 300));
    tracing::debug!(provider, attempt, status = status.as_u16(), "tts request refused");
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        Attempt::Fatal(TtsError::new(TtsErrorKind::Unauthorized, message))
    } else if is_retryable_status(status) {
        Attempt::Retry(TtsError::new(TtsErrorKind::Unavailable, message), wait)
    } else {
        Attempt::Fatal(TtsError::new(TtsErrorKind::Rejected, message))
    }
}

/// Forward the body as mu-law chunks; returns the 8 kHz samples sent, or `None` when the
/// receiver has gone away.
async fn stream_body(response: reqwest::Response, audio: BodyAudio, sink: &Sink) -> Result<Option<usize>, TtsError> {
    let mut body = response.bytes_stream();
    let mut resampler = match audio {
        BodyAudio::PcmLe { rate_hz } => Some(StreamResampler::new(rate_hz, 8_000)),
        BodyAudio::Mulaw8k => None,
    };
    let mut odd_byte: Option<u8> = None;
    let mut samples_sent = 0usize;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|error| TtsError::new(TtsErrorKind::Protocol, format!("audio stream: {error}")))?;
        let mulaw = match resampler.as_mut() {
            None => piece,
            Some(resampler) => {
                let pcm = pcm_from_le_bytes(&mut odd_byte, &piece);
                encode(&resampler.push(&pcm))
            }
        };
        if mulaw.is_empty() {
            continue;
        }
        samples_sent += mulaw.len();
        if sink.send(Ok(TtsChunk::Audio(mulaw))).is_err() {
            return Ok(None);
        }
    }
    if let Some(resampler) = resampler.as_mut() {
        let tail = encode(&resampler.finish());
        if !tail.is_empty() {
            samples_sent += tail.len();
            if sink.send(Ok(TtsChunk::Audio(tail))).is_err() {
                return Ok(None);
            }
        }
    }
    Ok(Some(samples_sent))
}

fn pcm_from_le_bytes(odd_byte: &mut Option<u8>, piece: &[u8]) -> Vec<i16> {
    let mut bytes = Vec::with_capacity(piece.len() + 1);
    if let Some(byte) = odd_byte.take() {
        bytes.push(byte);
    }
    bytes.extend_from_slice(piece);
    if bytes.len() % 2 == 1 {
        *odd_byte = bytes.pop();
    }
    bytes.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect()
}

fn encode(pcm: &[i16]) -> Bytes {
    let mut mulaw = Vec::with_capacity(pcm.len());
    protocol::mulaw::encode_into(pcm, &mut mulaw);
    Bytes::from(mulaw)
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
