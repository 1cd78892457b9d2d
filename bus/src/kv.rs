//! Key-value buckets with revision-checked updates: JetStream KV on NATS, a map (optionally
//! persisted as one file per key) in process.

use crate::message::{BusError, BusErrorKind};
use crate::settings::StoreSettings;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A value and the revision it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Bytes,
    pub revision: u64,
}

/// A key-value bucket.
#[derive(Clone)]
pub enum Kv {
    Nats(async_nats::jetstream::kv::Store),
    Local(Arc<LocalKv>),
}

pub(crate) async fn open_nats(
    client: async_nats::Client,
    bucket: &str,
    store: &StoreSettings,
    aligned: &std::sync::Mutex<std::collections::HashSet<String>>,
) -> Result<Kv, BusError> {
    let jetstream = async_nats::jetstream::new(client);
    if let Ok(kv) = jetstream.get_key_value(bucket).await {
        let known = aligned.lock().map(|set| set.contains(bucket)).unwrap_or(false);
        if !known {
            crate::jetstream::align_bucket(&jetstream, bucket, store).await?;
            if let Ok(mut set) = aligned.lock() {
                set.insert(bucket.to_owned());
            }
        }
        return Ok(Kv::Nats(kv));
    }
    let config = async_nats::jetstream::kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        num_replicas: store.replicas,
        max_age: store.max_age(bucket),
        ..Default::default()
    };
    match jetstream.create_key_value(config).await {
        Ok(kv) => Ok(Kv::Nats(kv)),
        // another process may have created it between the two calls
        Err(create_error) => jetstream
            .get_key_value(bucket)
            .await
            .map(Kv::Nats)
            .map_err(|_| BusError::new(BusErrorKind::Other, format!("kv bucket {bucket}: {create_error}"))),
    }
}

fn check_key(key: &str) -> Result<(), BusError> {
    let valid = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'/' | b'.'))
        && !key.starts_with('.')
        && !key.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(BusError::new(BusErrorKind::Invalid, format!("invalid key {key:?}")))
    }
}

/// How long a KV operation is retried while JetStream is briefly unable to answer: a bucket just
/// created on a cluster (its replicas not yet serving reads), or a server of the cluster just lost
/// (its raft groups electing new leaders).
const TRANSIENT_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq)]
enum Op {
    /// Safe to repeat after any failure.
    Read,
    /// Repeated only when the request reached no server ("no responders"): nothing was written.
    /// After a timeout it may have been written, and a second create or update would report a
    /// conflict that is not one.
    Write,
}

async fn transient_retry<T, E, F, Fut>(op: Op, mut attempt: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + TRANSIENT_RETRY_FOR;
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        // async-nats reports these only in its messages
        let text = error.to_string();
        let transient = text.contains("no responders") || (op == Op::Read && text.contains("timed out"));
        if !transient || tokio::time::Instant::now() + pause > deadline {
            return Err(error);
        }
        tracing::debug!(error = %text, "jetstream briefly unavailable; retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(800));
    }
}

impl Kv {
    pub async fn get(&self, key: &str) -> Result<Option<Entry>, BusError> {
        check_key(key)?;
        match self {
            Kv::Nats(store) => {
                let entry = transient_retry(Op::Read, || store.entry(key)).await.map_err(BusError::other)?;
                Ok(entry.and_then(|e| match e.operation {
                    async_nats::jetstream::kv::Operation::Put => Some(Entry { value: e.value, revision: e.revision }),
                    _ => None,
                }))
            }
            Kv::Local(kv) => Ok(kv.get(key)),
        }
    }

