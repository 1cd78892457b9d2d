//! The pipe protocol between a process that speaks ([`crate::engine::PiperVoice`]) and its
//! `piper-voice` child, which holds the model. Sherpa-onnx and onnxruntime live only in the child,
//! so a crash inside them costs one sentence and a restart, not the call or the process.
//!
//! - Child to parent, once at start: `ready <sample rate>\n`, or `error <message>\n` and exit.
//! - Parent to child, per sentence: its phonemes on one line (no newline inside).
//! - Child to parent, per sentence: `audio <samples>\n` then that many 16-bit little-endian
//!   samples at the model's rate, or `error <message>\n`.
//! - End of the parent's side (stdin closed): the child exits.
//!
//! Every read is bounded: a line by [`MAX_LINE_BYTES`], a sentence by [`MAX_SAMPLES`].

use std::io::{self, BufRead, Read, Write};

/// Longest line either side reads (a sentence's phonemes are a few hundred characters).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Most samples of one sentence's audio (two minutes at 48 kHz).
pub const MAX_SAMPLES: usize = 48_000 * 120;

/// What the child says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ready { sample_rate_hz: u32 },
    Audio(Vec<i16>),
    Error(String),
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("piper-voice pipe: {0}")]
    Io(#[from] io::Error),
    #[error("piper-voice protocol: {0}")]
    Protocol(String),
}

/// One line of at most [`MAX_LINE_BYTES`], without its newline; `None` at the end of input.
pub fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, WireError> {
    let mut line = Vec::new();
    let read = reader.by_ref().take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE_BYTES {
            WireError::Protocol(format!("a line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            WireError::Io(io::ErrorKind::UnexpectedEof.into())
        });
    }
    line.pop();
    String::from_utf8(line).map(Some).map_err(|_| WireError::Protocol("a line that is not UTF-8".into()))
}

/// A sentence's phonemes as one request line (line breaks become spaces).
pub fn write_request(writer: &mut impl Write, phonemes: &str) -> io::Result<()> {
    let line: String = phonemes.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    writer.write_all(line.as_bytes())?;
    writer.write_all(b"\n")?;
    writer.flush()
}

pub fn write_ready(writer: &mut impl Write, sample_rate_hz: u32) -> io::Result<()> {
    writeln!(writer, "ready {sample_rate_hz}")?;
    writer.flush()
}

pub fn write_error(writer: &mut impl Write, message: &str) -> io::Result<()> {
    let message: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(1_000).collect();
    writeln!(writer, "error {message}")?;
    writer.flush()
}

pub fn write_audio(writer: &mut impl Write, samples: &[i16]) -> io::Result<()> {
    let samples = &samples[..samples.len().min(MAX_SAMPLES)];
    writeln!(writer, "audio {}", samples.len())?;
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

/// The child's next message; `None` when it closed its side.
pub fn read_reply(reader: &mut impl BufRead) -> Result<Option<Reply>, WireError> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    let reply = match word {
        "ready" => match rest.trim().parse::<u32>() {
            Ok(rate) if (8_000..=48_000).contains(&rate) => Reply::Ready { sample_rate_hz: rate },
            _ => return Err(WireError::Protocol(format!("bad sample rate in {line:?}"))),
        },
        "error" => Reply::Error(rest.to_owned()),
        "audio" => {
            let count = match rest.trim().parse::<usize>() {
                Ok(count) if count <= MAX_SAMPLES => count,
                _ => return Err(WireError::Protocol(format!("bad sample count in {line:?}"))),
            };
            let mut bytes = vec![0u8; count * 2];
            reader.read_exact(&mut bytes)?;
            Reply::Audio(bytes.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect())
        }
        _ => {
            let shown: String = line.chars().take(80).collect();
            return Err(WireError::Protocol(format!("unexpected {shown:?}")));
        }
    };
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let mut pipe = Vec::new();
        write_ready(&mut pipe, 22_050).unwrap();
        write_audio(&mut pipe, &[0, -1, i16::MAX, i16::MIN]).unwrap();
        write_error(&mut pipe, "no\naudio").unwrap();
        write_audio(&mut pipe, &[]).unwrap();
        let mut reader = io::Cursor::new(pipe);
        assert_eq!(read_reply(&mut reader).unwrap(), Some(Reply::Ready { sample_rate_hz: 22_050 }));
        assert_eq!(read_reply(&mut reader).unwrap(), Some(Reply::Audio(vec![0, -1, i16::MAX, i16::MIN])));
        assert_eq!(read_reply(&mut reader).unwrap(), Some(Reply::Error("no audio".into())));
        assert_eq!(read_reply(&mut reader).unwrap(), Some(Reply::Audio(Vec::new())));
        assert_eq!(read_reply(&mut reader).unwrap(), None);

        let mut requests = Vec::new();
        write_request(&mut requests, "hˈaɪ,\nðɛɹ.").unwrap();
        let mut reader = io::Cursor::new(requests);
        assert_eq!(read_line(&mut reader).unwrap().as_deref(), Some("hˈaɪ, ðɛɹ."));
        assert_eq!(read_line(&mut reader).unwrap(), None);
    }

    #[test]
    fn bad_input_is_refused_with_a_bounded_read() {
        let reply = |bytes: &[u8]| read_reply(&mut io::Cursor::new(bytes.to_vec()));
        assert!(matches!(reply(b"audio 99999999999\n"), Err(WireError::Protocol(_))), "too many samples");
        assert!(matches!(reply(b"audio 4\n\x01\x00"), Err(WireError::Io(_))), "cut short");
        assert!(matches!(reply(b"ready 3\n"), Err(WireError::Protocol(_))));
        assert!(matches!(reply(b"hello\n"), Err(WireError::Protocol(_))));
        assert!(matches!(reply(b"ready 22050"), Err(WireError::Io(_))), "no newline before the end");
        let long = vec![b'a'; MAX_LINE_BYTES + 10];
        assert!(matches!(read_line(&mut io::Cursor::new(long)), Err(WireError::Protocol(_))));
        assert!(matches!(read_line(&mut io::Cursor::new(b"\xff\xfe\n".to_vec())), Err(WireError::Protocol(_))));
    }
}
