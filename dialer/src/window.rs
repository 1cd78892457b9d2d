//! Calling windows: the local hours (in the callee's timezone) during which a call may start.
//!
//! All arithmetic goes through the callee's [`Tz`], so a window of 09:00-17:00 opens at 09:00 on
//! the wall clock on both sides of a daylight-saving change. A local time that does not exist
//! (the spring-forward gap) resolves to the first instant after the gap; a local time that occurs
//! twice (fall back) resolves to the first occurrence.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Local hours on chosen weekdays. `open` < `close`, both on the same day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallingWindow {
    /// Monday = index 0 ... Sunday = index 6.
    pub days: [bool; 7],
    pub open: NaiveTime,
    pub close: NaiveTime,
}

/// Why a window description could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid calling window {text:?}: {reason} (expected e.g. \"Mon-Sat 10:00-20:00\")")]
pub struct WindowParseError {
    pub text: String,
    pub reason: String,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl CallingWindow {
    /// A gym front desk: Monday to Saturday, 10:00 to 20:00 local time.
    pub fn front_desk() -> Self {
        Self {
            days: [true, true, true, true, true, true, false],
            open: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
        }
    }

    /// A playbook's `calling_window` (validated when the playbook loaded; `None` if it is not).
    pub fn from_playbook(window: &playbook::CallingWindow) -> Option<Self> {
        let mut days = [false; 7];
        for day in &window.days {
            days[*day as usize] = true;
        }
        let (open, close) = window.minutes();
        let time = |minutes: u32| {
            if minutes >= 24 * 60 {
                NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999)
            } else {
                NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)
            }
        };
        Some(Self { days, open: time(open)?, close: time(close)? })
    }

    /// Every day between `open` and `close`.
    pub fn daily(open: NaiveTime, close: NaiveTime) -> Self {
        Self { days: [true; 7], open, close }
    }

    /// Parses `"Mon-Fri 09:00-17:00"`, `"Mon,Wed,Sat 10:00-20:00"` or `"09:00-17:00"` (every day).
    pub fn parse(text: &str) -> Result<Self, WindowParseError> {
        let error = |reason: &str| WindowParseError { text: text.to_owned(), reason: reason.to_owned() };
        let mut parts = text.split_whitespace();
        let (days_part, hours_part) = match (parts.next(), parts.next(), parts.next()) {
            (Some(hours), None, None) => (None, hours),
            (Some(days), Some(hours), None) => (Some(days), hours),
            _ => return Err(error("expected '[days] HH:MM-HH:MM'")),
        };
        let days = match days_part {
            None => [true; 7],
            Some(spec) => {
                let mut days = [false; 7];
                for item in spec.split(',') {
                    let day_index = |name: &str| {
                        let lower = name.to_ascii_lowercase();
                        DAY_NAMES.iter().position(|d| lower.starts_with(d)).ok_or_else(|| error("unknown day name"))
                    };
                    match item.split_once('-') {
                        Some((from, to)) => {
                            let (from, to) = (day_index(from)?, day_index(to)?);
                            if from > to {
                                return Err(error("day range must run forwards (Mon-Sun)"));
                            }
                            days[from..=to].iter_mut().for_each(|d| *d = true);
                        }
                        None => days[day_index(item)?] = true,
                    }
                }
                days
            }
        };
        let (open, close) = hours_part.split_once('-').ok_or_else(|| error("hours need a '-'"))?;
        let parse_time = |t: &str| {
            if t == "24:00" {
                // The end of the day.
                return NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).ok_or_else(|| error("bad time"));
            }
            NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| error("hours must be HH:MM"))
        };
        let (open, close) = (parse_time(open)?, parse_time(close)?);
        if open >= close {
            return Err(error("the window must open before it closes on the same day"));
        }
        Ok(Self { days, open, close })
    }

    /// The earliest instant at or after `at` at which a call may start, or `None` when the
    /// window has no day at all.
    pub fn next_open(&self, timezone: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_date = at.with_timezone(&timezone).date_naive();
        // Start a day early: `at` may still fall in yesterday's local window near midnight.
        for offset in 0..9u64 {
            let date = local_date.checked_sub_days(Days::new(1))?.checked_add_days(Days::new(offset))?;
            if !self.days[date.weekday().num_days_from_monday() as usize] {
                continue;
            }
            let open = resolve_local(timezone, date, self.open)?;
            let close = resolve_local(timezone, date, self.close)?;
            if at < open {
                return Some(open);
            }
            if at < close {
                return Some(at);
            }
        }
        None
    }

    /// True when a call may start at `at`.
    pub fn is_open(&self, timezone: Tz, at: DateTime<Utc>) -> bool {
        self.next_open(timezone, at) == Some(at)
    }
}

/// The instant a local wall-clock time on `date` stands for in `timezone` (see module docs for
/// the gap and the overlap).
pub fn resolve_local(timezone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::new(date, time);
    // Gaps are at most a few hours; step forward a minute at a time until the time exists.
    for minutes in 0..=24 * 60 {
        let candidate = naive + chrono::Duration::minutes(minutes);
        match timezone.from_local_datetime(&candidate) {
            chrono::LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            chrono::LocalResult::None => continue,
        }
    }
    None
}

