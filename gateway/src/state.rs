//! Shared application state, reachable from every handler as `web::Data<AppState>`.

use crate::config::Config;
use crate::metrics::Metrics;
use bus::Bus;
use protocol::{CallId, CallSid};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Most inbound calls remembered (CallSid -> CallId) for their later callbacks.
const INBOUND_CALLS_REMEMBERED: usize = 10_000;

/// How a stream ended, which decides the TwiML Twilio runs after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOutcome {
    /// The agent finished the call: hang up without a word.
    HungUp,
    /// Anything else (no worker, shutdown, broken stream): apologise, then hang up.
    Failed,
}

/// What every handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub bus: Bus,
    pub metrics: Arc<Metrics>,
    /// Issues and checks the per-call stream tokens.
    pub stream_tokens: crate::stream::token::StreamTokens,
    /// Inbound calls this gateway created, so a repeated webhook or a status callback without
    /// `call_id` finds the same call.
    inbound_calls: Mutex<HashMap<CallSid, CallId>>,
    /// How recent streams ended, by call (read by the after-stream redirect).
    stream_outcomes: Mutex<HashMap<CallId, StreamOutcome>>,
    /// Flips to true when the gateway stops taking calls (sockets without `start` close then).
    draining: watch::Sender<bool>,
    /// Flips to true when live streams must close (end of the grace period).
    close_streams: watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: Config, bus: Bus) -> Self {
        let stream_tokens = crate::stream::token::StreamTokens::from_secrets(&[
            &config.twilio_auth_token,
            config.api_token.as_deref().unwrap_or_default(),
        ]);
        AppState {
            stream_tokens,
            config: Arc::new(config),
            bus,
            metrics: Arc::new(Metrics::new()),
            inbound_calls: Mutex::new(HashMap::new()),
            stream_outcomes: Mutex::new(HashMap::new()),
            draining: watch::channel(false).0,
            close_streams: watch::channel(false).0,
        }
    }

    /// Records how a call's stream ended.
    pub fn record_stream_outcome(&self, call_id: &CallId, outcome: StreamOutcome) {
        let mut outcomes = match self.stream_outcomes.lock() {
            Ok(outcomes) => outcomes,
            Err(poisoned) => poisoned.into_inner(),
        };
        if outcomes.len() >= INBOUND_CALLS_REMEMBERED {
            outcomes.clear();
        }
        outcomes.insert(call_id.clone(), outcome);
    }

    /// Takes how a call's stream ended (None when this gateway did not see it end).
    pub fn take_stream_outcome(&self, call_id: &CallId) -> Option<StreamOutcome> {
        match self.stream_outcomes.lock() {
            Ok(mut outcomes) => outcomes.remove(call_id),
            Err(poisoned) => poisoned.into_inner().remove(call_id),
        }
    }

    /// Stop taking new calls (readiness turns false, sockets that have not started close).
    pub fn begin_draining(&self) {
        self.draining.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A receiver that sees `true` once the gateway stops taking calls.
    pub fn draining_signal(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Tell every live stream to close.
    pub fn close_all_streams(&self) {
        self.close_streams.send_replace(true);
    }

    /// A receiver that sees `true` when live streams must close.
    pub fn close_signal(&self) -> watch::Receiver<bool> {
        self.close_streams.subscribe()
    }

    /// The CallId of an inbound call, created on first sight.
    pub fn inbound_call_id(&self, call_sid: &CallSid) -> CallId {
        let mut calls = match self.inbound_calls.lock() {
            Ok(calls) => calls,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(id) = calls.get(call_sid) {
            return id.clone();
        }
        if calls.len() >= INBOUND_CALLS_REMEMBERED {
            calls.clear();
        }
        let id = CallId::generate();
        calls.insert(call_sid.clone(), id.clone());
        id
    }

    /// The CallId of an inbound call seen before.
    pub fn known_inbound_call(&self, call_sid: &CallSid) -> Option<CallId> {
        match self.inbound_calls.lock() {
            Ok(calls) => calls.get(call_sid).cloned(),
            Err(poisoned) => poisoned.into_inner().get(call_sid).cloned(),
        }
    }
}
