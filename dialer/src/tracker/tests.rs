//! Unit tests of the [`CallTracker`](super::CallTracker): one call's callbacks, cancels and overdue
//! statuses, told fake instants.

use super::*;

const STUCK_AFTER: Duration = Duration::from_secs(120);
const REFETCH_AFTER: Duration = Duration::from_secs(5);

fn tracker(now: Instant) -> CallTracker {
    CallTracker::new(TrackerConfig { stuck_after: STUCK_AFTER, refetch_after: REFETCH_AFTER }, now, 0)
}

fn drain(tracker: &mut CallTracker) -> Vec<Event> {
    std::iter::from_fn(|| tracker.poll_event()).collect()
}

fn status(sid: &str, call_status: &str, sequence_number: Option<u32>) -> Input {
    Input::Status(StatusReport {
        call_sid: sid.into(),
        call_status: Some(call_status.into()),
        answered_by: None,
        sequence_number,
    })
}

fn amd(sid: &str, answered_by: &str) -> Input {
    Input::Status(StatusReport {
        call_sid: sid.into(),
        call_status: None,
        answered_by: Some(answered_by.into()),
        sequence_number: None,
    })
}

fn resource(sid: &str, status: &str) -> CallResource {
    CallResource { sid: sid.into(), status: Some(status.into()), answered_by: None, duration: None }
}

/// A tracker whose attempt `attempt` Twilio accepted as `sid` at `now`.
fn placed(now: Instant, attempt: u32, sid: &str) -> CallTracker {
    let mut tracker = tracker(now);
    tracker.handle(now, Input::Dialing { attempt });
    tracker.handle(now, Input::Created { call_sid: sid.into() });
    assert_eq!(drain(&mut tracker), vec![]);
    tracker
}

fn ended(attempt: u32, outcome: CallOutcome) -> Event {
    Event::Ended { attempt, outcome }
}

#[test]
fn an_answered_call_rings_goes_in_progress_and_completes() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    assert!(!tracker.is_live());
    tracker.handle(t0, Input::Dialing { attempt: 1 });
    assert!(tracker.is_live());
    tracker.handle(t0, Input::Created { call_sid: "CA1".into() });
    tracker.handle(t0 + Duration::from_secs(1), status("CA1", "initiated", Some(0)));
    tracker.handle(t0 + Duration::from_secs(2), status("CA1", "ringing", Some(1)));
    tracker.handle(t0 + Duration::from_secs(9), status("CA1", "in-progress", Some(2)));
    assert_eq!(
        drain(&mut tracker),
        vec![
            Event::Progress { status: CallStatus::Ringing, event_kind: CallEventKind::Ringing },
            Event::Progress { status: CallStatus::InProgress, event_kind: CallEventKind::InProgress },
        ]
    );
    tracker.handle(t0 + Duration::from_secs(60), status("CA1", "completed", Some(3)));
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Completed)]);
    assert!(!tracker.is_live());
    assert_eq!(tracker.poll_timeout(), None);
    // A repeated final callback settles nothing twice.
    tracker.handle(t0 + Duration::from_secs(61), status("CA1", "completed", Some(3)));
    assert_eq!(drain(&mut tracker), vec![]);
}

#[test]
fn busy_no_answer_failed_and_canceled_end_the_attempt_for_a_retry() {
    let t0 = Instant::now();
    for (twilio_status, outcome) in [
        ("busy", CallOutcome::Busy),
        ("no-answer", CallOutcome::NoAnswer),
        ("failed", CallOutcome::Failed),
        // Canceled by someone else than us (Twilio, the carrier): a failure to retry.
        ("canceled", CallOutcome::Failed),
    ] {
        let mut tracker = placed(t0, 2, "CA2");
        tracker.handle(t0 + Duration::from_secs(30), status("CA2", twilio_status, None));
        assert_eq!(drain(&mut tracker), vec![ended(2, outcome)], "{twilio_status}");
        assert!(!tracker.is_live());
    }
}

#[test]
fn an_answering_machine_or_fax_is_not_a_person() {
    let t0 = Instant::now();
    for (answered_by, outcome) in [
        ("machine_start", CallOutcome::Machine),
        ("machine_end_beep", CallOutcome::Machine),
        ("fax", CallOutcome::Machine),
        ("human", CallOutcome::Completed),
        ("unknown", CallOutcome::Completed),
    ] {
        let mut tracker = placed(t0, 1, "CA1");
        // The async AMD callback carries no call status: nothing to do yet.
        tracker.handle(t0 + Duration::from_secs(5), amd("CA1", answered_by));
        assert_eq!(drain(&mut tracker), vec![], "{answered_by}");
        tracker.handle(t0 + Duration::from_secs(40), status("CA1", "completed", None));
        assert_eq!(drain(&mut tracker), vec![ended(1, outcome)], "{answered_by}");
    }
    // `AnsweredBy` on the final callback itself counts too.
    let mut tracker = placed(t0, 1, "CA1");
    tracker.handle(
        t0,
        Input::Status(StatusReport {
            call_sid: "CA1".into(),
            call_status: Some("completed".into()),
            answered_by: Some("machine_end_silence".into()),
            sequence_number: None,
        }),
    );
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Machine)]);
}

