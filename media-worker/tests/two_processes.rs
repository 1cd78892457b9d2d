//! Two media-worker processes (the real binary) on one nats-server: a worker at `max_calls`
//! does not take a new call, the other worker does, and a worker with room again takes calls.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use protocol::brain::HeardEvent;
use protocol::media::{self, StreamEvent};
use protocol::subjects;
use protocol::StreamSid;

fn spawn_worker(nats_url: &str, worker_id: &str) -> tokio::process::Child {
    spawn_worker_with(nats_url, worker_id, &[])
}

fn spawn_worker_with(nats_url: &str, worker_id: &str, extra_env: &[(&str, String)]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_media-worker"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NATS_URL", nats_url)
        .env("WORKER_ID", worker_id)
        .env("MAX_CALLS", "1")
        .env("MEDIA_ARBITERS", "1")
        .env("SHUTDOWN_GRACE_S", "0.5")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("media-worker binary starts")
}

/// Asks for a worker until one answers (workers may still be starting).
async fn assign_with_retry(bus: &bus::Bus, call_id: &str, stream_sid: &str) -> String {
    for _ in 0..100 {
        if let Ok(reply) = assign(bus, call_id, stream_sid).await {
            return reply.worker_id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no worker took {call_id}");
}

async fn stop_stream(bus: &bus::Bus, stream_sid: &str) {
    let subject = subjects::media_in(&StreamSid::from(stream_sid)).unwrap();
    let stop = media::encode_stream_event(&StreamEvent::Stop { reason: "callee hung up".into() });
    bus.publish(subject, stop).await.unwrap();
}

#[actix_rt::test]
async fn a_worker_at_max_calls_refuses_and_a_second_worker_process_takes_the_call() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "test").await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;
    let mut first = spawn_worker(&nats.url(), "w1");
    let mut second = spawn_worker(&nats.url(), "w2");

    let a = assign_with_retry(&bus, "c_a", "MZa").await;
    let b = assign_with_retry(&bus, "c_b", "MZb").await;
    assert_eq!(BTreeSet::from([a.as_str(), b.as_str()]), BTreeSet::from(["w1", "w2"]), "one call each");
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;

    // both at max_calls: nobody answers
    let refused = assign(&bus, "c_c", "MZc").await.unwrap_err();
    assert!(matches!(refused.kind, bus::BusErrorKind::NoResponders | bus::BusErrorKind::TimedOut), "{refused:?}");

    // call a ends; its worker has room again and takes the next call
    stop_stream(&bus, "MZa").await;
    brain.wait_for(Duration::from_secs(10), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    let d = assign_with_retry(&bus, "c_d", "MZd").await;
    assert_eq!(d, a);

    // SIGTERM: each process drains (hangs up its live call) and exits cleanly
    for child in [&mut first, &mut second] {
        let pid = child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }
    for child in [&mut first, &mut second] {
        let status =
            tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exits after drain").unwrap();
        assert!(status.success(), "{status:?}");
    }
}

/// Starts a worker process with a health port and waits until `/readyz` answers 200.
async fn ready_worker(nats_url: &str, worker_id: &str, max_calls: &str) -> tokio::process::Child {
    ready_worker_with(nats_url, worker_id, &[("MAX_CALLS", max_calls.to_owned())]).await
}

/// [`ready_worker`] with more settings.
async fn ready_worker_with(nats_url: &str, worker_id: &str, extra_env: &[(&str, String)]) -> tokio::process::Child {
    let port = testkit::free_port().unwrap();
    let mut env = vec![("METRICS_ADDR", format!("127.0.0.1:{port}")), ("MAX_CALLS", "5".to_owned())];
    env.extend(extra_env.iter().cloned());
    let child = spawn_worker_with(nats_url, worker_id, &env);
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if response.status() == 200 {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("worker {worker_id} never became ready");
}

#[actix_rt::test]
async fn when_a_worker_process_dies_mid_call_the_gateway_moves_the_stream_and_the_call_goes_on() {
    use protocol::brain::SayCommand;
    use protocol::CallId;
    use simulator::twilio::{place_call, CallOptions, FramesAudio, SimEvent};

    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "test").await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;
    let mut gateway_config = gateway::Config::for_tests("https://gw.example.test", "token-123", &nats.url());
    gateway_config.media_ping_interval = Some(Duration::from_millis(300));
    let gateway = gateway::start(gateway_config, bus.clone()).await.unwrap();
    let mut first = ready_worker(&nats.url(), "w1", "5").await;

    let mut options = CallOptions::new("https://gw.example.test/v1/twilio/voice?call_id=c_failover", "token-123");
    options.connect_addr = Some(gateway.local_addr());
    options.time_scale = 1.0;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let call = tokio::spawn(async move {
        let mut audio = FramesAudio::from_mulaw(&silence(9000));
        place_call(&options, &mut audio, Some(events_tx)).await
    });
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    let mut second = ready_worker(&nats.url(), "w2", "5").await;

    let mut moved = bus.subscribe("calls.events.c_failover").await.unwrap();
    bus.flush().await.unwrap();
    first.start_kill().unwrap(); // SIGKILL: no drain, no goodbye
    let killed_at = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let message = tokio::time::timeout_at(deadline, moved.next()).await.expect("stream re-assigned").unwrap();
        let event: protocol::calls::CallEvent = protocol::version::decode_json(&message.payload).unwrap();
        if event.kind == protocol::calls::CallEventKind::MediaReassigned {
            assert!(event.detail.contains("w2"), "{}", event.detail);
            break;
        }
    }
    println!("stream moved to w2 {} ms after w1 was killed", killed_at.elapsed().as_millis());

    // the brain carries on: its next line reaches the caller through the new worker
    let command = SayCommand::Speak {
        utterance_id: "after".into(),
        text: "Sorry, where were we?".into(),
        end_of_turn: true,
        uninterruptible: false,
        context: true,
    };
    // The new worker subscribes to media.say once the moved stream's start reaches it; a line
    // sent before that is not heard, so the brain's side repeats it until it is played.
    let mut played = None;
    for _ in 0..5 {
        brain.say(&CallId::from("c_failover"), command.clone()).await;
        played = brain.try_wait_for(Duration::from_secs(2), |e| matches!(e, HeardEvent::Played { .. })).await;
        if played.is_some() {
            break;
        }
    }
    let played = played.expect("the brain's next line was played through the new worker");
    assert_eq!(played.event, HeardEvent::Played { utterance_id: "after".into() });
    let report = call.await.unwrap().expect("the call runs to its end");
    assert_eq!(report.closed_by_server, None, "the call was not dropped");
    let mark = report.marks.iter().find(|m| m.name == "after").expect("the mark came back");
    assert!(!mark.cleared && mark.played_bytes >= mark.queued_before_bytes);
    let mut audio_after_kill = 0;
    while let Ok(event) = events.try_recv() {
        if let SimEvent::AgentAudio { bytes, .. } = event {
            audio_after_kill += bytes;
        }
    }
    assert!(audio_after_kill >= 8000, "the new worker's speech reached the caller ({audio_after_kill} bytes)");
    let _ = second.start_kill();
    gateway.stop().await;
}

