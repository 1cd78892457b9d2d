//! A simulated call through the gateway to an echo media worker: frames arrive in order with
//! none lost, marks come back after playback, `clear` empties the queue, and a stream no worker
//! takes is closed with the apology after `</Connect>`.

mod common;

use common::*;
use protocol::calls::CallEvent;
use protocol::subjects;
use protocol::version::decode_json;
use simulator::twilio::{place_call, FramesAudio, SimEvent};
use std::time::Duration;

#[actix_rt::test]
async fn echo_call_keeps_every_frame_in_order_and_marks_follow_playback() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let frames = test_frames(100);
    let mut audio = FramesAudio::new(frames.clone()).with_key(100, '4').with_key(500, '#');
    let mut options = harness.call_options("c_echo1");
    let wav_path = std::env::temp_dir().join(format!("gateway-echo-{}.wav", std::process::id()));
    options.record_wav = Some(wav_path.clone());
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let report = place_call(&options, &mut audio, Some(events_tx)).await.expect("call runs");

    let sent: Vec<u8> = frames.concat();
    assert_eq!(report.frames_sent, 100);
    assert_eq!(report.closed_by_server, None, "the gateway must not close a healthy call");
    assert_eq!(report.received_audio.len(), sent.len(), "echoed audio bytes");
    assert!(report.received_audio == sent, "echoed audio differs from what was sent (order or loss)");

    let names: Vec<&str> = report.marks.iter().map(|m| m.name.as_str()).collect();
    let expected: Vec<String> = (1..=100).map(|i| format!("m{i}")).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect::<Vec<_>>(), "marks echoed in order");
    for mark in &report.marks {
        assert!(!mark.cleared, "{} was cleared", mark.name);
        assert!(
            mark.played_bytes >= mark.queued_before_bytes,
            "{} echoed before its audio played: played {} < queued {}",
            mark.name,
            mark.played_bytes,
            mark.queued_before_bytes
        );
    }
    // What the callee heard contains the echoed audio, in order.
    let heard_audio: Vec<u8> = report.heard.iter().copied().filter(|b| *b != 0xFF).collect();
    assert!(heard_audio == sent, "played audio differs from the echoed audio");

    wait_for(&worker, "stop at the worker", |log| log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some()))
        .await;
    let seen = worker.lock().unwrap().get(&report.stream_sid).cloned().expect("worker saw the stream");
    assert_eq!(seen.call_id, "c_echo1");
    assert!(seen.started, "worker got StreamEvent::Start");
    assert_eq!(seen.sequences, (1..=100).collect::<Vec<u32>>(), "media.in sequence at the worker");
    assert!(seen.audio == sent, "media.in audio at the worker differs");
    assert_eq!(seen.marks_heard.len(), 100, "mark echoes relayed back to the worker");
    assert_eq!(seen.stop_reason.as_deref(), Some("twilio_stop"));
    assert_eq!(seen.digits, "4#", "dtmf forwarded as StreamEvent::Dtmf");

    // The simulator reported what happened as it happened, and recorded what the callee heard.
    let mut events = Vec::new();
    while let Ok(event) = events_rx.try_recv() {
        events.push(event);
    }
    assert!(matches!(events.first(), Some(SimEvent::Started { .. })), "first event is Started");
    let agent_bytes: usize =
        events.iter().map(|e| if let SimEvent::AgentAudio { bytes, .. } = e { *bytes } else { 0 }).sum();
    assert_eq!(agent_bytes, sent.len());
    assert_eq!(events.iter().filter(|e| matches!(e, SimEvent::Mark(_))).count(), 100);
    let wav = hound::WavReader::open(&wav_path).expect("recording written");
    assert_eq!((wav.spec().sample_rate, wav.spec().channels), (8000, 1));
    assert_eq!(wav.len() as usize, report.heard.len(), "one sample per heard byte");
    let _ = std::fs::remove_file(&wav_path);

    assert_eq!(harness.metric("gateway_frames_in_total").await, 100.0);
    assert_eq!(harness.metric("gateway_frames_out_total").await, 100.0);
    assert_eq!(harness.metric("gateway_stream_exits_total{exit=\"stopped\"}").await, 1.0);
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn clear_empties_the_playback_queue_and_echoes_pending_marks() {
    let harness = Harness::start().await;
    let _worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let mut options = harness.call_options("c_clear1");
    options.voice_url = format!("{}&playbook={CLEAR_PLAYBOOK}", options.voice_url);
    // Fast, but paced: 2 s of queued audio cannot play out before the clear arrives.
    options.time_scale = 0.25;
    let mut audio = FramesAudio::new(test_frames(30));
    let report = place_call(&options, &mut audio, None).await.expect("call runs");

    assert_eq!(report.clears.len(), 1, "one clear relayed");
    assert!(report.clears[0].dropped_bytes > 0, "clear found queued audio to drop");
    let big = report.marks.iter().find(|m| m.name == "big").expect("mark 'big' echoed");
    assert!(big.cleared, "the pending mark was echoed by the clear");
    let big_heard = report.heard.iter().filter(|b| **b == BIG_AUDIO_BYTE).count();
    assert!(big_heard < BIG_AUDIO_LEN, "cleared audio was still played ({big_heard} bytes)");
    let clear_offset = (report.clears[0].media_time_ms * 8) as usize;
    assert!(!report.heard[clear_offset..].contains(&BIG_AUDIO_BYTE), "audio queued before the clear played after it");
    // Audio and marks after the clear still play.
    let played_after = report.marks.iter().filter(|m| m.name.starts_with('m') && !m.cleared).count();
    assert!(played_after >= 20, "only {played_after} marks played after the clear");
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn stream_without_a_worker_is_closed_with_the_apology_and_recorded() {
    let harness = Harness::start_with(|config| {
        config.media_assign_timeout = Duration::from_millis(200);
        config.media_assign_attempts = 2;
    })
    .await;
    let mut events = harness.bus.subscribe(subjects::call_events(&"c_noworker".into()).unwrap()).await.unwrap();
    harness.bus.flush().await.unwrap();
    let mut audio = FramesAudio::new(test_frames(50));
    let mut options = harness.call_options("c_noworker");
    options.time_scale = 0.1;
    let report = place_call(&options, &mut audio, None).await.expect("call runs");
    assert_eq!(report.closed_by_server, Some(1000));
    assert_eq!(report.said_after_stream, vec![gateway::twilio_http::APOLOGY.to_owned()]);
    assert_eq!(harness.metric("gateway_media_assign_failures_total").await, 1.0);
    let event =
        tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("call event").expect("message");
    let event: CallEvent = decode_json(&event.payload).expect("call event decodes");
    assert_eq!(event.kind, protocol::calls::CallEventKind::Failed);
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn worker_hangup_closes_the_stream_and_ends_the_call_without_apology() {
    let harness = Harness::start().await;
    let worker = spawn_echo_worker(harness.bus.clone(), "echo-1").await;
    let mut options = harness.call_options("c_hangup1");
    options.voice_url = format!("{}&playbook={HANGUP_PLAYBOOK}", options.voice_url);
    options.time_scale = 0.1;
    let mut audio = FramesAudio::new(test_frames(100));
    let report = place_call(&options, &mut audio, None).await.expect("call runs");
    assert_eq!(report.closed_by_server, Some(1000), "hang-up closes the socket normally");
    assert!(report.said_after_stream.is_empty(), "no apology after a hang-up: {:?}", report.said_after_stream);
    assert!(report.frames_sent < 100, "the call ended early");
    assert_eq!(harness.metric("gateway_stream_exits_total{exit=\"hung_up\"}").await, 1.0);
    wait_for(&worker, "stop at the worker", |log| log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some()))
        .await;
    let reason = worker.lock().unwrap().get(&report.stream_sid).and_then(|s| s.stop_reason.clone());
    assert_eq!(reason.as_deref(), Some("hangup"));
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn a_stream_moves_to_another_worker_when_its_worker_dies() {
    let harness = Harness::start_with(|config| {
        config.media_ping_interval = Some(Duration::from_millis(100));
        config.media_assign_timeout = Duration::from_millis(300);
    })
    .await;
    let (first_log, first_kill) = spawn_killable_echo_worker(harness.bus.clone(), "echo-first").await;
    let mut options = harness.call_options("c_failover");
    options.time_scale = 0.2; // 300 frames = 6 s of media in about 1.2 s
    let frames = test_frames(300);
    let call = async {
        let mut audio = FramesAudio::new(frames.clone());
        place_call(&options, &mut audio, None).await
    };
    let chaos = async {
        wait_for(&first_log, "first worker has audio", |log| log.values().any(|s| s.sequences.len() >= 20)).await;
        first_kill.kill();
        spawn_echo_worker(harness.bus.clone(), "echo-second").await
    };
    let (report, second_log) = tokio::join!(call, chaos);
    let report = report.expect("call runs");

    assert_eq!(report.closed_by_server, None, "the call survives the worker's death");
    assert_eq!(harness.metric("gateway_media_reassignments_total").await, 1.0);
    wait_for(&second_log, "second worker saw the stop", |log| {
        log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some())
    })
    .await;
    let second = second_log.lock().unwrap().get(&report.stream_sid).cloned().expect("second worker took the stream");
    assert_eq!(second.call_id, "c_failover");
    assert!(second.started, "the new worker got StreamEvent::Start");
    assert_eq!(second.sequences.last(), Some(&300), "audio reached the new worker to the end");
    assert!(second.sequences.windows(2).all(|w| w[0] + 1 == w[1]), "in order without gaps after the move");
    // The echo resumed: the callee heard the last frames back.
    assert!(report.received_audio.ends_with(&frames.concat()[frames.concat().len() - 160 * 10..]));
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn one_missed_ping_does_not_move_the_stream() {
    let harness = Harness::start_with(|config| {
        config.media_ping_interval = Some(Duration::from_millis(100));
        config.media_assign_timeout = Duration::from_millis(300);
    })
    .await;
    let log = spawn_echo_worker(harness.bus.clone(), "echo-busy").await;
    let mut options = harness.call_options("c_busy");
    options.voice_url = format!("{PUBLIC_BASE_URL}/v1/twilio/voice?call_id=c_busy&playbook={SLOW_PING_PLAYBOOK}");
    options.time_scale = 0.5; // 100 frames = 2 s of media in about 1 s: several pings, the first missed
    let frames = test_frames(100);
    let mut audio = FramesAudio::new(frames.clone());
    let report = place_call(&options, &mut audio, None).await.expect("call runs");
    assert_eq!(report.closed_by_server, None);
    assert_eq!(harness.metric("gateway_media_reassignments_total").await, 0.0, "a single missed ping is forgiven");
    assert!(report.received_audio == frames.concat(), "the same worker echoed the whole call");
    wait_for(&log, "stop at the worker", |log| log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some()))
        .await;
    harness.gateway.stop().await;
}

#[actix_rt::test]
async fn echo_call_works_over_the_in_process_bus_too() {
    // `gymcall demo` runs the gateway on the in-process bus; the same call must work there.
    let bus = bus::Bus::local();
    let config = gateway::Config::for_tests(PUBLIC_BASE_URL, AUTH_TOKEN, "nats://unused:4222");
    let gateway = gateway::start(config, bus.clone()).await.expect("gateway starts");
    let worker = spawn_echo_worker(bus.clone(), "local-echo").await;
    let mut options = simulator::twilio::CallOptions::new(
        format!("{PUBLIC_BASE_URL}/v1/twilio/voice?call_id=c_local&playbook=gym-dropin"),
        AUTH_TOKEN,
    );
    options.connect_addr = Some(gateway.local_addr());
    options.time_scale = 0.0;
    options.drain_idle = Duration::from_millis(400);
    let frames = test_frames(50);
    let mut audio = FramesAudio::new(frames.clone());
    let report = place_call(&options, &mut audio, None).await.expect("call runs");
    assert_eq!(report.closed_by_server, None);
    assert!(report.received_audio == frames.concat(), "echo over the local bus differs");
    assert_eq!(report.marks.len(), 50);
    wait_for(&worker, "stop at the worker", |log| log.get(&report.stream_sid).is_some_and(|s| s.stop_reason.is_some()))
        .await;
    let seen = worker.lock().unwrap().get(&report.stream_sid).cloned().unwrap();
    assert_eq!(seen.sequences, (1..=50).collect::<Vec<u32>>());
    gateway.stop().await;
}
