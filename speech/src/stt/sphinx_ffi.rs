//! Minimal FFI binding to Debian's libpocketsphinx 5prealpha (`libpocketsphinx-dev`): only the
//! calls the embedded recognizer needs. The `pocketsphinx` crate on crates.io binds the older
//! 0.8 API (`ps_start_utt(ps, uttid)`, `ps_get_hyp(ps, score, uttid)`), which does not match.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::ptr;
use std::sync::Once;

#[repr(C)]
pub struct cmd_ln_t {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ps_decoder_t {
    _private: [u8; 0],
}
#[repr(C)]
pub struct arg_t {
    _private: [u8; 0],
}

#[link(name = "pocketsphinx")]
extern "C" {
    fn ps_args() -> *const arg_t;
    fn ps_init(config: *mut cmd_ln_t) -> *mut ps_decoder_t;
    fn ps_free(ps: *mut ps_decoder_t) -> c_int;
    fn ps_start_utt(ps: *mut ps_decoder_t) -> c_int;
    fn ps_process_raw(
        ps: *mut ps_decoder_t,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int;
    fn ps_end_utt(ps: *mut ps_decoder_t) -> c_int;
    fn ps_get_hyp(ps: *mut ps_decoder_t, out_best_score: *mut i32) -> *const c_char;
    fn ps_get_prob(ps: *mut ps_decoder_t) -> i32;
    fn ps_get_logmath(ps: *mut ps_decoder_t) -> *mut c_void;
}

#[link(name = "sphinxbase")]
extern "C" {
    fn cmd_ln_parse_r(
        inout: *mut cmd_ln_t,
        defn: *const arg_t,
        argc: i32,
        argv: *mut *mut c_char,
        strict: i32,
    ) -> *mut cmd_ln_t;
    fn cmd_ln_free_r(cmdln: *mut cmd_ln_t) -> c_int;
    fn err_set_logfp(stream: *mut c_void);
    fn logmath_exp(logmath: *mut c_void, log_p: c_int) -> f64;
}

static SILENCE_LOG: Once = Once::new();

/// One PocketSphinx decoder. Used by one thread at a time; moved between blocking-pool threads.
pub struct Decoder {
    raw: *mut ps_decoder_t,
}

// SAFETY: a ps_decoder_t has no thread affinity; `Decoder` is not `Sync` and every method takes
// `&mut self`, so only one thread uses it at a time.
unsafe impl Send for Decoder {}

/// A decoded utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub text: String,
    /// Posterior probability of the best path (0..1), when the decoder computed one.
    pub confidence: Option<f32>,
}

impl Decoder {
    /// Create a decoder from command-line style arguments (`["-hmm", dir, "-lm", file, ...]`).
    pub fn new(arguments: &[(&str, &str)]) -> Result<Decoder, String> {
        SILENCE_LOG.call_once(|| {
            // SAFETY: a null stream turns sphinxbase logging off; called once, before any decoder.
            if std::env::var_os("SPEECH_DEBUG_SPHINX_LOG").is_none() {
                unsafe { err_set_logfp(ptr::null_mut()) };
            }
        });
        let mut owned = Vec::with_capacity(arguments.len() * 2);
        for (name, value) in arguments {
            owned.push(CString::new(*name).map_err(|_| format!("argument {name:?} has a nul byte"))?);
            owned.push(CString::new(*value).map_err(|_| format!("value of {name} has a nul byte"))?);
        }
        let mut argv: Vec<*mut c_char> = owned.iter().map(|argument| argument.as_ptr() as *mut c_char).collect();
        // SAFETY: argv points at live nul-terminated strings that cmd_ln_parse_r copies.
        let config = unsafe { cmd_ln_parse_r(ptr::null_mut(), ps_args(), argv.len() as i32, argv.as_mut_ptr(), 1) };
        if config.is_null() {
            return Err("pocketsphinx rejected its arguments".to_string());
        }
        // SAFETY: config is a valid cmd_ln_t; ps_init retains it, so we release our reference.
        let raw = unsafe { ps_init(config) };
        unsafe { cmd_ln_free_r(config) };
        if raw.is_null() {
            return Err("pocketsphinx could not load its model, dictionary or language model".to_string());
        }
        Ok(Decoder { raw })
    }

    /// Decode one whole utterance of 16-bit PCM at the decoder's sample rate.
    pub fn decode(&mut self, pcm: &[i16]) -> Result<Option<Hypothesis>, String> {
        // SAFETY: self.raw is a live decoder; pcm outlives the call.
        unsafe {
            if ps_start_utt(self.raw) < 0 {
                return Err("ps_start_utt failed".to_string());
            }
            if ps_process_raw(self.raw, pcm.as_ptr(), pcm.len(), 0, 1) < 0 {
                ps_end_utt(self.raw);
                return Err("ps_process_raw failed".to_string());
            }
            if ps_end_utt(self.raw) < 0 {
                return Err("ps_end_utt failed".to_string());
            }
            let mut score = 0i32;
            let hypothesis = ps_get_hyp(self.raw, &mut score);
            if hypothesis.is_null() {
                return Ok(None);
            }
            let text = CStr::from_ptr(hypothesis).to_string_lossy().trim().to_string();
            if text.is_empty() {
                return Ok(None);
            }
            let log_probability = ps_get_prob(self.raw);
            let logmath = ps_get_logmath(self.raw);
            let confidence = if logmath.is_null() || log_probability == 0 {
                None
            } else {
                Some(logmath_exp(logmath, log_probability) as f32)
            };
            Ok(Some(Hypothesis { text, confidence }))
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: self.raw came from ps_init and is freed once.
        unsafe { ps_free(self.raw) };
    }
}

/// Path as a UTF-8 argument value.
pub fn path_argument(path: &Path) -> Result<String, String> {
    path.to_str().map(str::to_string).ok_or_else(|| format!("path {} is not utf-8", path.display()))
}
