//! Object buckets for files too large for a KV value (call recordings): a NATS JetStream object
//! store, or an in-process map on the local bus.
//!
//! A file written by one pod (the media worker that held the call) is read by another (the
//! gateway that serves it), so it has to live on the bus, not on a pod's disk. An object is read
//! back as an [`ObjectRead`]: its size and an `AsyncRead` that yields it chunk by chunk (NATS
//! keeps objects in 128 KiB chunks), so a reader never holds a whole recording in memory.
//!
//! Buckets have a maximum age ([`Bus::object_store`]): the server removes older objects. The
//! local bus keeps objects as files under its store directory (`<store>/objects/<bucket>/`,
//! `gymcall up`), or in memory without one (`gymcall demo`, tests) up to
//! [`LOCAL_MAX_MEMORY_BYTES`] in all, the oldest dropped first; either way objects past the age
//! are dropped when the bucket is next used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::GetStreamErrorKind;
use bytes::Bytes;

use crate::{Bus, BusError, BusErrorKind};

/// One open object bucket.
#[derive(Clone)]
pub enum Objects {
    Nats(Box<async_nats::jetstream::object_store::ObjectStore>),
    Local(Arc<LocalObjects>),
}

/// An object being read: its size in bytes and its content.
pub struct ObjectRead {
    pub size: u64,
    pub reader: Pin<Box<dyn tokio::io::AsyncRead + Send>>,
}

/// The local bus's bucket: files in `dir`, or name -> (stored at, content) in memory; pruned by age.
pub struct LocalObjects {
    max_age: Mutex<Duration>,
    dir: Option<PathBuf>,
    /// Most bytes kept in memory ([`LOCAL_MAX_MEMORY_BYTES`]).
    memory_bound: u64,
    objects: Mutex<HashMap<String, (Instant, Bytes)>>,
}

/// Largest object the local bus keeps.
pub const LOCAL_MAX_OBJECT_BYTES: u64 = 512 * 1024 * 1024;
/// Most bytes a local bus without a store directory keeps in memory per bucket (oldest dropped).
pub const LOCAL_MAX_MEMORY_BYTES: u64 = 256 * 1024 * 1024;

/// An object name usable as a file name: letters, digits, `_`, `-`, `.`, not starting with `.`.
fn check_name(name: &str) -> Result<(), BusError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(BusError::new(BusErrorKind::Invalid, format!("invalid object name {name:?}")))
    }
}

impl LocalObjects {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        LocalObjects {
            max_age: Mutex::new(Duration::ZERO),
            dir,
            memory_bound: LOCAL_MAX_MEMORY_BYTES,
            objects: Mutex::new(HashMap::new()),
        }
    }

    fn max_age(&self) -> Duration {
        self.max_age.lock().map(|age| *age).unwrap_or(Duration::ZERO)
    }

    /// Stores a file's content in memory, dropping the oldest objects to stay within the bound.
    fn keep_in_memory(&self, name: &str, content: Bytes) {
        let mut objects = self.objects();
        objects.remove(name);
        let mut total: u64 = objects.values().map(|(_, c)| c.len() as u64).sum();
        while total + content.len() as u64 > self.memory_bound {
            let Some(oldest) = objects.iter().min_by_key(|(_, (at, _))| *at).map(|(n, _)| n.clone()) else { break };
            if let Some((_, dropped)) = objects.remove(&oldest) {
                tracing::warn!(object = %oldest, "local object store full, dropping the oldest object");
                total -= dropped.len() as u64;
            }
        }
        objects.insert(name.to_owned(), (Instant::now(), content));
    }

    /// Removes files past the maximum age from the bucket's directory.
    async fn prune_dir(&self, dir: &Path) {
        let max_age = self.max_age();
        if max_age.is_zero() {
            return;
        }
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let expired = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(modified) => modified.elapsed().unwrap_or_default() > max_age,
                Err(_) => false,
            };
            if expired {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }

    pub(crate) fn set_max_age(&self, max_age: Duration) {
        if let Ok(mut current) = self.max_age.lock() {
            *current = max_age;
        }
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Bytes)>> {
        let max_age = self.max_age();
        let mut objects = match self.objects.lock() {
            Ok(objects) => objects,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !max_age.is_zero() {
            objects.retain(|_, (stored_at, _)| stored_at.elapsed() <= max_age);
        }
        objects
    }
}

