//! The Piper model, loaded through sherpa-onnx: a sentence's phonemes in, its samples out.

use std::collections::HashSet;
use std::path::Path;

use sherpa_onnx::{GenerationConfig, OfflineTts, OfflineTtsConfig, OfflineTtsModelConfig, OfflineTtsVitsModelConfig};

/// Largest model.onnx accepted (Piper medium voices are 63 MB, high ones ~110 MB).
const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;
/// Longest phoneme string synthesized at once (a long sentence is ~300).
pub const MAX_PHONEMES: usize = 2_000;

/// How much of its trained randomness the voice keeps: the sound (`noise_scale`, trained 0.667)
/// and the length of each phoneme (`noise_w`, trained 0.8). Lower is steadier and more often heard
/// right: with 0.4 / 0.6 Whisper misheard 7-19 of the agent lines' 413 words in six runs, with the
/// trained settings 10-23 in eight (`tests/understood.rs`, piper-tts/README.md).
const NOISE_SCALE: f32 = 0.4;
const NOISE_W: f32 = 0.6;

/// The loaded model. `Send + Sync`: onnxruntime sessions run concurrently.
pub struct PiperModel {
    tts: OfflineTts,
    sample_rate_hz: u32,
    /// The phoneme symbols of tokens.txt; others are dropped before synthesis.
    symbols: HashSet<char>,
}

impl PiperModel {
    /// Loads `dir` and synthesizes one short sentence (a model that loads but cannot speak is
    /// refused here, not on a call). The error is a message for the parent.
    pub fn load(dir: &Path, threads: usize) -> Result<PiperModel, String> {
        for file in ["model.onnx", "tokens.txt"] {
            if !dir.join(file).is_file() {
                return Err(format!("{} has no {file} (run scripts/install-models.sh)", dir.display()));
            }
        }
        let load_error = |message: String| message;
        let model_bytes = std::fs::metadata(dir.join("model.onnx")).map_err(|e| load_error(e.to_string()))?.len();
        if model_bytes > MAX_MODEL_BYTES {
            return Err(load_error(format!("model.onnx is {model_bytes} bytes, more than {MAX_MODEL_BYTES}")));
        }
        let symbols = read_symbols(&dir.join("tokens.txt")).map_err(load_error)?;
        // sherpa-onnx ends the process (exit -1) on a model without its metadata: checked first.
        let metadata = read_metadata(&dir.join("model.onnx")).map_err(load_error)?;
        for (key, wanted) in [("model_type", Some("vits")), ("comment", Some("piper")), ("sample_rate", None)] {
            match (metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()), wanted) {
                (None, _) => {
                    let message = format!(
                        "model.onnx has no sherpa-onnx metadata {key:?} (prepare it with scripts/install-voice.sh)"
                    );
                    return Err(load_error(message));
                }
                (Some(value), Some(wanted)) if value != wanted => {
                    return Err(load_error(format!("model.onnx metadata {key}={value:?}, expected {wanted:?}")));
                }
                _ => {}
            }
        }
        let path = |file: &str| Some(dir.join(file).display().to_string());
        let config = OfflineTtsConfig {
            model: OfflineTtsModelConfig {
                vits: OfflineTtsVitsModelConfig {
                    model: path("model.onnx"),
                    tokens: path("tokens.txt"),
                    noise_scale: NOISE_SCALE,
                    noise_scale_w: NOISE_W,
                    ..OfflineTtsVitsModelConfig::default()
                },
                num_threads: threads.max(1) as i32,
                ..OfflineTtsModelConfig::default()
            },
            max_num_sentences: 1,
            ..OfflineTtsConfig::default()
        };
        let tts = OfflineTts::create(&config).ok_or_else(|| {
            load_error(
                "sherpa-onnx could not load model.onnx (not a Piper VITS model with sherpa-onnx metadata?)".into(),
            )
        })?;
        let sample_rate_hz = u32::try_from(tts.sample_rate()).unwrap_or(0);
        if !(8_000..=48_000).contains(&sample_rate_hz) {
            return Err(load_error(format!("model sample rate {sample_rate_hz} Hz")));
        }
        let model = PiperModel { tts, sample_rate_hz, symbols };
        // a run as long as the parent sends (a sentence read back), through the whole model: the
        // memory onnxruntime keeps for its tensors is taken now, not on a call
        let warm_up =
            model.synthesize(&warm_up_phonemes()).map_err(|error| load_error(format!("test sentence: {error}")))?;
        if warm_up.is_empty() {
            return Err(load_error("test sentence gave no audio".into()));
        }
        Ok(model)
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Synthesizes one sentence's phonemes on the calling thread (blocking). Symbols the voice
    /// does not know are dropped; nothing left gives no audio.
    pub fn synthesize(&self, phonemes: &str) -> Result<Vec<f32>, String> {
        let codepoints: Vec<i32> = phonemes
            .chars()
            .filter(|symbol| self.symbols.contains(symbol))
            .take(MAX_PHONEMES)
            .map(|symbol| symbol as i32)
            .collect();
        if !codepoints.iter().any(|&c| char::from_u32(c as u32).is_some_and(char::is_alphabetic)) {
            return Ok(Vec::new());
        }
        let generation = GenerationConfig { phoneme_codepoints: Some(vec![codepoints]), ..GenerationConfig::default() };
        let audio = self
            .tts
            .generate_with_config::<fn(&[f32], f32) -> bool>("", &generation, None)
            .ok_or_else(|| "sherpa-onnx returned no audio".to_owned())?;
        Ok(audio.samples().to_vec())
    }
}

