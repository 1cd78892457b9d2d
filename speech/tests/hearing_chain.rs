//! The hearing chain as the call actor drives it, with fake time: μ-law frames -> `Vad` ->
//! `Endpointer` -> `SttInput` -> embedded STT -> transcripts with the utterances' call times.

use std::sync::Arc;

use bytes::Bytes;
use protocol::spoken::normalize;
use speech::stt::{PocketsphinxConfig, PocketsphinxStt};
use speech::tts::FliteTts;
use speech::{
    EndpointEvent, Endpointer, EndpointerConfig, SttContext, SttInput, SttOutput, SttProvider, Vad, VadMode, Vocabulary,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_answers_come_out_as_timed_transcripts() -> anyhow::Result<()> {
    let tts = FliteTts::new()?;
    let answers = ["we open at six a.m.", "a day pass is twenty dollars"];
    // Call audio: 1 s silence, answer, 1 s silence, answer, 1 s silence (as μ-law from the phone).
    let silence = vec![0i16; 8000];
    let mut call_audio = silence.clone();
    for answer in answers {
        call_audio.extend(tts.synthesize_pcm_8k(answer));
        call_audio.extend_from_slice(&silence);
    }
    let mut mulaw = Vec::new();
    protocol::mulaw::encode_into(&call_audio, &mut mulaw);

    let stt = PocketsphinxStt::new(PocketsphinxConfig::default())?;
    // What a call with the gym playbook listens for (the recogniser has no vocabulary of its own).
    let playbooks = playbook::PlaybookSet::built_in()?;
    let gym = playbooks.get("gym-dropin")?;
    let vocabulary = Vocabulary::from_hints(&gym.recognition_hints()).with_phrase("What time do you open?");
    let vocabulary = Arc::new(vocabulary);
    let mut stream = stt.start(SttContext { call_id: "chain".into(), vocabulary: Some(vocabulary) });
    let mut vad = Vad::new(VadMode::Aggressive);
    let mut endpointer = Endpointer::new(EndpointerConfig::default());
    let mut pcm = Vec::with_capacity(160);
    let mut utterances = Vec::new();
    for (index, frame) in mulaw.chunks_exact(160).enumerate() {
        let now_ms = index as u64 * 20;
        pcm.clear();
        protocol::mulaw::decode_into(frame, &mut pcm);
        stream.input.send(SttInput::Audio { mulaw: Bytes::copy_from_slice(frame), timestamp_ms: now_ms })?;
        endpointer.handle(now_ms, vad.is_speech(&pcm));
        while let Some(event) = endpointer.poll_event() {
            match event {
                EndpointEvent::SpeechStarted { .. } | EndpointEvent::Paused { .. } | EndpointEvent::Resumed { .. } => {}
                // As the media worker does: open the utterance once speech is confirmed.
                EndpointEvent::SpeechConfirmed { start_ms, .. } => {
                    stream.input.send(SttInput::UtteranceStart { timestamp_ms: start_ms })?
                }
                EndpointEvent::UtteranceEnded { start_ms, end_ms } => {
                    utterances.push((start_ms, end_ms));
                    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms })?;
                }
            }
        }
    }
    stream.input.send(SttInput::Close)?;

    let mut transcripts = Vec::new();
    while let Some(output) = stream.output.recv().await {
        match output {
            SttOutput::Final { text, start_ms, end_ms, .. } => transcripts.push((text, start_ms, end_ms)),
            SttOutput::Interim { .. } => {}
            SttOutput::Failed { message, .. } => anyhow::bail!("stt failed: {message}"),
        }
    }
    println!("utterances {utterances:?}\ntranscripts {transcripts:?}");
    assert_eq!(utterances.len(), 2, "one utterance per answer");
    assert_eq!(transcripts.len(), 2, "one transcript per utterance");
    let key_words = [["open", "six"], ["twenty", "dollars"]];
    for ((text, start_ms, end_ms), (words, (utterance_start, utterance_end))) in
        transcripts.iter().zip(key_words.iter().zip(&utterances))
    {
        let heard = normalize(text);
        for word in words {
            assert!(heard.iter().any(|heard_word| heard_word == word), "{word:?} missing from {text:?}");
        }
        // The utterance begins 200 ms before the endpointer's start (lead-in) and ends with it.
        assert_eq!(*start_ms, utterance_start - 200);
        assert_eq!(end_ms, utterance_end);
    }
    Ok(())
}
