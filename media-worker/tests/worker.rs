//! The media worker against a real nats-server, driven the way the gateway drives it:
//! `media.assign`, callee frames on `media.in.<sid>`, Twilio's play-out and mark echoes for
//! `media.out.<sid>`, and a fake brain on `brain.assign` / `brain.heard` / `media.say`.

mod common;

use std::time::Duration;

use common::*;
use media_worker::Config;
use protocol::brain::{HeardEvent, ProviderStage, SayCommand};
use protocol::media::StreamEvent;
use protocol::CallId;

async fn worker(
    nats: &testkit::NatsServer,
    id: &str,
    providers: speech::Providers,
) -> (bus::Bus, media_worker::RunningWorker) {
    worker_with(nats, id, providers, |_| {}).await
}

async fn worker_with(
    nats: &testkit::NatsServer,
    id: &str,
    providers: speech::Providers,
    adjust: impl FnOnce(&mut Config),
) -> (bus::Bus, media_worker::RunningWorker) {
    let bus = bus::Bus::connect(&nats.url(), id).await.unwrap();
    let mut config = Config::for_tests(&nats.url(), id);
    adjust(&mut config);
    let worker = media_worker::start(config, bus.clone(), providers).await.unwrap();
    (bus, worker)
}

#[actix_rt::test]
async fn callee_sentences_come_out_as_transcripts_in_order() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(40)).await;
    let mut brain = FakeBrain::start(&bus).await;

    // silence, a sentence, a pause long enough to end it, another sentence
    let first = spoken("Hi, this is Atlas jiu jitsu.");
    let second = spoken("A drop in class is twenty dollars.");
    let first_ms = first.len() as u64 / 8;
    let mut callee = silence(600);
    callee.extend(&first);
    callee.extend(silence(1000));
    let second_start_ms = 600 + first_ms + 1000;
    callee.extend(&second);

    let reply = assign(&bus, "c_hear", "MZhear").await.unwrap();
    assert_eq!(reply.worker_id, "w1");
    let leg = FakeLeg::start(&bus, "MZhear", callee, 1200).await;

    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;
    let is_final = |e: &HeardEvent| matches!(e, HeardEvent::Transcript { is_final: true, .. });
    let one = brain.wait_for(Duration::from_secs(15), is_final).await;
    let two = brain.wait_for(Duration::from_secs(15), is_final).await;
    let (
        HeardEvent::Transcript { utterance_seq: seq1, text: text1, start_ms: start1, end_ms: end1, .. },
        HeardEvent::Transcript { utterance_seq: seq2, start_ms: start2, .. },
    ) = (one.event, two.event)
    else {
        unreachable!()
    };
    assert_eq!((seq1, seq2), (0, 1));
    assert_eq!(one.call_id, CallId::from("c_hear"));
    assert!(text1.starts_with("utterance 1"), "{text1}");
    // utterance times are media times of the callee's audio
    assert!((500..=900).contains(&start1), "first utterance starts at {start1} ms");
    assert!(end1 > start1 + first_ms / 2 && end1 <= 600 + first_ms + 100, "first ends at {end1} ms");
    assert!(start2 + 300 >= second_start_ms && start2 <= second_start_ms + 300, "second starts at {start2} ms");

    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn the_recogniser_hears_each_answer_with_the_agent_turn_it_answers_as_context() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(40)).await;
    let mut brain = FakeBrain::start(&bus).await;
    let mut callee = silence(2000);
    callee.extend(spoken("Yes, ten dollars."));
    callee.extend(silence(2500));
    callee.extend(spoken("Mondays at six."));
    callee.extend(silence(2500));
    callee.extend(spoken("No, at seven."));
    assign(&bus, "c_ctx", "MZctx").await.unwrap();
    let leg = FakeLeg::start(&bus, "MZctx", callee, 1500).await;
    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;
    let call = CallId::from("c_ctx");
    // one turn in two sentences, as the LLM policy streams it
    for (text, end_of_turn) in [("Thanks.", false), ("Is there a mat fee?", true)] {
        let command = SayCommand::Speak {
            utterance_id: "u1".into(),
            text: text.into(),
            end_of_turn,
            uninterruptible: false,
            context: true,
        };
        brain.say(&call, command).await;
    }
    let is_final = |e: &HeardEvent| matches!(e, HeardEvent::Transcript { is_final: true, .. });
    let HeardEvent::Transcript { text, .. } = brain.wait_for(Duration::from_secs(15), is_final).await.event else {
        unreachable!()
    };
    assert!(text.ends_with(" after: Thanks. Is there a mat fee?"), "{text}");
    // the next turn replaces it; a read-back is no context: the correction is heard without it
    for (utterance_id, text, context, heard_after) in [
        ("u2", "Which days?", true, Some(" after: Which days?")),
        ("u3", "So Mondays at six, is that right?", false, None),
    ] {
        let command = SayCommand::Speak {
            utterance_id: utterance_id.into(),
            text: text.into(),
            end_of_turn: true,
            uninterruptible: false,
            context,
        };
        brain.say(&call, command).await;
        let HeardEvent::Transcript { text, .. } = brain.wait_for(Duration::from_secs(15), is_final).await.event else {
            unreachable!()
        };
        match heard_after {
            Some(after) => assert!(text.ends_with(after), "{text}"),
            None => assert!(!text.contains(" after:"), "{text}"),
        }
    }
    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn spoken_text_reaches_the_line_as_paced_audio_followed_by_its_mark_and_is_recorded() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let recordings = tempfile::tempdir().unwrap();
    let dir = recordings.path().to_path_buf();
    let (bus, worker) = worker_with(&nats, "w1", test_providers(40), |c| c.recordings_dir = Some(dir)).await;
    let mut brain = FakeBrain::start(&bus).await;
    assign(&bus, "c_say", "MZsay").await.unwrap();
    let leg = FakeLeg::start(&bus, "MZsay", silence(0), 4000).await;
    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;

    let call = CallId::from("c_say");
    let first = "Hi, I'm an automated assistant.";
    let second = "Do you offer drop-ins?";
    for (text, end_of_turn) in [(first, false), (second, true)] {
        let command = SayCommand::Speak {
            utterance_id: "u1".into(),
            text: text.into(),
            end_of_turn,
            uninterruptible: false,
            context: true,
        };
        brain.say(&call, command).await;
    }
    let played = brain.wait_for(Duration::from_secs(8), |e| matches!(e, HeardEvent::Played { .. })).await;
    assert_eq!(played.event, HeardEvent::Played { utterance_id: "u1".into() });

    let events = leg.finish().await;
    let audio_bytes: usize = events
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            LegEvent::AudioReceived { bytes } => Some(*bytes),
            _ => None,
        })
        .sum();
    let expected_ms = (first.len() + second.len()) as u64 * 40;
    let frames = |ms: u64| (ms as usize).div_ceil(20) * 160;
    // both sentences, each padded to whole 20 ms frames, every frame 160 bytes
    assert_eq!(audio_bytes, frames(first.len() as u64 * 40) + frames(second.len() as u64 * 40), "{expected_ms} ms");
    let mark_index = events.events.iter().position(|(_, e)| *e == LegEvent::MarkReceived("u1".into())).unwrap();
    let last_audio = events.events.iter().rposition(|(_, e)| matches!(e, LegEvent::AudioReceived { .. })).unwrap();
    assert!(mark_index > last_audio, "the mark comes after all of the utterance's audio");
    // paced: never more than a few hundred ms queued at Twilio
    assert!(events.max_queued_ms <= 400, "queued {} ms ahead", events.max_queued_ms);

    // the recording: stereo, callee left (silence here), the agent's tone right, and the transcript
    brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut wav = hound::WavReader::open(recordings.path().join("c_say.wav")).unwrap();
    assert_eq!((wav.spec().channels, wav.spec().sample_rate), (2, 8000));
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(samples.len() as u64 / 2 / 8, 4000, "one stereo sample per 1/8 ms of the 4 s call");
    let right_loud = samples.chunks(2).filter(|pair| pair[1].abs() > 3000).count() as u64 / 8;
    let left_loud = samples.chunks(2).filter(|pair| pair[0].abs() > 3000).count();
    assert!(right_loud > expected_ms / 2, "agent audio on the right: {right_loud} ms");
    assert_eq!(left_loud, 0, "the silent callee on the left");
    let transcript = std::fs::read_to_string(recordings.path().join("c_say.txt")).unwrap();
    assert!(transcript.contains("agent: Hi, I'm an automated assistant."), "{transcript}");
    assert!(transcript.contains("agent: Do you offer drop-ins?"), "{transcript}");
    // and the same WAV is on NATS (the recordings object bucket), for a gateway on another pod
    let wav_on_disk = std::fs::read(recordings.path().join("c_say.wav")).unwrap();
    let mut stored_opt = None;
    for _ in 0..50 {
        if let Some(store) = bus.open_object_store(protocol::subjects::OBJ_RECORDINGS).await.unwrap() {
            if let Some(object) = store.get("c_say.wav").await.unwrap() {
                stored_opt = Some(object);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stored = stored_opt.expect("the recording is stored on the bus within 5 s");
    let mut wav_on_bus = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stored.reader, &mut wav_on_bus).await.unwrap();
    assert_eq!(stored.size, wav_on_disk.len() as u64);
    assert!(wav_on_bus == wav_on_disk, "the stored object is the WAV byte for byte");
    worker.stop().await;
}

#[actix_rt::test]
async fn barge_in_clears_within_300_ms_of_onset_and_reports_what_was_heard() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(60)).await;
    let mut brain = FakeBrain::start(&bus).await;
    assign(&bus, "c_barge", "MZbarge").await.unwrap();
    // the callee is silent, then talks over the agent from 2.5 s
    let interruption = spoken("Sorry, how much is it?");
    let onset_ms = 2500 + speech_onset_ms(&interruption);
    let mut callee = silence(2500);
    callee.extend(interruption);
    let leg = FakeLeg::start(&bus, "MZbarge", callee, 1500).await;
    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;

    let long = "We are calling about your drop in classes. We would like to know the price, the schedule, \
                and whether visitors need their own gi. Thanks so much for your help today.";
    let command = SayCommand::Speak {
        utterance_id: "long".into(),
        text: long.into(),
        end_of_turn: true,
        uninterruptible: false,
        context: true,
    };
    brain.say(&CallId::from("c_barge"), command).await;

    let report = brain.wait_for(Duration::from_secs(10), |e| matches!(e, HeardEvent::BargeIn { .. })).await;
    let log = leg.finish().await;
    let (clear_at_ms, dropped_ms) = log
        .events
        .iter()
        .find_map(|(at, e)| match e {
            LegEvent::Clear { dropped_ms } => Some((*at, *dropped_ms)),
            _ => None,
        })
        .expect("clear reached the line");
    let first_audio_ms = log.events.iter().find(|(_, e)| matches!(e, LegEvent::AudioPlayed { .. })).unwrap().0;
    println!(
        "speech onset {onset_ms} ms, clear at {clear_at_ms} ms media time ({} ms later), {dropped_ms} ms dropped",
        clear_at_ms - onset_ms
    );
    assert!(clear_at_ms >= onset_ms, "no clear before the callee spoke");
    assert!(clear_at_ms - onset_ms <= 300, "clear {} ms after onset", clear_at_ms - onset_ms);
    // the rest of the utterance is not played
    let played_after_clear =
        log.events.iter().filter(|(at, e)| *at > clear_at_ms + 20 && matches!(e, LegEvent::AudioPlayed { .. })).count();
    assert_eq!(played_after_clear, 0);
    assert!(
        !log.events.iter().any(|(_, e)| *e == LegEvent::MarkReceived("long".into())),
        "the cut utterance never got its mark"
    );

    let HeardEvent::BargeIn { utterance_id, heard_ms, total_ms, heard_text } = report.event else { unreachable!() };
    assert_eq!(utterance_id, "long");
    let played_ms = clear_at_ms - first_audio_ms;
    assert!(heard_ms + 100 >= played_ms && heard_ms <= played_ms + 100, "heard {heard_ms} ms, played {played_ms} ms");
    assert!(total_ms >= long.len() as u64 * 60 - 200, "total {total_ms} ms");
    assert!(long.starts_with(&heard_text[..heard_text.len().min(10)]) && !heard_text.is_empty(), "{heard_text}");
    assert!(heard_text.len() < long.len() / 2, "heard only the start: {heard_text}");
    // no Played for the cut utterance
    for heard in brain.pending() {
        assert!(!matches!(heard.event, HeardEvent::Played { .. }), "{heard:?}");
    }
    worker.stop().await;
}

