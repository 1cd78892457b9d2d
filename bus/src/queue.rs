//! Work queues on a persisted stream (dial requests): each message goes to one consumer.
//!
//! [`Bus::work_queue`] opens one. [`WorkQueue::enqueue`] stores a message and returns once the
//! store has it; [`WorkQueue::next`] hands the next available message to exactly one of the
//! consumers sharing the queue's durable name, as a [`Job`] that must be acknowledged
//! ([`Job::ack`]), handed back for later ([`Job::nak`]) or kept alive ([`Job::in_progress`]);
//! a job neither acked nor kept alive within the ack wait is delivered again.
//!
//! On NATS this is a JetStream stream with work-queue retention and one durable pull consumer
//! shared by every process. On the local bus it is a KV bucket of leased entries with the same
//! semantics, so `gymcall demo` runs the same code.

use crate::{Bus, BusError, BusErrorKind, Kv, Retention, Subscription};
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a delivered job may go without ack / nak / in_progress before it is delivered again.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// A work queue: producers enqueue, consumers sharing a durable name take each message once.
pub struct WorkQueue {
    stream: String,
    subject: String,
    durable: String,
    ack_wait: Duration,
    inner: QueueInner,
}

enum QueueInner {
    Nats { jetstream: async_nats::jetstream::Context, consumer: Option<async_nats::jetstream::consumer::PullConsumer> },
    Local { bus: Bus, kv: Kv, wakeups: Option<Subscription> },
}

/// One delivered message.
pub struct Job {
    pub payload: Bytes,
    /// How many times this message has been delivered (1 the first time).
    pub delivered: u64,
    inner: JobInner,
}

enum JobInner {
    Nats(Box<async_nats::jetstream::Message>),
    Local(Box<LocalJob>),
}

struct LocalJob {
    bus: Bus,
    kv: Kv,
    key: String,
    ack_wait: Duration,
    wakeup_subject: String,
}

impl Bus {
    /// Opens (creating if missing) the work queue stored in `stream`, fed on `subject`, consumed
    /// through the durable consumer `durable`.
    pub async fn work_queue(&self, stream: &str, subject: &str, durable: &str) -> Result<WorkQueue, BusError> {
        let inner = match self {
            Bus::Nats(nats) => {
                self.ensure_stream(stream, &[subject], Retention::WorkQueue).await?;
                QueueInner::Nats { jetstream: async_nats::jetstream::new(nats.client.clone()), consumer: None }
            }
            Bus::Local(_) => QueueInner::Local {
                bus: self.clone(),
                kv: self.kv(&format!("_workqueue_{stream}")).await?,
                wakeups: None,
            },
        };
        Ok(WorkQueue {
            stream: stream.to_owned(),
            subject: subject.to_owned(),
            durable: durable.to_owned(),
            ack_wait: DEFAULT_ACK_WAIT,
            inner,
        })
    }
}

