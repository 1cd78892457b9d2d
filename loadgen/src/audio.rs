//! The callee's utterances: WAV files read once, resampled to 8 kHz with the speech crate's
//! band-limited resampler, μ-law encoded, cut into 20 ms frames and trimmed of leading and
//! trailing silence (so an answer's last frame is its last speech frame); and the loudness test
//! that tells speech frames from silence on both sides of the line.

use protocol::mulaw;
use simulator::twilio::audio::FRAME_BYTES;
use std::path::Path;
use std::sync::Arc;

/// Longest utterance accepted (seconds of audio); a longer file is refused, not truncated.
pub const MAX_UTTERANCE_S: u32 = 60;
/// Most utterance files one run plays.
pub const MAX_UTTERANCES: usize = 64;
/// Mean absolute amplitude (of 32767) at which a 20 ms frame counts as sound: about -40 dBFS,
/// well above μ-law's quantisation of silence, well below any speech.
pub const SOUND_MEAN_ABS: u32 = 300;

/// One utterance: its speech frames, shared by every call that plays it.
#[derive(Clone, Debug)]
pub struct Utterance {
    pub name: String,
    pub frames: Arc<Vec<[u8; FRAME_BYTES]>>,
}

impl Utterance {
    pub fn duration_ms(&self) -> u64 {
        self.frames.len() as u64 * simulator::twilio::FRAME_MS
    }
}

/// Why an utterance cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {source}")]
    Read { path: String, source: hound::Error },
    #[error("{path}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("{count} utterance files given, at most {MAX_UTTERANCES} are played")]
    TooMany { count: usize },
    #[error("no utterance file given")]
    None,
}

/// Reads every file in turn (see [`read_utterance`]).
pub fn read_utterances(paths: &[impl AsRef<Path>]) -> Result<Vec<Utterance>, AudioError> {
    if paths.is_empty() {
        return Err(AudioError::None);
    }
    if paths.len() > MAX_UTTERANCES {
        return Err(AudioError::TooMany { count: paths.len() });
    }
    paths.iter().map(|path| read_utterance(path.as_ref())).collect()
}

/// Reads a mono or multi-channel WAV (16-bit or narrower integer, or float), mixes it to mono,
/// resamples it to 8 kHz, encodes μ-law and trims silence at both ends.
pub fn read_utterance(path: &Path) -> Result<Utterance, AudioError> {
    let shown = path.display().to_string();
    let unsupported = |reason: String| AudioError::Unsupported { path: shown.clone(), reason };
    let mut reader = hound::WavReader::open(path).map_err(|source| AudioError::Read { path: shown.clone(), source })?;
    let spec = reader.spec();
    if spec.sample_rate < 4_000 || spec.sample_rate > 192_000 {
        return Err(unsupported(format!("sample rate {} Hz", spec.sample_rate)));
    }
    let channels = u32::from(spec.channels.max(1));
    if reader.duration() / spec.sample_rate > MAX_UTTERANCE_S {
        return Err(unsupported(format!("longer than {MAX_UTTERANCE_S} s")));
    }
    let read_error = |source| AudioError::Read { path: shown.clone(), source };
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ 8..=16) => {
            let scale = f32::from(1u16 << (bits - 1));
            reader.samples::<i16>().map(|s| s.map(|v| f32::from(v) / scale)).collect::<Result<_, _>>()
        }
        (hound::SampleFormat::Int, bits @ 17..=32) => {
            let scale = (1u64 << (bits - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 / scale)).collect::<Result<_, _>>()
        }
        (hound::SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>(),
        (format, bits) => return Err(unsupported(format!("{bits}-bit {format:?} samples"))),
    }
    .map_err(read_error)?;
    let mono: Vec<i16> = samples
        .chunks(channels as usize)
        .map(|frame| (frame.iter().sum::<f32>() / frame.len() as f32).clamp(-1.0, 1.0))
        .map(|value| (value * 32767.0) as i16)
        .collect();
    let pcm_8k = speech::resample::resample(&mono, spec.sample_rate, 8_000);
    let frames = trim_silence(mulaw_frames(&pcm_8k));
    if frames.is_empty() {
        return Err(unsupported("no sound in the file".into()));
    }
    let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Utterance { name, frames: Arc::new(frames) })
}

