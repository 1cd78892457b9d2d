//! What one decode costs, by utterance length and decoder setting: espeak-ng answers through the
//! telephone band, each decoded five times, median milliseconds printed.
//!
//! `cargo run --release -p whisper-stt --example decode-cost`

use std::time::Instant;

use whisper_stt::offline::{speak, telephone_band};
use whisper_stt::provider::to_model_input;
use whisper_stt::{options_from_config, WhisperDecoder};

fn main() -> anyhow::Result<()> {
    let answers = [
        "Yes, we do.",
        "Drop-ins are twenty dollars.",
        "We have classes Monday and Wednesday at seven in the evening.",
        "Monday, Wednesday and Friday at six thirty, and Saturday morning at ten, open mat on Sunday at noon.",
    ];
    let prompt_text = "Do you have a drop-in price, and is there a mat fee?";
    // (name, beam, shortest window in seconds, threads per decode)
    let settings: [(&str, usize, usize, usize); 6] = [
        ("beam 5, window 10 s, 2 threads", 5, 10, 2),
        ("beam 5, window 10 s, 1 thread", 5, 10, 1),
        ("beam 1, window 10 s, 2 threads", 1, 10, 2),
        ("beam 5, window 5 s, 2 threads", 5, 5, 2),
        ("beam 1, window 5 s, 2 threads", 1, 5, 2),
        ("beam 5, window 30 s, 2 threads", 5, 30, 2),
    ];
    let clips: Vec<(f32, Vec<f32>)> = answers
        .iter()
        .map(|answer| {
            let mulaw = telephone_band(&speak("en-us", answer).expect("espeak-ng"));
            let mut pcm = Vec::new();
            protocol::mulaw::decode_into(&mulaw, &mut pcm);
            (pcm.len() as f32 / 8_000.0, to_model_input(&pcm))
        })
        .collect();
    for (name, beam, window, threads) in settings {
        let mut options = options_from_config(&speech::SpeechConfig::default());
        options.beam_size = beam;
        options.window_s = window;
        options.threads_per_decoder = threads;
        let decoder = WhisperDecoder::start(&options)?;
        for (prompted, text) in [(false, ""), (true, prompt_text)] {
            let prompt = decoder.model().prompt_tokens(text);
            for (seconds, samples) in &clips {
                let mut times = Vec::new();
                let mut heard = String::new();
                for _ in 0..5 {
                    let started = Instant::now();
                    heard = decoder.transcribe_now(samples, &prompt)?.text;
                    times.push(started.elapsed().as_millis());
                }
                times.sort();
                println!("{name}\tprompt {prompted}\t{seconds:.1} s\t{} ms\t{heard}", times[2]);
            }
        }
    }
    Ok(())
}
