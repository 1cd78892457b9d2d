//! Starting and stopping a dialer: [`start`] opens the KV buckets, the `DIAL` and `WEBHOOKS`
//! work queues and the subscriptions, serves the probes, and spawns the run loop (`run`) and the
//! result webhook deliverer ([`crate::webhook`]); [`RunningDialer`] stops them.

use crate::config::Config;
use crate::leases::{NumberLeases, KV_NUMBER_LEASES};
use crate::metrics::Stats;
use crate::records::Records;
use crate::run::{run, Wiring};
use crate::twilio::{TwilioClient, TwilioError};
use crate::webhook::WebhookQueue;
use bus::queue::Job;
use bus::{Bus, BusError};
use protocol::subjects;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tracing::warn;

/// Durable consumer name shared by every dialer, so each dial request goes to one of them.
pub const DIAL_CONSUMER: &str = "dialer";

/// Why the dialer could not start.
#[derive(Debug, thiserror::Error)]
pub enum DialerError {
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("twilio client: {0}")]
    Twilio(#[from] TwilioError),
    #[error("dialer task failed: {0}")]
    Task(String),
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics { addr: String, source: std::io::Error },
}

/// A dialer running in the background.
pub struct RunningDialer {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    webhook_task: tokio::task::JoinHandle<()>,
    stats: Arc<Stats>,
    metrics: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
}

impl RunningDialer {
    /// Where `/healthz`, `/readyz` and `/metrics` are served (when `METRICS_ADDR` is set).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Stops taking requests, hands waiting ones back to the queue, lets live calls finish
    /// within the drain time, and returns.
    pub async fn stop(self) -> Result<(), DialerError> {
        let _ = self.shutdown.send(true);
        let result = self.task.await.map_err(|e| DialerError::Task(e.to_string()));
        let _ = self.webhook_task.await;
        if let Some((_, server)) = self.metrics {
            server.abort();
        }
        result
    }

    /// Waits until the dialer stops by itself (the bus closed).
    pub async fn wait(self) -> Result<(), DialerError> {
        self.task.await.map_err(|e| DialerError::Task(e.to_string()))
    }
}

/// Starts a dialer on `bus`. Returns once it is subscribed and consuming.
pub async fn start(config: Config, bus: Bus) -> Result<RunningDialer, DialerError> {
    let twilio = TwilioClient::new(config.twilio.clone())?;
    let records = Records::new(bus.kv(subjects::KV_CALLS).await?);
    let webhooks = WebhookQueue::open(&bus, records.clone(), config.webhook.default_url.clone()).await?;
    let leases = NumberLeases::new(bus.kv(KV_NUMBER_LEASES).await?, records.clone());
    let mut queue = bus
        .work_queue(subjects::DIAL_STREAM, subjects::DIAL_REQUESTS, DIAL_CONSUMER)
        .await?
        .with_ack_wait(config.ack_wait);
    let status = bus.subscribe(subjects::TWILIO_STATUS_ALL).await?;
    let control = bus.subscribe(format!("{}.>", subjects::DIAL_CONTROL_PREFIX)).await?;
    bus.flush().await?;

    // The queue is read by its own task, one job per credit, so the run loop never cancels a
    // pull half-way and never takes a job it has no room for.
    let credits = Arc::new(Semaphore::new(0));
    let (job_sender, jobs) = mpsc::channel::<Job>(1);
    let consumer_credits = credits.clone();
    let consumer = tokio::spawn(async move {
        loop {
            let Ok(permit) = consumer_credits.acquire().await else { return };
            permit.forget();
            match queue.next().await {
                Ok(job) => {
                    if job_sender.send(job).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    warn!(%error, "dial queue pull failed");
                    consumer_credits.add_permits(1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let stats = Arc::new(Stats::default());
    let metrics = match &config.metrics_addr {
        Some(addr) => Some(
            crate::metrics::serve(addr, stats.clone(), bus.clone())
                .await
                .map_err(|source| DialerError::Metrics { addr: addr.clone(), source })?,
        ),
        None => None,
    };
    let (shutdown, shutdown_signal) = watch::channel(false);
    let webhook_task = crate::webhook::spawn_deliverer(
        &bus,
        records.clone(),
        config.webhook.clone(),
        config.public_base_url.clone(),
        stats.clone(),
        shutdown_signal.clone(),
    )
    .await?;
    let wiring = Wiring {
        config,
        bus,
        records,
        webhooks,
        leases,
        twilio,
        stats: stats.clone(),
        credits,
        jobs,
        status,
        control,
        shutdown: shutdown_signal,
    };
    let task = tokio::spawn(async move {
        run(wiring).await;
        consumer.abort();
    });
    Ok(RunningDialer { shutdown, task, webhook_task, stats, metrics })
}