/// Issue 16 item 5 and must-show 2b: the callee answers while the stream moves. The worker is
/// SIGKILLed 300 ms into the callee's answer; the gateway finds it gone at its next liveness
/// ping (every 2 s, the default) and moves the stream. The new worker must hear the answer from
/// its start (the gateway replays the caller's latest audio; before, the frames sent while no
/// worker listened were lost and the answer was heard from the middle, if at all), tell the
/// brain that the stream moved, and the brain's reply to the answer must reach the caller within
/// 3 s of the move.
#[actix_rt::test]
async fn an_answer_given_while_the_stream_moves_is_heard_whole_by_the_new_worker_and_answered_within_3_s() {
    use protocol::brain::SayCommand;
    use protocol::CallId;
    use simulator::twilio::{place_call, CallOptions, FramesAudio, SimEvent};
    use std::time::Instant;

    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "test").await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;
    let mut gateway_config = gateway::Config::for_tests("https://gw.example.test", "token-123", &nats.url());
    gateway_config.media_ping_interval = Some(Duration::from_secs(2)); // the default
    let gateway = gateway::start(gateway_config, bus.clone()).await.unwrap();
    let stt = [("STT_PROVIDER", "pocketsphinx".to_owned())];
    let mut first = ready_worker_with(&nats.url(), "w1", &stt).await;

    let answer = spoken("Yes, we do drop ins.");
    let lead_ms = 4000;
    let onset_ms = lead_ms + speech_onset_ms(&answer);
    let mut callee = silence(lead_ms);
    callee.extend_from_slice(&answer);
    callee.extend_from_slice(&silence(9000));

    let mut options = CallOptions::new("https://gw.example.test/v1/twilio/voice?call_id=c_answer_moves", "token-123");
    options.connect_addr = Some(gateway.local_addr());
    options.time_scale = 1.0;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let call = tokio::spawn(async move {
        let mut audio = FramesAudio::from_mulaw(&callee);
        place_call(&options, &mut audio, Some(events_tx)).await
    });
    // media time 0 is when the simulated Twilio sent `start`
    let started_at = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("stream starts") {
            Some(SimEvent::Started { .. }) => break Instant::now(),
            Some(_) => continue,
            None => panic!("the simulated call ended before it started"),
        }
    };
    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    let mut second = ready_worker_with(&nats.url(), "w2", &stt).await;
    let mut moved = bus.subscribe("calls.events.c_answer_moves").await.unwrap();
    bus.flush().await.unwrap();

    let kill_at = started_at + Duration::from_millis(onset_ms + 300);
    assert!(Instant::now() < kill_at, "the second worker was ready before the answer began");
    tokio::time::sleep_until(kill_at.into()).await;
    first.start_kill().unwrap(); // SIGKILL 300 ms into the answer: no drain, no goodbye
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let moved_at = loop {
        let message = tokio::time::timeout_at(deadline, moved.next()).await.expect("stream re-assigned").unwrap();
        let event: protocol::calls::CallEvent = protocol::version::decode_json(&message.payload).unwrap();
        if event.kind == protocol::calls::CallEventKind::MediaReassigned {
            assert!(event.detail.contains("w2"), "{}", event.detail);
            break Instant::now();
        }
    };
    println!("stream moved {} ms after the kill", moved_at.duration_since(kill_at).as_millis());

    brain.wait_for(Duration::from_secs(3), |e| *e == HeardEvent::StreamMoved).await;
    let heard =
        brain.wait_for(Duration::from_secs(8), |e| matches!(e, HeardEvent::Transcript { is_final: true, .. })).await;
    let HeardEvent::Transcript { text, start_ms, end_ms, .. } = &heard.event else { unreachable!() };
    println!("new worker heard {text:?} from {start_ms} to {end_ms} ms (answer began at {onset_ms} ms)");
    assert!(!text.trim().is_empty());
    assert!(
        *start_ms < onset_ms + 250,
        "the answer was heard from its start ({start_ms} ms), not from where the new worker came in; it began at {onset_ms} ms"
    );
    // the brain answers at once; its reply reaches the caller through the new worker
    let reply = SayCommand::Speak {
        utterance_id: "reply".into(),
        text: "Great, thank you.".into(),
        end_of_turn: true,
        uninterruptible: false,
        context: true,
    };
    brain.say(&CallId::from("c_answer_moves"), reply).await;
    let replied_at = loop {
        let event = tokio::time::timeout(Duration::from_secs(6), events.recv())
            .await
            .expect("the reply reaches the caller")
            .expect("the call goes on");
        if let SimEvent::AgentAudio { .. } = event {
            break Instant::now();
        }
    };
    let after_move = replied_at.duration_since(moved_at);
    println!("the reply reached the caller {} ms after the move", after_move.as_millis());
    assert!(after_move <= Duration::from_secs(3), "answered {after_move:?} after the move");

    let report = call.await.unwrap().expect("the call runs to its end");
    assert_eq!(report.closed_by_server, None, "the call was not dropped");
    let _ = second.start_kill();
    gateway.stop().await;
}
