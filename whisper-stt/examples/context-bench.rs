//! Does the agent's last line, given to Whisper as its "previous text", help it hear the answer?
//! Reads a TSV of `voice<TAB>what the agent said<TAB>what the callee answered`, speaks each answer
//! with its voice (espeak-ng, or `flite:<voice>`), puts it through the telephone band (8 kHz
//! mu-law) and decodes it twice on one shared decoder: without a prompt, and with the agent's line
//! as the prompt. Prints the WER of both, per voice and in total.
//!
//! `cargo run --release -p whisper-stt --example context-bench -- PAIRS.tsv [--verbose]`

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use speech::evaluation::word_errors;
use whisper_stt::offline::{comparable_words, speak, telephone_band};
use whisper_stt::provider::to_model_input;
use whisper_stt::{options_from_config, WhisperDecoder};

fn main() -> anyhow::Result<()> {
    let mut file = None;
    let mut verbose = false;
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "--verbose" => verbose = true,
            other if file.is_none() => file = Some(other.to_owned()),
            other => bail!("unknown argument {other}"),
        }
    }
    let file = file.ok_or_else(|| anyhow!("usage: context-bench PAIRS.tsv [--verbose]"))?;
    let text = std::fs::read_to_string(Path::new(&file)).with_context(|| file.clone())?;
    let decoder = WhisperDecoder::start(&options_from_config(&speech::SpeechConfig::default()))?;
    // (voice, condition) -> (errors, words)
    let mut tally: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(voice), Some(question), Some(answer)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let mulaw = telephone_band(&speak(voice, answer).map_err(|error| anyhow!(error))?);
        let mut pcm = Vec::with_capacity(mulaw.len());
        protocol::mulaw::decode_into(&mulaw, &mut pcm);
        let samples = to_model_input(&pcm);
        let reference = comparable_words(answer);
        for (condition, prompt_text) in [("no prompt", ""), ("agent line", question)] {
            let prompt = decoder.model().prompt_tokens(prompt_text);
            let heard = decoder.transcribe_now(&samples, &prompt)?.text;
            let (errors, words) = word_errors(&reference, &comparable_words(&heard));
            if verbose {
                println!("{voice}\t{condition}\t{errors}/{words}\t{answer}\t=> {heard}");
            }
            let entry = tally.entry((voice.to_owned(), condition)).or_default();
            entry.0 += errors;
            entry.1 += words;
            let entry = tally.entry(("all".to_owned(), condition)).or_default();
            entry.0 += errors;
            entry.1 += words;
        }
    }
    println!("| voice | prompt | WER | errors / words |\n|---|---|---|---|");
    for ((voice, condition), (errors, words)) in &tally {
        println!(
            "| {voice} | {condition} | {:.1}% | {errors} / {words} |",
            100.0 * *errors as f64 / (*words).max(1) as f64
        );
    }
    Ok(())
}
