//! The message bus every service talks through: NATS (async-nats) in a deployment, or an
//! in-process bus with the same subjects and semantics for `gymcall demo` and unit tests.
//!
//! Callers hold a [`Bus`] and never care which transport is behind it: publish / subscribe /
//! queue groups / request-reply on subjects ([`Bus::publish`] ...), key-value buckets with
//! revision-checked updates ([`Bus::kv`]), persisted streams ([`Bus::ensure_stream`],
//! [`Bus::publish_persistent`]) and object buckets for large files ([`Bus::object_store`]).

mod jetstream;
mod kv;
mod local;
mod message;
mod objects;
pub mod queue;
pub mod settings;

pub use kv::{Entry, Kv};
pub use message::{BusError, BusErrorKind, Message, Retention};
pub use objects::{ObjectRead, Objects, LOCAL_MAX_MEMORY_BYTES, LOCAL_MAX_OBJECT_BYTES};
pub use settings::{NatsOptions, StoreSettings, UserPassword};

use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A handle to the bus. Cheap to clone.
#[derive(Clone)]
pub enum Bus {
    Nats(NatsBus),
    Local(local::LocalBus),
}

/// A NATS connection and how the streams and buckets it creates are kept.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    store: Arc<StoreSettings>,
    /// Buckets already brought in line with `store` by this process (checked once, not on every
    /// [`Bus::kv`]).
    aligned: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bus::Nats(_) => f.write_str("Bus::Nats"),
            Bus::Local(_) => f.write_str("Bus::Local"),
        }
    }
}

impl Bus {
    /// Connects to NATS at `url` (e.g. `nats://127.0.0.1:4222`) with default [`NatsOptions`].
    pub async fn connect(url: &str, client_name: &str) -> Result<Bus, BusError> {
        Bus::connect_with(url, client_name, &NatsOptions::default()).await
    }

