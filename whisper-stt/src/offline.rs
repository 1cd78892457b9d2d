//! Files through the call path, offline: a WAV file (any rate, mono, PCM16 or mu-law) is read
//! within bounds, put through the telephone band a call goes through (resampled to 8 kHz mu-law)
//! and fed to any `SttProvider` exactly as the media worker feeds it (20 ms frames between
//! `UtteranceStart` and `UtteranceEnd`). Used by `gymcall transcribe` and the WER bench; [`speak`]
//! makes the benches' test audio with voices the agent never uses.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use speech::stt::{SttContext, SttInput, SttOutput, SttProvider, SttStream};
use speech::Vocabulary;

/// Largest WAV file read (bytes): 10 minutes of 48 kHz PCM16 fits.
pub const MAX_WAV_BYTES: u64 = 64 * 1024 * 1024;
/// Longest audio accepted (seconds).
pub const MAX_AUDIO_SECONDS: u64 = 600;

/// Why a file could not be transcribed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    #[error("{path}: {message}")]
    Wav { path: String, message: String },
    #[error("{0}")]
    Stt(String),
    #[error("transcription took longer than {0:?}")]
    Timeout(Duration),
}

/// Mono 16-bit samples and their rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub samples: Vec<i16>,
    pub sample_rate_hz: u32,
}

/// Reads a RIFF/WAVE file: mono PCM16 or G.711 mu-law (format 1, 7, or extensible with either).
pub fn read_wav(path: &Path) -> Result<Audio, OfflineError> {
    let fail = |message: String| OfflineError::Wav { path: path.display().to_string(), message };
    let size = std::fs::metadata(path).map_err(|error| fail(error.to_string()))?.len();
    if size > MAX_WAV_BYTES {
        return Err(fail(format!("{size} bytes, more than the {MAX_WAV_BYTES} accepted")));
    }
    let bytes = std::fs::read(path).map_err(|error| fail(error.to_string()))?;
    parse_wav(&bytes).map_err(fail)
}

