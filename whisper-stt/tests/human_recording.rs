//! The Whisper provider on real human speech: recordings of Debian's `pocketsphinx-testdata`
//! (LibriVox read speech), through the telephone band and the provider's call stream, must come
//! back with a bounded word error rate. Needs `scripts/install-models.sh` and the Debian package.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use speech::evaluation::word_errors;
use whisper_stt::offline::{read_wav, telephone_band, transcribe_mulaw};
use whisper_stt::provider::SEGMENT_MIN_SAMPLES_8K;
use whisper_stt::{options_from_config, WhisperDecoder, WhisperStt};

const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

mod common;
use common::{decoder, words};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librivox_sentences_through_the_telephone_band_are_mostly_right() {
    let stt = WhisperStt::new(decoder());
    let cases = [
        ("sense_and_sensibility_01_austen_64kb-0880.wav", "he was not an ill disposed young man"),
        ("sense_and_sensibility_01_austen_64kb-0930.wav", "he might even have been made amiable himself"),
    ];
    let (mut errors, mut total) = (0, 0);
    for (file, reference) in cases {
        let path = Path::new(LIBRIVOX).join(file);
        let audio = read_wav(&path).unwrap_or_else(|error| panic!("{error} (apt-get install pocketsphinx-testdata)"));
        let mulaw = telephone_band(&audio);
        let text = transcribe_mulaw(&stt, &mulaw, None, Duration::from_secs(60)).await.expect("transcribes");
        let (sentence_errors, sentence_words) = word_errors(&words(reference), &words(&text));
        eprintln!("{file}: {text:?} ({sentence_errors}/{sentence_words} errors)");
        errors += sentence_errors;
        total += sentence_words;
    }
    // 16 words; tiny.en heard both exactly here ("ill-disposed" scores as two words). Allow two.
    assert!(errors <= 2, "{errors} word errors in {total} words");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_with_a_clear_error_and_silence_yields_no_words() {
    let decoder = decoder();
    // One second of silence: no transcript (the no-speech check), not a hallucination.
    let transcript = decoder.transcribe_now(&vec![0.0; 16_000], &[]).expect("decodes");
    assert!(transcript.text.split_whitespace().count() <= 1, "silence heard as {:?}", transcript.text);
    // A private decoder with a queue of one: the third utterance at once is refused.
    let config =
        whisper_stt::WhisperOptionsConfig { queue_max: 1, ..options_from_config(&speech::SpeechConfig::default()) };
    let small = WhisperDecoder::start(&config).expect("loads");
    let prompt = Arc::new(Vec::new());
    let first = small.submit(vec![0.0; 16_000 * 5], prompt.clone()).expect("first is taken");
    let mut refused = None;
    let mut accepted = vec![first];
    for _ in 0..3 {
        match small.submit(vec![0.0; 16_000 * 5], prompt.clone()) {
            Ok(reply) => accepted.push(reply),
            Err(error) => refused = Some(error),
        }
    }
    let refused = refused.expect("a queue of one refuses a burst of four");
    assert_eq!(refused, whisper_stt::WhisperError::QueueFull { max: 1 });
    assert!(refused.to_string().contains("queue full"));
    for reply in accepted {
        assert!(reply.await.expect("answered").is_ok());
    }
}

/// The next output of a stream, within a minute.
async fn next(output: &mut tokio::sync::mpsc::UnboundedReceiver<speech::SttOutput>) -> speech::SttOutput {
    tokio::time::timeout(Duration::from_secs(60), output.recv()).await.expect("in time").expect("open")
}

/// Sends `mulaw` to `input` as 20 ms frames from call time `from_ms`; returns the time after it.
fn send_frames(input: &tokio::sync::mpsc::UnboundedSender<speech::SttInput>, mulaw: &[u8], from_ms: u64) -> u64 {
    for (index, frame) in mulaw.chunks(160).enumerate() {
        let audio = speech::SttInput::Audio {
            mulaw: bytes::Bytes::copy_from_slice(frame),
            timestamp_ms: from_ms + index as u64 * 20,
        };
        input.send(audio).expect("stream open");
    }
    from_ms + mulaw.len() as u64 / 8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_starts_the_decode_and_its_words_are_the_final_transcript_unless_the_callee_goes_on() {
    use speech::stt::{SttContext, SttOutput, SttProvider};
    use speech::SttInput;
    let stt = WhisperStt::new(decoder());
    let sentence =
        |file: &str| telephone_band(&read_wav(&Path::new(LIBRIVOX).join(file)).expect("pocketsphinx-testdata"));
    let first = sentence("sense_and_sensibility_01_austen_64kb-0880.wav");
    let second = sentence("sense_and_sensibility_01_austen_64kb-0930.wav");

    // The callee says one sentence and pauses: the words come as an interim before the end, and
    // the final transcript at the end is those words, without another decode.
    let mut stream = stt.start(SttContext { call_id: "pause".into(), vocabulary: None });
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 0 }).unwrap();
    let end_ms = send_frames(&stream.input, &first, 0);
    stream.input.send(SttInput::Paused { timestamp_ms: end_ms }).unwrap();
    let SttOutput::Interim { text: interim } = next(&mut stream.output).await else {
        panic!("an interim at the pause")
    };
    let (errors, _) = word_errors(&words("he was not an ill disposed young man"), &words(&interim));
    assert!(errors <= 2, "{interim:?}");
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).unwrap();
    let SttOutput::Final { text, start_ms, end_ms: final_end_ms, .. } = next(&mut stream.output).await else {
        panic!("the final transcript")
    };
    assert_eq!((text.as_str(), start_ms, final_end_ms), (interim.as_str(), 0, end_ms));

    // The callee goes on after the pause: the final transcript is the whole utterance.
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 20_000 }).unwrap();
    let pause_ms = send_frames(&stream.input, &first, 20_000);
    stream.input.send(SttInput::Paused { timestamp_ms: pause_ms }).unwrap();
    stream.input.send(SttInput::Resumed { timestamp_ms: pause_ms + 300 }).unwrap();
    let end_ms = send_frames(&stream.input, &second, pause_ms);
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).unwrap();
    let text = loop {
        match next(&mut stream.output).await {
            SttOutput::Interim { .. } => continue, // the dropped decode may still report
            SttOutput::Final { text, .. } => break text,
            SttOutput::Failed { message, .. } => panic!("{message}"),
        }
    };
    let reference = "he was not an ill disposed young man he might even have been made amiable himself";
    let (errors, total) = word_errors(&words(reference), &words(&text));
    assert!(errors <= 3, "{text:?}: {errors} of {total} words wrong");
    stream.input.send(SttInput::Close).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_is_decoded_in_segments_at_its_pauses_and_its_end_costs_only_the_last_one() {
    use speech::stt::{SttContext, SttOutput, SttProvider};
    use speech::SttInput;
    // its own decoder: the audio it decodes is counted
    let decoder =
        Arc::new(WhisperDecoder::start(&options_from_config(&speech::SpeechConfig::default())).expect("loads"));
    let stt = WhisperStt::new(decoder.clone());
    let sentence =
        |file: &str| telephone_band(&read_wav(&Path::new(LIBRIVOX).join(file)).expect("pocketsphinx-testdata"));
    let (first, second) = (
        sentence("sense_and_sensibility_01_austen_64kb-0880.wav"),
        sentence("sense_and_sensibility_01_austen_64kb-0930.wav"),
    );
    let seconds = |mulaw: &[u8]| mulaw.len() as f64 / 8_000.0;

    // One sentence, a pause the callee talks on after, the next sentence, the end.
    let mut stream = stt.start(SttContext { call_id: "segments".into(), vocabulary: None });
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 0 }).unwrap();
    let pause_ms = send_frames(&stream.input, &first, 0);
    stream.input.send(SttInput::Paused { timestamp_ms: pause_ms }).unwrap();
    // the decode at the pause is under way (its words come as an interim) when the callee goes on
    let SttOutput::Interim { text: interim } = next(&mut stream.output).await else {
        panic!("an interim at the pause")
    };
    // a phrase boundary: quiet for 200 ms more
    stream.input.send(SttInput::Resumed { timestamp_ms: pause_ms + 200 }).unwrap();
    let end_ms = send_frames(&stream.input, &second, pause_ms);
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).unwrap();
    let SttOutput::Final { text, start_ms, end_ms: final_end_ms, .. } = next(&mut stream.output).await else {
        panic!("the final transcript")
    };
    assert_eq!((start_ms, final_end_ms), (0, end_ms));
    assert!(text.starts_with(interim.trim()), "the segment's words lead: {interim:?} then {text:?}");
    let reference = "he was not an ill disposed young man he might even have been made amiable himself";
    let (errors, total) = word_errors(&words(reference), &words(&text));
    assert!(errors <= 3, "{text:?}: {errors} of {total} words wrong");
    // each stretch decoded once: the first sentence at the pause, the rest at the end (before
    // segments, the end decoded both sentences again)
    let decoded = decoder.audio_decoded_s();
    let said = seconds(&first) + seconds(&second);
    assert!((decoded - said).abs() < 0.2, "{decoded:.2} s decoded for {said:.2} s of audio");

    // A stretch shorter than a segment is dropped at the resumption and decoded with the rest.
    let short = &first[..(SEGMENT_MIN_SAMPLES_8K / 2).min(first.len())];
    let before = decoder.audio_decoded_s();
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 30_000 }).unwrap();
    let pause_ms = send_frames(&stream.input, short, 30_000);
    stream.input.send(SttInput::Paused { timestamp_ms: pause_ms }).unwrap();
    let _ = next(&mut stream.output).await; // its interim: the decode ran
    stream.input.send(SttInput::Resumed { timestamp_ms: pause_ms + 200 }).unwrap();
    let end_ms = send_frames(&stream.input, &second, pause_ms);
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).unwrap();
    let SttOutput::Final { .. } = next(&mut stream.output).await else { panic!("the final transcript") };
    let decoded = decoder.audio_decoded_s() - before;
    let whole = seconds(short) + seconds(&second);
    assert!((decoded - (seconds(short) + whole)).abs() < 0.2, "{decoded:.2} s decoded: the short stretch, then all");

    // A long stretch, but the callee went on 40 ms after the pause was told (a gap inside a
    // word, as likely as not): dropped too, decoded with the rest.
    let before = decoder.audio_decoded_s();
    stream.input.send(SttInput::UtteranceStart { timestamp_ms: 60_000 }).unwrap();
    let pause_ms = send_frames(&stream.input, &first, 60_000);
    stream.input.send(SttInput::Paused { timestamp_ms: pause_ms }).unwrap();
    let _ = next(&mut stream.output).await;
    stream.input.send(SttInput::Resumed { timestamp_ms: pause_ms + 40 }).unwrap();
    let end_ms = send_frames(&stream.input, &second, pause_ms);
    stream.input.send(SttInput::UtteranceEnd { timestamp_ms: end_ms }).unwrap();
    let SttOutput::Final { text, .. } = next(&mut stream.output).await else { panic!("the final transcript") };
    let decoded = decoder.audio_decoded_s() - before;
    let all = seconds(&first) + seconds(&second);
    assert!((decoded - (seconds(&first) + all)).abs() < 0.2, "{decoded:.2} s decoded: the first sentence, then all");
    let (errors, total) = word_errors(&words(reference), &words(&text));
    assert!(errors <= 3, "{text:?}: {errors} of {total} words wrong");
    stream.input.send(SttInput::Close).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_utterance_still_waiting_is_skipped_and_one_taken_runs_to_the_end() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let config =
        whisper_stt::WhisperOptionsConfig { decoders: 1, ..options_from_config(&speech::SpeechConfig::default()) };
    let decoder = WhisperDecoder::start(&config).expect("loads");
    let prompt = Arc::new(Vec::new());
    // the one decoder takes the first; the second waits behind it and is withdrawn meanwhile
    let first = decoder.submit(vec![0.0; 16_000 * 5], prompt.clone()).expect("taken");
    let withdrawn = Arc::new(AtomicBool::new(false));
    let second = decoder.submit_withdrawable(vec![0.0; 16_000 * 5], prompt.clone(), withdrawn.clone()).expect("taken");
    withdrawn.store(true, Ordering::Relaxed);
    assert!(first.await.expect("answered").is_ok());
    assert_eq!(second.await.expect("answered"), Err(whisper_stt::WhisperError::Withdrawn));
    assert_eq!(decoder.pending(), 0, "a withdrawn utterance leaves the queue");
}
