//! Local fake servers for the cloud provider tests: a small HTTP/1.1 server that records each
//! request and answers with a scripted (optionally chunked, i.e. streamed) response.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path with query.
    pub target: String,
    /// Lowercase header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> HashMap<String, String> {
        let query = self.target.split_once('?').map(|(_, query)| query).unwrap_or("");
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Sent as separate chunks (chunked transfer encoding) when there is more than one.
    pub chunks: Vec<Vec<u8>>,
}

impl Response {
    pub fn json(status: u16, body: serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![body.to_string().into_bytes()],
        }
    }

    pub fn streamed(content_type: &str, chunks: Vec<Vec<u8>>) -> Response {
        Response { status: 200, headers: vec![("content-type".into(), content_type.into())], chunks }
    }
}

type Handler = dyn Fn(&Request, usize) -> Response + Send + Sync;

pub struct FakeHttp {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeHttp {
    /// Serve on 127.0.0.1:0; `handler` gets each request and its index (0 for the first).
    pub async fn start(handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake server");
        let address = listener.local_addr().expect("fake server address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(socket, handler, recorded).await;
                });
            }
        });
        FakeHttp { base_url: format!("http://{address}"), requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }
}

async fn serve_connection(
    socket: tokio::net::TcpStream,
    handler: Arc<Handler>,
    recorded: Arc<Mutex<Vec<Request>>>,
) -> std::io::Result<()> {
    let (reader, mut writer) = socket.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let mut body = Vec::new();
        if let Some(length) = headers.get("content-length").and_then(|length| length.parse::<usize>().ok()) {
            body.resize(length, 0);
            reader.read_exact(&mut body).await?;
        } else if headers.get("transfer-encoding").is_some_and(|encoding| encoding.contains("chunked")) {
            loop {
                let mut size_line = String::new();
                reader.read_line(&mut size_line).await?;
                let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
        let request = Request { method, target, headers, body };
        let index = {
            let mut recorded = recorded.lock().expect("requests lock");
            recorded.push(request.clone());
            recorded.len() - 1
        };
        let response = handler(&request, index);
        let reason = match response.status {
            200 => "OK",
            401 => "Unauthorized",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if response.chunks.len() > 1 {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            writer.write_all(head.as_bytes()).await?;
            for chunk in &response.chunks {
                writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                writer.write_all(chunk).await?;
                writer.write_all(b"\r\n").await?;
                writer.flush().await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            writer.write_all(b"0\r\n\r\n").await?;
        } else {
            let body = response.chunks.concat();
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            writer.write_all(head.as_bytes()).await?;
            writer.write_all(&body).await?;
        }
        writer.flush().await?;
    }
}

/// Find a multipart/form-data field in a request body: (headers of the part, content).
pub fn multipart_field(request: &Request, name: &str) -> Option<(String, Vec<u8>)> {
    let content_type = request.header("content-type")?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let body = &request.body;
    let mut positions = Vec::new();
    let mut start = 0;
    while let Some(found) = find(&body[start..], delimiter.as_bytes()) {
        positions.push(start + found);
        start += found + delimiter.len();
    }
    for window in positions.windows(2) {
        let part = &body[window[0] + delimiter.len()..window[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let split = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let content = &part[split + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        if head.contains(&format!("name=\"{name}\"")) {
            return Some((head, content.to_vec()));
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}
