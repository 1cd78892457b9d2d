//! Embedded speech-to-text with PocketSphinx (Debian `libpocketsphinx-dev` + `pocketsphinx-en-us`),
//! constrained by a trigram language model and a dictionary generated from the call's
//! [`Vocabulary`] (a playbook's: the recogniser knows no domain of its own). Audio is collected per utterance and decoded on the blocking pool when the
//! endpointer says the utterance ended.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;

use super::sphinx_ffi::{path_argument, Decoder, Hypothesis};
use super::{Collected, SttContext, SttInput, SttOutput, SttProvider, SttStream, Utterance, UtteranceCollector};
use crate::resample;
use crate::vocabulary::Vocabulary;

/// Where Debian's `pocketsphinx-en-us` puts the US English model.
pub const DEBIAN_MODEL_DIR: &str = "/usr/share/pocketsphinx/model/en-us";

/// Rate the decoder is fed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SphinxInputRate {
    /// Upsample 8 kHz to 16 kHz (band-limited) for the wideband model.
    Upsampled16k,
    /// Upsample to 16 kHz and fill the empty 4-8 kHz band with a half-gain mirror image of
    /// 0-4 kHz (default: measured 8.2% vs 14.0% WER on the repository's sentence set, decoded
    /// with the gym playbook's vocabulary).
    #[default]
    Mirrored16k,
    /// Feed 8 kHz directly (`-samprate 8000 -nfft 256 -upperf 3500`). Debian's en-us model
    /// refuses it: its feat.params sets `-upperf 6800`, above 4 kHz.
    Native8k,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketsphinxConfig {
    /// Folder holding `en-us/` (acoustic model) and `cmudict-en-us.dict`.
    pub model_dir: PathBuf,
    pub input_rate: SphinxInputRate,
    /// Extra decoder arguments (`("-lw", "10")`), for tuning.
    pub extra_arguments: Vec<(String, String)>,
}

