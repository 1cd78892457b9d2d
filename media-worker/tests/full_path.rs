//! The whole media path with the embedded providers: simulator (plays Twilio over a signed
//! WebSocket) -> gateway -> NATS -> media worker (webrtc VAD, PocketSphinx, flite), with a fake
//! brain on `brain.assign` / `brain.heard.<callId>` / `media.say.<callId>`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use media_worker::Config;
use protocol::brain::{HeardEvent, SayCommand};
use protocol::CallId;
use simulator::twilio::{place_call, CallOptions, FramesAudio, SimEvent};

const AUTH_TOKEN: &str = "test-auth-token-12345";
const PUBLIC_BASE_URL: &str = "https://gw.example.test";

struct Stack {
    _nats: testkit::NatsServer,
    bus: bus::Bus,
    gateway: gateway::RunningGateway,
    worker: media_worker::RunningWorker,
}

fn embedded_providers() -> speech::Providers {
    let stt = speech::stt::PocketsphinxStt::new(speech::stt::PocketsphinxConfig::default())
        .expect("pocketsphinx model (apt-get install pocketsphinx-en-us)");
    let tts = speech::tts::FliteTts::new().expect("flite voice");
    speech::Providers { stt: Arc::new(stt), tts: Arc::new(tts) }
}

async fn stack() -> Stack {
    let nats = testkit::NatsServer::start().await.unwrap();
    let bus = bus::Bus::connect(&nats.url(), "full-path").await.unwrap();
    let gateway_config = gateway::Config::for_tests(PUBLIC_BASE_URL, AUTH_TOKEN, &nats.url());
    let gateway = gateway::start(gateway_config, bus.clone()).await.unwrap();
    let worker_bus = bus::Bus::connect(&nats.url(), "media-1").await.unwrap();
    let worker =
        media_worker::start(Config::for_tests(&nats.url(), "media-1"), worker_bus, embedded_providers()).await.unwrap();
    Stack { _nats: nats, bus, gateway, worker }
}

fn call_options(stack: &Stack, call_id: &str) -> CallOptions {
    let mut options = CallOptions::new(format!("{PUBLIC_BASE_URL}/v1/twilio/voice?call_id={call_id}"), AUTH_TOKEN);
    options.connect_addr = Some(stack.gateway.local_addr());
    options.time_scale = 1.0;
    options.drain_idle = Duration::from_millis(1500);
    options
}

/// Lower-case words without punctuation.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

#[actix_rt::test]
async fn callee_sentences_become_transcripts_and_agent_text_reaches_the_simulator_with_its_mark() {
    let stack = stack().await;
    let mut brain = FakeBrain::start(&stack.bus).await;

    // 4 s of silence while the agent greets, then two sentences the callee says
    let sentences = ["a drop in class is twenty dollars", "we have classes on monday and wednesday"];
    let mut callee = silence(4000);
    for sentence in sentences {
        callee.extend(spoken(sentence));
        callee.extend(silence(1200));
    }
    let options = call_options(&stack, "c_full");
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let call = tokio::spawn(async move {
        let mut audio = FramesAudio::from_mulaw(&callee);
        place_call(&options, &mut audio, Some(events_tx)).await
    });

    let started = brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    assert_eq!(started.call_id, CallId::from("c_full"));
    let greeting = "Hi, this is an automated assistant.";
    brain
        .say(
            &CallId::from("c_full"),
            SayCommand::Speak {
                utterance_id: "greet".into(),
                text: greeting.into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        )
        .await;

    let mut transcripts = Vec::new();
    for _ in 0..sentences.len() {
        let heard = brain
            .wait_for(Duration::from_secs(20), |e| matches!(e, HeardEvent::Transcript { is_final: true, .. }))
            .await;
        if let HeardEvent::Transcript { text, .. } = heard.event {
            transcripts.push(text);
        }
    }
    println!("transcripts: {transcripts:?}");
    let report = call.await.unwrap().expect("simulated call runs");

    // the callee's words arrive as text, one final transcript per sentence, in order
    let first = words(&transcripts[0]);
    let second = words(&transcripts[1]);
    assert!(first.contains(&"twenty".to_string()) && first.contains(&"dollars".to_string()), "{first:?}");
    assert!(second.contains(&"monday".to_string()) || second.contains(&"wednesday".to_string()), "{second:?}");

    // the greeting reached the simulator as audio, then its mark came back after it played
    let mut agent_audio_bytes = 0;
    let mut mark_after_audio = false;
    while let Ok(event) = events_rx.try_recv() {
        match event {
            SimEvent::AgentAudio { bytes, .. } => agent_audio_bytes += bytes,
            SimEvent::Mark(mark) if mark.name == "greet" => {
                mark_after_audio = agent_audio_bytes > 0;
                assert!(!mark.cleared);
                assert!(mark.played_bytes >= mark.queued_before_bytes, "{mark:?}");
            }
            _ => {}
        }
    }
    assert!(mark_after_audio, "the mark came after the greeting's audio");
    assert!(agent_audio_bytes >= 8000, "about a second or more of speech, got {agent_audio_bytes} bytes");
    assert!(report.heard.iter().filter(|&&b| b != 0xFF).count() >= 8000, "the callee heard the greeting");
    let played = brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::Played { .. })).await;
    assert_eq!(played.event, HeardEvent::Played { utterance_id: "greet".into() });

    brain.wait_for(Duration::from_secs(5), |e| matches!(e, HeardEvent::CallEnded { .. })).await;
    stack.gateway.stop().await;
    stack.worker.stop().await;
}

