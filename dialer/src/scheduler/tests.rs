//! Unit tests of the [`Scheduler`](super::Scheduler): windows, caps, retries and cancels, told fake times.

use super::*;
use chrono::NaiveTime;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn always_open() -> CallingWindow {
    CallingWindow::daily(NaiveTime::from_hms_opt(0, 0, 0).unwrap(), NaiveTime::from_hms_opt(23, 59, 0).unwrap())
}

fn job(id: &str, number: &str, timezone: Tz, window: CallingWindow) -> DialJob {
    DialJob {
        call_id: CallId::from(id),
        phone_number: number.to_owned(),
        timezone,
        window,
        not_before: None,
        attempts_made: 0,
    }
}

fn drain(scheduler: &mut Scheduler) -> Vec<Event> {
    std::iter::from_fn(|| scheduler.poll_event()).collect()
}

fn no_jitter() -> SchedulerConfig {
    SchedulerConfig {
        retry: RetryPolicy { jitter_fraction: 0.0, ..RetryPolicy::default() },
        ..SchedulerConfig::default()
    }
}

#[test]
fn dials_only_inside_the_callees_window_in_several_timezones() {
    let mut scheduler = Scheduler::new(no_jitter());
    let window = CallingWindow::parse("Mon-Fri 09:00-17:00").unwrap();
    // Monday 2026-06-01 14:00 UTC: 10:00 in New York (open), 07:00 in Los Angeles (closed),
    // 23:00 in Tokyo (closed), 15:00 in London (open).
    let now = utc("2026-06-01T14:00:00Z");
    scheduler.handle(now, Input::Submit(job("ny", "+12125550100", chrono_tz::America::New_York, window)));
    scheduler.handle(now, Input::Submit(job("la", "+13105550100", chrono_tz::America::Los_Angeles, window)));
    scheduler.handle(now, Input::Submit(job("tokyo", "+81355550100", chrono_tz::Asia::Tokyo, window)));
    scheduler.handle(now, Input::Submit(job("london", "+442075550100", chrono_tz::Europe::London, window)));
    let events = drain(&mut scheduler);
    assert!(events.contains(&Event::Dial { call_id: "ny".into(), attempt: 1 }));
    assert!(events.contains(&Event::Dial { call_id: "london".into(), attempt: 1 }));
    assert!(events.contains(&Event::Waiting {
        call_id: "la".into(),
        until: utc("2026-06-01T16:00:00Z"),
        reason: WaitReason::Window
    }));
    assert!(events.contains(&Event::Waiting {
        call_id: "tokyo".into(),
        until: utc("2026-06-02T00:00:00Z"),
        reason: WaitReason::Window
    }));
    assert_eq!(scheduler.poll_timeout(), Some(utc("2026-06-01T16:00:00Z")));
    // Nothing happens before the window opens ...
    scheduler.handle_timeout(utc("2026-06-01T15:59:00Z"));
    assert!(drain(&mut scheduler).is_empty());
    // ... and Los Angeles is dialed when it does.
    scheduler.handle_timeout(utc("2026-06-01T16:00:00Z"));
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "la".into(), attempt: 1 }]);
    scheduler.handle_timeout(utc("2026-06-02T00:00:00Z"));
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "tokyo".into(), attempt: 1 }]);
}

#[test]
fn a_retry_across_the_spring_forward_lands_on_local_opening_time() {
    let mut scheduler = Scheduler::new(no_jitter());
    let window =
        CallingWindow::daily(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
    // Saturday 2026-03-07 16:55 EST = 21:55 UTC; New York springs forward on Sunday 03-08.
    let now = utc("2026-03-07T21:55:00Z");
    scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::America::New_York, window)));
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 1 }]);
    // Busy: retry in 10 min = 17:05 local, after closing -> Sunday 09:00 EDT = 13:00 UTC.
    scheduler
        .handle(utc("2026-03-07T21:56:00Z"), Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Busy });
    assert_eq!(
        drain(&mut scheduler),
        vec![Event::Waiting {
            call_id: "gym".into(),
            until: utc("2026-03-08T13:00:00Z"),
            reason: WaitReason::Retry(CallOutcome::Busy)
        }]
    );
    scheduler.handle_timeout(utc("2026-03-08T12:59:59Z"));
    assert!(drain(&mut scheduler).is_empty(), "08:59:59 EDT is still closed");
    scheduler.handle_timeout(utc("2026-03-08T13:00:00Z"));
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 2 }]);
}