impl Default for PocketsphinxConfig {
    fn default() -> Self {
        PocketsphinxConfig {
            model_dir: PathBuf::from(DEBIAN_MODEL_DIR),
            input_rate: SphinxInputRate::default(),
            extra_arguments: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pocketsphinx: {0}")]
pub struct SphinxError(pub String);

/// Everything a decoder needs for one vocabulary, written to a temporary folder.
struct ModelFiles {
    folder: PathBuf,
}

impl Drop for ModelFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Word -> its pronunciations (CMU phones).
type Pronunciations = HashMap<String, Vec<String>>;

/// The embedded recognizer. Cheap to clone; one decoder is built per call.
#[derive(Clone)]
pub struct PocketsphinxStt {
    config: PocketsphinxConfig,
    pronunciations: Arc<OnceLock<Result<Pronunciations, SphinxError>>>,
    default_vocabulary: Arc<Vocabulary>,
    /// Idle decoders by vocabulary fingerprint, reused by later calls.
    idle: Arc<Mutex<HashMap<u64, Vec<VocabularyDecoder>>>>,
}

/// Idle decoders kept per vocabulary.
const MAX_IDLE_DECODERS: usize = 4;

fn fingerprint(vocabulary: &Vocabulary) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    vocabulary.phrases.hash(&mut hasher);
    vocabulary.words.hash(&mut hasher);
    vocabulary.subjects.hash(&mut hasher);
    vocabulary.pronunciations.hash(&mut hasher);
    hasher.finish()
}

impl PocketsphinxStt {
    /// Check the model is there; the dictionary is read on first use.
    pub fn new(config: PocketsphinxConfig) -> Result<PocketsphinxStt, SphinxError> {
        for needed in ["en-us/mdef", "cmudict-en-us.dict"] {
            let path = config.model_dir.join(needed);
            if !path.exists() {
                return Err(SphinxError(format!("{} is missing (install pocketsphinx-en-us)", path.display())));
            }
        }
        Ok(PocketsphinxStt {
            config,
            pronunciations: Arc::new(OnceLock::new()),
            default_vocabulary: Arc::new(Vocabulary::new()),
            idle: Arc::default(),
        })
    }

    /// Vocabulary every call's own vocabulary is added to (default: empty, so a call hears what
    /// its own vocabulary, a playbook's, says).
    pub fn with_default_vocabulary(mut self, vocabulary: Vocabulary) -> PocketsphinxStt {
        self.default_vocabulary = Arc::new(vocabulary);
        self
    }

    fn pronunciations(&self) -> Result<&Pronunciations, SphinxError> {
        self.pronunciations
            .get_or_init(|| read_dictionary(&self.config.model_dir.join("cmudict-en-us.dict")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The vocabulary a call decodes with: the default vocabulary plus the call's own.
    fn call_vocabulary(&self, call_vocabulary: Option<&Vocabulary>) -> Arc<Vocabulary> {
        match call_vocabulary {
            Some(call_vocabulary) => Arc::new(self.default_vocabulary.as_ref().clone().merge(call_vocabulary)),
            None => self.default_vocabulary.clone(),
        }
    }

    /// An idle decoder for this vocabulary, or a new one (blocking).
    fn checkout(&self, vocabulary: &Vocabulary) -> Result<(u64, VocabularyDecoder), SphinxError> {
        let key = fingerprint(vocabulary);
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.get_mut(&key).and_then(Vec::pop));
        match idle {
            Some(decoder) => Ok((key, decoder)),
            None => Ok((key, self.build_decoder(vocabulary)?)),
        }
    }

    fn give_back(&self, key: u64, decoder: VocabularyDecoder) {
        if let Ok(mut idle) = self.idle.lock() {
            let decoders = idle.entry(key).or_default();
            if decoders.len() < MAX_IDLE_DECODERS {
                decoders.push(decoder);
            }
        }
    }

    /// Build a decoder for a call vocabulary ahead of the first call that uses it (blocking), so
    /// that call starts decoding at once. `None` prepares the default vocabulary.
    pub fn warm_up(&self, call_vocabulary: Option<&Vocabulary>) -> Result<(), SphinxError> {
        let vocabulary = self.call_vocabulary(call_vocabulary);
        let (key, decoder) = self.checkout(&vocabulary)?;
        self.give_back(key, decoder);
        Ok(())
    }

    /// Build a decoder for this vocabulary (blocking: reads the model, about a second).
    pub fn build_decoder(&self, vocabulary: &Vocabulary) -> Result<VocabularyDecoder, SphinxError> {
        let pronunciations = self.pronunciations()?;
        let files = write_model_files(vocabulary, pronunciations)?;
        let hmm = path_argument(&self.config.model_dir.join("en-us")).map_err(SphinxError)?;
        let dict = path_argument(&files.folder.join("vocabulary.dict")).map_err(SphinxError)?;
        let lm = path_argument(&files.folder.join("vocabulary.lm")).map_err(SphinxError)?;
        let mut arguments: Vec<(&str, &str)> =
            vec![("-hmm", &hmm), ("-dict", &dict), ("-lm", &lm), ("-bestpath", "yes")];
        match self.config.input_rate {
            SphinxInputRate::Upsampled16k | SphinxInputRate::Mirrored16k => arguments.push(("-samprate", "16000")),
            SphinxInputRate::Native8k => {
                arguments.extend([("-samprate", "8000"), ("-nfft", "256"), ("-upperf", "3500")]);
            }
        }
        for (name, value) in &self.config.extra_arguments {
            arguments.retain(|(existing, _)| existing != name);
            arguments.push((name, value));
        }
        let decoder = Decoder::new(&arguments).map_err(SphinxError)?;
        drop(files); // the decoder has read them
        Ok(VocabularyDecoder { decoder, input_rate: self.config.input_rate })
    }
}

/// A decoder bound to one vocabulary.
pub struct VocabularyDecoder {
    decoder: Decoder,
    input_rate: SphinxInputRate,
}

impl VocabularyDecoder {
    /// Decode one utterance of 8 kHz PCM (blocking).
    pub fn decode_8k(&mut self, pcm_8k: &[i16]) -> Result<Option<Hypothesis>, SphinxError> {
        let pcm = match self.input_rate {
            SphinxInputRate::Upsampled16k => resample::upsample_8k_to_16k(pcm_8k),
            SphinxInputRate::Mirrored16k => upsample_with_mirrored_high_band(pcm_8k, MIRROR_GAIN),
            SphinxInputRate::Native8k => pcm_8k.to_vec(),
        };
        self.decoder.decode(&pcm).map_err(SphinxError)
    }
}

/// Gain of the mirrored 4-8 kHz band (see [`SphinxInputRate::Mirrored16k`]).
const MIRROR_GAIN: f64 = 0.5;

/// Upsample to 16 kHz and add `gain` times the spectral image of 0-4 kHz in 4-8 kHz (what
/// zero-stuffing without an anti-imaging filter leaves), so fricatives put energy in the band
/// the wideband model expects it.
fn upsample_with_mirrored_high_band(pcm_8k: &[i16], gain: f64) -> Vec<i16> {
    let mut pcm = resample::upsample_8k_to_16k(pcm_8k);
    for (index, sample) in pcm.iter_mut().enumerate() {
        let stuffed = if index % 2 == 0 { 2.0 * f64::from(pcm_8k[index / 2]) } else { 0.0 };
        let image = stuffed - f64::from(*sample);
        *sample = (f64::from(*sample) + gain * image).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    }
    pcm
}

fn read_dictionary(path: &Path) -> Result<HashMap<String, Vec<String>>, SphinxError> {
    let text = std::fs::read_to_string(path).map_err(|error| SphinxError(format!("{}: {error}", path.display())))?;
    let mut pronunciations: HashMap<String, Vec<String>> = HashMap::with_capacity(140_000);
    for line in text.lines() {
        let Some((word, phones)) = line.split_once(' ') else {
            continue;
        };
        // Alternates are written "word(2) ...".
        let word = word.split_once('(').map_or(word, |(base, _)| base);
        pronunciations.entry(word.to_string()).or_default().push(phones.trim().to_string());
    }
    Ok(pronunciations)
}

static MODEL_FOLDER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A word's pronunciations: the stock dictionary's, else the vocabulary's own.
fn phones_of<'a>(word: &str, stock: &'a Pronunciations, vocabulary: &'a Vocabulary) -> Vec<&'a str> {
    match stock.get(word) {
        Some(phones) => phones.iter().map(String::as_str).collect(),
        None => vocabulary.pronunciations.get(word).map(String::as_str).into_iter().collect(),
    }
}

/// Write `vocabulary.dict` (only the words the model can say) and `vocabulary.lm` (ARPA).
fn write_model_files(vocabulary: &Vocabulary, pronunciations: &Pronunciations) -> Result<ModelFiles, SphinxError> {
    let sentences = vocabulary.weighted_training_sentences();
    let (known, unknown): (BTreeSet<String>, BTreeSet<String>) = vocabulary
        .words_of(&sentences)
        .into_iter()
        .partition(|word| !phones_of(word, pronunciations, vocabulary).is_empty());
    if !unknown.is_empty() {
        tracing::debug!(words = ?unknown, "vocabulary words without a pronunciation left out");
    }
    if known.is_empty() {
        return Err(SphinxError(
            "vocabulary has no word with a known pronunciation (give the call a playbook's vocabulary)".to_string(),
        ));
    }
    let sentences: Vec<(Vec<String>, f64)> =
        sentences.into_iter().filter(|(sentence, _)| sentence.iter().all(|word| known.contains(word))).collect();
    let arpa = crate::vocabulary::build_arpa_from(&sentences, &known);
    let mut dictionary = String::new();
    for word in &known {
        for (index, phones) in phones_of(word, pronunciations, vocabulary).into_iter().enumerate() {
            if index == 0 {
                dictionary.push_str(&format!("{word} {phones}\n"));
            } else {
                dictionary.push_str(&format!("{word}({}) {phones}\n", index + 1));
            }
        }
    }
    let folder = std::env::temp_dir().join(format!(
        "speech-sphinx-{}-{}",
        std::process::id(),
        MODEL_FOLDER_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&folder).map_err(|error| SphinxError(format!("{}: {error}", folder.display())))?;
    let files = ModelFiles { folder };
    let write = |name: &str, text: &str| {
        let path = files.folder.join(name);
        std::fs::write(&path, text).map_err(|error| SphinxError(format!("{}: {error}", path.display())))
    };
    write("vocabulary.dict", &dictionary)?;
    write("vocabulary.lm", &arpa)?;
    Ok(files)
}

impl SttProvider for PocketsphinxStt {
    fn name(&self) -> &'static str {
        "pocketsphinx"
    }

    fn start(&self, context: SttContext) -> SttStream {
        let (input, input_receiver) = mpsc::unbounded_channel();
        let (output_sender, output) = mpsc::unbounded_channel();
        let recognizer = self.clone();
        tokio::spawn(run_call(recognizer, context, input_receiver, output_sender));
        SttStream { input, output }
    }
}

/// One call's recognition: collect each utterance, decode it on the blocking pool.
async fn run_call(
    recognizer: PocketsphinxStt,
    context: SttContext,
    mut input: mpsc::UnboundedReceiver<SttInput>,
    output: mpsc::UnboundedSender<SttOutput>,
) {
    // The call's vocabulary (a playbook's) adds to the default vocabulary.
    let vocabulary = recognizer.call_vocabulary(context.vocabulary.as_deref());
    let builder = recognizer.clone();
    // Build (or reuse) while the first utterance is still being spoken.
    let checkout = tokio::task::spawn_blocking(move || builder.checkout(&vocabulary));
    let (key, mut decoder) = match checkout.await {
        Ok(Ok(checked_out)) => checked_out,
        Ok(Err(error)) => {
            tracing::error!(call_id = %context.call_id, %error, "pocketsphinx decoder unavailable");
            let _ = output.send(SttOutput::Failed { message: error.to_string(), retryable: false });
            return;
        }
        Err(error) => {
            let _ = output.send(SttOutput::Failed { message: format!("decoder task: {error}"), retryable: false });
            return;
        }
    };
    let mut collector = UtteranceCollector::default();
    while let Some(message) = input.recv().await {
        let (utterance, closing) = match collector.handle(message) {
            Collected::Nothing | Collected::Paused(_) | Collected::Resumed { .. } => continue,
            Collected::Utterance(utterance) => (utterance, false),
            Collected::Closed(Some(utterance)) => (utterance, true),
            Collected::Closed(None) => break,
        };
        let Utterance { pcm_8k, start_ms, end_ms, .. } = utterance;
        let decoded = tokio::task::spawn_blocking(move || {
            let result = decoder.decode_8k(&pcm_8k);
            (decoder, result)
        })
        .await;
        match decoded {
            Ok((returned, result)) => {
                decoder = returned;
                match result {
                    Ok(Some(hypothesis)) => {
                        tracing::debug!(call_id = %context.call_id, start_ms, end_ms, "pocketsphinx final");
                        let final_result = SttOutput::Final {
                            text: hypothesis.text,
                            confidence: hypothesis.confidence,
                            start_ms,
                            end_ms,
                        };
                        if output.send(final_result).is_err() {
                            break;
                        }
                    }
                    Ok(None) => {
                        tracing::debug!(call_id = %context.call_id, start_ms, "utterance had no words")
                    }
                    Err(error) => {
                        tracing::warn!(call_id = %context.call_id, %error, "pocketsphinx decode failed")
                    }
                }
            }
            Err(error) => {
                // The decoder went down with its task; nothing to give back.
                let _ = output.send(SttOutput::Failed { message: format!("decoder task: {error}"), retryable: false });
                return;
            }
        }
        if closing {
            break;
        }
    }
    recognizer.give_back(key, decoder);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_count(stt: &PocketsphinxStt) -> usize {
        stt.idle.lock().map(|idle| idle.values().map(Vec::len).sum()).unwrap_or(0)
    }

    /// A recogniser whose default vocabulary is a few generic answers (it has none of its own).
    fn recogniser() -> PocketsphinxStt {
        PocketsphinxStt::new(PocketsphinxConfig::default())
            .expect("debian model installed")
            .with_default_vocabulary(Vocabulary::new().with_phrases(["{day} at {time}", "{price}", "yes", "no"]))
    }

    #[test]
    fn decoders_are_reused_per_vocabulary() {
        let stt = recogniser();
        stt.warm_up(None).expect("decoder builds");
        assert_eq!(idle_count(&stt), 1);
        let domain = stt.call_vocabulary(None);
        let (_, decoder) = stt.checkout(&domain).expect("checkout");
        assert_eq!(idle_count(&stt), 0, "the warmed decoder was taken, not a new one built");
        stt.give_back(fingerprint(&domain), decoder);
        let other = Vocabulary::new().with_phrase("what time do you open");
        let other = stt.call_vocabulary(Some(&other));
        assert_ne!(fingerprint(&other), fingerprint(&domain));
    }

    #[test]
    fn missing_model_is_reported() {
        let config = PocketsphinxConfig { model_dir: "/nonexistent".into(), ..PocketsphinxConfig::default() };
        let error = PocketsphinxStt::new(config).err().expect("no model there");
        assert!(error.0.contains("pocketsphinx-en-us"), "{error}");
    }

    #[test]
    fn the_vocabulary_pronounces_words_the_dictionary_lacks() {
        let stock: Pronunciations = HashMap::from([("the".to_owned(), vec!["DH AH".to_owned(), "DH IY".to_owned()])]);
        let vocabulary = Vocabulary::new()
            .with_phrases(["the zorblat", "the quux"])
            .with_pronunciations([("zorblat", "Z AO R B L AE T"), ("the", "T IY")]);
        let files = write_model_files(&vocabulary, &stock).expect("model files");
        let dictionary = std::fs::read_to_string(files.folder.join("vocabulary.dict")).expect("dictionary");
        assert_eq!(dictionary, "the DH AH\nthe(2) DH IY\nzorblat Z AO R B L AE T\n", "stock first, no quux");
        let arpa = std::fs::read_to_string(files.folder.join("vocabulary.lm")).expect("language model");
        assert!(arpa.contains("the zorblat") && !arpa.contains("quux"), "{arpa}");
    }

    #[test]
    fn no_vocabulary_is_a_clear_error() {
        let stt = PocketsphinxStt::new(PocketsphinxConfig::default()).expect("debian model installed");
        let error = stt.build_decoder(&Vocabulary::new()).err().expect("nothing to listen for");
        assert!(error.0.contains("playbook's vocabulary"), "{error}");
    }

    #[test]
    fn silence_decodes_to_no_words() {
        let stt = recogniser();
        let (_, mut decoder) = stt.checkout(&stt.call_vocabulary(None)).expect("decoder");
        assert_eq!(decoder.decode_8k(&vec![0i16; 8000]).expect("decodes"), None);
    }
}