/// The next time the local clock in `timezone` shows `time` at or after `now` ("call back after 6").
pub fn next_local_time(timezone: Tz, now: DateTime<Utc>, time: NaiveTime) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&timezone).date_naive();
    (0..3u64)
        .filter_map(|offset| resolve_local(timezone, today.checked_add_days(Days::new(offset))?, time))
        .find(|t| *t >= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_window_descriptions() {
        let window = CallingWindow::parse("Mon-Fri 09:00-17:00").unwrap();
        assert_eq!(window.days, [true, true, true, true, true, false, false]);
        assert_eq!(window.open, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        let window = CallingWindow::parse("Sat,Sun 10:30-12:00").unwrap();
        assert_eq!(window.days, [false, false, false, false, false, true, true]);
        assert_eq!(CallingWindow::parse("08:00-20:00").unwrap().days, [true; 7]);
        let all_day = CallingWindow::parse("00:00-24:00").unwrap();
        let late = DateTime::parse_from_rfc3339("2026-06-01T23:59:59.5Z").unwrap().with_timezone(&Utc);
        assert!(all_day.is_open(chrono_tz::UTC, late));
        assert!(CallingWindow::parse("Mon-Fri 17:00-09:00").is_err());
        assert!(CallingWindow::parse("Funday 09:00-10:00").is_err());
        assert!(CallingWindow::parse("Mon 9-10").is_err());
    }

    #[test]
    fn windows_in_several_timezones() {
        let window = CallingWindow::parse("Mon-Fri 09:00-17:00").unwrap();
        // Monday 2026-06-01 12:00 UTC.
        let at = utc("2026-06-01T12:00:00Z");
        // New York (EDT, UTC-4): 08:00 local -> opens 09:00 EDT = 13:00 UTC.
        assert_eq!(window.next_open(chrono_tz::America::New_York, at), Some(utc("2026-06-01T13:00:00Z")));
        // London (BST, UTC+1): 13:00 local -> open now.
        assert_eq!(window.next_open(chrono_tz::Europe::London, at), Some(at));
        // Tokyo (UTC+9): 21:00 local -> closed, next Tuesday 09:00 JST = 00:00 UTC Tuesday.
        assert_eq!(window.next_open(chrono_tz::Asia::Tokyo, at), Some(utc("2026-06-02T00:00:00Z")));
        // Los Angeles, Friday 18:00 local (Sat 01:00 UTC) -> Monday 09:00 PDT = 16:00 UTC.
        assert_eq!(
            window.next_open(chrono_tz::America::Los_Angeles, utc("2026-06-06T01:00:00Z")),
            Some(utc("2026-06-08T16:00:00Z"))
        );
        // Kolkata (UTC+5:30): Monday 12:00 UTC = 17:30 local -> Tuesday 09:00 IST = 03:30 UTC.
        assert_eq!(window.next_open(chrono_tz::Asia::Kolkata, at), Some(utc("2026-06-02T03:30:00Z")));
    }

    #[test]
    fn windows_follow_the_wall_clock_across_dst() {
        let window =
            CallingWindow::daily(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        let new_york = chrono_tz::America::New_York;
        // Saturday 2026-03-07 18:00 EST (23:00 UTC); clocks spring forward Sunday 2026-03-08.
        // Sunday 09:00 is EDT (UTC-4) = 13:00 UTC, not 14:00.
        assert_eq!(window.next_open(new_york, utc("2026-03-07T23:00:00Z")), Some(utc("2026-03-08T13:00:00Z")));
        // The Saturday before opened at 09:00 EST = 14:00 UTC.
        assert_eq!(window.next_open(new_york, utc("2026-03-07T05:00:00Z")), Some(utc("2026-03-07T14:00:00Z")));
        // London falls back on Sunday 2026-10-25: Saturday opens 08:00 UTC, Sunday 09:00 UTC.
        let london = chrono_tz::Europe::London;
        assert_eq!(window.next_open(london, utc("2026-10-24T01:00:00Z")), Some(utc("2026-10-24T08:00:00Z")));
        assert_eq!(window.next_open(london, utc("2026-10-24T17:00:00Z")), Some(utc("2026-10-25T09:00:00Z")));
        // A window opening inside the spring-forward gap (02:30 does not exist) opens at 03:00 EDT.
        let night =
            CallingWindow::daily(NaiveTime::from_hms_opt(2, 30, 0).unwrap(), NaiveTime::from_hms_opt(4, 0, 0).unwrap());
        assert_eq!(night.next_open(new_york, utc("2026-03-08T05:00:00Z")), Some(utc("2026-03-08T07:00:00Z")));
        // A window opening inside the repeated hour (01:30 twice) opens at the first one.
        let early =
            CallingWindow::daily(NaiveTime::from_hms_opt(1, 30, 0).unwrap(), NaiveTime::from_hms_opt(4, 0, 0).unwrap());
        assert_eq!(early.next_open(new_york, utc("2026-11-01T04:00:00Z")), Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn next_local_time_is_today_or_tomorrow() {
        let six_pm = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        let chicago = chrono_tz::America::Chicago;
        // 14:00 CDT -> 18:00 CDT today = 23:00 UTC.
        assert_eq!(next_local_time(chicago, utc("2026-07-01T19:00:00Z"), six_pm), Some(utc("2026-07-01T23:00:00Z")));
        // 19:00 CDT -> tomorrow 18:00 CDT.
        assert_eq!(next_local_time(chicago, utc("2026-07-02T00:00:00Z"), six_pm), Some(utc("2026-07-02T23:00:00Z")));
    }
}
