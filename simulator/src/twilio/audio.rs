//! What the simulated callee says: a pluggable source of 20 ms μ-law frames that also hears the
//! agent's audio as it plays, so a persona can react to it.

use protocol::mulaw;
use std::path::Path;

/// Bytes in one 20 ms μ-law frame at 8 kHz.
pub const FRAME_BYTES: usize = 160;
/// Media time of one frame.
pub const FRAME_MS: u64 = 20;

/// The callee's side of the audio.
pub trait CalleeAudio: Send {
    /// The frame the callee sends at `media_time_ms`; `None` ends the callee's audio (the
    /// simulator then lets the app's queued audio play out and hangs up).
    fn next_frame(&mut self, media_time_ms: u64) -> Option<[u8; FRAME_BYTES]>;

    /// The agent audio the callee just heard (played at `media_time_ms`), silence included.
    fn on_agent_audio(&mut self, _media_time_ms: u64, _audio: &[u8]) {}

    /// A key the callee presses at `media_time_ms` (sent as a `dtmf` message before that frame).
    fn next_dtmf(&mut self, _media_time_ms: u64) -> Option<char> {
        None
    }

    /// Agent audio as it arrives on the socket (before it is queued for playback), with the
    /// wall-clock instant it was read: a timing hook for load measurements.
    fn on_agent_audio_received(&mut self, _received_at: std::time::Instant, _audio: &[u8]) {}

    /// The frame just returned by `next_frame` went out: its pacing deadline and the instant
    /// the send completed (a timing hook for load measurements).
    fn on_frame_sent(&mut self, _deadline: std::time::Instant, _sent_at: std::time::Instant) {}
}

/// Plays fixed frames, then ends.
pub struct FramesAudio {
    frames: std::vec::IntoIter<[u8; FRAME_BYTES]>,
    /// (media time, key), in time order.
    keys: std::collections::VecDeque<(u64, char)>,
}

impl FramesAudio {
    pub fn new(frames: Vec<[u8; FRAME_BYTES]>) -> Self {
        FramesAudio { frames: frames.into_iter(), keys: Default::default() }
    }

    /// Also presses `key` at `media_time_ms`.
    pub fn with_key(mut self, media_time_ms: u64, key: char) -> Self {
        self.keys.push_back((media_time_ms, key));
        self
    }

    /// `count` frames of μ-law silence.
    pub fn silence(count: usize) -> Self {
        Self::new(vec![[0xFF; FRAME_BYTES]; count])
    }

    /// Cuts μ-law bytes into frames (the last one padded with silence).
    pub fn from_mulaw(bytes: &[u8]) -> Self {
        let frames = bytes
            .chunks(FRAME_BYTES)
            .map(|chunk| {
                let mut frame = [0xFF; FRAME_BYTES];
                frame[..chunk.len()].copy_from_slice(chunk);
                frame
            })
            .collect();
        Self::new(frames)
    }
}

impl CalleeAudio for FramesAudio {
    fn next_frame(&mut self, _media_time_ms: u64) -> Option<[u8; FRAME_BYTES]> {
        self.frames.next()
    }

    fn next_dtmf(&mut self, media_time_ms: u64) -> Option<char> {
        match self.keys.front() {
            Some((at, _)) if *at <= media_time_ms => self.keys.pop_front().map(|(_, key)| key),
            _ => None,
        }
    }
}

/// Why a WAV file cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot read wav: {0}")]
    Read(#[from] hound::Error),
    #[error("unsupported wav format: {0}")]
    Unsupported(String),
}

/// Reads a mono or stereo 16-bit (or float) WAV, mixes to mono, resamples linearly to 8 kHz and
/// encodes μ-law.
pub fn read_wav_as_mulaw(path: &Path) -> Result<Vec<u8>, WavError> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int if spec.bits_per_sample <= 16 => {
            reader.samples::<i16>().map(|s| s.map(|v| f32::from(v) / 32768.0)).collect::<Result<_, _>>()?
        }
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 / scale)).collect::<Result<_, _>>()?
        }
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
    };
    if spec.sample_rate == 0 {
        return Err(WavError::Unsupported("sample rate 0".into()));
    }
    let mono: Vec<f32> = samples.chunks(channels).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
    let ratio = f64::from(spec.sample_rate) / 8000.0;
    let out_len = (mono.len() as f64 / ratio) as usize;
    let mut pcm = Vec::with_capacity(out_len);
    for i in 0..out_len {
        let position = i as f64 * ratio;
        let index = position as usize;
        let frac = (position - index as f64) as f32;
        let a = mono.get(index).copied().unwrap_or(0.0);
        let b = mono.get(index + 1).copied().unwrap_or(a);
        let value = (a + (b - a) * frac).clamp(-1.0, 1.0);
        pcm.push((value * 32767.0) as i16);
    }
    let mut out = Vec::with_capacity(pcm.len());
    mulaw::encode_into(&pcm, &mut out);
    Ok(out)
}

/// Plays a WAV file, then ends.
pub fn wav_audio(path: &Path) -> Result<FramesAudio, WavError> {
    Ok(FramesAudio::from_mulaw(&read_wav_as_mulaw(path)?))
}

/// Writes μ-law audio as a 16-bit 8 kHz mono WAV.
pub fn write_mulaw_wav(path: &Path, mulaw_audio: &[u8]) -> Result<(), hound::Error> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &code in mulaw_audio {
        writer.write_sample(mulaw::decode(code))?;
    }
    writer.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trips_through_mulaw() {
        let dir = std::env::temp_dir().join(format!("sim-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        let audio: Vec<u8> = (0..800u32).map(|i| mulaw::encode(((i as f32 * 0.05).sin() * 8000.0) as i16)).collect();
        write_mulaw_wav(&path, &audio).unwrap();
        let back = read_wav_as_mulaw(&path).unwrap();
        assert_eq!(back.len(), 800);
        let close =
            audio.iter().zip(&back).filter(|(a, b)| (mulaw::decode(**a) - mulaw::decode(**b)).abs() < 300).count();
        assert!(close > 790, "{close}");
        let mut frames = FramesAudio::from_mulaw(&back);
        let mut n = 0;
        while frames.next_frame(0).is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
        let _ = std::fs::remove_dir_all(dir);
    }
}
