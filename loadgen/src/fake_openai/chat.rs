//! Chat completions in OpenAI's wire shape: the streamed form (server-sent events of
//! `chat.completion.chunk` objects with content deltas, a `finish_reason`, then `data: [DONE]`)
//! and the plain `chat.completion` object. The fake never calls tools: every answer is text.

use serde_json::{json, Value};

/// What the client asked, as far as the fake cares.
#[derive(Debug, PartialEq, Eq)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
}

/// Why a chat request is refused (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChatRequestError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("messages must be a non-empty array")]
    NoMessages,
}

/// Reads the fields the fake needs and checks that there is a conversation.
pub fn read_request(body: &[u8]) -> Result<ChatRequest, ChatRequestError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ChatRequestError::NotJson(e.to_string()))?;
    if value.get("messages").and_then(Value::as_array).is_none_or(|messages| messages.is_empty()) {
        return Err(ChatRequestError::NoMessages);
    }
    Ok(ChatRequest {
        model: value.get("model").and_then(Value::as_str).unwrap_or("fake").chars().take(100).collect(),
        stream: value.get("stream").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The whole answer as a `chat.completion` object.
pub fn completion(id: u64, created_s: u64, model: &str, content: &str) -> Value {
    json!({
        "id": format!("chatcmpl-fake-{id}"),
        "object": "chat.completion",
        "created": created_s,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
        "usage": { "prompt_tokens": 0, "completion_tokens": content.split_whitespace().count(), "total_tokens": 0 },
    })
}

/// The answer as server-sent events: the role, the content a word at a time, the finish
/// reason, `[DONE]`.
pub fn stream_events(id: u64, created_s: u64, model: &str, content: &str) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let object = json!({
            "id": format!("chatcmpl-fake-{id}"),
            "object": "chat.completion.chunk",
            "created": created_s,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        format!("data: {object}\n\n")
    };
    let mut events = vec![chunk(json!({ "role": "assistant", "content": "" }), Value::Null)];
    let mut rest = content;
    while !rest.is_empty() {
        // a word and the spaces after it
        let word_end = rest.find(' ').map_or(rest.len(), |i| i);
        let piece_end = rest[word_end..].find(|c| c != ' ').map_or(rest.len(), |i| word_end + i);
        events.push(chunk(json!({ "content": &rest[..piece_end] }), Value::Null));
        rest = &rest[piece_end..];
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_words_add_up_to_the_answer() {
        let events = stream_events(7, 1_700_000_000, "gpt-fake", "Got it.  How much is a drop-in?");
        assert_eq!(events.last().map(String::as_str), Some("data: [DONE]\n\n"));
        let mut content = String::new();
        let mut finish = None;
        for event in &events[..events.len() - 1] {
            let data = event.strip_prefix("data: ").and_then(|e| e.strip_suffix("\n\n")).expect("an SSE data line");
            let value: Value = serde_json::from_str(data).expect("json");
            assert_eq!(value["object"], "chat.completion.chunk");
            let choice = &value["choices"][0];
            if let Some(text) = choice["delta"]["content"].as_str() {
                content.push_str(text);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(reason.to_owned());
            }
        }
        assert_eq!(content, "Got it.  How much is a drop-in?");
        assert_eq!(finish.as_deref(), Some("stop"));
        assert!(events.len() >= 8, "a word per event: {events:?}");
    }

    #[test]
    fn requests_need_messages() {
        let request = read_request(br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(request, Ok(ChatRequest { model: "m".into(), stream: true }));
        assert_eq!(read_request(br#"{"model":"m","messages":[]}"#), Err(ChatRequestError::NoMessages));
        assert!(matches!(read_request(b"{"), Err(ChatRequestError::NotJson(_))));
        let plain = completion(1, 2, "m", "Hello.");
        assert_eq!(plain["choices"][0]["message"]["content"], "Hello.");
    }
}
