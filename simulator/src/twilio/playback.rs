//! Twilio's playback buffer for one stream, as a sans-I/O state machine: the app's audio is
//! queued and played at 8000 samples/s of media time; a mark is echoed once the audio queued
//! before it has played; `clear` drops queued audio and echoes every pending mark.

use std::collections::VecDeque;

/// μ-law silence.
pub const SILENCE: u8 = 0xFF;

/// One mark echo, with where it stood in the playback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkEchoRecord {
    pub name: String,
    /// Media time of the echo.
    pub media_time_ms: u64,
    /// Bytes of app audio queued before the mark (over the whole call).
    pub queued_before_bytes: u64,
    /// Bytes of app audio played when the mark was echoed (over the whole call).
    pub played_bytes: u64,
    /// True when the mark was echoed because of a `clear`, not because playback reached it.
    pub cleared: bool,
}

/// One `clear`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearRecord {
    pub media_time_ms: u64,
    /// Queued audio bytes dropped.
    pub dropped_bytes: u64,
}

enum Queued {
    Audio(Vec<u8>, usize),
    Mark { name: String, queued_before_bytes: u64 },
}

/// The playback queue.
#[derive(Default)]
pub struct Playback {
    queue: VecDeque<Queued>,
    queued_audio_bytes: u64,
    total_queued_bytes: u64,
    total_played_bytes: u64,
    echoes: Vec<MarkEchoRecord>,
}

impl Playback {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues app audio.
    pub fn push_audio(&mut self, audio: &[u8]) {
        if audio.is_empty() {
            return;
        }
        self.queued_audio_bytes += audio.len() as u64;
        self.total_queued_bytes += audio.len() as u64;
        self.queue.push_back(Queued::Audio(audio.to_vec(), 0));
    }

    /// Queues a mark; echoed at once when nothing is queued before it.
    pub fn push_mark(&mut self, name: &str, media_time_ms: u64) {
        self.queue.push_back(Queued::Mark { name: name.to_owned(), queued_before_bytes: self.total_queued_bytes });
        self.echo_reached_marks(media_time_ms);
    }

    /// Drops queued audio and echoes pending marks (flagged as cleared).
    pub fn clear(&mut self, media_time_ms: u64) -> ClearRecord {
        let dropped_bytes = self.queued_audio_bytes;
        for item in self.queue.drain(..) {
            if let Queued::Mark { name, queued_before_bytes } = item {
                self.echoes.push(MarkEchoRecord {
                    name,
                    media_time_ms,
                    queued_before_bytes,
                    played_bytes: self.total_played_bytes,
                    cleared: true,
                });
            }
        }
        self.queued_audio_bytes = 0;
        ClearRecord { media_time_ms, dropped_bytes }
    }

    /// Plays up to `out.len()` bytes at `media_time_ms` into `out` (silence where nothing is
    /// queued); returns how many bytes were app audio.
    pub fn play(&mut self, media_time_ms: u64, out: &mut [u8]) -> usize {
        let mut written = 0;
        while written < out.len() {
            match self.queue.front_mut() {
                Some(Queued::Audio(audio, offset)) => {
                    let take = (audio.len() - *offset).min(out.len() - written);
                    out[written..written + take].copy_from_slice(&audio[*offset..*offset + take]);
                    *offset += take;
                    written += take;
                    self.queued_audio_bytes -= take as u64;
                    self.total_played_bytes += take as u64;
                    if *offset == audio.len() {
                        self.queue.pop_front();
                    }
                }
                Some(Queued::Mark { .. }) => self.echo_reached_marks(media_time_ms),
                None => break,
            }
        }
        out[written..].fill(SILENCE);
        self.echo_reached_marks(media_time_ms);
        written
    }

    fn echo_reached_marks(&mut self, media_time_ms: u64) {
        while let Some(Queued::Mark { .. }) = self.queue.front() {
            if let Some(Queued::Mark { name, queued_before_bytes }) = self.queue.pop_front() {
                self.echoes.push(MarkEchoRecord {
                    name,
                    media_time_ms,
                    queued_before_bytes,
                    played_bytes: self.total_played_bytes,
                    cleared: false,
                });
            }
        }
    }

    /// Mark echoes produced since the last call, in order.
    pub fn take_echoes(&mut self) -> Vec<MarkEchoRecord> {
        std::mem::take(&mut self.echoes)
    }

    /// True when no audio or mark is waiting.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn queued_audio_bytes(&self) -> u64 {
        self.queued_audio_bytes
    }

    pub fn total_played_bytes(&self) -> u64 {
        self.total_played_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_echo_after_the_audio_before_them_has_played() {
        let mut playback = Playback::new();
        playback.push_mark("first", 0);
        assert_eq!(playback.take_echoes()[0].name, "first", "a mark with nothing queued echoes at once");
        playback.push_audio(&[1; 200]);
        playback.push_mark("after-200", 0);
        let mut frame = [0u8; 160];
        assert_eq!(playback.play(20, &mut frame), 160);
        assert!(playback.take_echoes().is_empty());
        assert_eq!(playback.play(40, &mut frame), 40);
        assert_eq!(&frame[40..], &[SILENCE; 120][..]);
        let echoes = playback.take_echoes();
        assert_eq!(echoes.len(), 1);
        assert_eq!((echoes[0].media_time_ms, echoes[0].played_bytes, echoes[0].queued_before_bytes), (40, 200, 200));
        assert!(!echoes[0].cleared);
    }

    #[test]
    fn clear_drops_queued_audio_and_echoes_pending_marks() {
        let mut playback = Playback::new();
        playback.push_audio(&[1; 1000]);
        playback.push_mark("a", 0);
        playback.push_audio(&[2; 1000]);
        playback.push_mark("b", 0);
        let mut frame = [0u8; 160];
        playback.play(20, &mut frame);
        let clear = playback.clear(20);
        assert_eq!(clear.dropped_bytes, 1840);
        let echoes = playback.take_echoes();
        assert_eq!(
            echoes.iter().map(|e| (e.name.as_str(), e.cleared)).collect::<Vec<_>>(),
            vec![("a", true), ("b", true)]
        );
        assert!(playback.is_idle());
        assert_eq!(playback.play(40, &mut frame), 0);
    }
}