#[actix_rt::test]
async fn dtmf_both_ways_hangup_after_audio_and_call_end() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(20)).await;
    let mut brain = FakeBrain::start(&bus).await;
    assign(&bus, "c_keys", "MZkeys").await.unwrap();
    let leg = FakeLeg::start(&bus, "MZkeys", silence(0), 3000).await;
    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;
    let call = CallId::from("c_keys");

    leg.event(StreamEvent::Dtmf { digit: "5".into() }).await;
    let dtmf = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::Dtmf { .. })).await;
    assert_eq!(dtmf.event, HeardEvent::Dtmf { digit: "5".into() });

    brain.say(&call, SayCommand::SendDigits { digits: "12".into() }).await;
    brain
        .say(
            &call,
            SayCommand::Speak {
                utterance_id: "bye".into(),
                text: "Goodbye.".into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        )
        .await;
    brain.say(&call, SayCommand::Hangup { reason: "done".into() }).await;
    let (hangup_at, _) = leg.wait_for(Duration::from_secs(5), |e| matches!(e, LegEvent::Hangup(_))).await;
    let events = leg.events();
    let played: usize = events
        .iter()
        .filter_map(|(_, e)| match e {
            LegEvent::AudioPlayed { bytes } => Some(*bytes),
            _ => None,
        })
        .sum();
    // two digits (100 ms tone + 100 ms gap each) and "Goodbye." (8 chars * 20 ms), all played before the hang-up
    assert_eq!(played, 2 * 1600 + 160 * 8);
    let last_played =
        events.iter().filter(|(_, e)| matches!(e, LegEvent::AudioPlayed { .. })).map(|(at, _)| *at).max().unwrap();
    assert!(hangup_at >= last_played, "hang-up at {hangup_at} before audio end {last_played}");

    leg.event(StreamEvent::Stop { reason: "hung up".into() }).await;
    let ended = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    assert_eq!(ended.event, HeardEvent::CallEnded { reason: "hung up".into() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(worker.active_calls(), 0);
    assert_eq!(worker.stats().exits_hung_up.load(std::sync::atomic::Ordering::Relaxed), 1);
    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn stt_failure_is_reported_to_the_brain() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let providers = speech::Providers {
        stt: std::sync::Arc::new(FailingStt),
        tts: std::sync::Arc::new(ToneTts { ms_per_char: 20 }),
    };
    let (bus, worker) = worker(&nats, "w1", providers).await;
    let mut brain = FakeBrain::start(&bus).await;
    assign(&bus, "c_fail", "MZfail").await.unwrap();
    let leg = FakeLeg::start(&bus, "MZfail", silence(0), 600).await;
    let failure = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::ProviderFailure { .. })).await;
    assert_eq!(
        failure.event,
        HeardEvent::ProviderFailure { stage: ProviderStage::Stt, message: "quota exceeded".into() }
    );
    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn a_full_worker_stays_silent_and_takes_calls_again_when_one_ends() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "w1").await.unwrap();
    let mut config = Config::for_tests(&nats.url(), "w1");
    config.max_calls = 1;
    let worker = media_worker::start(config, bus.clone(), test_providers(20)).await.unwrap();
    let mut brain = FakeBrain::start(&bus).await;

    assert_eq!(assign(&bus, "c_a", "MZa").await.unwrap().worker_id, "w1");
    let refused = assign(&bus, "c_b", "MZb").await.unwrap_err();
    assert!(matches!(refused.kind, bus::BusErrorKind::NoResponders | bus::BusErrorKind::TimedOut), "{refused:?}");

    let leg = FakeLeg::start(&bus, "MZa", silence(0), 200).await;
    brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;
    leg.event(StreamEvent::Stop { reason: "callee hung up".into() }).await;
    brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    let mut taken = None;
    for _ in 0..20 {
        if let Ok(reply) = assign(&bus, "c_c", "MZc").await {
            taken = Some(reply.worker_id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(taken.as_deref(), Some("w1"));
    assert_eq!(worker.stats().exits_finished.load(std::sync::atomic::Ordering::Relaxed), 1);
    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn when_the_brain_dies_another_brain_takes_the_call_and_gets_the_event() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(20)).await;
    let mut first_brain = FakeBrain::start_named(&bus, "brain-1").await;
    assign(&bus, "c_takeover", "MZtakeover").await.unwrap();
    let mut callee = silence(1500);
    callee.extend(spoken("Hello, who is this?"));
    let leg = FakeLeg::start(&bus, "MZtakeover", callee, 1000).await;
    first_brain.wait_for(Duration::from_secs(5), |e| *e == HeardEvent::CallStarted).await;

    first_brain.kill();
    let mut second_brain = FakeBrain::start_named(&bus, "brain-2").await;
    let transcript = second_brain
        .wait_for(Duration::from_secs(10), |e| matches!(e, HeardEvent::Transcript { is_final: true, .. }))
        .await;
    assert_eq!(transcript.call_id, CallId::from("c_takeover"));
    let assigns = second_brain.assigns.lock().unwrap().clone();
    assert_eq!(assigns.len(), 1);
    assert!(assigns[0].resume, "the new brain is told to resume the conversation");
    leg.finish().await;
    worker.stop().await;
}

#[actix_rt::test]
async fn health_and_metrics_pages_count_calls_exits_and_voice_to_voice_latency() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w1", test_providers(20)).await;
    let base = format!("http://{}", worker.metrics_addr().expect("metrics listener"));
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status(), 200);

    let mut brain = FakeBrain::start(&bus).await;
    assign(&bus, "c_metrics", "MZmetrics").await.unwrap();
    let mut callee = silence(500);
    callee.extend(spoken("Hello?"));
    let leg = FakeLeg::start(&bus, "MZmetrics", callee, 2500).await;
    let heard =
        brain.wait_for(Duration::from_secs(10), |e| matches!(e, HeardEvent::Transcript { is_final: true, .. })).await;
    let HeardEvent::Transcript { end_ms, .. } = heard.event else { unreachable!() };
    brain
        .say(
            &CallId::from("c_metrics"),
            SayCommand::Speak {
                utterance_id: "u1".into(),
                text: "Hi!".into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        )
        .await;
    let (first_audio_ms, _) = leg.wait_for(Duration::from_secs(5), |e| matches!(e, LegEvent::AudioPlayed { .. })).await;
    // the brain is told too, so the call's result carries its latencies
    let replied = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::Replied { .. })).await;
    let HeardEvent::Replied { reply_ms, tts_ms, stages } = replied.event else { unreachable!() };
    assert!(reply_ms >= 500 && reply_ms <= first_audio_ms - end_ms + 40, "{reply_ms}");
    assert!(tts_ms.is_some(), "the synthesis time of the reply's first audio");
    // stage by stage, adding up to the reply latency, which the callee's side measured too
    let stages = stages.expect("the reply's stages");
    println!("reply {reply_ms} ms: {stages:?}; the callee heard it {} ms after speaking", first_audio_ms - end_ms);
    assert_eq!(stages.total_ms(), reply_ms, "{stages:?}");
    assert!(stages.endpoint_ms >= 300, "the endpointer waits for silence: {stages:?}");
    assert!(reply_ms + 40 >= first_audio_ms - end_ms, "{reply_ms} vs the leg's {}", first_audio_ms - end_ms);
    leg.finish().await;
    brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::CallEnded { .. })).await;

    let page = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let sample = |series: &str| -> f64 {
        page.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in\n{page}"))
    };
    assert_eq!(sample("media_worker_calls_taken_total"), 1.0);
    assert_eq!(sample("media_worker_active_calls"), 0.0);
    assert_eq!(sample("media_worker_call_exits_total{status=\"finished\"}"), 1.0);
    assert!(sample("media_worker_frames_in_total") >= 150.0);
    assert_eq!(sample("media_worker_frames_out_total"), 3.0, "\"Hi!\": 3 chars * 20 ms = three 20 ms frames");
    assert_eq!(sample("media_worker_voice_to_voice_seconds_count"), 1.0);
    // measured from the end of the callee's speech to when the reply starts playing (media time)
    let v2v_ms = sample("media_worker_voice_to_voice_seconds_sum") * 1000.0;
    println!("voice to voice {v2v_ms} ms (utterance end {end_ms}, first agent audio played at {first_audio_ms})");
    assert!(v2v_ms >= 500.0 && v2v_ms <= (first_audio_ms - end_ms) as f64 + 40.0, "{v2v_ms}");
    // and stage by stage
    let stage_sum: f64 = ["endpoint", "stt", "brain", "tts", "play"]
        .iter()
        .map(|stage| sample(&format!("media_worker_reply_stage_seconds_sum{{stage=\"{stage}\"}}")) * 1000.0)
        .sum();
    assert!((stage_sum - v2v_ms).abs() < 1.0, "stages {stage_sum} ms vs voice to voice {v2v_ms} ms");
    assert_eq!(sample("media_worker_reply_stage_seconds_count{stage=\"brain\"}"), 1.0);
    worker.stop().await;
}

