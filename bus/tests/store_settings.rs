//! The replicas and ages of [`bus::StoreSettings`] reach the real JetStream streams and buckets,
//! on creation and on an existing store (issue 16 item 7: every store was one replica and kept
//! everything forever).

use bus::{Bus, NatsOptions, Retention, StoreSettings};
use bytes::Bytes;
use std::time::Duration;

fn options(store: StoreSettings) -> NatsOptions {
    NatsOptions { store, ..NatsOptions::default() }
}

async fn stream_config(url: &str, name: &str) -> async_nats::jetstream::stream::Config {
    let client = async_nats::connect(url).await.expect("connect");
    let context = async_nats::jetstream::new(client);
    let mut stream = context.get_stream(name).await.expect("stream");
    stream.info().await.expect("info").config.clone()
}

#[tokio::test]
async fn a_kv_entry_expires_after_its_buckets_max_age() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let store = StoreSettings::default().with_max_age("convo", Duration::from_secs(1));
    let bus = Bus::connect_with(&nats.url(), "store-test", &options(store)).await.unwrap();
    let convo = bus.kv("convo").await.unwrap();
    convo.put("c_1", Bytes::from_static(b"{}")).await.unwrap();
    assert!(convo.get("c_1").await.unwrap().is_some());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while convo.get("c_1").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the entry outlived its 1 s max age by 9 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stream_config(&nats.url(), "KV_convo").await.max_age, Duration::from_secs(1));
}

#[tokio::test]
async fn new_settings_apply_to_an_existing_bucket_and_stream() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let before = Bus::connect(&nats.url(), "store-test").await.unwrap();
    before.kv("calls").await.unwrap().put("c_1", Bytes::from_static(b"{}")).await.unwrap();
    before.ensure_stream("RESULTS", &["results.>"], Retention::Limits).await.unwrap();
    assert_eq!(stream_config(&nats.url(), "KV_calls").await.max_age, Duration::ZERO);
    assert_eq!(stream_config(&nats.url(), "RESULTS").await.max_age, Duration::from_secs(30 * 86400));

    let store = StoreSettings::default()
        .with_max_age("calls", Duration::from_secs(90 * 86400))
        .with_max_age("RESULTS", Duration::from_secs(3600));
    let after = Bus::connect_with(&nats.url(), "store-test", &options(store)).await.unwrap();
    let calls = after.kv("calls").await.unwrap();
    after.ensure_stream("RESULTS", &["results.>"], Retention::Limits).await.unwrap();
    assert_eq!(stream_config(&nats.url(), "KV_calls").await.max_age, Duration::from_secs(90 * 86400));
    assert_eq!(stream_config(&nats.url(), "RESULTS").await.max_age, Duration::from_secs(3600));
    // the record written before the change is still there
    assert!(calls.get("c_1").await.unwrap().is_some());
}

#[tokio::test]
async fn more_replicas_than_servers_is_a_clear_error_not_a_silent_single_copy() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let store = StoreSettings::default().with_replicas(3);
    let bus = Bus::connect_with(&nats.url(), "store-test", &options(store)).await.unwrap();
    let error = match bus.kv("calls").await {
        Ok(_) => panic!("a 3-replica bucket was created on a single server"),
        Err(error) => error,
    };
    assert!(error.to_string().contains("calls"), "{error}");
}