#[test]
fn a_retry_across_the_fall_back_lands_on_local_opening_time() {
    let mut scheduler = Scheduler::new(no_jitter());
    let window =
        CallingWindow::daily(NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
    // Saturday 2026-10-24 16:50 BST = 15:50 UTC; London falls back on Sunday 10-25.
    let now = utc("2026-10-24T15:50:00Z");
    scheduler.handle(now, Input::Submit(job("gym", "+442075550100", chrono_tz::Europe::London, window)));
    drain(&mut scheduler);
    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::NoAnswer });
    // Sunday 09:00 GMT = 09:00 UTC (it was 08:00 UTC the day before).
    assert_eq!(scheduler.poll_timeout(), Some(utc("2026-10-25T09:00:00Z")));
}

#[test]
fn retries_by_outcome_until_max_attempts() {
    let config = no_jitter();
    let retry = config.retry.clone();
    let mut scheduler = Scheduler::new(config);
    let mut now = utc("2026-06-01T12:00:00Z");
    scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "gym".into(), attempt: 1 }]);

    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Busy });
    assert_eq!(scheduler.poll_timeout(), Some(now + retry.after_busy));
    now += retry.after_busy;
    scheduler.handle_timeout(now);
    assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 2 }));

    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::NoAnswer });
    assert_eq!(scheduler.poll_timeout(), Some(now + retry.after_no_answer));
    now += retry.after_no_answer;
    scheduler.handle_timeout(now);
    assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 3 }));

    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Machine });
    let events = drain(&mut scheduler);
    assert!(
        matches!(&events[..], [Event::Finished { finish: Finish::GaveUp(reason), .. }] if reason.contains("3 attempts") && reason.contains("machine")),
        "{events:?}"
    );
    assert_eq!(scheduler.held_jobs(), 0);
}

#[test]
fn each_outcome_has_its_own_delay_and_completed_finishes() {
    let config = no_jitter();
    let retry = config.retry.clone();
    for (outcome, delay) in [
        (CallOutcome::Busy, retry.after_busy),
        (CallOutcome::NoAnswer, retry.after_no_answer),
        (CallOutcome::Failed, retry.after_failed),
        (CallOutcome::Machine, retry.after_machine),
    ] {
        let mut scheduler = Scheduler::new(config.clone());
        let now = utc("2026-06-01T12:00:00Z");
        scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
        scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome });
        assert_eq!(
            drain(&mut scheduler).last(),
            Some(&Event::Waiting { call_id: "gym".into(), until: now + delay, reason: WaitReason::Retry(outcome) })
        );
    }
    let mut scheduler = Scheduler::new(config);
    let now = utc("2026-06-01T12:00:00Z");
    scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::Completed });
    assert_eq!(
        drain(&mut scheduler).last(),
        Some(&Event::Finished { call_id: "gym".into(), finish: Finish::Completed })
    );
}

#[test]
fn call_back_after_six_is_retried_at_six_local() {
    let mut scheduler = Scheduler::new(SchedulerConfig::default());
    let chicago = chrono_tz::America::Chicago;
    let now = utc("2026-07-01T19:00:00Z"); // 14:00 CDT
    scheduler.handle(now, Input::Submit(job("gym", "+13125550100", chicago, CallingWindow::front_desk())));
    drain(&mut scheduler);
    let six = crate::window::next_local_time(chicago, now, NaiveTime::from_hms_opt(18, 0, 0).unwrap()).unwrap();
    scheduler.handle(now, Input::CallEnded { call_id: "gym".into(), outcome: CallOutcome::CallBackAt(six) });
    assert_eq!(scheduler.poll_timeout(), Some(utc("2026-07-01T23:00:00Z")));
}

#[test]
fn jitter_is_bounded_and_deterministic_for_a_seed() {
    let run = |seed: u64| {
        let mut scheduler = Scheduler::new(SchedulerConfig { seed, ..SchedulerConfig::default() });
        let now = utc("2026-06-01T12:00:00Z");
        let mut times = Vec::new();
        for i in 0..20 {
            let id = format!("gym{i}");
            scheduler.handle(now, Input::Submit(job(&id, &format!("+1212555{i:04}"), chrono_tz::UTC, always_open())));
            scheduler.handle(now, Input::CallEnded { call_id: id.as_str().into(), outcome: CallOutcome::Busy });
        }
        for event in drain(&mut scheduler) {
            if let Event::Waiting { until, .. } = event {
                times.push(until);
            }
        }
        times
    };
    let first = run(7);
    assert_eq!(first, run(7));
    assert_ne!(first, run(8));
    let now = utc("2026-06-01T12:00:00Z");
    let base = RetryPolicy::default().after_busy;
    assert!(first.iter().all(|t| *t >= now + base && *t <= now + base + base / 5));
    assert!(first.iter().any(|t| *t > now + base), "some jitter applied");
}