fn nats_error(error: impl std::fmt::Display) -> BusError {
    BusError::new(BusErrorKind::Other, error.to_string())
}

impl Bus {
    /// Opens the object bucket `bucket`, creating it if missing, and sets its maximum age
    /// (`Duration::ZERO`: kept until deleted). The writer of a bucket opens it this way; readers
    /// use [`Bus::open_object_store`] so they never change its settings.
    pub async fn object_store(&self, bucket: &str, max_age: Duration) -> Result<Objects, BusError> {
        match self {
            Bus::Nats(nats) => {
                use async_nats::jetstream::object_store::Config;
                let jetstream = async_nats::jetstream::new(nats.client.clone());
                let config = Config {
                    bucket: bucket.to_owned(),
                    description: Some("gym-call-agent objects".to_owned()),
                    max_age,
                    num_replicas: nats.store.replicas,
                    ..Default::default()
                };
                match jetstream.create_object_store(config).await {
                    Ok(store) => Ok(Objects::Nats(Box::new(store))),
                    Err(create_error) => {
                        // It exists with other settings: keep it, with this maximum age.
                        let stream_name = format!("OBJ_{bucket}");
                        let mut stream = jetstream.get_stream(&stream_name).await.map_err(|get_error| {
                            nats_error(format!("object bucket {bucket}: {create_error}; {get_error}"))
                        })?;
                        let mut stream_config = stream.info().await.map_err(nats_error)?.config.clone();
                        if stream_config.max_age != max_age || stream_config.num_replicas != nats.store.replicas {
                            stream_config.max_age = max_age;
                            stream_config.num_replicas = nats.store.replicas;
                            jetstream.update_stream(stream_config).await.map_err(nats_error)?;
                        }
                        jetstream.get_object_store(bucket).await.map(|s| Objects::Nats(Box::new(s))).map_err(nats_error)
                    }
                }
            }
            Bus::Local(bus) => {
                let objects = bus.objects(bucket);
                objects.set_max_age(max_age);
                Ok(Objects::Local(objects))
            }
        }
    }

    /// Opens an existing object bucket; `None` when it was never created (nothing stored yet).
    pub async fn open_object_store(&self, bucket: &str) -> Result<Option<Objects>, BusError> {
        match self {
            Bus::Nats(nats) => {
                let jetstream = async_nats::jetstream::new(nats.client.clone());
                match jetstream.get_stream(format!("OBJ_{bucket}")).await {
                    Ok(_) => jetstream
                        .get_object_store(bucket)
                        .await
                        .map(|s| Some(Objects::Nats(Box::new(s))))
                        .map_err(nats_error),
                    Err(error)
                        if matches!(error.kind(), GetStreamErrorKind::JetStream(ref e)
                            if e.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND) =>
                    {
                        Ok(None)
                    }
                    Err(error) => Err(nats_error(error)),
                }
            }
            Bus::Local(bus) => Ok(Some(Objects::Local(bus.objects(bucket)))),
        }
    }
}

impl Objects {
    /// Stores the file at `path` as `name` (replacing an object of that name); returns its size.
    pub async fn put_file(&self, name: &str, path: &Path) -> Result<u64, BusError> {
        let io_error =
            |error: std::io::Error| BusError::new(BusErrorKind::Other, format!("{}: {error}", path.display()));
        match self {
            Objects::Nats(store) => {
                let mut file = tokio::fs::File::open(path).await.map_err(io_error)?;
                let info = store.put(name, &mut file).await.map_err(nats_error)?;
                Ok(info.size as u64)
            }
            Objects::Local(objects) => {
                check_name(name)?;
                let size = tokio::fs::metadata(path).await.map_err(io_error)?.len();
                if size > LOCAL_MAX_OBJECT_BYTES {
                    return Err(BusError::new(
                        BusErrorKind::Invalid,
                        format!("{size} bytes is over the local bus's {LOCAL_MAX_OBJECT_BYTES}-byte object limit"),
                    ));
                }
                match &objects.dir {
                    Some(dir) => {
                        let dir_error =
                            |e: std::io::Error| BusError::new(BusErrorKind::Other, format!("{}: {e}", dir.display()));
                        tokio::fs::create_dir_all(dir).await.map_err(dir_error)?;
                        objects.prune_dir(dir).await;
                        // copied beside, then renamed: a reader never sees half a file
                        let partial = dir.join(format!(".{name}.partial"));
                        tokio::fs::copy(path, &partial).await.map_err(dir_error)?;
                        tokio::fs::rename(&partial, dir.join(name)).await.map_err(dir_error)?;
                    }
                    None => {
                        let content = Bytes::from(tokio::fs::read(path).await.map_err(io_error)?);
                        objects.keep_in_memory(name, content);
                    }
                }
                Ok(size)
            }
        }
    }

