//! Object buckets for files too large for a KV value (call recordings): a NATS JetStream object
//! store, or an in-process map on the local bus.
//!
//! A file written by one pod (the media worker that held the call) is read by another (the
//! gateway that serves it), so it has to live on the bus, not on a pod's disk. An object is read
//! back as an [`ObjectRead`]: its size and an `AsyncRead` that yields it chunk by chunk (NATS
//! keeps objects in 128 KiB chunks), so a reader never holds a whole recording in memory.
//!
//! Buckets have a maximum age ([`Bus::object_store`]): the server removes older objects. The
//! local bus keeps objects in memory and drops those past the age when the bucket is next used.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::GetStreamErrorKind;
use bytes::Bytes;

use crate::{Bus, BusError, BusErrorKind};

/// One open object bucket.
#[derive(Clone)]
pub enum Objects {
    Nats(async_nats::jetstream::object_store::ObjectStore),
    Local(Arc<LocalObjects>),
}

/// An object being read: its size in bytes and its content.
pub struct ObjectRead {
    pub size: u64,
    pub reader: Pin<Box<dyn tokio::io::AsyncRead + Send>>,
}

/// The local bus's bucket: name -> (stored at, content), pruned by age.
pub struct LocalObjects {
    max_age: Mutex<Duration>,
    objects: Mutex<HashMap<String, (Instant, Bytes)>>,
}

/// Largest object the local (in-process, demo) bus keeps: it holds objects in memory.
pub const LOCAL_MAX_OBJECT_BYTES: u64 = 512 * 1024 * 1024;

impl LocalObjects {
    pub(crate) fn new() -> Self {
        LocalObjects { max_age: Mutex::new(Duration::ZERO), objects: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn set_max_age(&self, max_age: Duration) {
        if let Ok(mut current) = self.max_age.lock() {
            *current = max_age;
        }
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Bytes)>> {
        let max_age = self.max_age.lock().map(|age| *age).unwrap_or(Duration::ZERO);
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
                    Ok(store) => Ok(Objects::Nats(store)),
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
                        jetstream.get_object_store(bucket).await.map(Objects::Nats).map_err(nats_error)
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
                    Ok(_) => {
                        jetstream.get_object_store(bucket).await.map(|s| Some(Objects::Nats(s))).map_err(nats_error)
                    }
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
                let size = tokio::fs::metadata(path).await.map_err(io_error)?.len();
                if size > LOCAL_MAX_OBJECT_BYTES {
                    return Err(BusError::new(
                        BusErrorKind::Invalid,
                        format!("{size} bytes is over the local bus's {LOCAL_MAX_OBJECT_BYTES}-byte object limit"),
                    ));
                }
                let content = Bytes::from(tokio::fs::read(path).await.map_err(io_error)?);
                objects.objects().insert(name.to_owned(), (Instant::now(), content));
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
            Objects::Local(objects) => Ok(objects.objects().get(name).map(|(_, content)| ObjectRead {
                size: content.len() as u64,
                reader: Box::pin(std::io::Cursor::new(content.clone())),
            })),
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
}