#[test]
fn caps_are_never_exceeded() {
    let config = SchedulerConfig {
        max_concurrent_calls: 4,
        max_concurrent_per_number: 1,
        seed: 3,
        ..SchedulerConfig::default()
    };
    let mut scheduler = Scheduler::new(config);
    let mut rng = StdRng::seed_from_u64(99);
    let mut now = utc("2026-06-01T12:00:00Z");
    let mut live: HashMap<CallId, String> = HashMap::new();
    let numbers = ["+12125550001", "+12125550002", "+12125550003"];
    let mut max_seen = 0;
    let mut dials = 0;
    for i in 0..60 {
        let number = numbers[i % numbers.len()];
        scheduler.handle(now, Input::Submit(job(&format!("c{i}"), number, chrono_tz::UTC, always_open())));
    }
    // Also many distinct numbers so the global cap binds.
    for i in 0..30 {
        scheduler.handle(
            now,
            Input::Submit(job(&format!("d{i}"), &format!("+1312555{i:04}"), chrono_tz::UTC, always_open())),
        );
    }
    for _ in 0..2000 {
        while let Some(event) = scheduler.poll_event() {
            if let Event::Dial { call_id, .. } = event {
                let number = scheduler.jobs[&call_id].spec.phone_number.clone();
                assert!(!live.values().any(|n| *n == number), "two live calls to {number}");
                live.insert(call_id, number);
                dials += 1;
            }
        }
        assert!(live.len() <= 4, "{} live calls", live.len());
        assert_eq!(scheduler.live_calls(), live.len());
        max_seen = max_seen.max(live.len());
        // End a random live call with a random outcome, or advance time.
        if !live.is_empty() && rng.gen_bool(0.7) {
            let mut ids: Vec<_> = live.keys().cloned().collect();
            ids.sort();
            let id = ids[rng.gen_range(0..ids.len())].clone();
            live.remove(&id);
            let outcome = [CallOutcome::Completed, CallOutcome::Busy, CallOutcome::NoAnswer][rng.gen_range(0..3)];
            scheduler.handle(now, Input::CallEnded { call_id: id, outcome });
        } else if let Some(next) = scheduler.poll_timeout() {
            now = next.max(now);
            scheduler.handle_timeout(now);
        }
    }
    assert_eq!(max_seen, 4, "the cap was reached");
    assert!(dials >= 90, "every request dialed at least once ({dials})");
}

#[test]
fn twilio_failures_give_up_back_off_or_halt() {
    let mut scheduler = Scheduler::new(no_jitter());
    let now = utc("2026-06-01T12:00:00Z");
    scheduler.handle(now, Input::Submit(job("bad", "+10000000000", chrono_tz::UTC, always_open())));
    scheduler.handle(
        now,
        Input::DialFailed { call_id: "bad".into(), failure: DialFailure::Permanent("error 21211".into()) },
    );
    assert_eq!(
        drain(&mut scheduler).last(),
        Some(&Event::Finished { call_id: "bad".into(), finish: Finish::GaveUp("error 21211".into()) })
    );

    scheduler.handle(now, Input::Submit(job("slow", "+12125550100", chrono_tz::UTC, always_open())));
    scheduler
        .handle(now, Input::DialFailed { call_id: "slow".into(), failure: DialFailure::Transient("20429".into()) });
    assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(5)));
    scheduler.handle_timeout(now + Duration::seconds(5));
    // The failed dial did not count as an attempt.
    assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "slow".into(), attempt: 1 }));
    scheduler.handle(now, Input::DialFailed { call_id: "slow".into(), failure: DialFailure::Transient("500".into()) });
    assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(10)), "back-off doubles");

    scheduler.handle(now, Input::Submit(job("auth", "+12125550101", chrono_tz::UTC, always_open())));
    drain(&mut scheduler);
    scheduler.handle(now, Input::DialFailed { call_id: "auth".into(), failure: DialFailure::Auth("20003".into()) });
    assert!(drain(&mut scheduler).contains(&Event::Halted { reason: "20003".into() }));
    scheduler.handle_timeout(now + Duration::hours(1));
    assert!(drain(&mut scheduler).iter().all(|e| !matches!(e, Event::Dial { .. })), "no dial after halt");
    assert!(!scheduler.wants_more_jobs());
}

#[test]
fn a_number_busy_elsewhere_waits_without_counting_or_giving_up() {
    let mut scheduler = Scheduler::new(no_jitter());
    let mut now = utc("2026-06-01T12:00:00Z");
    scheduler.handle(now, Input::Submit(job("gym", "+12125550100", chrono_tz::UTC, always_open())));
    for _ in 0..20 {
        assert_eq!(drain(&mut scheduler).last(), Some(&Event::Dial { call_id: "gym".into(), attempt: 1 }));
        scheduler.handle(now, Input::DialFailed { call_id: "gym".into(), failure: DialFailure::NumberBusy });
        assert_eq!(scheduler.poll_timeout(), Some(now + Duration::seconds(5)), "a fixed short wait");
        now += Duration::seconds(5);
        scheduler.handle_timeout(now);
    }
}