    /// Writes `key` only if it does not exist yet.
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        check_key(key)?;
        match self {
            Kv::Nats(store) => transient_retry(Op::Write, || store.create(key, value.clone())).await.map_err(|e| {
                let kind = match e.kind() {
                    async_nats::jetstream::kv::CreateErrorKind::AlreadyExists => BusErrorKind::AlreadyExists,
                    _ => BusErrorKind::Other,
                };
                BusError::new(kind, e.to_string())
            }),
            Kv::Local(kv) => kv.write(key, Some(value), Expect::Absent),
        }
    }

    /// Writes `key` only if its current revision is `expected_revision`.
    pub async fn update(&self, key: &str, value: Bytes, expected_revision: u64) -> Result<u64, BusError> {
        check_key(key)?;
        match self {
            Kv::Nats(store) => {
                transient_retry(Op::Write, || store.update(key, value.clone(), expected_revision)).await.map_err(|e| {
                    let kind = match e.kind() {
                        async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision => BusErrorKind::WrongRevision,
                        _ => BusErrorKind::Other,
                    };
                    BusError::new(kind, e.to_string())
                })
            }
            Kv::Local(kv) => kv.write(key, Some(value), Expect::Revision(expected_revision)),
        }
    }

    /// Writes `key` whatever is there.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        check_key(key)?;
        match self {
            Kv::Nats(store) => {
                transient_retry(Op::Write, || store.put(key, value.clone())).await.map_err(BusError::other)
            }
            Kv::Local(kv) => kv.write(key, Some(value), Expect::Any),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), BusError> {
        check_key(key)?;
        match self {
            Kv::Nats(store) => transient_retry(Op::Write, || store.delete(key)).await.map_err(BusError::other),
            Kv::Local(kv) => kv.write(key, None, Expect::Any).map(|_| ()),
        }
    }

    /// Every live key.
    pub async fn keys(&self) -> Result<Vec<String>, BusError> {
        match self {
            Kv::Nats(store) => {
                let mut keys = store.keys().await.map_err(BusError::other)?;
                let mut out = Vec::new();
                while let Some(key) = keys.next().await {
                    out.push(key.map_err(BusError::other)?);
                }
                Ok(out)
            }
            Kv::Local(kv) => Ok(kv.keys()),
        }
    }
}

pub(crate) enum Expect {
    Any,
    Absent,
    Revision(u64),
}

/// The in-process bucket behind [`Kv::Local`].
pub struct LocalKv {
    state: Mutex<LocalState>,
    dir: Option<PathBuf>,
}

struct LocalState {
    entries: HashMap<String, Entry>,
    revision: u64,
}

impl LocalKv {
    pub(crate) fn open(dir: Option<PathBuf>) -> Self {
        let mut entries = HashMap::new();
        let mut revision = 0;
        if let Some(dir) = &dir {
            if let Ok(listing) = std::fs::read_dir(dir) {
                for file in listing.flatten() {
                    let name = file.file_name().to_string_lossy().to_string();
                    if name.starts_with('.') {
                        continue;
                    }
                    match std::fs::read(file.path()) {
                        Ok(bytes) => {
                            revision += 1;
                            entries.insert(name, Entry { value: Bytes::from(bytes), revision });
                        }
                        Err(error) => tracing::warn!(path = %file.path().display(), %error, "kv file unreadable"),
                    }
                }
            }
        }
        LocalKv { state: Mutex::new(LocalState { entries, revision }), dir }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn get(&self, key: &str) -> Option<Entry> {
        self.lock().entries.get(key).cloned()
    }

    fn keys(&self) -> Vec<String> {
        self.lock().entries.keys().cloned().collect()
    }

    fn write(&self, key: &str, value: Option<Bytes>, expect: Expect) -> Result<u64, BusError> {
        let mut state = self.lock();
        let current = state.entries.get(key).map(|e| e.revision);
        match (expect, current) {
            (Expect::Absent, Some(_)) => {
                return Err(BusError::new(BusErrorKind::AlreadyExists, format!("key {key} exists")))
            }
            (Expect::Revision(want), have) if have != Some(want) => {
                return Err(BusError::new(
                    BusErrorKind::WrongRevision,
                    format!("key {key}: expected revision {want}, found {have:?}"),
                ))
            }
            _ => {}
        }
        state.revision += 1;
        let revision = state.revision;
        let file = self.dir.as_ref().map(|d| d.join(key.replace('/', "_")));
        match value {
            Some(value) => {
                if let (Some(dir), Some(file)) = (&self.dir, &file) {
                    std::fs::create_dir_all(dir)
                        .and_then(|_| std::fs::write(file, &value))
                        .map_err(|e| BusError::new(BusErrorKind::Other, format!("kv store {}: {e}", dir.display())))?;
                }
                state.entries.insert(key.to_owned(), Entry { value, revision });
            }
            None => {
                if let Some(file) = &file {
                    let _ = std::fs::remove_file(file);
                }
                state.entries.remove(key);
            }
        }
        Ok(revision)
    }
}
