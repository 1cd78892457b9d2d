//! Hand-written Prometheus counters and gauges of the gateway, rendered as text on `/metrics`.

use probes::prometheus::Page;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Kinds of bad input on a Media Streams WebSocket (the `kind` label of
/// `gateway_ws_bad_messages_total`).
pub const BAD_MESSAGE_KINDS: [&str; 15] = [
    "malformed_json",
    "unknown_event",
    "missing_field",
    "bad_number",
    "bad_value",
    "bad_base64",
    "wrong_stream_sid",
    "frame_too_large",
    "binary_frame",
    "media_before_start",
    "duplicate_start",
    "invalid_utf8",
    "timestamp_jump",
    "stream_token",
    "protocol_error",
];

/// How a stream task can end (the `exit` label of `gateway_stream_exits_total`).
pub const STREAM_EXITS: [&str; 9] = [
    "stopped",
    "socket_closed",
    "hung_up",
    "not_assigned",
    "protocol_error",
    "shutdown",
    "start_timeout",
    "idle_timeout",
    "unauthorized",
];

/// The gateway's counters. Shared by every worker thread.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Streams past `start` (what a stop waits for).
    pub active_streams: AtomicI64,
    /// Media Streams WebSockets open, started or not.
    pub open_sockets: AtomicI64,
    pub streams_started: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub marks_out: AtomicU64,
    pub clears_out: AtomicU64,
    pub assignment_failures: AtomicU64,
    pub assignment_retries: AtomicU64,
    pub reassignments: AtomicU64,
    pub bus_publish_errors: AtomicU64,
    pub media_out_decode_errors: AtomicU64,
    pub webhook_signature_rejections: AtomicU64,
    pub upgrade_signature_rejections: AtomicU64,
    pub voice_webhooks: AtomicU64,
    pub status_callbacks: AtomicU64,
    pub status_callbacks_without_call: AtomicU64,
    bad_messages: [AtomicU64; BAD_MESSAGE_KINDS.len()],
    stream_exits: [AtomicU64; STREAM_EXITS.len()],
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one bad WebSocket message of `kind` (one of [`BAD_MESSAGE_KINDS`]).
    pub fn bad_message(&self, kind: &str) {
        let index = BAD_MESSAGE_KINDS.iter().position(|k| *k == kind).unwrap_or(BAD_MESSAGE_KINDS.len() - 1);
        if let Some(counter) = self.bad_messages.get(index) {
            add(counter);
        }
    }

    /// How many bad messages of `kind` were counted.
    pub fn bad_messages(&self, kind: &str) -> u64 {
        BAD_MESSAGE_KINDS
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.bad_messages.get(i))
            .map(|counter| counter.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Counts one ended stream task by its exit (one of [`STREAM_EXITS`]).
    pub fn stream_exit(&self, exit: &str) {
        if let Some(counter) = STREAM_EXITS.iter().position(|e| *e == exit).and_then(|i| self.stream_exits.get(i)) {
            add(counter);
        }
    }

    pub fn inc(&self, counter: &AtomicU64) {
        add(counter);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        Page::default()
            .gauge(
                "gateway_active_streams",
                "Media streams past start, currently open.",
                self.active_streams.load(Ordering::Relaxed),
            )
            .gauge(
                "gateway_ws_open_sockets",
                "Media Streams WebSockets open, before or after start.",
                self.open_sockets.load(Ordering::Relaxed),
            )
            .counter("gateway_streams_started_total", "Media streams that sent start.", &self.streams_started)
            .counter("gateway_frames_in_total", "Audio frames received from Twilio and published.", &self.frames_in)
            .counter("gateway_frames_out_total", "Audio messages relayed to Twilio.", &self.frames_out)
            .counter("gateway_marks_out_total", "Marks relayed to Twilio.", &self.marks_out)
            .counter("gateway_clears_out_total", "Clears relayed to Twilio.", &self.clears_out)
            .counter("gateway_media_assign_failures_total", "Streams no media worker took.", &self.assignment_failures)
            .counter("gateway_media_assign_retries_total", "media.assign requests retried.", &self.assignment_retries)
            .counter(
                "gateway_media_reassignments_total",
                "Streams moved to another media worker after a missed ping.",
                &self.reassignments,
            )
            .counter("gateway_bus_publish_errors_total", "Failed bus publishes.", &self.bus_publish_errors)
            .counter(
                "gateway_media_out_decode_errors_total",
                "Undecodable media.out messages.",
                &self.media_out_decode_errors,
            )
            .counter(
                "gateway_webhook_signature_rejections_total",
                "Webhooks refused for a bad signature.",
                &self.webhook_signature_rejections,
            )
            .counter(
                "gateway_upgrade_signature_rejections_total",
                "WebSocket upgrades refused for a bad signature.",
                &self.upgrade_signature_rejections,
            )
            .counter("gateway_voice_webhooks_total", "Voice webhooks answered.", &self.voice_webhooks)
            .counter("gateway_status_callbacks_total", "Status and AMD callbacks forwarded.", &self.status_callbacks)
            .counter(
                "gateway_status_callbacks_without_call_total",
                "Status callbacks naming no known call.",
                &self.status_callbacks_without_call,
            )
            .labelled(
                "gateway_ws_bad_messages_total",
                "Bad messages on Media Streams WebSockets, by kind.",
                "kind",
                BAD_MESSAGE_KINDS.iter().copied().zip(&self.bad_messages),
            )
            .labelled(
                "gateway_stream_exits_total",
                "Media stream tasks ended, by exit.",
                "exit",
                STREAM_EXITS.iter().copied().zip(&self.stream_exits),
            )
            .finish()
    }
}

pub use probes::prometheus::sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_kind() {
        let metrics = Metrics::new();
        metrics.bad_message("binary_frame");
        metrics.bad_message("binary_frame");
        metrics.inc(&metrics.frames_in);
        let page = metrics.render();
        assert_eq!(sample(&page, "gateway_ws_bad_messages_total{kind=\"binary_frame\"}"), Some(2.0));
        assert_eq!(sample(&page, "gateway_ws_bad_messages_total{kind=\"malformed_json\"}"), Some(0.0));
        assert_eq!(sample(&page, "gateway_frames_in_total"), Some(1.0));
        assert_eq!(sample(&page, "gateway_active_streams"), Some(0.0));
    }
}
