//! A campaign of 20 gyms with mixed scripted outcomes against the fake Twilio and a real
//! nats-server: every call ends in a final state, retried ones are retried by policy, and no
//! attempt is placed twice.

mod common;

use common::{fast_twilio, Rig};
use protocol::calls::CallStatus;
use simulator::fake_twilio::Outcome;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

struct Gym {
    number: String,
    script: Vec<Outcome>,
    /// Final status and the outcome of each attempt, as the retry policy (max 3 attempts) says.
    expected_status: CallStatus,
    expected_outcomes: Vec<&'static str>,
}

fn gyms() -> Vec<Gym> {
    let mut gyms = Vec::new();
    let mut add = |script: Vec<Outcome>, status: CallStatus, outcomes: Vec<&'static str>| {
        let number = format!("+1212555{:04}", gyms.len() + 100);
        gyms.push(Gym { number, script, expected_status: status, expected_outcomes: outcomes });
    };
    for _ in 0..8 {
        add(vec![Outcome::Answer], CallStatus::Completed, vec!["completed"]);
    }
    for _ in 0..3 {
        add(vec![Outcome::Busy, Outcome::Answer], CallStatus::Completed, vec!["busy", "completed"]);
    }
    for _ in 0..2 {
        add(
            vec![Outcome::NoAnswer, Outcome::NoAnswer, Outcome::Answer],
            CallStatus::Completed,
            vec!["no-answer", "no-answer", "completed"],
        );
    }
    for _ in 0..2 {
        add(vec![Outcome::Busy], CallStatus::Failed, vec!["busy", "busy", "busy"]);
    }
    add(vec![Outcome::Machine, Outcome::Answer], CallStatus::Completed, vec!["machine", "completed"]);
    add(vec![Outcome::Failed, Outcome::Answer], CallStatus::Completed, vec!["failed", "completed"]);
    add(vec![Outcome::Error(21211)], CallStatus::Failed, vec!["error:21211"]);
    add(vec![Outcome::Error(20429), Outcome::Answer], CallStatus::Completed, vec!["completed"]);
    add(vec![Outcome::ServerError, Outcome::Answer], CallStatus::Completed, vec!["completed"]);
    gyms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_of_20_gyms_with_mixed_outcomes() {
    let rig = Rig::start(fast_twilio()).await;
    let gyms = gyms();
    assert_eq!(gyms.len(), 20);
    for gym in &gyms {
        rig.twilio.script(&gym.number, gym.script.clone());
    }
    let dialer = rig.start_dialer(&[]).await;
    let mut call_ids = Vec::new();
    for (i, gym) in gyms.iter().enumerate() {
        call_ids.push(rig.submit(&gym.number, &format!("Gym {i}")).await);
    }
    let records = rig.wait_final(&call_ids, Duration::from_secs(60)).await;

    let created = rig.twilio.created_calls();
    for (gym, record) in gyms.iter().zip(&records) {
        assert_eq!(record.status, gym.expected_status, "{}: {record:#?}", gym.number);
        let outcomes: Vec<&str> = record.attempts.iter().map(|a| a.outcome.as_deref().unwrap_or("none")).collect();
        assert_eq!(outcomes, gym.expected_outcomes, "{}", gym.number);
        for (i, attempt) in record.attempts.iter().enumerate() {
            assert_eq!(attempt.number as usize, i + 1);
            assert!(attempt.ended_at.is_some());
        }
        // Retries waited at least the policy's delay (1 s) after the previous attempt ended.
        for pair in record.attempts.windows(2) {
            let ended = chrono::DateTime::parse_from_rfc3339(pair[0].ended_at.as_deref().unwrap()).unwrap();
            let started = chrono::DateTime::parse_from_rfc3339(&pair[1].started_at).unwrap();
            assert!(started - ended >= chrono::Duration::milliseconds(1000), "{}: retried too early", gym.number);
        }
        // Exactly one Twilio call per placed attempt, each with the sid recorded on the attempt.
        let placed: Vec<_> = created.iter().filter(|c| Rig::call_id_of(&c.url) == record.call_id.as_str()).collect();
        let placed_attempts: Vec<_> = record.attempts.iter().filter(|a| a.call_sid.is_some()).collect();
        assert_eq!(placed.len(), placed_attempts.len(), "{}: placed {} calls", gym.number, placed.len());
        let placed_sids: HashSet<&str> = placed.iter().map(|c| c.sid.as_str()).collect();
        for attempt in placed_attempts {
            assert!(placed_sids.contains(attempt.call_sid.as_ref().unwrap().as_str()));
        }
        if record.status == CallStatus::Failed {
            assert!(record.last_error.is_some(), "{}: a failed call says why", gym.number);
        }
    }
    // Each created call has its own sid, and no call id / attempt pair appears twice.
    let sids: HashSet<&str> = created.iter().map(|c| c.sid.as_str()).collect();
    assert_eq!(sids.len(), created.len());
    let total_attempts: usize =
        records.iter().map(|r| r.attempts.iter().filter(|a| a.call_sid.is_some()).count()).sum();
    assert_eq!(created.len(), total_attempts);
    // The transient errors were retried: 429 then 201, 500 then 201.
    let requests = rig.twilio.create_requests();
    let statuses_for =
        |number: &str| requests.iter().filter(|r| r.to == number).map(|r| r.http_status).collect::<Vec<_>>();
    assert_eq!(statuses_for(&gyms[18].number), vec![429, 201]);
    assert_eq!(statuses_for(&gyms[19].number), vec![500, 201]);
    assert_eq!(statuses_for(&gyms[17].number), vec![400], "21211 is not retried");
    // Status callbacks were all signed correctly.
    assert_eq!(rig.bad_signatures.load(std::sync::atomic::Ordering::Relaxed), 0);
    let mut per_number: HashMap<&str, usize> = HashMap::new();
    for call in &created {
        *per_number.entry(call.to.as_str()).or_default() += 1;
    }
    assert!(per_number.values().all(|n| *n <= 3), "never more than MAX_ATTEMPTS calls to a number");
    assert_eq!(dialer.stats().finished.load(std::sync::atomic::Ordering::Relaxed), 20);
    // MAX_CONCURRENT_CALLS = 5: never more live at Twilio at once (and calls did overlap).
    let max_live = rig.twilio.max_concurrent_calls();
    assert!((2..=5).contains(&max_live), "{max_live} calls were live at once");
    dialer.stop().await.unwrap();
    rig.stop().await;
}
