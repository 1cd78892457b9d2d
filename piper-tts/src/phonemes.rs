//! Text to the phonemes Piper was trained on: espeak-ng's IPA (`espeak-ng -q --ipa -v en-us`), run
//! as a separate process (sherpa-onnx 2.x has no phonemizer of its own, and a process keeps
//! espeak-ng's GPL out of this binary), with each clause's punctuation put back the way
//! piper-phonemize writes it ("hˈaɪ, ðɪs ɪz sˈæm.").

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::text::clauses;

/// Longest an espeak-ng run may take for one sentence before it is killed.
const ESPEAK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why phonemes could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhonemeError {
    #[error("espeak-ng ({program}) cannot be run: {message} (apt-get install espeak-ng, or set ESPEAK_NG_BIN)")]
    Missing { program: String, message: String },
    #[error("espeak-ng ({program}) failed: {message}")]
    Failed { program: String, message: String },
}

/// Phonemizes sentences with one espeak-ng program and voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phonemizer {
    pub program: String,
    /// espeak-ng voice, as the model's `.onnx.json` names it (`en-us` for joe).
    pub voice: String,
}

impl Phonemizer {
    pub fn new(program: impl Into<String>) -> Phonemizer {
        Phonemizer { program: program.into(), voice: "en-us".into() }
    }

    /// Checks that the program runs (`--version`), blocking; for load time.
    pub fn check(&self) -> Result<String, PhonemeError> {
        let output = std::process::Command::new(&self.program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|error| self.missing(error))?;
        if !output.status.success() {
            return Err(self.failed(format!("--version exited with {}", output.status)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The phonemes of one sentence (already in its spoken form), punctuation included.
    pub async fn phonemize(&self, sentence: &str) -> Result<String, PhonemeError> {
        let clauses = clauses(sentence);
        if clauses.is_empty() {
            return Ok(String::new());
        }
        // One run per sentence, its clauses on lines of their own; espeak-ng writes one line per
        // clause. Should it split them otherwise, each clause gets a run of its own.
        let input: Vec<String> = clauses.iter().map(|(text, mark)| format!("{text}{}", mark.unwrap_or(','))).collect();
        let lines = self.run(&input.join("\n")).await?;
        let per_clause = if lines.len() == clauses.len() {
            lines
        } else {
            let mut per_clause = Vec::with_capacity(clauses.len());
            for (text, _) in &clauses {
                per_clause.push(self.run(text).await?.join(" "));
            }
            per_clause
        };
        let mut phonemes = String::new();
        for ((_, mark), said) in clauses.iter().zip(per_clause) {
            if !phonemes.is_empty() {
                phonemes.push(' ');
            }
            phonemes.push_str(said.trim());
            phonemes.push(mark.unwrap_or('.'));
        }
        Ok(phonemes)
    }

    /// espeak-ng's IPA lines for `text`, language-switch marks such as "(fr)" removed.
    async fn run(&self, text: &str) -> Result<Vec<String>, PhonemeError> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(["-q", "--ipa", "-v", &self.voice])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| self.missing(error))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(text.as_bytes()).await.map_err(|error| self.failed(error.to_string()))?;
        }
        let output = tokio::time::timeout(ESPEAK_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| self.failed(format!("no answer within {} s", ESPEAK_TIMEOUT.as_secs())))?
            .map_err(|error| self.failed(error.to_string()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(self.failed(format!("exited with {}: {}", output.status, stderr.trim())));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.lines().map(without_language_marks).filter(|line| !line.trim().is_empty()).collect())
    }

    fn missing(&self, error: std::io::Error) -> PhonemeError {
        PhonemeError::Missing { program: self.program.clone(), message: error.to_string() }
    }

    fn failed(&self, message: String) -> PhonemeError {
        PhonemeError::Failed { program: self.program.clone(), message }
    }
}

/// espeak-ng marks words it reads in another language's rules: "(fr)ʃˈɑːpo(en)".
fn without_language_marks(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_mark = false;
    for character in line.chars() {
        match character {
            '(' => in_mark = true,
            ')' if in_mark => in_mark = false,
            _ if in_mark => {}
            _ => out.push(character),
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn espeak() -> Option<Phonemizer> {
        let phonemizer = Phonemizer::new("espeak-ng");
        match phonemizer.check() {
            Ok(_) => Some(phonemizer),
            Err(error) => {
                eprintln!("skipped: {error}");
                None
            }
        }
    }

    #[test]
    fn language_marks_are_removed() {
        assert_eq!(without_language_marks("(fr)ʃˈɑːpo(en) bˈɑːks"), "ʃˈɑːpo bˈɑːks");
        assert_eq!(without_language_marks("hˈaɪ"), "hˈaɪ");
    }

    #[test]
    fn a_missing_program_is_named() {
        let error = Phonemizer::new("/nonexistent/espeak-ng").check().unwrap_err();
        assert!(matches!(&error, PhonemeError::Missing { program, .. } if program == "/nonexistent/espeak-ng"));
        assert!(error.to_string().contains("ESPEAK_NG_BIN"), "{error}");
    }

    #[tokio::test]
    async fn clauses_keep_their_punctuation() {
        let Some(espeak) = espeak() else { return };
        let phonemes = espeak.phonemize("Hi, this is Sam. How much is a drop-in?").await.expect("phonemes");
        assert_eq!(phonemes.matches(',').count(), 1, "{phonemes}");
        assert!(phonemes.starts_with("hˈaɪ, ðɪs ɪz sˈæm. "), "{phonemes}");
        assert!(phonemes.ends_with('?'), "{phonemes}");
        assert_eq!(espeak.phonemize("  ").await.expect("empty"), "");
    }

    #[tokio::test]
    async fn the_gym_words_are_said_right() {
        let Some(espeak) = espeak() else { return };
        let say = |text: &str| {
            let espeak = espeak.clone();
            let text = crate::text::spoken_form(text);
            async move { espeak.phonemize(&text).await.expect("phonemes") }
        };
        // gi and its plural with a hard g; jiu as "joo"; BJJ letter by letter; a time's "p m".
        assert!(say("A gi.").await.contains("ɡˈiː"), "{}", say("A gi.").await);
        assert!(say("Two gis.").await.contains("ɡˈiːz"), "{}", say("Two gis.").await);
        assert!(say("No-gi.").await.contains("nˈoʊ") && say("No-gi.").await.contains("ɡˈiː"));
        let jiu_jitsu = say("Jiu jitsu.").await;
        assert!(jiu_jitsu.starts_with("dʒˈuː dʒˈɪtsuː"), "{jiu_jitsu}");
        let bjj = say("BJJ.").await;
        assert!(bjj.contains("bˈiː") && bjj.matches("dʒˈeɪ").count() == 2, "{bjj}");
        let time = say(&format!("At {}.", protocol::spoken::time("18:30"))).await;
        assert!(time.contains("pˌiːˈɛm") || time.contains("pˈiːˈɛm"), "{time}");
        assert!(!time.contains(" ɐ "), "{time}");
    }
}