#[actix_rt::test]
async fn a_stream_moved_here_keeps_its_brain_and_the_worker_answers_liveness_pings() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let (bus, worker) = worker(&nats, "w2", test_providers(20)).await;
    let mut brain = FakeBrain::start(&bus).await;
    brain.adopt(&CallId::from("c_moved")).await; // the call's brain, since before the move
                                                 // the gateway re-assigns a live stream after its first worker died
    let request = protocol::media::MediaAssignRequest {
        v: 1,
        call_id: CallId::from("c_moved"),
        stream_sid: protocol::StreamSid::from("MZmoved"),
        call_sid: protocol::CallSid::from("CAmoved"),
        playbook: "gym-dropin".into(),
        direction: Default::default(),
        context: [("resumed".to_string(), "true".to_string())].into(),
    };
    let reply = bus
        .request(protocol::subjects::MEDIA_ASSIGN, protocol::version::encode_json(&request), Duration::from_secs(2))
        .await
        .unwrap();
    let reply: protocol::media::MediaAssignReply = protocol::version::decode_json(&reply.payload).unwrap();
    assert_eq!(reply.worker_id, "w2");
    let ping = bus.request("media.ping.MZmoved", bytes::Bytes::new(), Duration::from_secs(2)).await.unwrap();
    assert_eq!(&ping.payload[..], b"w2");

    let leg = FakeLeg::start(&bus, "MZmoved", silence(0), 1500).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // the call's brain goes on speaking on media.say; nobody was asked to take the call again
    brain
        .say(
            &CallId::from("c_moved"),
            SayCommand::Speak {
                utterance_id: "u9".into(),
                text: "As I was saying.".into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        )
        .await;
    leg.wait_for(Duration::from_secs(5), |e| *e == LegEvent::MarkReceived("u9".into())).await;
    let played = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::Played { .. })).await;
    assert_eq!(played.event, HeardEvent::Played { utterance_id: "u9".into() }, "the brain hears from the new worker");
    assert!(brain.assigns.lock().unwrap().is_empty(), "no brain.assign for a moved stream");
    assert!(!brain.pending().iter().any(|h| h.event == HeardEvent::CallStarted), "no second call_started");
    leg.finish().await;
    worker.stop().await;
}
