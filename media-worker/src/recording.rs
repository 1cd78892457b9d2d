//! Optional per-call recording: a stereo WAV (callee left, agent right, aligned on media time)
//! and a timestamped transcript, written as the call goes.
//!
//! The callee's frames set the pace: each inbound frame writes its 20 ms of stereo samples,
//! the right channel taken from the agent audio scheduled to play at that media time (the
//! playback's play-out clock). Agent audio cut by a `clear` is removed before it is written.
//!
//! What a timestamp can cost is bounded (the gateway already checks them; this holds whatever
//! reaches the bus): a gap is filled with at most [`MAX_GAP_FILL_MS`] of silence per frame, the
//! rest of a larger jump is skipped, agent audio scheduled far ahead does not fill the queue with
//! silence, and a recording stops at [`MAX_RECORDING_MS`] (well before the WAV's 4 GB limit).
//!
//! A finished WAV is also stored on the bus ([`store_on_bus`]: the `recordings` object bucket, a
//! JetStream object store on NATS) because the gateway that serves `GET /v1/calls/{id}/recording`
//! runs in another pod than the worker that wrote the file; the bucket's maximum age is the
//! retention (`RECORDING_RETENTION_DAYS`). The file in `RECORDINGS_DIR` stays where it was.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bus::Bus;
use protocol::{subjects, CallId};

const SAMPLES_PER_MS: u64 = 8;

/// Most silence written for one gap in the callee's frames; a larger jump is skipped.
pub const MAX_GAP_FILL_MS: u64 = 2_000;

/// Longest recording (4 h of 8 kHz 16-bit stereo: 460 MB, a tenth of what a WAV can hold).
pub const MAX_RECORDING_MS: u64 = 4 * 3600 * 1000;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording file: {0}")]
    Io(#[from] std::io::Error),
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
    #[error("recording reached its {} h limit", MAX_RECORDING_MS / 3_600_000)]
    TooLong,
}

/// One call's recording.
pub struct Recording {
    wav_path: PathBuf,
    wav: hound::WavWriter<BufWriter<File>>,
    transcript: BufWriter<File>,
    /// Sample position (since the stream start) written so far.
    written_samples: u64,
    /// Samples in the file (less than `written_samples` once a jump was skipped).
    file_samples: u64,
    /// Agent samples scheduled from `agent_base_sample` on.
    agent: VecDeque<i16>,
    agent_base_sample: u64,
}

impl Recording {
    /// Creates `<dir>/<name>.wav` and `<dir>/<name>.txt`. When that WAV is already there (a
    /// worker that died mid-call wrote it, and the stream moved here), the part written here
    /// goes to `<name>-part2.wav` (up to part [`MAX_PARTS`]): the first part is kept.
    pub fn create(dir: &Path, name: &str) -> Result<Recording, RecordingError> {
        std::fs::create_dir_all(dir)?;
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let (wav_path, file, stem) = create_new_part(dir, name)?;
        let wav = hound::WavWriter::new(BufWriter::new(file), spec)?;
        let transcript = BufWriter::new(File::create(dir.join(format!("{stem}.txt")))?);
        Ok(Recording {
            wav_path,
            wav,
            transcript,
            written_samples: 0,
            file_samples: 0,
            agent: VecDeque::with_capacity(8000),
            agent_base_sample: 0,
        })
    }

