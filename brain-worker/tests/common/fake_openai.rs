//! A fake OpenAI-compatible server: `POST /v1/chat/completions` answered with the real streaming
//! wire format (HTTP/1.1 chunked `text/event-stream`, `data: {chunk}` lines, `data: [DONE]`),
//! content and tool calls split into deltas. Each request takes the next scripted reply.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Stream this content (split into small deltas) and these tool calls `(name, arguments)`.
    Stream { content: String, tool_calls: Vec<(String, Value)> },
    /// Answer with an HTTP error.
    Status(u16),
    /// Stream this content, then drop the connection without `[DONE]`.
    DropAfter(String),
}

pub struct FakeOpenAi {
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<Value>>>,
    pub authorizations: Arc<Mutex<Vec<Option<String>>>>,
}

impl FakeOpenAi {
    pub async fn start(replies: Vec<Reply>) -> FakeOpenAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(replies.into_iter()));
        let (seen, auth) = (requests.clone(), authorizations.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (seen, auth, replies) = (seen.clone(), auth.clone(), replies.clone());
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut reader = BufReader::new(read);
                    let mut request_line = String::new();
                    reader.read_line(&mut request_line).await.unwrap();
                    let mut length = 0usize;
                    let mut authorization = None;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).await.unwrap();
                        let line = line.trim_end().to_owned();
                        if line.is_empty() {
                            break;
                        }
                        let (name, value) = line.split_once(':').unwrap();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap(),
                            "authorization" => authorization = Some(value.trim().to_owned()),
                            _ => {}
                        }
                    }
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).await.unwrap();
                    assert!(request_line.starts_with("POST /v1/chat/completions "), "{request_line}");
                    let body: Value = serde_json::from_slice(&body).unwrap();
                    seen.lock().unwrap().push(body);
                    auth.lock().unwrap().push(authorization);
                    let reply = replies.lock().unwrap().next().unwrap_or(Reply::Status(500));
                    respond(&mut write, reply).await;
                });
            }
        });
        FakeOpenAi { base_url, requests, authorizations }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

async fn respond(write: &mut tokio::net::tcp::OwnedWriteHalf, reply: Reply) {
    let (content, tool_calls, complete) = match reply {
        Reply::Status(status) => {
            let body = json!({"error": {"message": "the model is overloaded", "type": "server_error"}}).to_string();
            let head = format!(
                "HTTP/1.1 {status} Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(body.as_bytes()).await;
            return;
        }
        Reply::Stream { content, tool_calls } => (content, tool_calls, true),
        Reply::DropAfter(content) => (content, Vec::new(), false),
    };
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    if write.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "fake-model",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
        })
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    // content in small pieces, as a model streams tokens
    let characters: Vec<char> = content.chars().collect();
    for piece in characters.chunks(7) {
        events.push(chunk(json!({ "content": piece.iter().collect::<String>() }), Value::Null));
    }
    for (index, (name, arguments)) in tool_calls.iter().enumerate() {
        let arguments = arguments.to_string();
        let (first, rest) = arguments.split_at(arguments.len() / 2);
        events.push(chunk(
            json!({"tool_calls": [{"index": index, "id": format!("call_{index}"), "type": "function", "function": {"name": name, "arguments": first}}]}),
            Value::Null,
        ));
        events.push(chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": rest}}]}), Value::Null));
    }
    if complete {
        let finish = if tool_calls.is_empty() { "stop" } else { "tool_calls" };
        events.push(chunk(json!({}), json!(finish)));
    }
    for event in events {
        let data = format!("data: {event}\n\n");
        let framed = format!("{:x}\r\n{data}\r\n", data.len());
        if write.write_all(framed.as_bytes()).await.is_err() {
            return;
        }
        let _ = write.flush().await;
    }
    if complete {
        let data = "data: [DONE]\n\n";
        let _ = write.write_all(format!("{:x}\r\n{data}\r\n0\r\n\r\n", data.len()).as_bytes()).await;
    }
    let _ = write.shutdown().await;
}
