//! `gymcall demo`: one whole call, offline, in one process. The gateway, media worker, brain
//! worker and dialer run on an in-process bus with a local file store and the embedded speech
//! engines; the dialer places the call through a fake Twilio REST API, whose answered call is
//! played by the simulator against the real gateway HTTP + WebSocket with a simulated
//! receptionist (a persona) on the other end.

use crate::stack::{self, Stack, StackOptions};
use anyhow::{bail, Context};
use playbook::PlaybookSet;
use protocol::calls::{CallEvent, CallEventKind};
use protocol::results::CallResult;
use protocol::version::decode_json;
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig};
use simulator::persona::hook::{answer_with_persona, PersonaLineup};
use simulator::persona::Persona;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The default callee, compiled in so the demo runs from any directory.
const DEFAULT_PERSONA: (&str, &str) = ("personas/atlas-bjj.yaml", include_str!("../../personas/atlas-bjj.yaml"));
/// The number the simulated gym answers on.
const DEMO_NUMBER: &str = "+15005550123";

#[derive(clap::Args, Clone)]
pub struct DemoArgs {
    /// Persona file of the simulated callee (default: a friendly BJJ front desk).
    #[arg(long)]
    pub persona: Option<PathBuf>,
    /// Playbook file to run instead of the persona's playbook.
    #[arg(long)]
    pub playbook: Option<PathBuf>,
    /// Print only the result JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Where to write the recording, transcript and result.
    #[arg(long, default_value = "gymcall-demo")]
    pub out: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 240)]
    pub timeout_s: u64,
}

/// Loads the playbooks (shipped + `--playbook`) and the persona, failing fast with the file,
/// line and field of any problem.
pub fn load_inputs(args: &DemoArgs) -> anyhow::Result<(PlaybookSet, Persona, String)> {
    let mut playbooks = match std::env::var("PLAYBOOKS_DIR") {
        Ok(dir) => PlaybookSet::load_dir(&dir).map_err(|e| anyhow::anyhow!("{e}"))?,
        Err(_) => PlaybookSet::built_in().map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let mut playbook_override = None;
    if let Some(path) = &args.playbook {
        let playbook = playbook::Playbook::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        playbook_override = Some(playbook.id.clone());
        playbooks.insert(playbook);
    }
    let persona = match &args.persona {
        Some(path) => Persona::load(path, &playbooks).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => {
            Persona::from_yaml(DEFAULT_PERSONA.0, DEFAULT_PERSONA.1, &playbooks).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let playbook_id = playbook_override.unwrap_or_else(|| persona.playbook.clone());
    Ok((playbooks, persona, playbook_id))
}

fn progress(json_only: bool, line: impl AsRef<str>) {
    let _ = json_only;
    eprintln!("{}", line.as_ref());
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (playbooks, persona, playbook_id) = load_inputs(&args)?;
    let playbook = playbooks.get(&playbook_id).map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    let out_dir = args.out.join(chrono_stamp());
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let quiet = args.json;
    progress(
        quiet,
        format!("gymcall demo: calling {} ({}) with playbook {}", persona.gym_name, persona.name, playbook.id),
    );

    // Twilio, played by the simulator: its REST API answers the dialer, and each answered call
    // opens the Media Stream against the gateway with the persona on the line.
    let fake = FakeTwilio::start(FakeTwilioConfig { step_delay: Duration::from_millis(20), ..Default::default() })
        .await
        .context("cannot start the simulated Twilio")?;
    // The simulated gym hears the agent with PocketSphinx and speaks with flite. The agent hears
    // it with PocketSphinx too unless `STT_PROVIDER` says otherwise: on flite's voice the
    // playbook's LM does better than Whisper tiny.en (the default persona: 5 of 5 fields against
    // 3 of 5), while on people Whisper is far better (whisper-stt's README), which is why
    // `gymcall up` and the media worker default to Whisper when its model is installed.
    let callee_speech = stack::embedded_speech()?;
    let lineup = PersonaLineup {
        persona: persona.clone(),
        playbook: playbook.clone(),
        record_wav: Some(out_dir.join("callee-heard.wav")),
    };
    answer_with_persona(&fake, DEMO_NUMBER, lineup, callee_speech.stt.clone(), callee_speech.tts.clone());
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    // The agent speaks with the Piper voice when it is installed (`TTS_PROVIDER` chooses), so
    // the gym's flite voice and the agent's are not the same.
    let speech = if env.contains_key("STT_PROVIDER") {
        stack::speech_from_env(&env)?
    } else {
        stack::with_agent_voice(&env, stack::embedded_speech()?)?
    };
    progress(quiet, format!("the agent hears with {} and speaks with {}", speech.stt.name(), speech.tts.name()));

    let stack = Stack::start(StackOptions {
        out_dir: out_dir.clone(),
        twilio_api_base: Some(fake.base_url()),
        twilio_account_sid: fake.account_sid().to_owned(),
        twilio_auth_token: fake.auth_token().to_owned(),
        speech: Some(speech),
        extra_env: Vec::new(),
    })
    .await?;

    let mut events = stack.bus.subscribe(protocol::subjects::CALL_EVENTS_ALL).await?;
    let mut results = stack.bus.subscribe(protocol::subjects::RESULTS_ALL).await?;
    let call_id = stack
        .place_call(DEMO_NUMBER, &persona.gym_name, persona.timezone.as_deref(), &playbook.id)
        .await
        .context("the gateway refused the call request")?;
    progress(quiet, format!("queued call {call_id}; dialing the simulated gym ..."));

    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(args.timeout_s));
    tokio::pin!(deadline);
    let result: CallResult = loop {
        tokio::select! {
            _ = &mut deadline => {
                stack.stop().await;
                bail!("no result within {} s (see the logs with RUST_LOG=info)", args.timeout_s);
            }
            Some(message) = events.next() => {
                if let Ok(event) = decode_json::<CallEvent>(&message.payload) {
                    if event.call_id.as_str() == call_id {
                        print_event(quiet, started, &event);
                    }
                }
            }
            Some(message) = results.next() => {
                match decode_json::<CallResult>(&message.payload) {
                    Ok(result) if result.call_id.as_str() == call_id => break result,
                    Ok(_) => {}
                    Err(error) => progress(quiet, format!("skipping a malformed result: {error}")),
                }
            }
        }
    };
    // let the media worker finish the recording before stopping
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.stop().await;
    fake.stop().await;

    let json = serde_json::to_string_pretty(&result)?;
    let result_path = out_dir.join("result.json");
    std::fs::write(&result_path, &json).with_context(|| format!("cannot write {}", result_path.display()))?;
    if !quiet {
        eprintln!("\n{}", crate::results::summary(&result));
    }
    println!("{json}");
    progress(
        quiet,
        format!("\nwrote {} (result), recordings and transcript under {}", result_path.display(), out_dir.display()),
    );
    progress(quiet, format!("call took {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

fn print_event(quiet: bool, started: Instant, event: &CallEvent) {
    let at = started.elapsed().as_secs_f64();
    let line = match event.kind {
        CallEventKind::AgentSaid => format!("[{at:6.1}s] agent: {}", event.detail),
        CallEventKind::CalleeSaid => format!("[{at:6.1}s] gym:   {}", event.detail),
        CallEventKind::Field => format!("[{at:6.1}s]   ✓ {}", event.detail),
        other => format!("[{at:6.1}s] ({other}) {}", event.detail),
    };
    progress(quiet, line);
}

/// `YYYYmmdd-HHMMSS` in UTC, for the output folder.
fn chrono_stamp() -> String {
    chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()
}