    /// Opens object `name` for reading; `None` when there is none (never stored, or expired).
    pub async fn get(&self, name: &str) -> Result<Option<ObjectRead>, BusError> {
        match self {
            Objects::Nats(store) => match store.get(name).await {
                Ok(object) => {
                    let size = object.info().size as u64;
                    Ok(Some(ObjectRead { size, reader: Box::pin(object) }))
                }
                Err(error) if error.kind() == async_nats::jetstream::object_store::GetErrorKind::NotFound => Ok(None),
                Err(error) => Err(nats_error(error)),
            },
            Objects::Local(objects) => {
                if check_name(name).is_err() {
                    return Ok(None);
                }
                let Some(dir) = &objects.dir else {
                    return Ok(objects.objects().get(name).map(|(_, content)| ObjectRead {
                        size: content.len() as u64,
                        reader: Box::pin(std::io::Cursor::new(content.clone())),
                    }));
                };
                objects.prune_dir(dir).await;
                match tokio::fs::File::open(dir.join(name)).await {
                    Ok(file) => {
                        let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                        Ok(Some(ObjectRead { size, reader: Box::pin(file) }))
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(BusError::new(BusErrorKind::Other, format!("{}: {error}", dir.display()))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_local_bus_stores_and_reads_back_a_file_and_forgets_it_after_the_maximum_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        std::fs::write(&path, b"RIFF....WAVE").unwrap();
        let bus = Bus::local();
        let store = bus.object_store("recordings", Duration::from_millis(200)).await.unwrap();
        assert_eq!(store.put_file("c_1.wav", &path).await.unwrap(), 12);
        let reader_side = bus.open_object_store("recordings").await.unwrap().unwrap();
        let mut read = reader_side.get("c_1.wav").await.unwrap().expect("stored");
        assert_eq!(read.size, 12);
        let mut content = Vec::new();
        read.reader.read_to_end(&mut content).await.unwrap();
        assert_eq!(content, b"RIFF....WAVE");
        assert!(reader_side.get("c_2.wav").await.unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(reader_side.get("c_1.wav").await.unwrap().is_none(), "expired");
    }

    #[tokio::test]
    async fn with_a_store_directory_objects_are_files_that_outlive_the_bus_and_names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        std::fs::write(&path, vec![7u8; 300_000]).unwrap();
        let store_dir = dir.path().join("store");
        let bus = Bus::local_with_store(&store_dir);
        let store = bus.object_store("recordings", Duration::from_secs(3600)).await.unwrap();
        store.put_file("c_1.wav", &path).await.unwrap();
        assert!(store_dir.join("objects/recordings/c_1.wav").is_file(), "kept on disk, not in memory");
        for bad in ["../escape.wav", "a/b.wav", ".hidden", ""] {
            let error = store.put_file(bad, &path).await.unwrap_err();
            assert_eq!(error.kind, BusErrorKind::Invalid, "{bad:?}");
        }
        // another bus on the same directory (a restarted `gymcall up`) reads it back
        let again = Bus::local_with_store(&store_dir).open_object_store("recordings").await.unwrap().unwrap();
        let mut read = again.get("c_1.wav").await.unwrap().expect("on disk");
        let mut content = Vec::new();
        read.reader.read_to_end(&mut content).await.unwrap();
        assert_eq!((read.size, content.len()), (300_000, 300_000));
    }

    #[test]
    fn memory_holds_at_most_its_bound_dropping_the_oldest() {
        let objects = LocalObjects { memory_bound: 3_000, ..LocalObjects::new(None) };
        let chunk = 1_000;
        for name in ["a", "b", "c", "d"] {
            objects.keep_in_memory(name, Bytes::from(vec![0u8; chunk]));
            std::thread::sleep(Duration::from_millis(2));
        }
        let kept = objects.objects();
        assert!(!kept.contains_key("a") && kept.contains_key("d"), "the oldest went first");
        assert_eq!(kept.values().map(|(_, c)| c.len() as u64).sum::<u64>(), 3_000, "b, c and d");
    }
}
