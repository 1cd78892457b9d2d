//! Every service in one process on one bus: what `gymcall demo` and `gymcall up` run, and what
//! the end-to-end tests drive. Each service is configured exactly as its own binary would be,
//! from an environment map.

use anyhow::{anyhow, Context};
use bus::Bus;
use std::collections::HashMap;
use std::path::PathBuf;

/// How to run the stack.
pub struct StackOptions {
    /// Recordings, transcripts and (for a local bus) the KV store go here.
    pub out_dir: PathBuf,
    /// Twilio REST base URL (the simulated Twilio's in the demo; None = the real one).
    pub twilio_api_base: Option<String>,
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
    /// Speech providers to use; None = build them from the environment.
    pub speech: Option<speech::Providers>,
    /// Extra variables, applied over the defaults (e.g. the user's environment for `up`).
    pub extra_env: Vec<(String, String)>,
}

/// The running services.
pub struct Stack {
    pub bus: Bus,
    pub api_base: String,
    pub api_token: String,
    gateway: gateway::RunningGateway,
    media: media_worker::RunningWorker,
    brain: brain_worker::RunningBrain,
    dialer: dialer::RunningDialer,
}

/// The configured speech providers: with `STT_PROVIDER` unset, embedded Whisper when its model is
/// installed (`scripts/install-models.sh`), else PocketSphinx; with `TTS_PROVIDER` unset, the
/// Piper voice when it is installed, else flite; or the cloud providers.
pub fn speech_from_env(env: &HashMap<String, String>) -> anyhow::Result<speech::Providers> {
    let config = speech::SpeechConfig::from_env(env).map_err(|e| anyhow!("speech settings: {e}"))?;
    let providers = whisper_stt::providers_from_config(&config).map_err(|e| anyhow!("speech engines: {e}"))?;
    Ok(piper_tts::with_piper_voice(&config, providers))
}

/// The agent's voice as `TTS_PROVIDER` and the voice variables choose it (the Piper voice when
/// installed, else flite), on `providers` (whose own voice is the fallback).
pub fn with_agent_voice(
    env: &HashMap<String, String>,
    providers: speech::Providers,
) -> anyhow::Result<speech::Providers> {
    let config = speech::SpeechConfig::from_env(env).map_err(|e| anyhow!("speech settings: {e}"))?;
    Ok(piper_tts::with_piper_voice(&config, providers))
}

/// The keyless embedded speech engines: PocketSphinx (Debian's model) and flite. The simulated
/// callees hear the agent with these (and the end-to-end tests run the agent on them too).
pub fn embedded_speech() -> anyhow::Result<speech::Providers> {
    let stt = speech::stt::pocketsphinx::PocketsphinxStt::new(Default::default())
        .map_err(|e| anyhow!("embedded speech-to-text: {e}"))?;
    let tts = speech::tts::FliteTts::new().map_err(|e| anyhow!("embedded text-to-speech: {e}"))?;
    Ok(speech::Providers { stt: std::sync::Arc::new(stt), tts: std::sync::Arc::new(tts) })
}

fn free_local_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Stack {
    /// Starts gateway, media worker, brain worker and dialer on an in-process bus whose KV store
    /// lives under `out_dir/store`.
    pub async fn start(options: StackOptions) -> anyhow::Result<Stack> {
        let bus = Bus::local_with_store(options.out_dir.join("store"));
        Stack::start_on(bus, options).await
    }

    /// Starts the four services on `bus`.
    pub async fn start_on(bus: Bus, options: StackOptions) -> anyhow::Result<Stack> {
        let mut env: HashMap<String, String> = HashMap::new();
        let port = free_local_port()?;
        let api_token = "demo-token-local-only".to_owned();
        let defaults = [
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("PUBLIC_BASE_URL", format!("http://127.0.0.1:{port}")),
            ("TWILIO_ACCOUNT_SID", options.twilio_account_sid.clone()),
            ("TWILIO_AUTH_TOKEN", options.twilio_auth_token.clone()),
            ("TWILIO_FROM_NUMBER", "+15005550006".to_owned()),
            ("API_TOKEN", api_token.clone()),
            ("RECORDINGS_DIR", options.out_dir.display().to_string()),
            ("CALLING_WINDOW", "Mon-Sun 00:00-24:00".to_owned()),
            ("MACHINE_DETECTION", "false".to_owned()),
        ];
        for (key, value) in defaults {
            env.insert(key.to_owned(), value);
        }
        if let Some(base) = &options.twilio_api_base {
            env.insert("TWILIO_API_BASE".into(), base.clone());
        }
        for (key, value) in &options.extra_env {
            env.insert(key.clone(), value.clone());
        }
        let speech = match options.speech {
            Some(speech) => speech,
            None => speech_from_env(&env)?,
        };
        let gateway_config = gateway::Config::from_env(&env).map_err(|e| anyhow!("gateway settings: {e}"))?;
        let api_base = format!("http://{}", gateway_config.listen_addr);
        let media_config = media_worker::Config::from_env(&env).map_err(|e| anyhow!("media worker settings: {e}"))?;
        let brain_config = brain_worker::Config::from_env(&env).map_err(|e| anyhow!("brain worker settings: {e}"))?;
        let dialer_config = dialer::Config::from_env(&env).map_err(|e| anyhow!("dialer settings: {e}"))?;

        let brain = brain_worker::start(brain_config, bus.clone()).await.map_err(|e| anyhow!("brain worker: {e}"))?;
        let media =
            media_worker::start(media_config, bus.clone(), speech).await.map_err(|e| anyhow!("media worker: {e}"))?;
        let gateway = gateway::start(gateway_config, bus.clone()).await.map_err(|e| anyhow!("gateway: {e}"))?;
        let dialer = dialer::start(dialer_config, bus.clone()).await.map_err(|e| anyhow!("dialer: {e}"))?;
        Ok(Stack { bus, api_base, api_token, gateway, media, brain, dialer })
    }

    /// `POST /v1/calls` on the gateway; returns the call id.
    pub async fn place_call(
        &self,
        phone_number: &str,
        gym_name: &str,
        timezone: Option<&str>,
        playbook: &str,
    ) -> anyhow::Result<String> {
        let mut body = serde_json::json!({
            "phone_number": phone_number,
            "gym_name": gym_name,
            "playbook": playbook,
            "calling_window": "Mon-Sun 00:00-24:00",
        });
        if let Some(timezone) = timezone {
            body["timezone"] = serde_json::json!(timezone);
        }
        let response = reqwest::Client::new()
            .post(format!("{}/v1/calls", self.api_base))
            .bearer_auth(&self.api_token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let reply: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("{status}: {reply}");
        }
        reply["call_id"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no call_id in {reply}"))
    }

    /// Graceful stop, in the order that lets live calls finish: stop taking calls, then workers.
    pub async fn stop(self) {
        let _ = self.dialer.stop().await;
        self.gateway.stop().await;
        self.media.stop().await;
        self.brain.stop(std::time::Duration::from_secs(2)).await;
    }
}
