//! Creating JetStream streams and KV buckets with the configured replicas and ages, and bringing
//! an existing one in line when the settings changed (a restart with `NATS_REPLICAS=3` scales the
//! streams a one-server install made; a new `NATS_MAX_AGE_<NAME>` applies to the existing store).

use crate::message::{BusError, BusErrorKind};
use crate::settings::StoreSettings;
use async_nats::jetstream::{self, stream};

/// Creates the stream `config` names, or updates an existing one whose replicas or age differ.
pub(crate) async fn create_or_align_stream(
    context: &jetstream::Context,
    config: stream::Config,
) -> Result<(), BusError> {
    let name = config.name.clone();
    let mut existing = context.get_or_create_stream(config.clone()).await.map_err(|e| stream_error(&name, e))?;
    let current = existing.info().await.map_err(|e| stream_error(&name, e))?.config.clone();
    align(context, current, config.num_replicas, config.max_age).await
}

/// Brings the KV bucket `bucket`'s stream to the configured replicas and age.
pub(crate) async fn align_bucket(
    context: &jetstream::Context,
    bucket: &str,
    store: &StoreSettings,
) -> Result<(), BusError> {
    let name = format!("KV_{bucket}");
    let mut existing = context.get_stream(&name).await.map_err(|e| stream_error(&name, e))?;
    let current = existing.info().await.map_err(|e| stream_error(&name, e))?.config.clone();
    align(context, current, store.replicas, store.max_age(bucket)).await
}

async fn align(
    context: &jetstream::Context,
    current: stream::Config,
    replicas: usize,
    max_age: std::time::Duration,
) -> Result<(), BusError> {
    if current.num_replicas == replicas && current.max_age == max_age {
        return Ok(());
    }
    let name = current.name.clone();
    tracing::info!(
        stream = %name,
        from_replicas = current.num_replicas,
        to_replicas = replicas,
        from_max_age_s = current.max_age.as_secs(),
        to_max_age_s = max_age.as_secs(),
        "stream settings changed, updating"
    );
    let updated = stream::Config { num_replicas: replicas, max_age, ..current };
    context.update_stream(updated).await.map(|_| ()).map_err(|e| stream_error(&name, e))
}

fn stream_error(name: &str, error: impl std::fmt::Display) -> BusError {
    BusError::new(BusErrorKind::Other, format!("jetstream stream {name}: {error}"))
}