/// A schedule read back, repeated to [`piper_tts::engine::MAX_PHONEMES_PER_RUN`] phonemes and
/// cut at a word: the longest run the parent sends.
fn warm_up_phonemes() -> String {
    const READ_BACK: &str = "sˌoʊ ðæts mˈʌndeɪ, wˈɛnzdeɪ ænd fɹˈaɪdeɪ æt sˈɪks θˈɜːɾi ɪnðɪ ˈiːvnɪŋ, \
                             tˈuːzdeɪ ænd θˈɜːzdeɪ æt nˈuːn, ænd sˈæɾɚdˌeɪ æt tˈɛn ɪnðə mˈɔːɹnɪŋ.";
    let cap = piper_tts::engine::MAX_PHONEMES_PER_RUN;
    let mut text = String::new();
    while text.chars().count() < cap {
        text.push_str(READ_BACK);
        text.push(' ');
    }
    let cut: String = text.chars().take(cap).collect();
    match cut.rfind(' ') {
        Some(space) if space > 0 => cut[..space].to_owned(),
        _ => cut,
    }
}

/// The phoneme symbols in a tokens.txt ("symbol id" per line; the space symbol's line is " 3").
fn read_symbols(path: &Path) -> Result<HashSet<char>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("tokens.txt: {e}"))?;
    let mut symbols = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let Some((symbol, id)) = line.rsplit_once(' ') else {
            return Err(format!("tokens.txt:{}: not 'symbol id'", number + 1));
        };
        let mut characters = symbol.chars();
        let (Some(symbol), None, Ok(_)) = (characters.next(), characters.next(), id.trim().parse::<u32>()) else {
            return Err(format!("tokens.txt:{}: not 'symbol id': {line:?}", number + 1));
        };
        symbols.insert(symbol);
    }
    if symbols.len() < 10 {
        return Err(format!("tokens.txt has {} symbols", symbols.len()));
    }
    Ok(symbols)
}

/// The `metadata_props` (key, value) of an ONNX file: the top-level fields of its ModelProto are
/// walked and every other field skipped, so the 63 MB graph is never read.
fn read_metadata(path: &Path) -> Result<Vec<(String, String)>, String> {
    use std::io::{BufReader, Read, Seek, SeekFrom};
    fn varint(reader: &mut impl Read) -> std::io::Result<Option<u64>> {
        let (mut value, mut shift, mut byte) = (0u64, 0, [0u8; 1]);
        loop {
            if reader.read(&mut byte)? == 0 {
                return if shift == 0 { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
            }
            value |= u64::from(byte[0] & 0x7F) << shift;
            shift += 7;
            if byte[0] & 0x80 == 0 || shift > 63 {
                return Ok(Some(value));
            }
        }
    }
    fn strings(entry: &[u8]) -> Option<(String, String)> {
        let (mut key, mut value, mut at) = (None, None, 0);
        while at < entry.len() {
            let tag = entry[at];
            let length = *entry.get(at + 1)? as usize; // keys and values here are short
            let text = String::from_utf8_lossy(entry.get(at + 2..at + 2 + length)?).into_owned();
            match tag {
                0x0A => key = Some(text),
                0x12 => value = Some(text),
                _ => {}
            }
            at += 2 + length;
        }
        Some((key?, value.unwrap_or_default()))
    }
    let bad = |message: String| format!("model.onnx: {message}");
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut reader = BufReader::new(file);
    let mut metadata = Vec::new();
    while let Some(tag) = varint(&mut reader).map_err(|e| bad(e.to_string()))? {
        match tag & 7 {
            0 => {
                varint(&mut reader).map_err(|e| bad(e.to_string()))?;
            }
            2 => {
                let length = varint(&mut reader).map_err(|e| bad(e.to_string()))?.unwrap_or(0);
                if tag >> 3 == 14 && length < 4096 {
                    let mut entry = vec![0u8; length as usize];
                    reader.read_exact(&mut entry).map_err(|e| bad(e.to_string()))?;
                    metadata.extend(strings(&entry));
                } else {
                    let offset = i64::try_from(length).map_err(|_| bad("field too long".into()))?;
                    reader.seek(SeekFrom::Current(offset)).map_err(|e| bad(e.to_string()))?;
                }
            }
            other => return Err(bad(format!("not an ONNX model (wire type {other})"))),
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_with_the_space_symbol() {
        let dir = std::env::temp_dir().join(format!("piper-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tokens.txt");
        std::fs::write(&path, "_ 0\n^ 1\n$ 2\n  3\n! 4\na 14\nb 15\nc 16\nd 17\ne 18\nɡ 66\n").expect("write");
        let symbols = read_symbols(&path).expect("tokens");
        assert!(symbols.contains(&' ') && symbols.contains(&'ɡ') && symbols.contains(&'_'));
        std::fs::write(&path, "_ 0\nab 1\n").expect("write");
        assert!(read_symbols(&path).unwrap_err().contains("tokens.txt:2"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_files_are_named() {
        let error = PiperModel::load(Path::new("/nonexistent/piper"), 1).err().expect("no model there");
        assert!(error.contains("/nonexistent/piper has no model.onnx"), "{error}");
        assert!(error.contains("scripts/install-models.sh"), "{error}");
    }
}
