//! A persona's own voice: a text-to-speech program run as a child process (`espeak-ng` or the
//! `flite` binary's voices), never the agent's (flite `kal`, linked in through flite-rs), so the
//! agent is measured on a voice it was not built around. The WAV it writes is resampled to
//! 8 kHz and sent as μ-law, like any [`TtsProvider`].
//!
//! Bounded: at most [`MAX_TEXT_CHARS`] of text per line, [`MAX_WAV_BYTES`] of output, and
//! [`SYNTHESIS_TIMEOUT`] per line (the child is killed after that).

use bytes::Bytes;
use speech::{TtsChunk, TtsError, TtsErrorKind, TtsProvider};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Longer lines are cut at a word boundary.
pub const MAX_TEXT_CHARS: usize = 600;
/// More output than this is refused (a minute of 22 kHz 16-bit audio is 2.6 MB).
pub const MAX_WAV_BYTES: usize = 8 << 20;
/// A line that takes longer to synthesize is dropped and its child killed.
pub const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(15);
/// The `flite` binary's voices a persona may use (`kal` is the agent's).
pub const FLITE_VOICES: &[&str] = &["slt", "rms", "awb"];

/// Which program and voice speak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoiceSpec {
    /// `espeak-ng -v <voice>` (e.g. `en-us+f2`, `en-gb+m3`).
    EspeakNg(String),
    /// `flite -voice <voice>` (slt, rms, awb).
    Flite(String),
}

impl VoiceSpec {
    /// `espeak-ng:en-us+f2` or `flite:slt`; the agent's voice (`kal`) is refused.
    pub fn parse(spec: &str) -> Result<VoiceSpec, String> {
        let (program, voice) = spec
            .split_once(':')
            .ok_or_else(|| format!("{spec:?} is not <program>:<voice> (espeak-ng:en-us+f2, flite:slt)"))?;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '+' || c == '_';
        if voice.is_empty() || voice.len() > 40 || !voice.chars().all(plain) {
            return Err(format!("{voice:?} is not a voice name"));
        }
        match program {
            "espeak-ng" => Ok(VoiceSpec::EspeakNg(voice.to_owned())),
            "flite" if FLITE_VOICES.contains(&voice) => Ok(VoiceSpec::Flite(voice.to_owned())),
            "flite" => Err(format!(
                "flite voice {voice:?} is not one of {} (kal is the agent's own voice)",
                FLITE_VOICES.join(", ")
            )),
            other => Err(format!("{other:?} is not a voice program (espeak-ng or flite)")),
        }
    }

    /// The command line that writes `text` as a WAV on stdout.
    fn command(&self, text: &str) -> tokio::process::Command {
        let mut command = match self {
            VoiceSpec::EspeakNg(voice) => {
                let mut c = tokio::process::Command::new("espeak-ng");
                c.args(["-v", voice, "--stdout", "--", text]);
                c
            }
            VoiceSpec::Flite(voice) => {
                let mut c = tokio::process::Command::new("flite");
                c.args(["-voice", voice, "-o", "/dev/stdout", "-t", text]);
                c
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        command
    }
}

impl std::fmt::Display for VoiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VoiceSpec::EspeakNg(voice) => write!(f, "espeak-ng:{voice}"),
            VoiceSpec::Flite(voice) => write!(f, "flite:{voice}"),
        }
    }
}

/// A [`TtsProvider`] speaking through a [`VoiceSpec`]'s program.
#[derive(Clone, Debug)]
pub struct CommandVoice {
    spec: VoiceSpec,
}

impl CommandVoice {
    pub fn new(spec: VoiceSpec) -> CommandVoice {
        CommandVoice { spec }
    }

