//! The Twilio edge of gym-call-agent: voice webhook -> TwiML, status / AMD callbacks, the Media
//! Streams WebSocket (relayed to media workers over the bus), health, readiness, metrics, and the
//! REST API mounted from [`rest`], and the operator's web console from [`console`].
//!
//! [`start`] binds and serves inside the current actix System and returns a [`RunningGateway`];
//! `main.rs` is a thin wrapper around it.

pub mod body;
pub mod config;
pub mod console;
pub mod error;
pub mod health;
pub mod metrics;
pub mod paths;
pub mod rest;
pub mod state;
pub mod stream;
pub mod twilio_http;

use actix_web::{web, App, HttpServer};
use bus::Bus;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub use config::{Config, ConfigError, ENV_VARS};
pub use error::GatewayError;
pub use paths::{AFTER_STREAM_PATH, AMD_PATH, STATUS_PATH, STREAM_PATH, VOICE_PATH};
pub use state::AppState;

/// Registers every route on an app (the REST API through [`rest::configure`], the console through
/// [`console::configure`], whose state the app must hold as `web::Data<console::ConsoleState>`).
pub fn configure_app(cfg: &mut web::ServiceConfig) {
    cfg.route(VOICE_PATH, web::post().to(twilio_http::voice_webhook))
        .route(STATUS_PATH, web::post().to(twilio_http::status_callback))
        .route(AMD_PATH, web::post().to(twilio_http::status_callback))
        .route(AFTER_STREAM_PATH, web::post().to(twilio_http::after_stream))
        .route(STREAM_PATH, web::get().to(stream::stream_upgrade))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics));
    rest::configure(cfg);
    console::configure(cfg);
}

/// A gateway serving in the background.
pub struct RunningGateway {
    local_addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    server_task: actix_rt::task::JoinHandle<std::io::Result<()>>,
    state: web::Data<AppState>,
}

impl RunningGateway {
    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state (metrics, bus, config).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// Graceful stop: readiness turns false (the load balancer stops sending new calls), live
    /// streams get the grace period to finish, the rest are closed (Twilio then follows the
    /// after-stream redirect, which this gateway still answers for a moment), then the server stops.
    pub async fn stop(self) {
        let grace = self.state.config.shutdown_grace;
        self.state.begin_draining();
        let deadline = Instant::now() + grace;
        while self.active_streams() > 0 && Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        let open = self.active_streams();
        if open > 0 {
            tracing::warn!(open, "grace period over, closing live streams");
            self.state.close_all_streams();
            let closing_deadline = Instant::now() + Duration::from_secs(2);
            while self.active_streams() > 0 && Instant::now() < closing_deadline {
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
            // Twilio requests the after-stream redirect right after the socket closes.
            actix_rt::time::sleep(AFTER_STREAM_LINGER).await;
        }
        self.handle.stop(true).await;
        match self.server_task.await {
            Ok(Ok(())) => tracing::info!("gateway stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "gateway server ended with an error"),
            Err(error) => tracing::warn!(%error, "gateway server task failed"),
        }
    }

    fn active_streams(&self) -> i64 {
        self.state.metrics.active_streams.load(Ordering::Relaxed)
    }
}

/// How long a stopping gateway keeps answering after it closed live streams.
const AFTER_STREAM_LINGER: Duration = Duration::from_millis(1000);

/// Binds `config.listen_addr` and serves in the current actix System.
pub async fn start(config: Config, bus: Bus) -> Result<RunningGateway, GatewayError> {
    let listen_addr = config.listen_addr.clone();
    let workers = config.http_workers;
    let grace_s = config.shutdown_grace.as_secs().max(1);
    let header_timeout = config.http_header_timeout;
    let state = web::Data::new(AppState::new(config, bus));
    let factory_state = state.clone();
    // One console state for every worker thread: its limits and logouts hold for the whole gateway.
    let console_state = web::Data::new(console::ConsoleState::new());
    let mut server = HttpServer::new(move || {
        App::new().app_data(factory_state.clone()).app_data(console_state.clone()).configure(configure_app)
    })
    .disable_signals()
    .client_request_timeout(header_timeout)
    .shutdown_timeout(grace_s + 1);
    if workers > 0 {
        server = server.workers(workers);
    }
    let server =
        server.bind(&listen_addr).map_err(|source| GatewayError::Bind { addr: listen_addr.clone(), source })?;
    let local_addr = server.addrs().first().copied().ok_or_else(|| GatewayError::Bind {
        addr: listen_addr.clone(),
        source: std::io::Error::other("no address bound"),
    })?;
    let server = server.run();
    let handle = server.handle();
    let server_task = actix_rt::spawn(server);
    tracing::info!(%local_addr, public_base_url = %state.config.public_base_url, "gateway listening");
    Ok(RunningGateway { local_addr, handle, server_task, state })
}
