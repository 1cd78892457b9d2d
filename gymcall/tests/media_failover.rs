//! Issue 16 must-show 2, second half: the stack on a 3-server NATS cluster (R3 streams and
//! buckets), the four services as separate processes plus a second media worker, the simulated
//! gym answering. The media worker holding the call is SIGKILLed 300 ms into the callee's first
//! answer; the gateway finds it gone at its next liveness ping (2 s, the default) and moves the
//! stream to the second worker.
//!
//! What must hold: the new worker hears that answer from its start (the gateway replays the
//! caller's latest audio: before, the frames sent while no worker listened were lost); the brain
//! hears that the stream moved and answers the new worker's transcripts (before, they counted
//! from 0 again and were all dropped as already handled: ~40 s of dead air); the reply reaches the
//! caller within 3 s of the end of the answer given during the move (`reply_ms`, media time, as
//! the new worker measured it); the call completes with every required field and its result is
//! stored once; the killed worker's recording is kept and the new worker's goes beside it.

mod common;

use common::{
    ensure_binaries, free_port, place_call, simulated_gym, spawn_as, start_services, stored_messages, wait_completed,
    wait_for_jetstream, wait_ready,
};
use protocol::brain::{Heard, HeardEvent};
use protocol::calls::{CallEvent, CallEventKind};
use protocol::version::decode_json;
use protocol::{subjects, CallId};
use std::time::{Duration, Instant};

const TOKEN: &str = "failover-test-t0ken-12";

/// The next message on `subscription` that `pick` maps to something, within `within`.
async fn next_matching<T>(
    subscription: &mut bus::Subscription,
    within: Duration,
    what: &str,
    mut pick: impl FnMut(&[u8]) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, subscription.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {within:?}"))
            .expect("subscription open");
        if let Some(found) = pick(&message.payload) {
            return found;
        }
    }
}

fn heard(payload: &[u8]) -> Option<Heard> {
    decode_json::<Heard>(payload).ok()
}

async fn run() {
    ensure_binaries(&["gateway", "media-worker", "brain-worker", "dialer"]);
    let cluster = testkit::NatsCluster::start(3).await.expect("3 nats-servers start");
    wait_for_jetstream(&cluster.url()).await;
    let logs = tempfile::tempdir().expect("temp dir");
    let number = "+15005550179";
    let (fake, persona, playbook) = simulated_gym(number).await;
    let extra = [
        ("NATS_REPLICAS", "3".to_owned()),
        // the simulated gym speaks flite; the playbook-tuned recogniser hears it best
        ("STT_PROVIDER", "pocketsphinx".to_owned()),
    ];
    let (base, mut services) = start_services(&cluster.url(), &fake, TOKEN, &extra, logs.path()).await;
    let observer = bus::Bus::connect(&cluster.url(), "observer").await.expect("observer connects");

    let call_id = place_call(&base, TOKEN, number, &persona, logs.path()).await;
    let call = CallId::from(call_id.as_str());
    // what the media workers tell the brain, and the call's events, as a bystander
    let mut to_brain = observer.subscribe(subjects::brain_heard(&call).unwrap()).await.unwrap();
    let mut events = observer.subscribe(subjects::call_events(&call).unwrap()).await.unwrap();
    observer.flush().await.unwrap();

    next_matching(&mut to_brain, Duration::from_secs(60), "call_started", |p| {
        heard(p).filter(|h| h.event == HeardEvent::CallStarted)
    })
    .await;
    // the second worker comes up once the first holds the call
    let health = free_port();
    let mut second_env: Vec<(&str, String)> = extra.to_vec();
    second_env.extend([
        ("NATS_URL", cluster.url()),
        ("WORKER_ID", "media-worker-2".to_owned()),
        ("RECORDINGS_DIR", logs.path().display().to_string()),
        ("METRICS_ADDR", format!("127.0.0.1:{health}")),
    ]);
    services.push(spawn_as("media-worker", "media-worker-2", &second_env, logs.path()));
    wait_ready(&format!("http://127.0.0.1:{health}/readyz"), &mut services).await;

    // the agent's first line played, then the callee starts answering it
    next_matching(&mut to_brain, Duration::from_secs(60), "played", |p| {
        heard(p).filter(|h| matches!(h.event, HeardEvent::Played { .. }))
    })
    .await;
    let onset = next_matching(&mut to_brain, Duration::from_secs(30), "speech_started", |p| {
        heard(p).filter(|h| h.event == HeardEvent::SpeechStarted)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first_worker = services.iter_mut().find(|s| s.name == "media-worker").expect("first media worker");
    first_worker.child.kill().expect("SIGKILL the media worker");
    let killed_at = Instant::now();
    println!("media worker SIGKILLed 300 ms into the answer that began at {} ms", onset.at_ms);

    let moved_at = next_matching(&mut events, Duration::from_secs(10), "media_reassigned", |p| {
        decode_json::<CallEvent>(p).ok().filter(|e| e.kind == CallEventKind::MediaReassigned).map(|_| Instant::now())
    })
    .await;
    println!("stream moved {} ms after the kill", moved_at.duration_since(killed_at).as_millis());
    next_matching(&mut to_brain, Duration::from_secs(5), "stream_moved", |p| {
        heard(p).filter(|h| h.event == HeardEvent::StreamMoved)
    })
    .await;
    let (text, start_ms, end_ms) =
        next_matching(&mut to_brain, Duration::from_secs(15), "a transcript", |p| match heard(p)?.event {
            HeardEvent::Transcript { is_final: true, text, start_ms, end_ms, .. } => Some((text, start_ms, end_ms)),
            _ => None,
        })
        .await;
    println!("the new worker heard {text:?} from {start_ms} to {end_ms} ms");
    assert!(
        start_ms < onset.at_ms + 250,
        "the answer was heard from its start ({start_ms} ms), not from where the new worker came in (it began at {} ms)",
        onset.at_ms
    );
    let reply_ms = next_matching(&mut to_brain, Duration::from_secs(15), "replied", |p| match heard(p)?.event {
        HeardEvent::Replied { reply_ms, .. } => Some(reply_ms),
        _ => None,
    })
    .await;
    println!(
        "the agent's reply reached the caller {reply_ms} ms after the answer ended ({} ms after the move)",
        moved_at.elapsed().as_millis()
    );
    assert!(reply_ms <= 3000, "the answer given during the move was answered {reply_ms} ms after it ended");

    let record = wait_completed(&base, TOKEN, &call_id, Duration::from_secs(300), logs.path()).await;
    let result = &record["result"];
    for field in playbook.fields.iter().filter(|f| f.required) {
        assert!(result["fields"].get(&field.name).is_some(), "result lacks field {}: {result:#}", field.name);
    }
    let notes = result["notes"].to_string();
    assert!(notes.contains("moved to another worker"), "the result says the stream moved: {notes}");
    let subject = subjects::results(&call).unwrap();
    assert_eq!(
        stored_messages(&cluster.member_url(0), subjects::RESULTS_STREAM, &subject).await,
        1,
        "result stored once"
    );
    // the killed worker's part of the recording is still there, the new worker's is beside it
    assert!(logs.path().join(format!("{call_id}.wav")).exists(), "first part kept");
    assert!(logs.path().join(format!("{call_id}-part2.wav")).exists(), "second part written beside it");
    drop(services);
    fake.stop().await;
}

#[test]
fn a_media_worker_killed_while_the_callee_answers_and_the_answer_is_heard_and_answered() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}