#[test]
fn callbacks_that_overtake_the_create_answer_wait_for_it() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    tracker.handle(t0, Input::Dialing { attempt: 1 });
    tracker.handle(t0, status("CA1", "ringing", Some(1)));
    tracker.handle(t0, status("CA1", "no-answer", Some(2)));
    assert_eq!(drain(&mut tracker), vec![]);
    assert!(tracker.is_live());
    tracker.handle(t0 + Duration::from_secs(1), Input::Created { call_sid: "CA1".into() });
    assert_eq!(
        drain(&mut tracker),
        vec![
            Event::Progress { status: CallStatus::Ringing, event_kind: CallEventKind::Ringing },
            ended(1, CallOutcome::NoAnswer)
        ]
    );
}

#[test]
fn progress_out_of_order_and_callbacks_of_other_calls_are_dropped() {
    let t0 = Instant::now();
    let mut tracker = placed(t0, 1, "CA1");
    tracker.handle(t0, status("CA1", "in-progress", Some(3)));
    tracker.handle(t0, status("CA1", "ringing", Some(2)));
    tracker.handle(t0, status("CAother", "completed", None));
    assert_eq!(
        drain(&mut tracker),
        vec![Event::Progress { status: CallStatus::InProgress, event_kind: CallEventKind::InProgress }]
    );
    assert!(tracker.is_live());
    // Unordered progress (no sequence number) still counts.
    tracker.handle(t0, status("CA1", "ringing", None));
    assert_eq!(
        drain(&mut tracker),
        vec![Event::Progress { status: CallStatus::Ringing, event_kind: CallEventKind::Ringing }]
    );
}

#[test]
fn the_next_attempt_ignores_late_callbacks_of_the_last_one() {
    let t0 = Instant::now();
    let mut tracker = placed(t0, 1, "CA1");
    tracker.handle(t0, status("CA1", "busy", Some(2)));
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Busy)]);
    // Not live between attempts: nothing is followed.
    tracker.handle(t0, status("CA1", "ringing", None));
    assert_eq!(drain(&mut tracker), vec![]);
    let t1 = t0 + Duration::from_secs(600);
    tracker.handle(t1, Input::Dialing { attempt: 2 });
    tracker.handle(t1, status("CA1", "completed", Some(3)));
    tracker.handle(t1, Input::Created { call_sid: "CA2".into() });
    assert_eq!(drain(&mut tracker), vec![]);
    // Sequence numbers start over with the new call.
    tracker.handle(t1, status("CA2", "ringing", Some(1)));
    tracker.handle(t1, status("CA2", "completed", Some(2)));
    assert_eq!(
        drain(&mut tracker),
        vec![
            Event::Progress { status: CallStatus::Ringing, event_kind: CallEventKind::Ringing },
            ended(2, CallOutcome::Completed)
        ]
    );
}

#[test]
fn a_final_status_that_never_comes_is_fetched_from_twilio() {
    let t0 = Instant::now();
    let mut tracker = placed(t0, 1, "CA1");
    assert_eq!(tracker.poll_timeout(), Some(t0 + STUCK_AFTER));
    tracker.handle_timeout(t0 + STUCK_AFTER - Duration::from_millis(1));
    assert_eq!(drain(&mut tracker), vec![]);
    let t1 = t0 + STUCK_AFTER;
    tracker.handle_timeout(t1);
    assert_eq!(drain(&mut tracker), vec![Event::Fetch { call_sid: "CA1".into() }]);
    // One fetch at a time.
    assert_eq!(tracker.poll_timeout(), None);
    tracker.handle_timeout(t1 + Duration::from_secs(1));
    assert_eq!(drain(&mut tracker), vec![]);
    // Still going: ask again a little later.
    let t2 = t1 + Duration::from_secs(1);
    tracker.handle(t2, Input::Fetched(resource("CA1", "in-progress")));
    assert_eq!(drain(&mut tracker), vec![]);
    assert_eq!(tracker.poll_timeout(), Some(t2 + REFETCH_AFTER));
    tracker.handle_timeout(t2 + REFETCH_AFTER);
    assert_eq!(drain(&mut tracker), vec![Event::Fetch { call_sid: "CA1".into() }]);
    // No answer from Twilio: same.
    let t3 = t2 + REFETCH_AFTER + Duration::from_secs(15);
    tracker.handle(t3, Input::FetchFailed);
    assert_eq!(tracker.poll_timeout(), Some(t3 + REFETCH_AFTER));
    tracker.handle_timeout(t3 + REFETCH_AFTER);
    assert_eq!(drain(&mut tracker), vec![Event::Fetch { call_sid: "CA1".into() }]);
    // Over: the fetched status settles the attempt.
    tracker.handle(t3 + REFETCH_AFTER, Input::Fetched(resource("CA1", "completed")));
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Completed)]);
    assert_eq!(tracker.poll_timeout(), None);
}

