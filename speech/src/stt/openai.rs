//! OpenAI-compatible speech-to-text: each utterance is sent as a WAV file to
//! `POST /v1/audio/transcriptions` (multipart: `file`, `model`, `response_format=json`, optional
//! `prompt`: the call's words, then the agent's line the callee answers) with a bearer key; the
//! JSON reply's `text` is the final transcript. Works with OpenAI and faster-whisper servers.

use serde::Deserialize;
use tokio::sync::mpsc;

use super::{spawn_utterance_collector, wav_bytes, SttContext, SttInput, SttOutput, SttProvider, SttStream, Utterance};
use crate::retry::{is_retryable_status, retry_after, with_retries, Attempt, RetryPolicy};

/// Longest vocabulary prompt sent to bias recognition (characters).
const PROMPT_MAX_CHARS: usize = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiSttConfig {
    pub api_key: Option<String>,
    /// `https://api.openai.com` in production (the `/v1/...` path is appended).
    pub base_url: String,
    pub model: String,
    /// ISO-639-1 language hint (`en`), if any.
    pub language: Option<String>,
    pub retry: RetryPolicy,
}

pub struct OpenAiStt {
    config: OpenAiSttConfig,
    http: reqwest::Client,
}

impl OpenAiStt {
    pub fn new(config: OpenAiSttConfig, http: reqwest::Client) -> OpenAiStt {
        OpenAiStt { config, http }
    }
}

impl SttProvider for OpenAiStt {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn start(&self, context: SttContext) -> SttStream {
        let (input, input_receiver) = mpsc::unbounded_channel::<SttInput>();
        let (output_sender, output) = mpsc::unbounded_channel();
        let utterance_receiver = spawn_utterance_collector(input_receiver);
        // The call's words (a playbook's terms), then its phrases without slots.
        let prompt = context.vocabulary.as_ref().map(|vocabulary| {
            let words = vocabulary.words.iter();
            let phrases = vocabulary.phrases.iter().filter(|phrase| !phrase.contains('{'));
            let mut prompt = words.chain(phrases).cloned().collect::<Vec<_>>().join(" ");
            prompt.truncate(prompt.char_indices().nth(PROMPT_MAX_CHARS).map_or(prompt.len(), |(index, _)| index));
            prompt
        });
        tokio::spawn(transcribe_utterances(
            self.config.clone(),
            self.http.clone(),
            context,
            prompt.filter(|prompt| !prompt.is_empty()),
            utterance_receiver,
            output_sender,
        ));
        SttStream { input, output }
    }
}

/// The prompt for one utterance: the call's words, then the agent's line the callee is answering
/// (Whisper models read the prompt as the text just before the audio, so the line goes last).
fn utterance_prompt(vocabulary: Option<&str>, agent_line: Option<&str>) -> Option<String> {
    match (vocabulary, agent_line) {
        (Some(words), Some(line)) => Some(format!(
            "{}{separator}{line}",
            words.trim_end(),
            separator = if words.trim_end().ends_with(['.', '?', '!']) { " " } else { ". " }
        )),
        (Some(words), None) => Some(words.to_owned()),
        (None, Some(line)) => Some(line.to_owned()),
        (None, None) => None,
    }
}

#[derive(Debug, Deserialize)]
struct TranscriptionReply {
    text: String,
}

struct RequestError {
    message: String,
    retryable: bool,
}

async fn transcribe_utterances(
    config: OpenAiSttConfig,
    http: reqwest::Client,
    context: SttContext,
    prompt: Option<String>,
    mut utterances: mpsc::UnboundedReceiver<Utterance>,
    output: mpsc::UnboundedSender<SttOutput>,
) {
    let url = format!("{}/v1/audio/transcriptions", config.base_url.trim_end_matches('/'));
    while let Some(utterance) = utterances.recv().await {
        let wav = wav_bytes(&utterance.pcm_8k, 8_000);
        let prompt = utterance_prompt(prompt.as_deref(), utterance.context.as_deref());
        let result = with_retries(config.retry, |attempt| {
            transcribe_once(&http, &url, &config, prompt.as_deref(), wav.clone(), attempt)
        })
        .await;
        let message = match result {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => SttOutput::Final {
                text: text.trim().to_string(),
                confidence: None,
                start_ms: utterance.start_ms,
                end_ms: utterance.end_ms,
            },
            Err(error) => {
                tracing::warn!(call_id = %context.call_id, error = %error.message, "openai transcription failed");
                SttOutput::Failed { message: error.message, retryable: error.retryable }
            }
        };
        if output.send(message).is_err() {
            return;
        }
    }
}

async fn transcribe_once(
    http: &reqwest::Client,
    url: &str,
    config: &OpenAiSttConfig,
    prompt: Option<&str>,
    wav: Vec<u8>,
    attempt: u32,
) -> Attempt<String, RequestError> {
    let file = match reqwest::multipart::Part::bytes(wav).file_name("utterance.wav").mime_str("audio/wav") {
        Ok(file) => file,
        Err(error) => return Attempt::Fatal(RequestError { message: format!("multipart: {error}"), retryable: false }),
    };
    let mut form = reqwest::multipart::Form::new()
        .part("file", file)
        .text("model", config.model.clone())
        .text("response_format", "json");
    if let Some(language) = &config.language {
        form = form.text("language", language.clone());
    }
    if let Some(prompt) = prompt {
        form = form.text("prompt", prompt.to_string());
    }
    let mut request = http.post(url).multipart(form);
    if let Some(key) = &config.api_key {
        request = request.bearer_auth(key);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(attempt, %error, "openai transcription connect failed");
            return Attempt::Retry(RequestError { message: format!("openai connect: {error}"), retryable: true }, None);
        }
    };
    let status = response.status();
    if status.is_success() {
        return match response.json::<TranscriptionReply>().await {
            Ok(reply) => Attempt::Done(reply.text),
            Err(error) => Attempt::Fatal(RequestError { message: format!("openai reply: {error}"), retryable: false }),
        };
    }
    let wait = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = format!("openai http {}: {}", status.as_u16(), body.chars().take(300).collect::<String>());
    tracing::debug!(attempt, status = status.as_u16(), "openai transcription refused");
    if is_retryable_status(status) {
        Attempt::Retry(RequestError { message, retryable: true }, wait)
    } else {
        Attempt::Fatal(RequestError { message, retryable: false })
    }
}
