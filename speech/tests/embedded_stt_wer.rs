//! Embedded STT word error rate on synthesized gym-receptionist sentences sent as 8 kHz mu-law.
//!
//! How the vocabulary is derived: what the gym playbook (`playbooks/gym-dropin.yaml`) gives a
//! call — its words and phrases as loose words, its answer patterns whose `{price}`, `{time}`,
//! `{day}`, `{number}`, `{duration}` and `{subject}` slots are expanded over whole classes, its
//! subjects and pronunciations — merged with playbook-style questions (the part of
//! `data/wer_sentences.txt` below `---`). The measured sentences (above `---`) are not among
//! the language model's training lines; a unit test in `evaluation` checks that.

use std::sync::Arc;

use bytes::Bytes;
use protocol::spoken::normalize;
use speech::evaluation::{playbook_questions, wer_sentences, word_errors};
use speech::stt::{PocketsphinxConfig, PocketsphinxStt};
use speech::tts::FliteTts;
use speech::{SttContext, SttInput, SttOutput, SttProvider, Vocabulary};

const FRAME_BYTES: usize = 160;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_stt_word_error_rate_is_at_most_ten_percent() -> anyhow::Result<()> {
    let tts = FliteTts::new()?;
    let stt = PocketsphinxStt::new(PocketsphinxConfig::default())?;
    let playbooks = playbook::PlaybookSet::built_in()?;
    let gym = playbooks.get("gym-dropin")?;
    let vocabulary = Vocabulary::from_hints(&gym.recognition_hints()).with_phrases(playbook_questions());
    println!(
        "vocabulary: gym playbook + {} playbook questions -> {} words, {} training lines",
        playbook_questions().len(),
        vocabulary.all_words().len(),
        vocabulary.training_sentences().len()
    );
    let mut stream = stt.start(SttContext { call_id: "wer-test".into(), vocabulary: Some(Arc::new(vocabulary)) });

    let sentences = wer_sentences();
    let mut now_ms = 0u64;
    let mut total_errors = 0usize;
    let mut total_words = 0usize;
    for sentence in &sentences {
        let pcm = tts.synthesize_pcm_8k(sentence);
        let mut mulaw = Vec::new();
        protocol::mulaw::encode_into(&pcm, &mut mulaw);
        // 200 ms of silence, the sentence, 500 ms of silence, framed at 20 ms as from the phone.
        let silence = protocol::mulaw::encode(0);
        let mut audio = vec![silence; 1600];
        audio.extend_from_slice(&mulaw);
        audio.extend(std::iter::repeat_n(silence, 4000));
        stream.input.send(SttInput::UtteranceStart { timestamp_ms: now_ms })?;
        for frame in audio.chunks(FRAME_BYTES) {
            stream.input.send(SttInput::Audio { mulaw: Bytes::copy_from_slice(frame), timestamp_ms: now_ms })?;
            now_ms += 20;
        }
        stream.input.send(SttInput::UtteranceEnd { timestamp_ms: now_ms })?;
        let text = match stream.output.recv().await {
            Some(SttOutput::Final { text, .. }) => text,
            other => anyhow::bail!("expected a final transcript for {sentence:?}, got {other:?}"),
        };
        let reference = normalize(sentence);
        let hypothesis = normalize(&text);
        let (errors, words) = word_errors(&reference, &hypothesis);
        total_errors += errors;
        total_words += words;
        println!("{errors:>2}/{words:<2} ref: {}\n       hyp: {}", reference.join(" "), hypothesis.join(" "));
    }
    stream.input.send(SttInput::Close)?;
    let wer = total_errors as f64 / total_words as f64;
    println!(
        "embedded stt WER: {:.1}% ({total_errors} errors / {total_words} words, {} sentences)",
        wer * 100.0,
        sentences.len()
    );
    assert!(sentences.len() >= 20);
    assert!(wer <= 0.10, "WER {:.1}% is above 10%", wer * 100.0);
    Ok(())
}