#[test]
fn nothing_is_fetched_before_twilio_accepted_the_call_and_a_foreign_resource_is_ignored() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    tracker.handle(t0, Input::Dialing { attempt: 1 });
    assert_eq!(tracker.poll_timeout(), None);
    tracker.handle(t0, Input::Created { call_sid: "CA1".into() });
    tracker.handle_timeout(t0 + STUCK_AFTER);
    assert_eq!(drain(&mut tracker), vec![Event::Fetch { call_sid: "CA1".into() }]);
    tracker.handle(t0 + STUCK_AFTER, Input::Fetched(resource("CAother", "completed")));
    assert_eq!(drain(&mut tracker), vec![]);
    assert!(tracker.is_live());
}

#[test]
fn an_adopted_call_is_fetched_at_once_and_settled_under_its_own_attempt() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    tracker.handle(t0, Input::Adopted { attempt: 2, call_sid: "CA9".into() });
    assert!(tracker.is_live());
    assert_eq!(drain(&mut tracker), vec![Event::Fetch { call_sid: "CA9".into() }]);
    assert_eq!(tracker.poll_timeout(), None);
    tracker.handle(t0 + Duration::from_secs(1), Input::Fetched(resource("CA9", "in-progress")));
    assert_eq!(drain(&mut tracker), vec![]);
    assert_eq!(tracker.poll_timeout(), Some(t0 + STUCK_AFTER));
    tracker.handle(t0 + Duration::from_secs(30), status("CA9", "completed", Some(4)));
    assert_eq!(drain(&mut tracker), vec![ended(2, CallOutcome::Completed)]);
}

#[test]
fn a_cancel_hangs_up_the_live_call_and_it_ends_canceled() {
    let t0 = Instant::now();
    let mut tracker = placed(t0, 1, "CA1");
    tracker.handle(t0, status("CA1", "in-progress", Some(2)));
    drain(&mut tracker);
    tracker.handle(t0 + Duration::from_secs(10), Input::HangUp);
    assert_eq!(drain(&mut tracker), vec![Event::HangUp { call_sid: "CA1".into() }]);
    assert!(tracker.is_live());
    // Twilio reports the hung-up call `completed`: it was still our cancel.
    tracker.handle(t0 + Duration::from_secs(11), status("CA1", "completed", Some(3)));
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Canceled)]);
}

#[test]
fn a_cancel_before_twilio_answered_the_create_hangs_up_once_it_does() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    tracker.handle(t0, Input::Dialing { attempt: 1 });
    tracker.handle(t0, Input::HangUp);
    assert_eq!(drain(&mut tracker), vec![]);
    tracker.handle(t0, Input::Created { call_sid: "CA1".into() });
    assert_eq!(drain(&mut tracker), vec![Event::HangUp { call_sid: "CA1".into() }]);
    tracker.handle(t0, status("CA1", "canceled", None));
    assert_eq!(drain(&mut tracker), vec![ended(1, CallOutcome::Canceled)]);
}

#[test]
fn a_refused_create_leaves_nothing_live() {
    let t0 = Instant::now();
    let mut tracker = tracker(t0);
    tracker.handle(t0, Input::Dialing { attempt: 1 });
    tracker.handle(t0, Input::CreateFailed);
    assert!(!tracker.is_live());
    tracker.handle(t0, status("CA1", "completed", None));
    tracker.handle_timeout(t0 + STUCK_AFTER * 10);
    assert_eq!(drain(&mut tracker), vec![]);
    assert_eq!(tracker.poll_timeout(), None);
}

#[test]
fn a_status_event_becomes_a_report() {
    let event = TwilioStatusEvent {
        v: protocol::BUS_VERSION,
        call_id: "c_1".into(),
        call_sid: "CA1".to_owned().into(),
        call_status: Some("ringing".into()),
        answered_by: Some("human".into()),
        sequence_number: Some(1),
        call_duration_s: None,
        sip_response_code: None,
    };
    assert_eq!(
        StatusReport::from(&event),
        StatusReport {
            call_sid: "CA1".into(),
            call_status: Some("ringing".into()),
            answered_by: Some("human".into()),
            sequence_number: Some(1),
        }
    );
}