#[test]
fn cancel_hangs_up_a_live_call_and_drops_a_waiting_one() {
    let mut scheduler = Scheduler::new(no_jitter());
    let now = utc("2026-06-01T12:00:00Z");
    scheduler.handle(now, Input::Submit(job("live", "+12125550100", chrono_tz::UTC, always_open())));
    let later = DialJob {
        not_before: Some(now + Duration::hours(1)),
        ..job("later", "+12125550101", chrono_tz::UTC, always_open())
    };
    scheduler.handle(now, Input::Submit(later));
    drain(&mut scheduler);
    scheduler.handle(now, Input::Cancel { call_id: "live".into() });
    scheduler.handle(now, Input::Cancel { call_id: "later".into() });
    assert_eq!(
        drain(&mut scheduler),
        vec![
            Event::Hangup { call_id: "live".into() },
            Event::Finished { call_id: "later".into(), finish: Finish::Canceled }
        ]
    );
    scheduler.handle(now, Input::CallEnded { call_id: "live".into(), outcome: CallOutcome::Completed });
    assert_eq!(drain(&mut scheduler), vec![Event::Finished { call_id: "live".into(), finish: Finish::Canceled }]);
}

#[test]
fn after_a_restart_no_new_call_is_placed_beside_the_live_ones_left_behind() {
    let config = SchedulerConfig { max_concurrent_calls: 1, ..no_jitter() };
    let mut scheduler = Scheduler::new(config);
    let now = utc("2026-06-01T14:00:00Z");
    scheduler.await_live_calls([CallId::from("old")], now + chrono::Duration::seconds(35));
    // room is kept to take the old call's request back
    assert!(scheduler.wants_more_jobs());
    scheduler.handle(now, Input::Submit(job("new", "+12125550101", chrono_tz::UTC, always_open())));
    assert!(drain(&mut scheduler).is_empty(), "nothing placed while the old call is awaited");
    assert!(scheduler.wants_more_jobs());
    scheduler.handle(now, Input::Adopt(job("old", "+12125550100", chrono_tz::UTC, always_open())));
    assert_eq!((scheduler.awaited_calls(), scheduler.live_calls()), (0, 1));
    assert!(drain(&mut scheduler).is_empty(), "the cap of 1 is taken by the adopted call");
    scheduler.handle(now, Input::CallEnded { call_id: "old".into(), outcome: CallOutcome::Completed });
    assert!(drain(&mut scheduler).contains(&Event::Dial { call_id: "new".into(), attempt: 1 }));
}

#[test]
fn a_call_awaited_since_a_restart_whose_request_comes_back_settled_frees_its_slot_at_once() {
    // review of issue 16's restart fix: a request whose record was already final was acked
    // without telling the scheduler, so new dials waited out the whole deadline for nothing
    let config = SchedulerConfig { max_concurrent_calls: 1, ..no_jitter() };
    let mut scheduler = Scheduler::new(config);
    let now = utc("2026-06-01T14:00:00Z");
    scheduler.await_live_calls([CallId::from("ended-meanwhile")], now + chrono::Duration::seconds(35));
    scheduler.handle(now, Input::Submit(job("new", "+12125550101", chrono_tz::UTC, always_open())));
    assert!(drain(&mut scheduler).is_empty());
    scheduler.handle(now, Input::Release { call_id: "ended-meanwhile".into() });
    assert_eq!(scheduler.awaited_calls(), 0);
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "new".into(), attempt: 1 }]);
}

#[test]
fn live_calls_that_never_come_back_hold_new_dials_only_until_the_deadline() {
    let config = SchedulerConfig { max_concurrent_calls: 1, ..no_jitter() };
    let mut scheduler = Scheduler::new(config);
    let now = utc("2026-06-01T14:00:00Z");
    let until = now + chrono::Duration::seconds(35);
    scheduler.await_live_calls([CallId::from("held-elsewhere")], until);
    scheduler.handle(now, Input::Submit(job("new", "+12125550101", chrono_tz::UTC, always_open())));
    assert!(drain(&mut scheduler).is_empty());
    assert_eq!(scheduler.poll_timeout(), Some(until));
    scheduler.handle_timeout(until);
    assert_eq!(drain(&mut scheduler), vec![Event::Dial { call_id: "new".into(), attempt: 1 }]);
    assert_eq!(scheduler.awaited_calls(), 0);
}
