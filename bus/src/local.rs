//! The in-process bus: NATS subject matching (`*`, `>`), queue groups, request/reply with
//! no-responders, KV buckets and object buckets, all inside one process.

use crate::kv::LocalKv;
use crate::message::{BusError, BusErrorKind, Message};
use crate::objects::LocalObjects;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

struct LocalSub {
    id: u64,
    pattern: Vec<String>,
    queue: Option<String>,
    sender: mpsc::UnboundedSender<Message>,
}

struct Inner {
    subscriptions: Mutex<Vec<LocalSub>>,
    next_id: AtomicU64,
    round_robin: AtomicU64,
    buckets: Mutex<HashMap<String, Arc<LocalKv>>>,
    object_buckets: Mutex<HashMap<String, Arc<LocalObjects>>>,
    store_dir: Option<PathBuf>,
}

/// The in-process transport behind [`crate::Bus::Local`].
#[derive(Clone)]
pub struct LocalBus(Arc<Inner>);

/// A local subscription; removes itself from the bus when dropped.
pub struct LocalSubscription {
    id: u64,
    receiver: mpsc::UnboundedReceiver<Message>,
    bus: LocalBus,
}

impl LocalSubscription {
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        if let Ok(mut subscriptions) = self.bus.0.subscriptions.lock() {
            subscriptions.retain(|s| s.id != self.id);
        }
    }
}

fn valid_subject(subject: &str, allow_wildcards: bool) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty() && !token.contains(' ') && (allow_wildcards || (token != "*" && token != ">"))
        })
}

fn matches(pattern: &[String], subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for (index, want) in pattern.iter().enumerate() {
        if want == ">" {
            return tokens.next().is_some() && index == pattern.len() - 1;
        }
        match tokens.next() {
            Some(token) if want == "*" || want == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

impl LocalBus {
    pub fn new(store_dir: Option<PathBuf>) -> Self {
        LocalBus(Arc::new(Inner {
            subscriptions: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            round_robin: AtomicU64::new(0),
            buckets: Mutex::new(HashMap::new()),
            object_buckets: Mutex::new(HashMap::new()),
            store_dir,
        }))
    }

    fn lock_subscriptions(&self) -> Result<std::sync::MutexGuard<'_, Vec<LocalSub>>, BusError> {
        self.0.subscriptions.lock().map_err(|_| BusError::new(BusErrorKind::Closed, "local bus poisoned"))
    }

    /// Delivers to every plain subscriber and one member of each queue group.
    /// Returns how many subscribers got the message.
    fn deliver(&self, subject: String, payload: Bytes, reply: Option<String>) -> Result<usize, BusError> {
        if !valid_subject(&subject, false) {
            return Err(BusError::new(BusErrorKind::Invalid, format!("invalid subject {subject:?}")));
        }
        let mut subscriptions = self.lock_subscriptions()?;
        subscriptions.retain(|s| !s.sender.is_closed());
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut targets = Vec::new();
        for (index, subscription) in subscriptions.iter().enumerate() {
            if matches(&subscription.pattern, &subject) {
                match &subscription.queue {
                    Some(queue) => groups.entry(queue.as_str()).or_default().push(index),
                    None => targets.push(index),
                }
            }
        }
        for members in groups.values() {
            let turn = self.0.round_robin.fetch_add(1, Ordering::Relaxed) as usize;
            targets.push(members[turn % members.len()]);
        }
        let delivered = targets.len();
        for index in targets {
            let message = Message { subject: subject.clone(), payload: payload.clone(), reply: reply.clone() };
            let _ = subscriptions[index].sender.send(message);
        }
        Ok(delivered)
    }

    pub fn publish(&self, subject: String, payload: Bytes, reply: Option<String>) -> Result<(), BusError> {
        self.deliver(subject, payload, reply).map(|_| ())
    }

    pub fn subscribe(&self, subject: &str, queue: Option<String>) -> Result<LocalSubscription, BusError> {
        if !valid_subject(subject, true) {
            return Err(BusError::new(BusErrorKind::Invalid, format!("invalid subject {subject:?}")));
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let pattern = subject.split('.').map(str::to_owned).collect();
        self.lock_subscriptions()?.push(LocalSub { id, pattern, queue, sender });
        Ok(LocalSubscription { id, receiver, bus: self.clone() })
    }

    pub async fn request(&self, subject: String, payload: Bytes, timeout: Duration) -> Result<Message, BusError> {
        let inbox = format!("_INBOX.local.{}", self.0.next_id.fetch_add(1, Ordering::Relaxed));
        let mut replies = self.subscribe(&inbox, None)?;
        if self.deliver(subject.clone(), payload, Some(inbox))? == 0 {
            return Err(BusError::new(BusErrorKind::NoResponders, format!("no responders on {subject}")));
        }
        match tokio::time::timeout(timeout, std::future::poll_fn(|cx| replies.poll_recv(cx))).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(BusError::new(BusErrorKind::Closed, "local bus closed")),
            Err(_) => Err(BusError::new(BusErrorKind::TimedOut, format!("no reply on {subject} within {timeout:?}"))),
        }
    }

    pub fn kv(&self, bucket: &str) -> Arc<LocalKv> {
        let mut buckets = match self.0.buckets.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        buckets
            .entry(bucket.to_owned())
            .or_insert_with(|| Arc::new(LocalKv::open(self.0.store_dir.as_ref().map(|d| d.join(bucket)))))
            .clone()
    }

    /// The object bucket `bucket`: files under `<store>/objects/<bucket>/` with a store
    /// directory, else in memory.
    pub fn objects(&self, bucket: &str) -> Arc<LocalObjects> {
        let mut buckets = match self.0.object_buckets.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        let dir = self.0.store_dir.as_ref().map(|d| d.join("objects").join(bucket));
        buckets.entry(bucket.to_owned()).or_insert_with(|| Arc::new(LocalObjects::new(dir))).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn subject_matching_follows_nats_rules() {
        assert!(matches(&pattern("a.b"), "a.b"));
        assert!(!matches(&pattern("a.b"), "a.b.c"));
        assert!(matches(&pattern("a.*"), "a.b"));
        assert!(!matches(&pattern("a.*"), "a.b.c"));
        assert!(matches(&pattern("a.>"), "a.b.c"));
        assert!(!matches(&pattern("a.>"), "a"));
        assert!(matches(&pattern("*.b.>"), "x.b.c.d"));
    }

    #[test]
    fn invalid_subjects_are_rejected() {
        let bus = LocalBus::new(None);
        assert!(bus.publish("a..b".into(), Bytes::new(), None).is_err());
        assert!(bus.publish("a.*".into(), Bytes::new(), None).is_err());
        assert!(bus.subscribe("", None).is_err());
    }
}
