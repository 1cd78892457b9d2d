//! A persona hears the agent through audio only: synthesized agent questions go in as played
//! frames, and the persona's spoken answers come out as callee frames that another recogniser
//! can transcribe.

use simulator::persona::voice::{PersonaVoice, FRAME_SAMPLES};
use simulator::persona::{Persona, Responder};
use simulator::twilio::audio::CalleeAudio;
use speech::stt::pocketsphinx::{PocketsphinxConfig, PocketsphinxStt};
use speech::tts::FliteTts;
use speech::{SttContext, SttInput, SttOutput, SttProvider};
use std::sync::Arc;
use std::time::Duration;

fn mulaw_of(tts: &FliteTts, text: &str) -> Vec<u8> {
    let pcm = tts.synthesize_pcm_8k(text);
    let mut out = Vec::new();
    protocol::mulaw::encode_into(&pcm, &mut out);
    out
}

/// Transcribes μ-law audio with a recogniser that knows the gym domain (from the gym playbook).
async fn transcribe(stt: &PocketsphinxStt, playbook: &playbook::Playbook, audio: &[u8]) -> String {
    let vocabulary = speech::Vocabulary::from_hints(&playbook.recognition_hints());
    let mut stream = stt.start(SttContext { call_id: "check".into(), vocabulary: Some(Arc::new(vocabulary)) });
    let _ = stream.input.send(SttInput::UtteranceStart { timestamp_ms: 0 });
    for (index, frame) in audio.chunks(160).enumerate() {
        let _ = stream
            .input
            .send(SttInput::Audio { mulaw: bytes::Bytes::copy_from_slice(frame), timestamp_ms: index as u64 * 20 });
    }
    let _ = stream.input.send(SttInput::UtteranceEnd { timestamp_ms: audio.len() as u64 / 8 });
    match tokio::time::timeout(Duration::from_secs(60), stream.output.recv()).await {
        Ok(Some(SttOutput::Final { text, .. })) => text,
        other => panic!("no transcript: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persona_answers_a_spoken_question_with_spoken_facts() {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let persona =
        Persona::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../personas/atlas-bjj.yaml"), &playbooks).unwrap();
    let playbook = playbooks.get("gym-dropin").unwrap().clone();
    let vocabulary = Arc::new(PersonaVoice::listening_vocabulary(&playbook, &persona.call_context()));
    let tts = FliteTts::new().unwrap();
    let stt = PocketsphinxStt::new(PocketsphinxConfig::default()).unwrap();
    let mut voice = PersonaVoice::new(Responder::new(persona, playbook), Arc::new(tts.clone()), &stt, Some(vocabulary));

    // the agent asks, worded unlike the playbook's question
    let question = mulaw_of(&tts, "Could you tell me how much a drop in class costs?");
    let question_start_ms = 4000;
    let mut callee_audio = Vec::new();
    let mut media_ms = 0u64;
    while media_ms < 40_000 {
        let played_index = media_ms.checked_sub(question_start_ms).map(|t| (t / 20) as usize * FRAME_SAMPLES);
        match played_index {
            Some(offset) if offset < question.len() => {
                let end = (offset + FRAME_SAMPLES).min(question.len());
                voice.on_agent_audio(media_ms, &question[offset..end]);
            }
            _ => voice.on_agent_audio(media_ms, &[0xFF; FRAME_SAMPLES]),
        }
        let Some(frame) = voice.next_frame(media_ms) else { break };
        if media_ms >= question_start_ms {
            callee_audio.extend_from_slice(&frame);
        }
        media_ms += 20;
        // let recognition and synthesis (which run beside the frame loop) make progress
        tokio::time::sleep(Duration::from_millis(1)).await;
        if voice.lines().iter().any(|l| l.speaker == "callee" && l.text.contains("drop in is"))
            && callee_audio.iter().rev().take(4000).all(|&b| b == 0xFF)
            && callee_audio.iter().any(|&b| b != 0xFF)
        {
            break;
        }
    }
    let heard: Vec<String> = voice.lines().iter().map(|l| format!("{} {}: {}", l.at_ms, l.speaker, l.text)).collect();
    println!("{}", heard.join("\n"));
    let answer_start =
        callee_audio.iter().position(|&b| b != 0xFF).expect("the persona said nothing after the question");
    let answer = transcribe(&stt, playbooks.get("gym-dropin").unwrap(), &callee_audio[answer_start..]).await;
    println!("persona's answer as heard: {answer}");
    assert!(
        answer.contains("thirty"),
        "expected the price (thirty dollars) in {answer:?}; persona log:\n{}",
        heard.join("\n")
    );
}
