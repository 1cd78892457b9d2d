//! Media timestamps checked before anyone downstream trusts them. Twilio stamps each 20 ms `media`
//! frame with its media time; the media worker's hearing, playback and recording all run on it, and
//! the recording fills any gap with silence. A timestamp may run ahead of the previous one by at
//! most [`MAX_GAP_MS`], and of what can have passed (every frame so far 20 ms long, or the wall
//! clock since the first frame, whichever is more) by at most [`MAX_GAP_MS`] too. A frame stamped
//! beyond either is taken as the next frame (previous + 20 ms) and reported as an anomaly.
//!
//! Sans-I/O: told the arrival instant, so tests use fake instants.

use std::time::Instant;

/// Media time one Twilio frame covers.
pub const FRAME_MS: u64 = 20;

/// Most media time a frame may skip: a couple of seconds of packet loss, never hours.
pub const MAX_GAP_MS: u64 = 2_000;

/// The media time a frame is forwarded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// The frame's own timestamp.
    Trusted(u64),
    /// The frame claimed `claimed_ms`, which cannot be true; it is forwarded at `used_ms`.
    Replaced { claimed_ms: u64, used_ms: u64 },
}

impl Stamp {
    pub fn media_ms(self) -> u64 {
        match self {
            Stamp::Trusted(ms) => ms,
            Stamp::Replaced { used_ms, .. } => used_ms,
        }
    }
}

/// One stream's media time.
#[derive(Debug, Default)]
pub struct MediaClock {
    first_frame_at: Option<Instant>,
    frames: u64,
    latest_ms: Option<u64>,
}

impl MediaClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the timestamp of a frame that arrived at `now`.
    pub fn check(&mut self, now: Instant, claimed_ms: u64) -> Stamp {
        let first = *self.first_frame_at.get_or_insert(now);
        self.frames += 1;
        let wall_ms = u64::try_from(now.saturating_duration_since(first).as_millis()).unwrap_or(u64::MAX);
        let possible_ms = self.frames.saturating_mul(FRAME_MS).max(wall_ms).saturating_add(MAX_GAP_MS);
        let step_limit_ms = self.latest_ms.map_or(possible_ms, |latest| latest.saturating_add(FRAME_MS + MAX_GAP_MS));
        let stamp = if claimed_ms <= possible_ms.min(step_limit_ms) {
            Stamp::Trusted(claimed_ms)
        } else {
            let used_ms = self.latest_ms.map_or(0, |latest| latest + FRAME_MS);
            Stamp::Replaced { claimed_ms, used_ms }
        };
        self.latest_ms = Some(self.latest_ms.unwrap_or(0).max(stamp.media_ms()));
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steady_frames_and_small_gaps_are_trusted() {
        let start = Instant::now();
        let mut clock = MediaClock::new();
        for frame in 0..50u64 {
            let now = start + Duration::from_millis(frame * FRAME_MS);
            assert_eq!(clock.check(now, frame * FRAME_MS), Stamp::Trusted(frame * FRAME_MS));
        }
        // 1.5 s of lost packets, then the stream goes on
        let now = start + Duration::from_millis(2500);
        assert_eq!(clock.check(now, 2500), Stamp::Trusted(2500));
    }

    #[test]
    fn faster_than_real_time_is_fine_when_the_frames_are_there() {
        let now = Instant::now();
        let mut clock = MediaClock::new();
        for frame in 0..500u64 {
            assert_eq!(clock.check(now, frame * FRAME_MS), Stamp::Trusted(frame * FRAME_MS));
        }
    }

    #[test]
    fn a_jump_of_hours_is_replaced_by_the_next_frame_time() {
        let now = Instant::now();
        let mut clock = MediaClock::new();
        clock.check(now, 0);
        clock.check(now, 20);
        let nine_hours_ms = 9 * 3600 * 1000;
        assert_eq!(clock.check(now, nine_hours_ms), Stamp::Replaced { claimed_ms: nine_hours_ms, used_ms: 40 });
        assert_eq!(clock.check(now, 60), Stamp::Trusted(60), "the honest frames after it go on");
        assert!(matches!(clock.check(now, u64::MAX), Stamp::Replaced { used_ms: 80, .. }));
    }

    #[test]
    fn many_small_jumps_cannot_outrun_the_frames_and_the_wall_clock() {
        let now = Instant::now();
        let mut clock = MediaClock::new();
        let mut claimed = 0;
        let mut latest = 0;
        for _ in 0..1000 {
            claimed += MAX_GAP_MS;
            latest = clock.check(now, claimed).media_ms();
        }
        assert!(latest <= 1000 * FRAME_MS + MAX_GAP_MS, "media time {latest} ms after 1000 frames in no time");
    }
}
