//! Optional per-call recording: a stereo WAV (callee left, agent right, aligned on media time)
//! and a timestamped transcript, written as the call goes.
//!
//! The callee's frames set the pace: each inbound frame writes its 20 ms of stereo samples,
//! the right channel taken from the agent audio scheduled to play at that media time (the
//! playback's play-out clock). Agent audio cut by a `clear` is removed before it is written.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

const SAMPLES_PER_MS: u64 = 8;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording file: {0}")]
    Io(#[from] std::io::Error),
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
}

/// One call's recording.
pub struct Recording {
    wav: hound::WavWriter<BufWriter<File>>,
    transcript: BufWriter<File>,
    /// Sample position (since the stream start) written so far.
    written_samples: u64,
    /// Agent samples scheduled from `agent_base_sample` on.
    agent: VecDeque<i16>,
    agent_base_sample: u64,
}

impl Recording {
    /// Creates `<dir>/<name>.wav` and `<dir>/<name>.txt`.
    pub fn create(dir: &Path, name: &str) -> Result<Recording, RecordingError> {
        std::fs::create_dir_all(dir)?;
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let wav = hound::WavWriter::create(dir.join(format!("{name}.wav")), spec)?;
        let transcript = BufWriter::new(File::create(dir.join(format!("{name}.txt")))?);
        Ok(Recording {
            wav,
            transcript,
            written_samples: 0,
            agent: VecDeque::with_capacity(8000),
            agent_base_sample: 0,
        })
    }

    /// Agent audio that will play from media time `play_at_ms`.
    pub fn agent_audio(&mut self, play_at_ms: u64, mulaw: &[u8]) {
        let start = (play_at_ms * SAMPLES_PER_MS).max(self.written_samples);
        let end_of_queue = self.agent_base_sample + self.agent.len() as u64;
        if start > end_of_queue {
            self.agent.extend(std::iter::repeat_n(0, (start - end_of_queue) as usize));
        } else {
            self.agent.truncate((start - self.agent_base_sample) as usize);
        }
        self.agent.extend(mulaw.iter().map(|&c| protocol::mulaw::decode(c)));
    }

    /// Agent audio after media time `at_ms` was cleared.
    pub fn agent_cleared(&mut self, at_ms: u64) {
        let keep = (at_ms * SAMPLES_PER_MS).saturating_sub(self.agent_base_sample);
        self.agent.truncate(keep as usize);
    }

    /// The callee's frame at media time `timestamp_ms`.
    pub fn callee_audio(&mut self, timestamp_ms: u64, pcm: &[i16]) -> Result<(), RecordingError> {
        let start = timestamp_ms * SAMPLES_PER_MS;
        // a gap in the callee's frames is written as silence
        while self.written_samples < start {
            let agent = self.next_agent_sample();
            self.wav.write_sample(0i16)?;
            self.wav.write_sample(agent)?;
            self.written_samples += 1;
        }
        let skip = (self.written_samples - start) as usize; // overlap with what is written
        for &sample in pcm.iter().skip(skip) {
            let agent = self.next_agent_sample();
            self.wav.write_sample(sample)?;
            self.wav.write_sample(agent)?;
            self.written_samples += 1;
        }
        Ok(())
    }

    fn next_agent_sample(&mut self) -> i16 {
        if self.agent_base_sample < self.written_samples {
            let behind = (self.written_samples - self.agent_base_sample) as usize;
            self.agent.drain(..behind.min(self.agent.len()));
            self.agent_base_sample = self.written_samples;
        }
        self.agent_base_sample += 1;
        self.agent.pop_front().unwrap_or(0)
    }

    /// A transcript line: `[mm:ss.mmm] who: text`.
    pub fn line(&mut self, at_ms: u64, who: &str, text: &str) -> Result<(), RecordingError> {
        writeln!(
            self.transcript,
            "[{:02}:{:02}.{:03}] {who}: {text}",
            at_ms / 60_000,
            at_ms / 1000 % 60,
            at_ms % 1000
        )?;
        Ok(())
    }

    /// Flushes both files and completes the WAV header.
    pub fn finish(mut self) -> Result<(), RecordingError> {
        self.transcript.flush()?;
        self.wav.finalize()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callee_left_agent_right_aligned_on_media_time_and_cut_by_clear() {
        let dir = tempfile::tempdir().unwrap();
        let mut recording = Recording::create(dir.path(), "c_1").unwrap();
        let loud = protocol::mulaw::encode(8000);
        // agent audio scheduled for 40..80 ms, then cleared at 60 ms
        recording.agent_audio(40, &[loud; 320]);
        recording.agent_cleared(60);
        for frame in 0..5u64 {
            recording.callee_audio(frame * 20, &[1000; 160]).unwrap();
        }
        recording.line(1234, "callee", "twenty dollars").unwrap();
        recording.finish().unwrap();

        let mut reader = hound::WavReader::open(dir.path().join("c_1.wav")).unwrap();
        assert_eq!(reader.spec().channels, 2);
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(samples.len(), 2 * 800);
        let right = |ms: usize| samples[ms * 8 * 2 + 1];
        let left = |ms: usize| samples[ms * 8 * 2];
        assert_eq!(left(10), 1000);
        assert_eq!(right(30), 0);
        assert!(right(45) > 7000);
        assert_eq!(right(70), 0, "cleared audio is not in the recording");
        let transcript = std::fs::read_to_string(dir.path().join("c_1.txt")).unwrap();
        assert_eq!(transcript, "[00:01.234] callee: twenty dollars\n");
    }
}