/// Parses WAV bytes (see [`read_wav`]).
pub fn parse_wav(bytes: &[u8]) -> Result<Audio, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut at = 12usize;
    while at + 8 <= bytes.len() {
        let (id, length) = (&bytes[at..at + 4], u32_at(at + 4) as usize);
        let body = at + 8;
        let end = body.checked_add(length).filter(|end| *end <= bytes.len());
        match id {
            b"fmt " => {
                let end = end.ok_or("truncated fmt chunk")?;
                if end - body < 16 {
                    return Err("fmt chunk shorter than 16 bytes".into());
                }
                let mut tag = u16_at(body);
                if tag == 0xFFFE && end - body >= 26 {
                    tag = u16_at(body + 24); // the sub-format GUID starts with the format tag
                }
                format = Some((tag, u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
            }
            b"data" => {
                let (tag, channels, rate, bits) = format.ok_or("data chunk before the fmt chunk")?;
                // Streams written without a known length say 0 or 0xFFFFFFFF: read to the end.
                let data = &bytes[body..end.unwrap_or(bytes.len())];
                if channels != 1 {
                    return Err(format!("{channels} channels; only mono is accepted"));
                }
                if !(4_000..=192_000).contains(&rate) {
                    return Err(format!("sample rate {rate} Hz outside 4000..192000"));
                }
                let samples: Vec<i16> = match (tag, bits) {
                    (1, 16) => data.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect(),
                    (7, 8) => {
                        let mut pcm = Vec::with_capacity(data.len());
                        protocol::mulaw::decode_into(data, &mut pcm);
                        pcm
                    }
                    (tag, bits) => {
                        return Err(format!(
                            "format {tag} with {bits} bits; only PCM16 (1) and mu-law (7) are accepted"
                        ))
                    }
                };
                if samples.len() as u64 > MAX_AUDIO_SECONDS * u64::from(rate) {
                    return Err(format!("longer than {MAX_AUDIO_SECONDS} s"));
                }
                return Ok(Audio { samples, sample_rate_hz: rate });
            }
            _ => {}
        }
        at = body.saturating_add(length).saturating_add(length & 1);
    }
    Err("no data chunk".into())
}

/// Longest text [`speak`] takes (bytes): less than a pipe holds.
pub const MAX_SPOKEN_TEXT_BYTES: usize = 16 * 1024;

/// `text` spoken by a test voice: `flite:<voice>` (slt, rms, awb) through the Debian `flite`
/// binary, else an espeak-ng voice (`en-us`, `en-gb+m3`, ...).
pub fn speak(voice: &str, text: &str) -> Result<Audio, String> {
    if text.len() > MAX_SPOKEN_TEXT_BYTES {
        return Err(format!("{} bytes of text to speak, at most {MAX_SPOKEN_TEXT_BYTES}", text.len()));
    }
    if voice.starts_with('-') || voice.chars().any(char::is_whitespace) {
        return Err(format!("{voice:?} is not a voice name"));
    }
    let Some(flite_voice) = voice.strip_prefix("flite:") else {
        // the text on standard input: a text that starts with "-" is not taken for an option
        let mut child = std::process::Command::new("espeak-ng")
            .args(["-v", voice, "--stdout", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|error| format!("espeak-ng (apt-get install espeak-ng): {error}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            // at most a pipe's worth (MAX_SPOKEN_TEXT_BYTES), so this cannot wait on the output
            stdin.write_all(text.as_bytes()).map_err(|error| format!("espeak-ng input: {error}"))?;
        }
        let output = child.wait_with_output().map_err(|error| format!("espeak-ng: {error}"))?;
        if !output.status.success() {
            return Err(format!("espeak-ng -v {voice}: {}", String::from_utf8_lossy(&output.stderr)));
        }
        return parse_wav(&output.stdout).map_err(|error| format!("espeak-ng output: {error}"));
    };
    static NEXT_FILE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let number = NEXT_FILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("speak-{}-{number}-{flite_voice}.wav", std::process::id()));
    let output = std::process::Command::new("flite")
        .args(["-voice", flite_voice, "-t", text, "-o"])
        .arg(&file)
        .output()
        .map_err(|error| format!("flite (apt-get install flite): {error}"))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&file);
        return Err(format!("flite -voice {flite_voice}: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let audio = read_wav(&file);
    let _ = std::fs::remove_file(&file);
    audio.map_err(|error| format!("flite output: {error}"))
}

/// The telephone band: `audio` resampled to 8 kHz and mu-law encoded, as Twilio carries it.
pub fn telephone_band(audio: &Audio) -> Vec<u8> {
    let pcm_8k = speech::resample::resample(&audio.samples, audio.sample_rate_hz, 8_000);
    let mut mulaw = Vec::with_capacity(pcm_8k.len());
    protocol::mulaw::encode_into(&pcm_8k, &mut mulaw);
    mulaw
}

/// Transcribes one utterance of 8 kHz mu-law through `provider`'s stream, as a call would: 20 ms
/// frames between `UtteranceStart` and `UtteranceEnd`, then `Close`; the finals joined. Waits at
/// most `timeout`.
pub async fn transcribe_mulaw(
    provider: &dyn SttProvider,
    mulaw_8k: &[u8],
    vocabulary: Option<Arc<Vocabulary>>,
    timeout: Duration,
) -> Result<String, OfflineError> {
    let context = SttContext { call_id: "offline".into(), vocabulary };
    let stream = provider.start(context);
    let closed = || OfflineError::Stt("the recogniser closed its input".into());
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 0 }).map_err(|_| closed())?;
    for (index, frame) in mulaw_8k.chunks(160).enumerate() {
        let audio = SttInput::Audio { mulaw: Bytes::copy_from_slice(frame), timestamp_ms: index as u64 * 20 };
        stream.input.send(audio).map_err(|_| closed())?;
    }
    finish(stream, mulaw_8k, timeout).await
}

/// [`transcribe_mulaw`] with the callee's pauses told as a call tells them: the media worker's
/// speech detector (WebRTC VAD, aggressive) and endpointer with `pause_ms` run over the frames,
/// and their `Paused` / `Resumed` go to the provider between the frames, so a provider that
/// decodes at pauses (Whisper's segments) is measured the way a call uses it. The frames go as
/// fast as the provider takes them, except that after a pause the next frame waits until
/// `settled()` says the recogniser has done what the pause started (at most 3 s), as it would
/// have while a real pause lasted on an idle machine. The whole audio is one utterance.
pub async fn transcribe_mulaw_with_pauses(
    provider: &dyn SttProvider,
    mulaw_8k: &[u8],
    vocabulary: Option<Arc<Vocabulary>>,
    timeout: Duration,
    pause_ms: u64,
    settled: &(dyn Fn() -> bool + Sync),
) -> Result<String, OfflineError> {
    let context = SttContext { call_id: "offline".into(), vocabulary };
    let stream = provider.start(context);
    let closed = || OfflineError::Stt("the recogniser closed its input".into());
    let mut detector = speech::Vad::new(speech::VadMode::Aggressive);
    let config = speech::EndpointerConfig { pause_ms, ..speech::EndpointerConfig::default() };
    let mut endpointer = speech::Endpointer::new(config);
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 0 }).map_err(|_| closed())?;
    let mut pcm = Vec::with_capacity(160);
    for (index, frame) in mulaw_8k.chunks(160).enumerate() {
        let timestamp_ms = index as u64 * 20;
        let audio = SttInput::Audio { mulaw: Bytes::copy_from_slice(frame), timestamp_ms };
        stream.input.send(audio).map_err(|_| closed())?;
        pcm.clear();
        protocol::mulaw::decode_into(frame, &mut pcm);
        if pcm.len() == 160 {
            endpointer.handle_frame(timestamp_ms, detector.classify(&pcm));
        }
        let mut paused = false;
        while let Some(event) = endpointer.poll_event() {
            match event {
                speech::EndpointEvent::Paused { at_ms, .. } => {
                    stream.input.send(SttInput::Paused { timestamp_ms: at_ms }).map_err(|_| closed())?;
                    paused = true;
                }
                speech::EndpointEvent::Resumed { at_ms } => {
                    stream.input.send(SttInput::Resumed { timestamp_ms: at_ms }).map_err(|_| closed())?
                }
                _ => {} // one utterance: its start and end are the file's
            }
        }
        if paused {
            // a frame's time for the recogniser to take the pause up, then until it is done
            tokio::time::sleep(Duration::from_millis(20)).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while !settled() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    finish(stream, mulaw_8k, timeout).await
}

/// Ends the one utterance of `mulaw_8k` on `stream`, closes it and joins its final transcripts
/// (within `timeout`).
async fn finish(mut stream: SttStream, mulaw_8k: &[u8], timeout: Duration) -> Result<String, OfflineError> {
    let closed = || OfflineError::Stt("the recogniser closed its input".into());
    let end_ms = mulaw_8k.len() as u64 / 8;
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).map_err(|_| closed())?;
    stream.input.send(SttInput::Close).map_err(|_| closed())?;
    let collect = async {
        let mut texts = Vec::new();
        while let Some(output) = stream.output.recv().await {
            match output {
                SttOutput::Final { text, .. } => texts.push(text),
                SttOutput::Interim { .. } => {}
                SttOutput::Failed { message, .. } => return Err(OfflineError::Stt(message)),
            }
        }
        Ok(texts.join(" "))
    };
    tokio::time::timeout(timeout, collect).await.map_err(|_| OfflineError::Timeout(timeout))?
}