fn other(error: impl std::fmt::Display) -> BusError {
    BusError::new(BusErrorKind::Other, error.to_string())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Local entries: 8 bytes "visible at" (ms since the epoch), 8 bytes delivery count, payload.
fn encode_local(visible_at_ms: u64, delivered: u64, payload: &[u8]) -> Bytes {
    let mut buffer = BytesMut::with_capacity(16 + payload.len());
    buffer.put_u64(visible_at_ms);
    buffer.put_u64(delivered);
    buffer.put_slice(payload);
    buffer.freeze()
}

fn decode_local(value: &Bytes) -> Option<(u64, u64, Bytes)> {
    if value.len() < 16 {
        return None;
    }
    let visible_at = u64::from_be_bytes(value[0..8].try_into().ok()?);
    let delivered = u64::from_be_bytes(value[8..16].try_into().ok()?);
    Some((visible_at, delivered, value.slice(16..)))
}

fn local_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    format!("m{nanos:020}-{:010}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl WorkQueue {
    /// Sets the ack wait used by this consumer (before the first [`Self::next`]).
    pub fn with_ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    pub fn ack_wait(&self) -> Duration {
        self.ack_wait
    }

    fn wakeup_subject(&self) -> String {
        format!("_workqueue.{}", self.stream)
    }

    /// Stores `payload` on the queue; returns once the store acknowledged it.
    pub async fn enqueue(&self, payload: impl Into<Bytes>) -> Result<(), BusError> {
        let payload = payload.into();
        match &self.inner {
            QueueInner::Nats { jetstream, .. } => {
                let ack = jetstream.publish(self.subject.clone(), payload).await.map_err(other)?;
                ack.await.map(|_| ()).map_err(other)
            }
            QueueInner::Local { bus, kv, .. } => {
                kv.create(&local_key(), encode_local(0, 0, &payload)).await?;
                bus.publish(self.wakeup_subject(), Bytes::new()).await
            }
        }
    }

    /// Waits for the next message available to this consumer group.
    pub async fn next(&mut self) -> Result<Job, BusError> {
        let wakeup_subject = self.wakeup_subject();
        let ack_wait = self.ack_wait;
        match &mut self.inner {
            QueueInner::Nats { jetstream, consumer } => {
                let consumer = match consumer {
                    Some(consumer) => consumer,
                    None => {
                        let stream = jetstream.get_stream(&self.stream).await.map_err(other)?;
                        let config = async_nats::jetstream::consumer::pull::Config {
                            durable_name: Some(self.durable.clone()),
                            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                            ack_wait,
                            max_deliver: -1,
                            filter_subject: self.subject.clone(),
                            ..Default::default()
                        };
                        let created = stream.get_or_create_consumer(&self.durable, config).await.map_err(other)?;
                        consumer.insert(created)
                    }
                };
                loop {
                    // One message per pull, so a busy consumer does not hoard what others could take.
                    let mut batch = consumer
                        .batch()
                        .max_messages(1)
                        .expires(Duration::from_secs(5))
                        .messages()
                        .await
                        .map_err(other)?;
                    while let Some(item) = futures_util::StreamExt::next(&mut batch).await {
                        match item {
                            Ok(message) => {
                                let delivered = message.info().map(|i| i.delivered as u64).unwrap_or(1);
                                return Ok(Job {
                                    payload: message.payload.clone(),
                                    delivered,
                                    inner: JobInner::Nats(Box::new(message)),
                                });
                            }
                            Err(error) => {
                                tracing::debug!(%error, "work queue pull failed");
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        }
                    }
                }
            }
            QueueInner::Local { bus, kv, wakeups } => {
                if wakeups.is_none() {
                    *wakeups = Some(bus.subscribe(wakeup_subject.clone()).await?);
                }
                loop {
                    let now = now_ms();
                    let mut keys = kv.keys().await?;
                    keys.sort();
                    let mut next_visible: Option<u64> = None;
                    for key in keys {
                        let Some(entry) = kv.get(&key).await? else { continue };
                        let Some((visible_at, delivered, payload)) = decode_local(&entry.value) else {
                            tracing::warn!(key = %key, "dropping malformed work queue entry");
                            kv.delete(&key).await?;
                            continue;
                        };
                        if visible_at > now {
                            next_visible = Some(next_visible.map_or(visible_at, |t| t.min(visible_at)));
                            continue;
                        }
                        let lease = encode_local(now + ack_wait.as_millis() as u64, delivered + 1, &payload);
                        match kv.update(&key, lease, entry.revision).await {
                            Ok(_) => {
                                return Ok(Job {
                                    payload,
                                    delivered: delivered + 1,
                                    inner: JobInner::Local(Box::new(LocalJob {
                                        bus: bus.clone(),
                                        kv: kv.clone(),
                                        key,
                                        ack_wait,
                                        wakeup_subject: wakeup_subject.clone(),
                                    })),
                                });
                            }
                            // Another consumer took it first.
                            Err(error) if error.kind == BusErrorKind::WrongRevision => continue,
                            Err(error) => return Err(error),
                        }
                    }
                    let wait_ms = next_visible.map_or(250, |t| t.saturating_sub(now).clamp(1, 250));
                    if let Some(subscription) = wakeups.as_mut() {
                        let _ = tokio::time::timeout(Duration::from_millis(wait_ms), subscription.next()).await;
                    }
                }
            }
        }
    }
}

impl Job {
    /// Done with it: the message is removed from the queue.
    pub async fn ack(&self) -> Result<(), BusError> {
        match &self.inner {
            JobInner::Nats(message) => message.double_ack().await.map_err(other),
            JobInner::Local(local) => local.kv.delete(&local.key).await,
        }
    }

    /// Hands the message back, to be delivered again (to any consumer) after `delay`.
    pub async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        match &self.inner {
            JobInner::Nats(message) => {
                message.double_ack_with(async_nats::jetstream::AckKind::Nak(Some(delay))).await.map_err(other)
            }
            JobInner::Local(local) => {
                self.relet(&local.kv, &local.key, delay).await?;
                local.bus.publish(local.wakeup_subject.clone(), Bytes::new()).await
            }
        }
    }

    /// Still working on it: restarts the ack wait.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        match &self.inner {
            JobInner::Nats(message) => message.ack_with(async_nats::jetstream::AckKind::Progress).await.map_err(other),
            JobInner::Local(local) => self.relet(&local.kv, &local.key, local.ack_wait).await,
        }
    }

    async fn relet(&self, kv: &Kv, key: &str, delay: Duration) -> Result<(), BusError> {
        let Some(entry) = kv.get(key).await? else {
            return Err(BusError::new(BusErrorKind::Invalid, "job is no longer on the queue"));
        };
        let Some((_, delivered, payload)) = decode_local(&entry.value) else {
            return Err(BusError::new(BusErrorKind::Invalid, "malformed work queue entry"));
        };
        let value = encode_local(now_ms() + delay.as_millis() as u64, delivered, &payload);
        kv.update(key, value, entry.revision).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn each_message_goes_to_one_consumer(bus: Bus) {
        let producer = bus.work_queue("JOBS", "jobs.requests", "workers").await.unwrap();
        for i in 0..10u8 {
            producer.enqueue(Bytes::from(vec![i])).await.unwrap();
        }
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let mut consumers = Vec::new();
        for _ in 0..2 {
            let mut queue = bus.work_queue("JOBS", "jobs.requests", "workers").await.unwrap();
            let sender = sender.clone();
            consumers.push(tokio::spawn(async move {
                while let Ok(Ok(job)) = tokio::time::timeout(Duration::from_secs(2), queue.next()).await {
                    job.ack().await.unwrap();
                    sender.send(job.payload[0]).unwrap();
                }
            }));
        }
        drop(sender);
        for consumer in consumers {
            consumer.await.unwrap();
        }
        let mut seen = Vec::new();
        while let Some(value) = receiver.recv().await {
            seen.push(value);
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<u8>>(), "each message exactly once");
    }

    async fn nak_with_delay_redelivers_later(bus: Bus) {
        let mut queue = bus.work_queue("RETRY", "retry.requests", "workers").await.unwrap();
        queue.enqueue(Bytes::from_static(b"x")).await.unwrap();
        let job = queue.next().await.unwrap();
        assert_eq!(job.delivered, 1);
        job.nak(Duration::from_millis(300)).await.unwrap();
        let again = queue.next().await.unwrap();
        assert_eq!(again.payload, Bytes::from_static(b"x"));
        assert_eq!(again.delivered, 2);
        again.ack().await.unwrap();
    }

    async fn unacked_jobs_come_back_after_the_ack_wait(bus: Bus) {
        let mut queue =
            bus.work_queue("LOST", "lost.requests", "workers").await.unwrap().with_ack_wait(Duration::from_secs(1));
        queue.enqueue(Bytes::from_static(b"y")).await.unwrap();
        let job = queue.next().await.unwrap();
        drop(job);
        let again = queue.next().await.unwrap();
        assert_eq!(again.delivered, 2);
        again.in_progress().await.unwrap();
        again.ack().await.unwrap();
    }

    #[tokio::test]
    async fn local_work_queue() {
        let bus = Bus::local();
        each_message_goes_to_one_consumer(bus.clone()).await;
        nak_with_delay_redelivers_later(bus.clone()).await;
        unacked_jobs_come_back_after_the_ack_wait(bus).await;
    }

    #[tokio::test]
    async fn nats_work_queue() {
        let server = testkit::NatsServer::start().await.unwrap();
        let bus = Bus::connect(&server.url(), "queue-test").await.unwrap();
        each_message_goes_to_one_consumer(bus.clone()).await;
        nak_with_delay_redelivers_later(bus.clone()).await;
        unacked_jobs_come_back_after_the_ack_wait(bus).await;
    }
}