    /// `text` as 8 kHz linear PCM.
    pub async fn synthesize_pcm_8k(&self, text: &str) -> Result<Vec<i16>, TtsError> {
        let text = spoken_text(text);
        let engine = |message: String| TtsError::new(TtsErrorKind::Engine, format!("{}: {message}", self.spec));
        let mut child = self.spec.command(&text).spawn().map_err(|e| engine(format!("cannot start: {e}")))?;
        let mut stdout = child.stdout.take().ok_or_else(|| engine("no stdout".into()))?;
        let mut wav = Vec::new();
        let read = async {
            let mut buffer = [0u8; 16 * 1024];
            loop {
                let n = stdout.read(&mut buffer).await?;
                if n == 0 {
                    return Ok::<bool, std::io::Error>(true);
                }
                if wav.len() + n > MAX_WAV_BYTES {
                    return Ok(false);
                }
                wav.extend_from_slice(&buffer[..n]);
            }
        };
        match tokio::time::timeout(SYNTHESIS_TIMEOUT, read).await {
            Err(_) => return Err(engine(format!("no audio within {} s", SYNTHESIS_TIMEOUT.as_secs()))),
            Ok(Err(e)) => return Err(engine(format!("reading its output: {e}"))),
            Ok(Ok(false)) => return Err(engine(format!("more than {MAX_WAV_BYTES} bytes of audio"))),
            Ok(Ok(true)) => {}
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        let (samples, rate_hz) = read_wav(&wav).map_err(|e| engine(format!("bad WAV: {e}")))?;
        Ok(speech::resample::resample(&samples, rate_hz, 8_000))
    }
}

impl TtsProvider for CommandVoice {
    fn name(&self) -> &'static str {
        match self.spec {
            VoiceSpec::EspeakNg(_) => "espeak-ng",
            VoiceSpec::Flite(_) => "flite-binary",
        }
    }

    fn synthesize(&self, text: String) -> mpsc::UnboundedReceiver<Result<TtsChunk, TtsError>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let voice = self.clone();
        tokio::spawn(async move {
            match voice.synthesize_pcm_8k(&text).await {
                Ok(pcm) => {
                    let mut mulaw = Vec::with_capacity(pcm.len());
                    protocol::mulaw::encode_into(&pcm, &mut mulaw);
                    let total_ms = pcm.len() as u64 / 8;
                    let _ = sender.send(Ok(TtsChunk::Audio(Bytes::from(mulaw))));
                    let _ = sender.send(Ok(TtsChunk::Done { total_ms }));
                }
                Err(error) => {
                    let _ = sender.send(Err(error));
                }
            }
        });
        receiver
    }
}

/// What the program is given to say: [`bounded_text`], with "nine thirty a m" written "nine
/// thirty a.m" so it is said as a person says it, "ay em", not with the article's "uh em" (both
/// espeak-ng and flite read a lone "a" so; Whisper wrote what it heard as "9.30m").
fn spoken_text(text: &str) -> String {
    protocol::spoken::join_clock_suffixes(&bounded_text(text))
}

/// At most [`MAX_TEXT_CHARS`], cut at a word boundary; no leading dash (not an option).
fn bounded_text(text: &str) -> String {
    let text = text.trim().trim_start_matches('-');
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
    match cut.rfind(' ') {
        Some(space) => cut[..space].to_owned(),
        None => cut,
    }
}

/// Mono 16-bit PCM samples and the rate of a WAV (the first channel of several).
fn read_wav(bytes: &[u8]) -> Result<(Vec<i16>, u32), String> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(format!("{} bit {:?} samples, want 16 bit integer", spec.bits_per_sample, spec.sample_format));
    }
    let channels = usize::from(spec.channels.max(1));
    // espeak-ng writes its WAV to a pipe with unknown lengths: read what is there
    let samples: Vec<i16> = reader.into_samples::<i16>().map_while(Result::ok).step_by(channels).collect();
    Ok((samples, spec.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_m_after_a_time_is_said_as_letters() {
        assert_eq!(
            spoken_text("We have all levels class on monday from nine thirty a m to ten thirty a m."),
            "We have all levels class on monday from nine thirty a.m to ten thirty a.m."
        );
        assert_eq!(spoken_text("six p m"), "six p.m");
        assert_eq!(spoken_text("Bring a mat."), "Bring a mat.");
    }

    #[test]
    fn voice_specs_parse_and_the_agents_voice_is_refused() {
        assert_eq!(VoiceSpec::parse("espeak-ng:en-us+f2"), Ok(VoiceSpec::EspeakNg("en-us+f2".into())));
        assert_eq!(VoiceSpec::parse("flite:slt"), Ok(VoiceSpec::Flite("slt".into())));
        assert!(VoiceSpec::parse("flite:kal").unwrap_err().contains("agent"));
        assert!(VoiceSpec::parse("say:alex").is_err());
        assert!(VoiceSpec::parse("espeak-ng:en; rm -rf /").is_err());
        assert!(VoiceSpec::parse("espeak-ng").is_err());
    }

    #[test]
    fn long_text_is_cut_at_a_word() {
        let long = "word ".repeat(500);
        let cut = bounded_text(&long);
        assert!(cut.len() <= MAX_TEXT_CHARS && cut.ends_with("word"), "{}", cut.len());
        assert_eq!(bounded_text("--help me"), "help me");
    }
}