/// Words to score a transcript by: hyphens split, a few written abbreviations spelt as said,
/// then `protocol::spoken::normalize` (lowercase, digits and prices as words, no punctuation).
pub fn comparable_words(text: &str) -> Vec<String> {
    let spelt = |word: String| match word.as_str() {
        "mr" => "mister".to_owned(),
        "mrs" => "missus".to_owned(),
        "dr" => "doctor".to_owned(),
        "ok" => "okay".to_owned(),
        _ => word,
    };
    protocol::spoken::normalize(&text.replace('-', " ")).into_iter().map(spelt).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_starts_with_a_dash_is_spoken_and_a_bad_voice_is_refused() {
        // espeak-ng took the text as an argument: "-v ..." would have been read as an option
        let audio = speak("en-us", "-v no option here").expect("espeak-ng speaks it");
        assert!(audio.samples.len() > audio.sample_rate_hz as usize / 2, "half a second or more of speech");
        assert!(speak("--stdout", "hello").unwrap_err().contains("not a voice"));
        assert!(speak("en-us", &"a".repeat(MAX_SPOKEN_TEXT_BYTES + 1)).unwrap_err().contains("at most"));
    }

    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"RIFF\0\0\0\0WAVE".to_vec();
        bytes.extend_from_slice(b"LIST\x04\0\0\0info"); // a chunk to skip
        bytes.extend_from_slice(b"fmt \x10\0\0\0");
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&channels.to_le_bytes());
        bytes.extend_from_slice(&rate.to_le_bytes());
        bytes.extend_from_slice(&(rate * u32::from(bits / 8)).to_le_bytes());
        bytes.extend_from_slice(&(bits / 8).to_le_bytes());
        bytes.extend_from_slice(&bits.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn pcm16_and_mulaw_mono_are_read_and_the_rest_refused_with_a_reason() {
        let pcm = wav(1, 1, 22_050, 16, &[0x10, 0x00, 0xF0, 0xFF]);
        assert_eq!(parse_wav(&pcm), Ok(Audio { samples: vec![16, -16], sample_rate_hz: 22_050 }));
        let mut encoded = Vec::new();
        protocol::mulaw::encode_into(&[1000, -1000], &mut encoded);
        let mulaw = parse_wav(&wav(7, 1, 8_000, 8, &encoded)).expect("mu-law reads");
        assert_eq!(mulaw.samples.len(), 2);
        assert!(mulaw.samples[0] > 900 && mulaw.samples[1] < -900, "{:?}", mulaw.samples);
        assert!(parse_wav(&wav(1, 2, 8_000, 16, &[0; 8])).is_err_and(|e| e.contains("mono")));
        assert!(parse_wav(&wav(3, 1, 8_000, 32, &[0; 8])).is_err_and(|e| e.contains("PCM16")));
        assert!(parse_wav(&wav(1, 1, 100, 16, &[0; 8])).is_err_and(|e| e.contains("sample rate")));
        assert!(parse_wav(b"not a wav at all").is_err_and(|e| e.contains("RIFF")));
        let truncated = &pcm[..pcm.len() - 30];
        assert!(parse_wav(truncated).is_err(), "a cut fmt chunk is refused");
    }

    #[test]
    fn the_telephone_band_is_8k_mulaw_of_the_same_duration() {
        let audio = Audio { samples: vec![0; 44_100], sample_rate_hz: 44_100 };
        let mulaw = telephone_band(&audio);
        assert!((7_990..=8_010).contains(&mulaw.len()), "{} bytes for one second", mulaw.len());
    }
}
