//! OpenAI-compatible chat completions client, streaming: `POST {base}/v1/chat/completions` with
//! `"stream": true`, read as server-sent events (`data: {json}` lines, `data: [DONE]`), content
//! and tool calls arriving as deltas. Works against OpenAI, Ollama, vLLM and llama.cpp servers,
//! which speak the same protocol.

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

/// One streamed piece of an assistant message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCallDelta>,
    pub finish_reason: Option<String>,
}

/// A fragment of a tool call: `index` says which call it extends; `id` and `name` come in the
/// first fragment, `arguments` is JSON text split across fragments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolCallDelta {
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// What the stream reports.
#[derive(Clone, Debug, PartialEq)]
pub enum LlmEvent {
    Delta(Delta),
    Done,
    Failed(String),
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("llm request failed: {0}")]
    Http(String),
    #[error("llm server answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("malformed llm stream: {0}")]
    Malformed(String),
    #[error("llm stream ended without [DONE]")]
    Truncated,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ChunkToolCall>,
}

#[derive(Deserialize)]
struct ChunkToolCall {
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<ChunkFunction>,
}

#[derive(Deserialize)]
struct ChunkFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// Parses one SSE line. `Ok(None)` for lines that carry nothing (blank, comments, `event:`).
pub fn parse_sse_line(line: &str) -> Result<Option<LlmEvent>, LlmError> {
    let line = line.trim_end_matches('\r');
    let Some(data) = line.strip_prefix("data:") else { return Ok(None) };
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Some(LlmEvent::Done));
    }
    if data.is_empty() {
        return Ok(None);
    }
    let chunk: Chunk = serde_json::from_str(data).map_err(|e| LlmError::Malformed(e.to_string()))?;
    if let Some(error) = chunk.error {
        return Err(LlmError::Malformed(format!("server error in stream: {error}")));
    }
    let Some(choice) = chunk.choices.into_iter().next() else { return Ok(None) };
    let delta = choice.delta.unwrap_or_default();
    Ok(Some(LlmEvent::Delta(Delta {
        content: delta.content.filter(|c| !c.is_empty()),
        tool_calls: delta
            .tool_calls
            .into_iter()
            .map(|call| ToolCallDelta {
                index: call.index,
                id: call.id,
                name: call.function.as_ref().and_then(|f| f.name.clone()),
                arguments: call.function.and_then(|f| f.arguments),
            })
            .collect(),
        finish_reason: choice.finish_reason,
    })))
}

/// Connection settings of an OpenAI-compatible server.
#[derive(Clone, Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

impl LlmClient {
    /// `base_url` like `https://api.openai.com`, `https://api.openai.com/v1`,
    /// `http://localhost:11434` (Ollama) or `http://localhost:8080` (llama.cpp).
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<LlmClient, LlmError> {
        let base = base_url.trim_end_matches('/');
        let url = if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        };
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .build()
            .map_err(|e| LlmError::Http(e.to_string()))?;
        Ok(LlmClient { http, url, api_key: api_key.filter(|k| !k.is_empty()) })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts a streaming completion; events arrive on the returned channel, ending with
    /// `Done` or `Failed`.
    pub fn stream(&self, body: Value) -> mpsc::UnboundedReceiver<LlmEvent> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let client = self.clone();
        tokio::spawn(async move {
            let event = match client.run(body, &sender).await {
                Ok(()) => LlmEvent::Done,
                Err(error) => LlmEvent::Failed(error.to_string()),
            };
            let _ = sender.send(event);
        });
        receiver
    }

    async fn run(&self, body: Value, sender: &mpsc::UnboundedSender<LlmEvent>) -> Result<(), LlmError> {
        let mut request = self.http.post(&self.url).header("accept", "text/event-stream").json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| LlmError::Http(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(LlmError::Status { status: status.as_u16(), body: body.chars().take(300).collect() });
        }
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk: Bytes = chunk.map_err(|e| LlmError::Http(e.to_string()))?;
            buffer.extend_from_slice(&chunk);
            while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=newline).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                #[allow(clippy::collapsible_match)]
                match parse_sse_line(&line)? {
                    Some(LlmEvent::Done) => return Ok(()),
                    Some(event) => {
                        if sender.send(event).is_err() {
                            return Ok(()); // nobody listens any more (superseded)
                        }
                    }
                    None => {}
                }
            }
        }
        Err(LlmError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_tool_call_fragments_and_done() {
        let event = parse_sse_line(r#"data: {"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi there."},"finish_reason":null}]}"#).unwrap();
        assert_eq!(event, Some(LlmEvent::Delta(Delta { content: Some("Hi there.".into()), ..Delta::default() })));
        let event = parse_sse_line(r#"data: {"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_1","type":"function","function":{"name":"record_field","arguments":"{\"na"}}]}}]}"#).unwrap();
        let Some(LlmEvent::Delta(delta)) = event else { panic!("no delta") };
        assert_eq!(
            delta.tool_calls[0],
            ToolCallDelta {
                index: 1,
                id: Some("call_1".into()),
                name: Some("record_field".into()),
                arguments: Some("{\"na".into())
            }
        );
        assert_eq!(parse_sse_line("data: [DONE]").unwrap(), Some(LlmEvent::Done));
        assert_eq!(parse_sse_line(": keep-alive").unwrap(), None);
        assert_eq!(parse_sse_line("").unwrap(), None);
        assert!(parse_sse_line("data: {not json").is_err());
        assert!(parse_sse_line(r#"data: {"error":{"message":"overloaded"}}"#).is_err());
    }

    #[test]
    fn base_urls_of_the_known_servers() {
        let timeout = Duration::from_secs(1);
        assert_eq!(
            LlmClient::new("https://api.openai.com/v1", None, timeout).unwrap().url(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            LlmClient::new("http://localhost:11434/", None, timeout).unwrap().url(),
            "http://localhost:11434/v1/chat/completions"
        );
    }
}