    /// Agent audio that will play from media time `play_at_ms`.
    pub fn agent_audio(&mut self, play_at_ms: u64, mulaw: &[u8]) {
        let start = (play_at_ms * SAMPLES_PER_MS).max(self.written_samples);
        let end_of_queue = self.agent_base_sample + self.agent.len() as u64;
        if start > end_of_queue + MAX_GAP_FILL_MS * SAMPLES_PER_MS {
            // scheduled far ahead: start a new queue there instead of filling the distance
            self.agent.clear();
            self.agent_base_sample = start;
        } else if start > end_of_queue {
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
        let start = timestamp_ms.saturating_mul(SAMPLES_PER_MS);
        let gap = start.saturating_sub(self.written_samples);
        let max_fill = MAX_GAP_FILL_MS * SAMPLES_PER_MS;
        if self.file_samples + gap.min(max_fill) + pcm.len() as u64 > MAX_RECORDING_MS * SAMPLES_PER_MS {
            return Err(RecordingError::TooLong);
        }
        if gap > max_fill {
            tracing::warn!(
                gap_ms = gap / SAMPLES_PER_MS,
                filled_ms = MAX_GAP_FILL_MS,
                "media time jumped, gap skipped"
            );
        }
        // a gap in the callee's frames is written as silence, up to MAX_GAP_FILL_MS of it
        let fill_until = self.written_samples + gap.min(max_fill);
        while self.written_samples < fill_until {
            let agent = self.next_agent_sample();
            self.wav.write_sample(0i16)?;
            self.wav.write_sample(agent)?;
            self.written_samples += 1;
            self.file_samples += 1;
        }
        self.written_samples = self.written_samples.max(start);
        let skip = (self.written_samples - start) as usize; // overlap with what is written
        for &sample in pcm.iter().skip(skip) {
            let agent = self.next_agent_sample();
            self.wav.write_sample(sample)?;
            self.wav.write_sample(agent)?;
            self.written_samples += 1;
            self.file_samples += 1;
        }
        Ok(())
    }

    fn next_agent_sample(&mut self) -> i16 {
        if self.agent_base_sample < self.written_samples {
            let behind = (self.written_samples - self.agent_base_sample) as usize;
            self.agent.drain(..behind.min(self.agent.len()));
            self.agent_base_sample = self.written_samples;
        }
        if self.agent_base_sample > self.written_samples {
            return 0; // the queued agent audio starts later
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

    /// Flushes both files and completes the WAV header; returns the WAV's path.
    pub fn finish(mut self) -> Result<PathBuf, RecordingError> {
        self.transcript.flush()?;
        self.wav.finalize()?;
        Ok(self.wav_path)
    }
}

/// Most parts one call's recording is split into on one disk (one per media worker it ran on).
pub const MAX_PARTS: u32 = 9;

/// Creates the first of `<name>.wav`, `<name>-part2.wav` ... that does not exist yet; returns
/// its path, the open file and its stem.
fn create_new_part(dir: &Path, name: &str) -> Result<(PathBuf, File, String), RecordingError> {
    for part in 1..=MAX_PARTS {
        let stem = if part == 1 { name.to_owned() } else { format!("{name}-part{part}") };
        let path = dir.join(format!("{stem}.wav"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file, stem)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(RecordingError::Io(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{MAX_PARTS} recordings of {name} exist already"),
    )))
}

/// Attempts at storing one recording on the bus, and the pause after the first failure (doubled
/// after each further one).
const STORE_ATTEMPTS: u32 = 4;
const STORE_FIRST_PAUSE: Duration = Duration::from_millis(500);

/// Stores a finished recording as `<callId>.wav` in the bus's `recordings` object bucket, whose
/// maximum age is `retention_days` (0: kept until deleted). Retried a few times; a recording that
/// cannot be stored is logged and stays only in `RECORDINGS_DIR`.
pub async fn store_on_bus(
    bus: &Bus,
    call_id: &CallId,
    wav_path: &Path,
    retention_days: u64,
) -> Result<u64, bus::BusError> {
    let name = subjects::recording_object(call_id)
        .map_err(|e| bus::BusError::new(bus::BusErrorKind::Invalid, e.to_string()))?;
    let max_age = Duration::from_secs(retention_days.saturating_mul(86_400));
    let mut pause = STORE_FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        let stored = match bus.object_store(subjects::OBJ_RECORDINGS, max_age).await {
            Ok(store) => store.put_file(&name, wav_path).await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(size) => return Ok(size),
            Err(error) if attempt < STORE_ATTEMPTS && error.kind != bus::BusErrorKind::Invalid => {
                tracing::warn!(%error, attempt, "storing the recording on the bus failed, retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
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
        let wav_path = recording.finish().unwrap();
        assert_eq!(wav_path, dir.path().join("c_1.wav"));

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

    #[tokio::test]
    async fn a_finished_recording_is_stored_on_the_bus_under_the_call_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut recording = Recording::create(dir.path(), "c_9").unwrap();
        recording.callee_audio(0, &[500; 160]).unwrap();
        let wav_path = recording.finish().unwrap();
        let bus = Bus::local();
        let call_id = CallId::from("c_9");
        let size = store_on_bus(&bus, &call_id, &wav_path, 30).await.unwrap();
        assert_eq!(size, std::fs::metadata(&wav_path).unwrap().len());
        let store = bus.open_object_store(subjects::OBJ_RECORDINGS).await.unwrap().unwrap();
        let stored = store.get("c_9.wav").await.unwrap().expect("stored under <callId>.wav");
        assert_eq!(stored.size, size);
    }

    #[test]
    fn a_second_worker_on_the_same_call_writes_a_second_part_and_keeps_the_first() {
        // issue 16 item 5: the worker a stream moved to recreated <callId>.wav, and the first
        // 14 s that the killed worker had written were gone
        let dir = tempfile::tempdir().unwrap();
        let mut first = Recording::create(dir.path(), "c_m").unwrap();
        first.callee_audio(0, &[1000; 160]).unwrap();
        first.wav.flush().unwrap(); // the killed worker never finishes its file
        let first_len = std::fs::metadata(dir.path().join("c_m.wav")).unwrap().len();
        let mut second = Recording::create(dir.path(), "c_m").unwrap();
        second.callee_audio(20, &[2000; 160]).unwrap();
        let second_path = second.finish().unwrap();
        assert_eq!(second_path, dir.path().join("c_m-part2.wav"));
        assert!(dir.path().join("c_m-part2.txt").exists());
        assert_eq!(std::fs::metadata(dir.path().join("c_m.wav")).unwrap().len(), first_len, "first part kept");
        for _ in 3..=MAX_PARTS {
            Recording::create(dir.path(), "c_m").unwrap().finish().unwrap();
        }
        assert!(Recording::create(dir.path(), "c_m").is_err(), "parts are bounded");
    }

    #[test]
    fn a_jump_in_media_time_fills_at_most_two_seconds_and_alignment_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut recording = Recording::create(dir.path(), "c_2").unwrap();
        let nine_hours_ms = 9 * 3600 * 1000;
        recording.callee_audio(0, &[1000; 160]).unwrap();
        recording.callee_audio(nine_hours_ms, &[2000; 160]).unwrap();
        // agent audio scheduled for far in the future queues no silence either
        recording.agent_audio(nine_hours_ms * 2, &[protocol::mulaw::encode(8000); 160]);
        recording.callee_audio(nine_hours_ms + 20, &[3000; 160]).unwrap();
        recording.finish().unwrap();
        let reader = hound::WavReader::open(dir.path().join("c_2.wav")).unwrap();
        let frames = reader.duration() as u64;
        assert_eq!(frames, 3 * 160 + MAX_GAP_FILL_MS * SAMPLES_PER_MS, "three frames and one capped gap");
        let mut long = Recording::create(dir.path(), "c_3").unwrap();
        long.file_samples = MAX_RECORDING_MS * SAMPLES_PER_MS - 160; // as if 4 h had been written
        long.written_samples = long.file_samples;
        let at_ms = long.written_samples / SAMPLES_PER_MS;
        assert!(long.callee_audio(at_ms, &[0; 160]).is_ok(), "the last frame that fits");
        let over = long.callee_audio(at_ms + 20, &[0; 160]);
        assert!(matches!(over, Err(RecordingError::TooLong)), "a recording stops at its limit");
    }
}
