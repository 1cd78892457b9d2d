//! The stack the web console's browser test drives (`tests/browser/`): gateway, media worker,
//! brain worker and dialer in one process (as `gymcall up` runs them) against the simulated
//! Twilio, whose calls are answered by the simulated gym of `personas/atlas-bjj.yaml` on two
//! numbers; any other number is answered and hung up at once. When it is ready it prints one JSON
//! line on stdout: `{"base_url", "api_token", "persona_numbers": [...], "hang_up_number"}`. It
//! stops gracefully when stdin closes or on SIGTERM / Ctrl-C.
//!
//! `cargo run -p gymcall --example console_stack -- [OUT_DIR]`

use anyhow::Context;
use gymcall::stack::{embedded_speech, Stack, StackOptions};
use playbook::PlaybookSet;
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig};
use simulator::persona::hook::{media_hook, PersonaLineup};
use simulator::persona::Persona;
use std::collections::HashMap;
use std::time::Duration;

const PERSONA: &str = include_str!("../../personas/atlas-bjj.yaml");
const PERSONA_NUMBERS: [&str; 2] = ["+15005550123", "+15005550124"];
const HANG_UP_NUMBER: &str = "+15005550177";
const API_TOKEN: &str = "console-browser-test-token";

fn main() -> anyhow::Result<()> {
    probes::process::init_logging("warn");
    let out_dir = std::env::args().nth(1).unwrap_or_else(|| "target/console-stack".to_owned());
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|error| {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1)
        })
    });
    system.block_on(run(std::path::PathBuf::from(out_dir)))
}

async fn run(out_dir: std::path::PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let playbooks = PlaybookSet::built_in().map_err(|e| anyhow::anyhow!("{e}"))?;
    let persona =
        Persona::from_yaml("personas/atlas-bjj.yaml", PERSONA, &playbooks).map_err(|e| anyhow::anyhow!("{e}"))?;
    let playbook = playbooks.get(&persona.playbook).map_err(|e| anyhow::anyhow!("{e}"))?.clone();

    let fake = FakeTwilio::start(FakeTwilioConfig { step_delay: Duration::from_millis(20), ..Default::default() })
        .await
        .context("cannot start the simulated Twilio")?;
    let callee_speech = embedded_speech()?;
    let personas: HashMap<String, PersonaLineup> = PERSONA_NUMBERS
        .iter()
        .map(|number| {
            let lineup = PersonaLineup { persona: persona.clone(), playbook: playbook.clone(), record_wav: None };
            ((*number).to_owned(), lineup)
        })
        .collect();
    fake.set_media_hook(media_hook(
        personas,
        callee_speech.stt.clone(),
        callee_speech.tts.clone(),
        fake.auth_token().to_owned(),
        None,
    ));

    // The agent hears with PocketSphinx, as in `gymcall demo`: the simulated gym speaks with flite.
    let stack = Stack::start(StackOptions {
        out_dir: out_dir.clone(),
        twilio_api_base: Some(fake.base_url()),
        twilio_account_sid: fake.account_sid().to_owned(),
        twilio_auth_token: fake.auth_token().to_owned(),
        speech: Some(embedded_speech()?),
        extra_env: vec![("API_TOKEN".to_owned(), API_TOKEN.to_owned())],
    })
    .await?;
    println!(
        "{}",
        serde_json::json!({
            "base_url": stack.api_base,
            "api_token": API_TOKEN,
            "persona_numbers": PERSONA_NUMBERS,
            "hang_up_number": HANG_UP_NUMBER,
        })
    );

    let (stdin_closed_tx, stdin_closed_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        let _ = stdin_closed_tx.send(());
    });
    tokio::select! {
        _ = probes::process::shutdown_signal() => {}
        _ = stdin_closed_rx => {}
    }
    eprintln!("console_stack: stopping");
    stack.stop().await;
    fake.stop().await;
    Ok(())
}