    /// Connects to NATS at `url` (one server, or several comma-separated) with credentials, TLS
    /// and store settings from `options`,
    /// retrying the first connect for a few seconds so services can start before the server is
    /// ready. Errors name the server with its credentials redacted ([`probes::redact_url`]).
    pub async fn connect_with(url: &str, client_name: &str, options: &NatsOptions) -> Result<Bus, BusError> {
        let shown_url = probes::redact_url(url);
        // a cluster is named by its servers, comma-separated; the client also learns the others
        let servers: Vec<&str> = url.split(',').map(str::trim).filter(|server| !server.is_empty()).collect();
        let connect_options = options
            .connect_options()
            .await
            .map_err(|e| BusError::new(BusErrorKind::Connect, format!("nats at {shown_url}: {e}")))?;
        // the last error the server or client reported, so "not connected" can say why
        // (a refused password, a TLS failure)
        let last_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let seen = last_error.clone();
        let client = connect_options
            .event_callback(move |event| {
                let seen = seen.clone();
                async move {
                    let (reason, keeps_earlier) = match event {
                        async_nats::Event::ServerError(error) => (Some(format!("server error: {error}")), false),
                        async_nats::Event::ClientError(error) => (Some(format!("client error: {error}")), false),
                        // the disconnect that follows a refusal must not hide the refusal
                        async_nats::Event::Disconnected => (Some("disconnected".to_owned()), true),
                        _ => (None, false),
                    };
                    if let (Some(reason), Ok(mut last)) = (reason, seen.lock()) {
                        if !(keeps_earlier && last.is_some()) {
                            *last = Some(reason);
                        }
                    }
                }
            })
            .name(client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(servers)
            .await
            .map_err(|e| BusError::new(BusErrorKind::Connect, format!("nats at {shown_url}: {e}")))?;
        // retry_on_initial_connect returns at once; wait until the connection is up.
        for _ in 0..100 {
            if client.connection_state() == async_nats::connection::State::Connected {
                return Ok(Bus::Nats(NatsBus {
                    client,
                    store: Arc::new(options.store.clone()),
                    aligned: Arc::default(),
                }));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let why = last_error.lock().ok().and_then(|last| last.clone()).map(|e| format!(" ({e})")).unwrap_or_default();
        Err(BusError::new(BusErrorKind::Connect, format!("nats at {shown_url}: not connected after 5 s{why}")))
    }

    /// A fresh in-process bus (nothing persisted).
    pub fn local() -> Bus {
        Bus::Local(local::LocalBus::new(None))
    }

    /// An in-process bus whose KV buckets are persisted as files under `dir`.
    pub fn local_with_store(dir: impl Into<std::path::PathBuf>) -> Bus {
        Bus::Local(local::LocalBus::new(Some(dir.into())))
    }

    /// True when the transport is up (for readiness probes).
    pub fn is_connected(&self) -> bool {
        match self {
            Bus::Nats(nats) => nats.client.connection_state() == async_nats::connection::State::Connected,
            Bus::Local(_) => true,
        }
    }

    pub async fn publish(&self, subject: impl Into<String>, payload: impl Into<Bytes>) -> Result<(), BusError> {
        let subject = subject.into();
        match self {
            Bus::Nats(nats) => nats
                .client
                .publish(subject, payload.into())
                .await
                .map_err(|e| BusError::new(BusErrorKind::Closed, e.to_string())),
            Bus::Local(bus) => bus.publish(subject, payload.into(), None),
        }
    }

    pub async fn subscribe(&self, subject: impl Into<String>) -> Result<Subscription, BusError> {
        let subject = subject.into();
        match self {
            Bus::Nats(nats) => nats
                .client
                .subscribe(subject)
                .await
                .map(|s| Subscription(SubscriptionInner::Nats(s)))
                .map_err(|e| BusError::new(BusErrorKind::Closed, e.to_string())),
            Bus::Local(bus) => bus.subscribe(&subject, None).map(|s| Subscription(SubscriptionInner::Local(s))),
        }
    }

    pub async fn queue_subscribe(
        &self,
        subject: impl Into<String>,
        queue: impl Into<String>,
    ) -> Result<Subscription, BusError> {
        let subject = subject.into();
        let queue = queue.into();
        match self {
            Bus::Nats(nats) => nats
                .client
                .queue_subscribe(subject, queue)
                .await
                .map(|s| Subscription(SubscriptionInner::Nats(s)))
                .map_err(|e| BusError::new(BusErrorKind::Closed, e.to_string())),
            Bus::Local(bus) => bus.subscribe(&subject, Some(queue)).map(|s| Subscription(SubscriptionInner::Local(s))),
        }
    }

    /// Sends a request and waits up to `timeout` for the first reply.
    pub async fn request(
        &self,
        subject: impl Into<String>,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let subject = subject.into();
        match self {
            Bus::Nats(nats) => {
                let request = async_nats::Request::new().payload(payload.into()).timeout(Some(timeout));
                match nats.client.send_request(subject, request).await {
                    Ok(message) => Ok(from_nats(message)),
                    Err(error) => {
                        let kind = match error.kind() {
                            async_nats::RequestErrorKind::NoResponders => BusErrorKind::NoResponders,
                            async_nats::RequestErrorKind::TimedOut => BusErrorKind::TimedOut,
                            async_nats::RequestErrorKind::InvalidSubject => BusErrorKind::Invalid,
                            _ => BusErrorKind::Other,
                        };
                        Err(BusError::new(kind, error.to_string()))
                    }
                }
            }
            Bus::Local(bus) => bus.request(subject, payload.into(), timeout).await,
        }
    }

    /// Replies to a request. A message without a reply subject is an error of kind `Invalid`.
    pub async fn respond(&self, request: &Message, payload: impl Into<Bytes>) -> Result<(), BusError> {
        match &request.reply {
            Some(reply) => self.publish(reply.clone(), payload).await,
            None => Err(BusError::new(BusErrorKind::Invalid, "message has no reply subject")),
        }
    }

    /// Waits until everything published so far has reached the server.
    pub async fn flush(&self) -> Result<(), BusError> {
        match self {
            Bus::Nats(nats) => {
                nats.client.flush().await.map_err(|e| BusError::new(BusErrorKind::Closed, e.to_string()))
            }
            Bus::Local(_) => Ok(()),
        }
    }

    /// Opens (creating if missing) the key-value bucket `bucket`.
    pub async fn kv(&self, bucket: &str) -> Result<Kv, BusError> {
        match self {
            Bus::Nats(nats) => kv::open_nats(nats.client.clone(), bucket, &nats.store, &nats.aligned).await,
            Bus::Local(bus) => Ok(Kv::Local(bus.kv(bucket))),
        }
    }

    /// Makes sure a persisted stream `name` captures `subjects` (idempotent).
    pub async fn ensure_stream(&self, name: &str, subjects: &[&str], retention: Retention) -> Result<(), BusError> {
        match self {
            Bus::Nats(nats) => {
                let context = async_nats::jetstream::new(nats.client.clone());
                let config = async_nats::jetstream::stream::Config {
                    name: name.to_owned(),
                    subjects: subjects.iter().map(|s| s.to_string()).collect(),
                    retention: match retention {
                        Retention::Limits => async_nats::jetstream::stream::RetentionPolicy::Limits,
                        Retention::WorkQueue => async_nats::jetstream::stream::RetentionPolicy::WorkQueue,
                    },
                    num_replicas: nats.store.replicas,
                    max_age: nats.store.max_age(name),
                    ..Default::default()
                };
                jetstream::create_or_align_stream(&context, config).await
            }
            Bus::Local(_) => Ok(()),
        }
    }

    /// Publishes to a subject captured by a persisted stream and waits for the store's ack.
    pub async fn publish_persistent(
        &self,
        subject: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> Result<(), BusError> {
        let subject = subject.into();
        match self {
            Bus::Nats(nats) => {
                let jetstream = async_nats::jetstream::new(nats.client.clone());
                let ack = jetstream.publish(subject, payload.into()).await.map_err(BusError::other)?;
                ack.await.map(|_| ()).map_err(BusError::other)
            }
            Bus::Local(bus) => bus.publish(subject, payload.into(), None),
        }
    }
}

fn from_nats(message: async_nats::Message) -> Message {
    Message {
        subject: message.subject.to_string(),
        payload: message.payload,
        reply: message.reply.map(|r| r.to_string()),
    }
}

enum SubscriptionInner {
    Nats(async_nats::Subscriber),
    Local(local::LocalSubscription),
}

/// A stream of messages on one subject (or wildcard). Unsubscribes when dropped.
pub struct Subscription(SubscriptionInner);

impl Subscription {
    /// The next message, or `None` once the subscription or the connection is closed.
    pub async fn next(&mut self) -> Option<Message> {
        futures_util::StreamExt::next(self).await
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        match &mut self.get_mut().0 {
            SubscriptionInner::Nats(subscriber) => {
                Pin::new(subscriber).poll_next(cx).map(|message| message.map(from_nats))
            }
            SubscriptionInner::Local(subscription) => subscription.poll_recv(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exercise_pubsub(bus: Bus) {
        let mut exact = bus.subscribe("media.in.MZ1").await.unwrap();
        let mut wildcard = bus.subscribe("results.>").await.unwrap();
        let mut single = bus.subscribe("media.*.MZ1").await.unwrap();
        bus.publish("media.in.MZ1", Bytes::from_static(b"a")).await.unwrap();
        bus.publish("results.c_1", Bytes::from_static(b"r")).await.unwrap();
        bus.publish("media.in.MZ2", Bytes::from_static(b"not for us")).await.unwrap();
        bus.flush().await.unwrap();
        assert_eq!(exact.next().await.unwrap().payload, Bytes::from_static(b"a"));
        let result = wildcard.next().await.unwrap();
        assert_eq!(result.subject, "results.c_1");
        assert_eq!(single.next().await.unwrap().payload, Bytes::from_static(b"a"));
        bus.publish("media.in.MZ1", Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(exact.next().await.unwrap().payload, Bytes::from_static(b"b"));
        assert_eq!(single.next().await.unwrap().payload, Bytes::from_static(b"b"));
    }

    async fn exercise_queue_groups_and_requests(bus: Bus) {
        let mut worker_a = bus.queue_subscribe("media.assign", "media").await.unwrap();
        let mut worker_b = bus.queue_subscribe("media.assign", "media").await.unwrap();
        bus.flush().await.unwrap();
        for i in 0..20u8 {
            bus.publish("media.assign", Bytes::from(vec![i])).await.unwrap();
        }
        bus.flush().await.unwrap();
        // each message goes to exactly one member of the group
        let mut seen = Vec::new();
        while seen.len() < 20 {
            tokio::select! {
                Some(m) = worker_a.next() => seen.push(m.payload[0]),
                Some(m) = worker_b.next() => seen.push(m.payload[0]),
            }
        }
        seen.sort();
        assert_eq!(seen, (0..20).collect::<Vec<u8>>());

        let responder = bus.clone();
        let mut service = bus.subscribe("echo.service").await.unwrap();
        bus.flush().await.unwrap();
        let task = tokio::spawn(async move {
            let request = service.next().await.unwrap();
            responder.respond(&request, request.payload.clone()).await.unwrap();
        });
        let reply = bus.request("echo.service", Bytes::from_static(b"ping"), Duration::from_secs(2)).await.unwrap();
        assert_eq!(reply.payload, Bytes::from_static(b"ping"));
        task.await.unwrap();

        let error = bus.request("nobody.home", Bytes::new(), Duration::from_millis(500)).await.unwrap_err();
        assert_eq!(error.kind, BusErrorKind::NoResponders);
    }

    async fn exercise_kv(bus: Bus) {
        let kv = bus.kv("calls").await.unwrap();
        let revision = kv.create("c_1", Bytes::from_static(b"one")).await.unwrap();
        assert_eq!(kv.create("c_1", Bytes::from_static(b"again")).await.unwrap_err().kind, BusErrorKind::AlreadyExists);
        let entry = kv.get("c_1").await.unwrap().unwrap();
        assert_eq!(entry.value, Bytes::from_static(b"one"));
        assert_eq!(entry.revision, revision);
        let next = kv.update("c_1", Bytes::from_static(b"two"), revision).await.unwrap();
        assert!(next > revision);
        assert_eq!(
            kv.update("c_1", Bytes::from_static(b"stale"), revision).await.unwrap_err().kind,
            BusErrorKind::WrongRevision
        );
        kv.put("c_2", Bytes::from_static(b"x")).await.unwrap();
        let mut keys = kv.keys().await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["c_1".to_string(), "c_2".to_string()]);
        kv.delete("c_2").await.unwrap();
        assert!(kv.get("c_2").await.unwrap().is_none());
        assert!(kv.get("missing").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn local_bus_pubsub_queue_request_kv() {
        exercise_pubsub(Bus::local()).await;
        exercise_queue_groups_and_requests(Bus::local()).await;
        exercise_kv(Bus::local()).await;
    }

    #[tokio::test]
    async fn nats_bus_pubsub_queue_request_kv() {
        let server = testkit::NatsServer::start().await.unwrap();
        let bus = Bus::connect(&server.url(), "bus-test").await.unwrap();
        exercise_pubsub(bus.clone()).await;
        exercise_queue_groups_and_requests(bus.clone()).await;
        exercise_kv(bus).await;
    }

    #[tokio::test]
    async fn local_kv_persists_to_its_store_dir() {
        let dir = tempfile::tempdir().unwrap();
        {
            let bus = Bus::local_with_store(dir.path());
            let kv = bus.kv("calls").await.unwrap();
            kv.put("c_9", Bytes::from_static(b"{\"x\":1}")).await.unwrap();
        }
        let bus = Bus::local_with_store(dir.path());
        let kv = bus.kv("calls").await.unwrap();
        assert_eq!(kv.get("c_9").await.unwrap().unwrap().value, Bytes::from_static(b"{\"x\":1}"));
    }

    #[tokio::test]
    async fn persistent_publish_reaches_subscribers() {
        let server = testkit::NatsServer::start().await.unwrap();
        let bus = Bus::connect(&server.url(), "bus-test").await.unwrap();
        bus.ensure_stream("RESULTS", &["results.>"], Retention::Limits).await.unwrap();
        bus.ensure_stream("RESULTS", &["results.>"], Retention::Limits).await.unwrap();
        let mut results = bus.subscribe("results.>").await.unwrap();
        bus.flush().await.unwrap();
        bus.publish_persistent("results.c_1", Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(results.next().await.unwrap().subject, "results.c_1");
    }
}
