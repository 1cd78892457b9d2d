//! Bench: embedded STT word error rate and decode time per utterance on the repository's
//! sentence set (flite -> 8 kHz mu-law -> PocketSphinx), decoded with the vocabulary a playbook
//! gives a call (the built-in gym playbook unless `--playbook` names a file).
//!
//! Usage: `cargo run --release -p speech --example speech-wer-bench -- [--rate 16k-mirror|16k|8k]
//! [--arg -lw 10]... [--general] [--sentences FILE] [--playbook FILE]` (`--sentences`: one
//! sentence a line instead of the repository's set). `--general` decodes with the stock general
//! English model (`en-us.lm.bin`, full dictionary) instead of the generated vocabulary model, for
//! comparison. An example rather than a binary: the playbook crate is only a dev-dependency of
//! speech, which knows no playbook.

use std::time::Instant;

use protocol::spoken::normalize;
use speech::evaluation::{playbook_questions, wer_sentences, word_errors};
use speech::stt::{PocketsphinxConfig, PocketsphinxStt, SphinxInputRate};
use speech::tts::FliteTts;
use speech::Vocabulary;

fn main() -> anyhow::Result<()> {
    let mut config = PocketsphinxConfig::default();
    let mut arguments = std::env::args().skip(1);
    let mut general = false;
    let mut sentences_file: Option<String> = None;
    let mut playbook_file: Option<String> = None;
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--rate" => match arguments.next().as_deref() {
                Some("8k") => config.input_rate = SphinxInputRate::Native8k,
                Some("16k") => config.input_rate = SphinxInputRate::Upsampled16k,
                Some("16k-mirror") => config.input_rate = SphinxInputRate::Mirrored16k,
                other => anyhow::bail!("--rate takes 8k, 16k or 16k-mirror, got {other:?}"),
            },
            "--arg" => {
                let name = arguments.next().ok_or_else(|| anyhow::anyhow!("--arg needs a name"))?;
                let value = arguments.next().ok_or_else(|| anyhow::anyhow!("--arg needs a value"))?;
                config.extra_arguments.push((name, value));
            }
            "--general" => general = true,
            "--sentences" => {
                let path = arguments.next().ok_or_else(|| anyhow::anyhow!("--sentences needs a file"))?;
                sentences_file = Some(std::fs::read_to_string(&path)?);
            }
            "--playbook" => {
                playbook_file = Some(arguments.next().ok_or_else(|| anyhow::anyhow!("--playbook needs a file"))?);
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    if general {
        let model = config.model_dir.clone();
        config.extra_arguments.push(("-lm".into(), model.join("en-us.lm.bin").display().to_string()));
        config.extra_arguments.push(("-dict".into(), model.join("cmudict-en-us.dict").display().to_string()));
    }
    println!(
        "input rate: {:?}, extra arguments: {:?}, general model: {general}",
        config.input_rate, config.extra_arguments
    );

    let tts = FliteTts::new()?;
    let stt = PocketsphinxStt::new(config)?;
    let playbook = match &playbook_file {
        Some(path) => playbook::Playbook::load(path)?,
        None => playbook::PlaybookSet::built_in()?.get(playbook::DEFAULT_PLAYBOOK)?.clone(),
    };
    println!("playbook: {}", playbook.id);
    let vocabulary = Vocabulary::from_hints(&playbook.recognition_hints()).with_phrases(playbook_questions());
    let started = Instant::now();
    let mut decoder = stt.build_decoder(&vocabulary)?;
    println!(
        "decoder built in {} ms ({} vocabulary words)",
        started.elapsed().as_millis(),
        vocabulary.all_words().len()
    );

    let mut total_errors = 0usize;
    let mut total_words = 0usize;
    let mut total_audio_ms = 0u64;
    let mut total_decode_ms = 0u128;
    let sentences: Vec<&str> = match &sentences_file {
        Some(text) => text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect(),
        None => wer_sentences(),
    };
    for sentence in sentences {
        let pcm = tts.synthesize_pcm_8k(sentence);
        let mut mulaw = Vec::new();
        protocol::mulaw::encode_into(&pcm, &mut mulaw);
        let mut phone_audio = vec![0i16; 1600];
        protocol::mulaw::decode_into(&mulaw, &mut phone_audio);
        phone_audio.extend(std::iter::repeat_n(0i16, 4000));
        let audio_ms = (phone_audio.len() / 8) as u64;
        let decode_started = Instant::now();
        let hypothesis = decoder.decode_8k(&phone_audio)?;
        let decode_ms = decode_started.elapsed().as_millis();
        let text = hypothesis.map(|hypothesis| hypothesis.text).unwrap_or_default();
        let reference = normalize(sentence);
        let (errors, words) = word_errors(&reference, &normalize(&text));
        total_errors += errors;
        total_words += words;
        total_audio_ms += audio_ms;
        total_decode_ms += decode_ms;
        println!("{decode_ms:>5} ms decode / {audio_ms:>5} ms audio  {errors}/{words}  {text}");
    }
    println!(
        "WER {:.1}% ({total_errors}/{total_words}); decode {} ms for {} ms of audio (real-time factor {:.3})",
        100.0 * total_errors as f64 / total_words as f64,
        total_decode_ms,
        total_audio_ms,
        total_decode_ms as f64 / total_audio_ms as f64
    );
    Ok(())
}
