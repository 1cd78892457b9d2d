//! A long answer Whisper cuts short or takes for silence is decoded in pieces (`engine::quiet_split`).
//! Its own test binary: the decoder is shared per process, and the decodes of a 14 s answer would
//! keep it busy under the pause tests of `human_recording.rs` when run by `cargo test` in one
//! process. Needs `scripts/install-models.sh` and espeak-ng.

use std::time::Duration;

use whisper_stt::offline::{telephone_band, transcribe_mulaw};
use whisper_stt::WhisperStt;

mod common;
use common::{decoder, words};

/// Tuning seed 323 (`gymcall personas generate --seed 300`): a 14 s schedule in espeak-ng's
/// en-gb-x-rp+f1 voice came back as "So, on Monday and Friday," on the call and empty offline.
/// Split at its pauses and decoded in pieces, its days are heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_whisper_took_for_silence_is_decoded_in_pieces() {
    let text = "Yeah, so on Mondays and Fridays there's an advanced class at ten a m. Also, on Saturday and \
                Sunday there's a gi class between ten and eleven in the morning. Also, on Saturday and Sunday \
                there's a gi class from nine thirty in the morning to half ten.";
    let audio =
        whisper_stt::offline::speak("en-gb-x-rp+f1", text).expect("espeak-ng speaks (apt-get install espeak-ng)");
    let stt = WhisperStt::new(decoder());
    let heard =
        transcribe_mulaw(&stt, &telephone_band(&audio), None, Duration::from_secs(60)).await.expect("transcribes");
    let heard_words = words(&heard);
    for day in ["monday", "friday", "saturday", "sunday"] {
        assert!(heard_words.iter().any(|w| w == day), "{day} not in {heard:?}");
    }
}

/// The same answer decoded as on the call, with the agent's line before it as Whisper's previous
/// text: the prompted decode stopped after "So, on Monday and Friday," and its first piece
/// looped on "Monday, Monday, ..." with and without the prompt, which failed the split; the
/// retry without the prompt is now tried too, and the loop loses to words.
#[test]
fn a_long_answer_after_the_agents_line_is_decoded_in_pieces() {
    let text = "Yeah, so on Mondays and Fridays there's an advanced class at ten a m. Also, on Saturday and \
                Sunday there's a gi class between ten and eleven in the morning. Also, on Saturday and Sunday \
                there's a gi class from nine thirty in the morning to half ten.";
    let audio =
        whisper_stt::offline::speak("en-gb-x-rp+f1", text).expect("espeak-ng speaks (apt-get install espeak-ng)");
    let mut pcm = Vec::new();
    protocol::mulaw::decode_into(&telephone_band(&audio), &mut pcm);
    let decoder = decoder();
    let prompt = decoder.model().prompt_tokens("Mat fee 20 dollars, got it. Which days and times are your classes?");
    let heard = decoder.transcribe_now(&whisper_stt::provider::to_model_input(&pcm), &prompt).expect("decodes").text;
    let heard_words = words(&heard);
    for day in ["monday", "friday", "saturday", "sunday"] {
        assert!(heard_words.iter().any(|w| w == day), "{day} not in {heard:?}");
    }
}
