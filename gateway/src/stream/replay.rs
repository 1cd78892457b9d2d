//! The last seconds of what the caller sent on a stream, kept so that the media worker taking
//! the stream over (the one it was on stopped answering pings) hears what was said while the
//! stream moved: the frames published meanwhile had no subscriber and were lost.
//!
//! Each item is the `media.in` payload already published (a refcounted copy, no re-encoding),
//! with the media time it belongs to: audio frames carry theirs, a mark or DTMF echo takes the
//! last frame's. Items older than the window (by media time, which the gateway has checked
//! against the frame count) are dropped as new ones come, and a hard cap on the count bounds the
//! memory whatever the timestamps say: at the default 6 s about 300 frames, ~55 KB a stream.
//! The new worker hears the replayed frames with their own timestamps, so its transcripts carry
//! the media times of the original speech; the brain drops what it had already heard.

use bytes::Bytes;
use std::collections::VecDeque;

/// Items kept beyond one per 20 ms frame of the window (marks, DTMF).
const EVENT_SLACK: usize = 64;

/// The replay buffer of one stream.
#[derive(Debug)]
pub struct Replay {
    window_ms: u64,
    max_items: usize,
    items: VecDeque<(u64, Bytes)>,
    last_ms: u64,
}

impl Replay {
    /// Keeps `window_ms` of media time (0: keeps nothing).
    pub fn new(window_ms: u64) -> Replay {
        let max_items = if window_ms == 0 { 0 } else { (window_ms / 20) as usize + 1 + EVENT_SLACK };
        Replay { window_ms, max_items, items: VecDeque::new(), last_ms: 0 }
    }

    /// An audio frame of media time `media_ms` was published as `payload`.
    pub fn audio(&mut self, media_ms: u64, payload: Bytes) {
        self.last_ms = self.last_ms.max(media_ms);
        self.push(payload);
    }

    /// A stream event (mark, DTMF) was published as `payload`.
    pub fn event(&mut self, payload: Bytes) {
        self.push(payload);
    }

    fn push(&mut self, payload: Bytes) {
        if self.max_items == 0 {
            return;
        }
        let oldest_kept = self.last_ms.saturating_sub(self.window_ms);
        while self.items.front().is_some_and(|(ms, _)| *ms < oldest_kept) || self.items.len() >= self.max_items {
            self.items.pop_front();
        }
        self.items.push_back((self.last_ms, payload));
    }

    /// What to send the new worker, oldest first.
    pub fn items(&self) -> impl Iterator<Item = &Bytes> {
        self.items.iter().map(|(_, payload)| payload)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n; 180])
    }

    #[test]
    fn keeps_the_window_of_media_time_in_order_with_the_events_between_frames() {
        let mut replay = Replay::new(100);
        for i in 0..10u64 {
            replay.audio(i * 20, frame(i as u8));
            if i == 7 {
                replay.event(Bytes::from_static(b"mark"));
            }
        }
        // last frame at 180 ms: frames from 80 ms on, and the mark after the frame at 140 ms
        let kept: Vec<&[u8]> = replay.items().map(|b| &b[..1]).collect();
        let expected: Vec<&[u8]> = vec![&[4], &[5], &[6], &[7], b"m", &[8], &[9]];
        assert_eq!(kept, expected);
    }

    #[test]
    fn the_count_is_capped_whatever_the_timestamps_say() {
        let mut replay = Replay::new(1000);
        for _ in 0..10_000 {
            replay.audio(0, frame(1)); // the same timestamp again and again
            replay.event(Bytes::from_static(b"dtmf"));
        }
        assert_eq!(replay.len(), 1000 / 20 + 1 + EVENT_SLACK);
    }

    #[test]
    fn a_zero_window_keeps_nothing() {
        let mut replay = Replay::new(0);
        replay.audio(20, frame(1));
        replay.event(Bytes::from_static(b"mark"));
        assert!(replay.is_empty());
    }
}