/// 8 kHz PCM as μ-law frames, the last one padded with silence.
pub fn mulaw_frames(pcm_8k: &[i16]) -> Vec<[u8; FRAME_BYTES]> {
    let mut encoded = Vec::with_capacity(pcm_8k.len());
    mulaw::encode_into(pcm_8k, &mut encoded);
    encoded
        .chunks(FRAME_BYTES)
        .map(|chunk| {
            let mut frame = [mulaw::encode(0); FRAME_BYTES];
            frame[..chunk.len()].copy_from_slice(chunk);
            frame
        })
        .collect()
}

/// Drops the silent frames before the first and after the last frame with sound.
pub fn trim_silence(frames: Vec<[u8; FRAME_BYTES]>) -> Vec<[u8; FRAME_BYTES]> {
    let first = frames.iter().position(|frame| has_sound(frame));
    let last = frames.iter().rposition(|frame| has_sound(frame));
    match (first, last) {
        (Some(first), Some(last)) => frames[first..=last].to_vec(),
        _ => Vec::new(),
    }
}

/// True when the μ-law audio's mean absolute amplitude reaches [`SOUND_MEAN_ABS`].
pub fn has_sound(mulaw_audio: &[u8]) -> bool {
    if mulaw_audio.is_empty() {
        return false;
    }
    let total: u64 = mulaw_audio.iter().map(|&code| u64::from(mulaw::decode(code).unsigned_abs())).sum();
    total >= u64::from(SOUND_MEAN_ABS) * mulaw_audio.len() as u64
}

/// True when any 20 ms block of the μ-law audio has sound (agent audio arrives in chunks of
/// any size; one loud block is enough to call it a reply).
pub fn any_block_has_sound(mulaw_audio: &[u8]) -> bool {
    mulaw_audio.chunks(FRAME_BYTES).any(has_sound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(samples: usize, amplitude: f32) -> Vec<i16> {
        (0..samples).map(|i| ((i as f32 * 0.3).sin() * amplitude) as i16).collect()
    }

    #[test]
    fn silence_is_trimmed_at_both_ends_only() {
        let mut pcm = vec![0i16; 800];
        pcm.extend(tone(1600, 8000.0));
        pcm.extend(vec![0i16; 320]);
        pcm.extend(tone(800, 8000.0));
        pcm.extend(vec![0i16; 1600]);
        let frames = trim_silence(mulaw_frames(&pcm));
        assert_eq!(frames.len(), 10 + 2 + 5, "leading 5 and trailing 10 silent frames gone, the pause kept");
        assert!(has_sound(&frames[0]) && has_sound(&frames[frames.len() - 1]));
        assert!(!has_sound(&frames[11]));
    }

    #[test]
    fn quiet_noise_is_not_sound() {
        let quiet = mulaw_frames(&tone(160, 200.0));
        assert!(!has_sound(&quiet[0]));
        let loud = mulaw_frames(&tone(160, 3000.0));
        assert!(has_sound(&loud[0]));
        let mut mixed = quiet[0].to_vec();
        mixed.extend_from_slice(&loud[0]);
        assert!(any_block_has_sound(&mixed));
        assert!(!any_block_has_sound(&[0xFF; 480]));
    }

    #[test]
    fn wav_files_are_read_at_any_rate_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..22_050 * 2 {
            // half a second of silence, then a second of a 300 Hz tone, then silence
            let t = i as f32 / 22_050.0;
            let value = if (0.5..1.5).contains(&t) { (t * 300.0 * std::f32::consts::TAU).sin() * 9000.0 } else { 0.0 };
            writer.write_sample(value as i16).unwrap();
            writer.write_sample(value as i16).unwrap();
        }
        writer.finalize().unwrap();
        let utterance = read_utterance(&path).unwrap();
        assert_eq!(utterance.name, "hello");
        let ms = utterance.duration_ms();
        assert!((960..=1060).contains(&ms), "one second of tone kept: {ms} ms");
        assert!(matches!(read_utterances(&Vec::<&Path>::new()), Err(AudioError::None)));
        assert!(read_utterance(&dir.path().join("missing.wav")).is_err());
    }
}
