//! A fake of Twilio's Voice REST API for tests and the demo: `Calls.json` create / update /
//! fetch with Basic auth and Twilio's JSON bodies, signed form-encoded status callbacks in the
//! documented order (initiated, ringing, in-progress, completed with the terminal `CallStatus`,
//! `SequenceNumber` from 0), the voice webhook fetch on answer, async AMD callbacks, and
//! per-number scripted outcomes (answer, busy, no-answer, failed, machine, error codes).
//!
//! It keeps a record of every call it created ([`FakeTwilio::created_calls`]) so tests can
//! assert that no request was placed twice.

mod script;
mod server;

pub use script::Outcome;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings of a fake Twilio.
#[derive(Clone, Debug)]
pub struct FakeTwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// Pause between two progress callbacks of one call.
    pub step_delay: Duration,
    /// How long an answered call lasts when no media hook is set.
    pub answered_call_duration: Duration,
    /// Outcome for numbers without a script.
    pub default_outcome: Outcome,
}

impl Default for FakeTwilioConfig {
    fn default() -> Self {
        Self {
            account_sid: protocol::ids::random_sid("AC"),
            auth_token: "fake-twilio-auth-token".into(),
            step_delay: Duration::from_millis(10),
            answered_call_duration: Duration::from_millis(50),
            default_outcome: Outcome::Answer,
        }
    }
}

/// A call the fake created (answered 201 for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    /// The `Url` parameter (voice webhook).
    pub url: String,
    pub status_callback: Option<String>,
    /// Every form parameter as received, in order.
    pub params: Vec<(String, String)>,
    /// The script entry this call played.
    pub outcome: Outcome,
}

/// One `POST Calls.json`, whatever the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub to: String,
    /// HTTP status answered.
    pub http_status: u16,
    /// Twilio error code answered, if any.
    pub error_code: Option<u32>,
}

/// What a media hook gets when a scripted callee answers.
#[derive(Clone, Debug)]
pub struct AnsweredCall {
    pub call_sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: String,
    /// The TwiML the voice webhook answered.
    pub twiml: String,
}

/// Runs the conversation of an answered call (e.g. opens the Media Stream the TwiML names);
/// the call completes when the returned future ends or the call is hung up through the API.
pub type MediaHook = Arc<dyn Fn(AnsweredCall) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone, Debug)]
pub(crate) struct CallState {
    pub created: CreatedCall,
    /// Twilio's resource status.
    pub status: String,
    pub answered_by: Option<String>,
    pub hangup: Arc<tokio::sync::Notify>,
    pub hangup_requested: bool,
}

#[derive(Default)]
pub(crate) struct Record {
    pub calls: Vec<String>,
    pub by_sid: HashMap<String, CallState>,
    pub requests: Vec<CreateRequest>,
    pub scripts: HashMap<String, Vec<Outcome>>,
    /// Calls created so far per number (picks the script entry).
    pub dialed: HashMap<String, usize>,
    pub hangups: Vec<String>,
    pub media_hook: Option<MediaHook>,
    pub callback_failures: usize,
    /// Calls not yet in a terminal state, and the most there ever were at once.
    pub live: usize,
    pub max_live: usize,
    /// The same per number.
    pub live_per_number: HashMap<String, usize>,
    pub max_live_per_number: usize,
}

pub(crate) struct Shared {
    pub config: FakeTwilioConfig,
    pub record: Mutex<Record>,
    pub http: reqwest::Client,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // A panic elsewhere while holding the lock leaves the data usable for a fake.
        self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeTwilioError {
    #[error("fake twilio could not bind: {0}")]
    Bind(std::io::Error),
    #[error("fake twilio http client: {0}")]
    Client(String),
}

/// A running fake Twilio on `127.0.0.1:<free port>`. Stops when dropped.
pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeTwilio {
    /// Starts the fake. Must be called inside a Tokio runtime.
    pub async fn start(config: FakeTwilioConfig) -> Result<FakeTwilio, FakeTwilioError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| FakeTwilioError::Client(e.to_string()))?;
        let shared = Arc::new(Shared { config, record: Mutex::new(Record::default()), http });
        let (addr, handle) = server::serve(shared.clone(), tokio::runtime::Handle::current())?;
        Ok(FakeTwilio { addr, shared, handle })
    }

    /// `http://127.0.0.1:PORT`, to use as `TWILIO_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn account_sid(&self) -> &str {
        &self.shared.config.account_sid
    }

    pub fn auth_token(&self) -> &str {
        &self.shared.config.auth_token
    }

    /// The outcomes of successive calls to `number` (the last one repeats).
    pub fn script(&self, number: &str, outcomes: Vec<Outcome>) {
        self.shared.lock().scripts.insert(number.to_owned(), outcomes);
    }

    /// Runs answered calls through `hook` instead of completing them after a pause.
    pub fn set_media_hook(&self, hook: MediaHook) {
        self.shared.lock().media_hook = Some(hook);
    }

    /// Every call created (201), in order.
    pub fn created_calls(&self) -> Vec<CreatedCall> {
        let record = self.shared.lock();
        record.calls.iter().filter_map(|sid| record.by_sid.get(sid).map(|c| c.created.clone())).collect()
    }

    /// Every `POST Calls.json`, including refused ones.
    pub fn create_requests(&self) -> Vec<CreateRequest> {
        self.shared.lock().requests.clone()
    }

    /// The current `status` of a call resource.
    pub fn call_status(&self, call_sid: &str) -> Option<String> {
        self.shared.lock().by_sid.get(call_sid).map(|c| c.status.clone())
    }

    /// Calls hung up through `POST Calls/{Sid}.json Status=completed|canceled`.
    pub fn hangups(&self) -> Vec<String> {
        self.shared.lock().hangups.clone()
    }

    /// The most calls that were live (created, not yet ended) at the same time.
    pub fn max_concurrent_calls(&self) -> usize {
        self.shared.lock().max_live
    }

    /// The most calls that were live at the same time to one number.
    pub fn max_concurrent_calls_per_number(&self) -> usize {
        self.shared.lock().max_live_per_number
    }

    /// Callbacks that could not be delivered (connection refused, non-2xx).
    pub fn callback_failures(&self) -> usize {
        self.shared.lock().callback_failures
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        // Stopping is asynchronous; dropping the future returned still signals the server.
        drop(self.handle.stop(false));
    }
}

#[cfg(test)]
mod tests;
