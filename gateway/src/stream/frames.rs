//! Incoming WebSocket frames, read so that the frame-size limit bounds memory while a frame
//! streams in: each frame's header is checked against `WS_MAX_FRAME_BYTES` as soon as its length
//! field has arrived, before any of its payload is buffered (actix-ws checks only once the whole
//! frame is in memory). Text must be UTF-8. Each failure names the close code it is answered with.

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame};
use actix_ws::{CloseCode, Message, ProtocolError};
use bytes::BytesMut;
use bytestring::ByteString;
use futures_util::StreamExt;

/// Why the socket's input cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A frame header declared more than the limit (close 1009).
    #[error("frame of {declared} bytes declared, the limit is {max_bytes}")]
    TooLarge { declared: u64, max_bytes: usize },
    /// A text frame that is not UTF-8 (close 1007).
    #[error("text frame is not UTF-8")]
    InvalidUtf8,
    /// Anything else RFC 6455 forbids: unmasked frame, bad opcode, reserved bits, oversized
    /// control frame, bad close payload (close 1002).
    #[error("websocket protocol error: {0}")]
    Protocol(String),
    /// The connection broke while a frame was arriving (nothing can be sent back).
    #[error("socket read failed: {0}")]
    Io(String),
}

impl FrameError {
    /// The close code the socket is closed with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            FrameError::TooLarge { .. } => CloseCode::Size,
            FrameError::InvalidUtf8 => CloseCode::Invalid,
            FrameError::Protocol(_) | FrameError::Io(_) => CloseCode::Protocol,
        }
    }

    /// The `kind` label it is counted under on `/metrics`.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "frame_too_large",
            FrameError::InvalidUtf8 => "invalid_utf8",
            FrameError::Protocol(_) | FrameError::Io(_) => "protocol_error",
        }
    }

    fn from_codec(error: ProtocolError, max_bytes: usize) -> FrameError {
        match error {
            ProtocolError::Overflow => FrameError::TooLarge { declared: u64::MAX, max_bytes },
            other => FrameError::Protocol(other.to_string()),
        }
    }
}

/// The payload length a frame header declares, once enough of the header is buffered.
fn declared_length(buf: &[u8]) -> Option<u64> {
    let short = *buf.get(1)? & 0x7F;
    match short {
        126 => Some(u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]))),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        len => Some(u64::from(len)),
    }
}

/// The messages of one server-side WebSocket, at most `max_frame_bytes` per frame held in memory.
pub struct FrameReader {
    payload: actix_web::dev::Payload,
    buf: BytesMut,
    codec: Codec,
    max_frame_bytes: usize,
    ended: bool,
}

impl FrameReader {
    pub fn new(payload: actix_web::dev::Payload, max_frame_bytes: usize) -> FrameReader {
        FrameReader {
            payload,
            buf: BytesMut::with_capacity(4096),
            codec: Codec::new().max_size(max_frame_bytes),
            max_frame_bytes,
            ended: false,
        }
    }

    /// The next message; None once the client closed the connection. Cancel-safe: a chunk is
    /// taken from the connection only when it can be buffered at once.
    pub async fn recv(&mut self) -> Option<Result<Message, FrameError>> {
        loop {
            if let Some(declared) = declared_length(&self.buf) {
                if declared > self.max_frame_bytes as u64 {
                    return Some(Err(FrameError::TooLarge { declared, max_bytes: self.max_frame_bytes }));
                }
            }
            match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => return Some(message(frame)),
                Ok(None) => {}
                Err(error) => return Some(Err(FrameError::from_codec(error, self.max_frame_bytes))),
            }
            if self.ended {
                return None;
            }
            match self.payload.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(error)) => return Some(Err(FrameError::Io(error.to_string()))),
                None => self.ended = true,
            }
        }
    }
}

fn message(frame: Frame) -> Result<Message, FrameError> {
    Ok(match frame {
        Frame::Text(bytes) => Message::Text(ByteString::try_from(bytes).map_err(|_| FrameError::InvalidUtf8)?),
        Frame::Binary(bytes) => Message::Binary(bytes),
        Frame::Ping(bytes) => Message::Ping(bytes),
        Frame::Pong(bytes) => Message::Pong(bytes),
        Frame::Close(reason) => Message::Close(reason),
        Frame::Continuation(item) => Message::Continuation(item),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame header with a 64-bit length.
    fn header(opcode: u8, length: u64) -> Vec<u8> {
        let mut bytes = vec![0x80 | opcode, 0x80 | 127];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes
    }

    fn reader(chunks: Vec<Vec<u8>>, max: usize) -> FrameReader {
        let stream = futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok::<_, actix_http::error::PayloadError>(bytes::Bytes::from(c))),
        );
        FrameReader::new(actix_web::dev::Payload::from(Box::pin(stream) as actix_http::BoxedPayloadStream), max)
    }

    #[test]
    fn lengths_are_read_from_each_header_form() {
        assert_eq!(declared_length(&[0x81]), None);
        assert_eq!(declared_length(&[0x81, 0x85]), Some(5));
        assert_eq!(declared_length(&[0x81, 0xFE, 0x01]), None);
        assert_eq!(declared_length(&[0x81, 0xFE, 0x01, 0x00]), Some(256));
        assert_eq!(declared_length(&header(1, 1 << 40)), Some(1 << 40));
    }

    #[actix_rt::test]
    async fn an_oversized_header_is_refused_before_its_payload_arrives() {
        let mut frames = reader(vec![header(2, 1 << 40)], 64 * 1024);
        let error = frames.recv().await.expect("an answer").unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { declared, .. } if declared == 1 << 40), "{error}");
        assert_eq!(error.close_code(), CloseCode::Size);
    }

    #[actix_rt::test]
    async fn invalid_utf8_and_protocol_errors_have_their_close_codes() {
        let mut bad_text = vec![0x81, 0x80 | 2, 0, 0, 0, 0];
        bad_text.extend_from_slice(&[0xC3, 0x28]);
        let error = reader(vec![bad_text], 1024).recv().await.expect("an answer").unwrap_err();
        assert_eq!(error.close_code(), CloseCode::Invalid, "{error}");
        let unmasked = vec![0x81, 0x02, b'h', b'i'];
        let error = reader(vec![unmasked], 1024).recv().await.expect("an answer").unwrap_err();
        assert_eq!(error.close_code(), CloseCode::Protocol, "{error}");
        let mut good = vec![0x81, 0x80 | 2, 0, 0, 0, 0];
        good.extend_from_slice(b"hi");
        let mut frames = reader(vec![good[..3].to_vec(), good[3..].to_vec()], 1024);
        assert!(matches!(frames.recv().await, Some(Ok(Message::Text(text))) if text == "hi"));
        assert!(frames.recv().await.is_none());
    }
}