#[actix_rt::test]
async fn callee_talking_over_the_agent_clears_it_within_300_ms_and_the_brain_hears_the_cut() {
    let stack = stack().await;
    let mut brain = FakeBrain::start(&stack.bus).await;

    let interruption = spoken("sorry, how much is a class");
    let silence_ms = 3000;
    let onset_ms = silence_ms + speech_onset_ms(&interruption);
    let mut callee = silence(silence_ms);
    callee.extend(&interruption);
    callee.extend(silence(1500));
    let options = call_options(&stack, "c_barge");
    let call = tokio::spawn(async move {
        let mut audio = FramesAudio::from_mulaw(&callee);
        place_call(&options, &mut audio, None).await
    });

    brain.wait_for(Duration::from_secs(10), |e| *e == HeardEvent::CallStarted).await;
    let long = "I'm calling on behalf of a group of traveling grapplers. We would like to know about your \
                drop in classes, what they cost, when they run, and whether visitors need to bring a gi.";
    brain
        .say(
            &CallId::from("c_barge"),
            SayCommand::Speak {
                utterance_id: "long".into(),
                text: long.into(),
                end_of_turn: true,
                uninterruptible: false,
                context: true,
            },
        )
        .await;
    let cut = brain.wait_for(Duration::from_secs(15), |e| matches!(e, HeardEvent::BargeIn { .. })).await;
    let report = call.await.unwrap().expect("simulated call runs");

    assert_eq!(report.clears.len(), 1, "one clear");
    let clear_ms = report.clears[0].media_time_ms;
    println!(
        "callee speech onset at {onset_ms} ms, clear at {clear_ms} ms media time: {} ms",
        clear_ms as i64 - onset_ms as i64
    );
    assert!(clear_ms >= onset_ms && clear_ms - onset_ms <= 300, "clear {clear_ms} ms vs onset {onset_ms} ms");
    assert!(report.clears[0].dropped_bytes > 0, "there was agent audio left to drop");
    // nothing of the agent is heard after the clear
    let after_clear = &report.heard[((clear_ms + 20) * 8) as usize..];
    assert!(after_clear.iter().all(|&b| b == 0xFF), "agent audio played after the clear");
    let long_mark = report.marks.iter().find(|m| m.name == "long");
    assert!(long_mark.is_none_or(|m| m.cleared), "the cut utterance's mark did not report it played");

    let HeardEvent::BargeIn { utterance_id, heard_ms, total_ms, heard_text } = cut.event else { unreachable!() };
    assert_eq!(utterance_id, "long");
    let heard_agent_ms = (report.heard[..(clear_ms * 8) as usize].iter().filter(|&&b| b != 0xFF).count() / 8) as u64;
    println!("brain told heard {heard_ms} of {total_ms} ms (\"{heard_text}\"); callee heard about {heard_agent_ms} ms");
    assert!(heard_ms < total_ms);
    assert!(heard_ms.abs_diff(heard_agent_ms) <= 300, "heard {heard_ms} ms vs {heard_agent_ms} ms played");
    assert!(long.starts_with(heard_text.split_whitespace().next().unwrap_or("?")), "{heard_text}");
    stack.gateway.stop().await;
    stack.worker.stop().await;
}
