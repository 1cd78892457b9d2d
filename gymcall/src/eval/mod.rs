//! `gymcall eval --personas DIR [--jobs K] [--json FILE]`: calls every persona in DIR through a
//! whole call on the in-process stack (REST -> dialer -> simulated Twilio -> gateway -> media
//! worker -> brain, as the end-to-end persona test does), K calls at a time, and reports how the
//! agent did: required fields right per persona and per field, dead air (agent silences over 3 s
//! while it holds the line, measured on the call audio the simulated callee hears: end of its
//! speech to the agent's next audio), whether the call ended with the closing line and the agent
//! hanging up after the callee's goodbye, and call length.

pub mod report;
pub mod text;

use crate::stack::{self, Stack, StackOptions};
use anyhow::{bail, Context};
use playbook::PlaybookSet;
use protocol::results::{CallOutcome, CallResult, Speaker};
use protocol::version::decode_json;
use report::{CallReport, ConversationLine, EvalReport, FieldReport};
use simulator::fake_twilio::{FakeTwilio, FakeTwilioConfig, Outcome};
use simulator::persona::grade::grade;
use simulator::persona::hook::{media_hook, PersonaCallReport, PersonaLineup};
use simulator::persona::timeline::DEAD_AIR_MS;
use simulator::persona::Persona;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// How long a finished call's persona report may lag behind its result.
const REPORT_GRACE: Duration = Duration::from_secs(15);

#[derive(clap::Args, Clone)]
pub struct EvalArgs {
    /// Folder of persona files (`*.yaml`), e.g. from `gymcall personas generate`.
    #[arg(long)]
    pub personas: PathBuf,
    /// Calls at a time.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Give up on a call after this many seconds.
    #[arg(long, default_value_t = 360)]
    pub call_timeout_s: u64,
    /// Recordings and the services' store go under this folder.
    #[arg(long, default_value = "gymcall-eval")]
    pub out: PathBuf,
    /// The agent's recogniser: `auto` picks it as a call does (`STT_PROVIDER`, else embedded
    /// Whisper when installed, else PocketSphinx); `pocketsphinx` is what the end-to-end persona
    /// test uses; `text` skips audio altogether (the brain reads what the persona said word for
    /// word: how much of the error is the brain's, a diagnostic; no dead air or endings measured).
    #[arg(long, value_enum, default_value_t = AgentEars::Auto)]
    pub stt: AgentEars,
}

/// Which recogniser the agent hears the personas with.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentEars {
    Auto,
    Whisper,
    Pocketsphinx,
    Text,
}

/// The agent's speech engines for `ears`, with the agent's voice as a call picks it.
fn agent_speech(ears: AgentEars) -> anyhow::Result<speech::Providers> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    match ears {
        AgentEars::Auto => {}
        AgentEars::Whisper => {
            env.insert("STT_PROVIDER".into(), "whisper".into());
        }
        AgentEars::Pocketsphinx | AgentEars::Text => {
            env.insert("STT_PROVIDER".into(), "pocketsphinx".into());
        }
    }
    // the evaluation never reaches a cloud voice: the agent speaks with an embedded one
    if env.get("TTS_PROVIDER").is_some_and(|p| !matches!(p.as_str(), "flite" | "piper" | "auto" | "")) {
        env.remove("TTS_PROVIDER");
    }
    stack::speech_from_env(&env)
}

pub async fn run(args: EvalArgs) -> anyhow::Result<()> {
    let report = evaluate(&args).await?;
    println!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the report to {}", path.display());
    }
    Ok(())
}

/// Every `*.yaml` in `dir`, loaded and checked; all bad files are named at once.
pub fn load_personas(dir: &Path, playbooks: &PlaybookSet) -> anyhow::Result<Vec<(PathBuf, Persona)>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the persona folder {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no persona files (*.yaml) in {}", dir.display());
    }
    let mut personas = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match Persona::load(&path, playbooks) {
            Ok(persona) => personas.push((path, persona)),
            Err(error) => errors.push(error.to_string()),
        }
    }
    if !errors.is_empty() {
        bail!("{} bad persona file(s):\n  {}", errors.len(), errors.join("\n  "));
    }
    Ok(personas)
}

/// Runs every persona's call and grades it.
pub async fn evaluate(args: &EvalArgs) -> anyhow::Result<EvalReport> {
    if args.jobs == 0 || args.jobs > 16 {
        bail!("--jobs must be 1 to 16");
    }
    let playbooks = PlaybookSet::built_in().map_err(|e| anyhow::anyhow!("{e}"))?;
    let personas = load_personas(&args.personas, &playbooks)?;
    if args.stt == AgentEars::Text {
        return evaluate_text(args, &playbooks, &personas);
    }
    let out_dir = args.out.join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string());
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    eprintln!("gymcall eval: {} personas from {}, {} at a time", personas.len(), args.personas.display(), args.jobs);

    let fake = FakeTwilio::start(FakeTwilioConfig { step_delay: Duration::from_millis(20), ..Default::default() })
        .await
        .context("cannot start the simulated Twilio")?;
    // the callees hear the agent with PocketSphinx; each speaks with its own voice
    let callee_speech = stack::embedded_speech()?;
    let mut lineup = HashMap::new();
    let mut numbers = Vec::new();
    let mut persona_playbooks = Vec::new();
    for (index, (_, persona)) in personas.iter().enumerate() {
        let number = format!("+1500555{:04}", 100 + index);
        fake.script(&number, vec![Outcome::Answer]);
        let playbook = playbooks.get(&persona.playbook).map_err(|e| anyhow::anyhow!("{e}"))?.clone();
        lineup.insert(
            number.clone(),
            PersonaLineup { persona: persona.clone(), playbook: playbook.clone(), record_wav: None },
        );
        numbers.push(number);
        persona_playbooks.push(playbook);
    }
    let (reports_tx, mut reports_rx) = tokio::sync::mpsc::unbounded_channel();
    fake.set_media_hook(media_hook(
        lineup,
        callee_speech.stt.clone(),
        callee_speech.tts.clone(),
        fake.auth_token().to_owned(),
        Some(reports_tx),
    ));
    // the agent as a call picks its engines (or the recogniser --stt names)
    let agent = agent_speech(args.stt)?;
    let engines = (agent.stt.name().to_owned(), agent.tts.name().to_owned());
    eprintln!("gymcall eval: the agent hears with {} and speaks with {}", agent.stt.name(), agent.tts.name());
    let worker_settings = worker_settings_from_env(std::env::vars(), args.jobs);
    let named: Vec<&str> = worker_settings.iter().map(|(name, _)| name.as_str()).collect();
    eprintln!("gymcall eval: worker settings from the environment and the jobs: {}", named.join(", "));
    let stack = Stack::start(StackOptions {
        out_dir: out_dir.clone(),
        twilio_api_base: Some(fake.base_url()),
        twilio_account_sid: fake.account_sid().to_owned(),
        twilio_auth_token: fake.auth_token().to_owned(),
        speech: Some(agent),
        extra_env: worker_settings,
    })
    .await?;
    let mut results_sub = stack.bus.subscribe(protocol::subjects::RESULTS_ALL).await?;

    let call_timeout = Duration::from_secs(args.call_timeout_s.max(30));
    let mut waiting: VecDeque<usize> = (0..personas.len()).collect();
    // call id -> (persona index, when it gives up)
    let mut in_flight: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut results: HashMap<usize, CallResult> = HashMap::new();
    let mut result_at: HashMap<usize, Instant> = HashMap::new();
    let mut call_reports: HashMap<String, PersonaCallReport> = HashMap::new();
    let mut errors: HashMap<usize, String> = HashMap::new();
    let mut finished = 0usize;
    while finished < personas.len() {
        while in_flight.len() < args.jobs {
            let Some(index) = waiting.pop_front() else { break };
            let persona = &personas[index].1;
            match stack
                .place_call(&numbers[index], &persona.gym_name, persona.timezone.as_deref(), &persona.playbook)
                .await
            {
                Ok(call_id) => {
                    eprintln!("[{}/{}] calling {}", index + 1, personas.len(), persona.name);
                    in_flight.insert(call_id, (index, Instant::now() + call_timeout));
                }
                Err(error) => {
                    errors.insert(index, format!("the gateway refused the call: {error:#}"));
                    finished += 1;
                }
            }
        }
        tokio::select! {
            Some(message) = results_sub.next() => {
                if let Ok(result) = decode_json::<CallResult>(&message.payload) {
                    if let Some((index, _)) = in_flight.get(result.call_id.as_str()) {
                        result_at.insert(*index, Instant::now());
                        results.insert(*index, result);
                    }
                }
            }
            Some(report) = reports_rx.recv() => {
                call_reports.insert(report.number.clone(), report);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        // a call is done with its result and the callee's report (or the report's grace), or
        // at its deadline
        let now = Instant::now();
        let done: Vec<String> = in_flight
            .iter()
            .filter(|(_, (index, deadline))| {
                let reported = call_reports.contains_key(&numbers[*index]);
                let graced = result_at.get(index).is_some_and(|at| now >= *at + REPORT_GRACE);
                (results.contains_key(index) && (reported || graced)) || now >= *deadline
            })
            .map(|(call_id, _)| call_id.clone())
            .collect();
        for call_id in done {
            if let Some((index, _)) = in_flight.remove(&call_id) {
                finished += 1;
                if !results.contains_key(&index) {
                    errors.insert(index, format!("no result within {} s", call_timeout.as_secs()));
                }
                let (path, persona) = &personas[index];
                let line = call_report(
                    path,
                    persona,
                    &persona_playbooks[index],
                    results.get(&index),
                    call_reports.get(&numbers[index]),
                    errors.get(&index).cloned(),
                );
                eprintln!(
                    "[{}/{}] {}: {}/{} required fields, outcome {}, dead air {}, closing line {}, hung up after goodbye {}, {:.1} s",
                    index + 1,
                    personas.len(),
                    persona.name,
                    line.required_correct,
                    line.required_total,
                    line.outcome,
                    line.dead_air.len(),
                    line.closing_line,
                    line.hangup_after_goodbye,
                    line.call_length_s
                );
            }
        }
    }
    stack.stop().await;
    fake.stop().await;

    let per_call = personas
        .iter()
        .enumerate()
        .map(|(index, (path, persona))| {
            call_report(
                path,
                persona,
                &persona_playbooks[index],
                results.get(&index),
                call_reports.get(&numbers[index]),
                errors.get(&index).cloned(),
            )
        })
        .collect();
    Ok(EvalReport::new(args.personas.display().to_string(), args.jobs, engines, DEAD_AIR_MS, per_call))
}

/// `--stt text`: every persona against the scripted brain in text ([`text::text_call`]).
fn evaluate_text(
    args: &EvalArgs,
    playbooks: &PlaybookSet,
    personas: &[(PathBuf, Persona)],
) -> anyhow::Result<EvalReport> {
    eprintln!("gymcall eval: {} personas from {}, in text (no audio)", personas.len(), args.personas.display());
    let mut per_call = Vec::new();
    for (index, (path, persona)) in personas.iter().enumerate() {
        let playbook = playbooks.get(&persona.playbook).map_err(|e| anyhow::anyhow!("{e}"))?;
        let result = text::text_call(persona, playbook, text::call_seed(persona));
        let line = call_report(path, persona, playbook, Some(&result), None, None);
        eprintln!(
            "[{}/{}] {}: {}/{} required fields, outcome {}",
            index + 1,
            personas.len(),
            persona.name,
            line.required_correct,
            line.required_total,
            line.outcome
        );
        per_call.push(line);
    }
    let engines = ("text".to_owned(), "text".to_owned());
    Ok(EvalReport::new(args.personas.display().to_string(), 1, engines, DEAD_AIR_MS, per_call))
}

/// One persona's line of the report.
fn call_report(
    path: &Path,
    persona: &Persona,
    playbook: &playbook::Playbook,
    result: Option<&CallResult>,
    callee: Option<&PersonaCallReport>,
    error: Option<String>,
) -> CallReport {
    // no result: graded as a call that learned nothing
    let empty = empty_result(&playbook.id);
    let graded = grade(persona, playbook, result.unwrap_or(&empty));
    let (required_correct, required_total) = graded.required_score();
    let closing = playbook::render(&playbook.closing, &playbook.template_context(&persona.call_context()));
    let closing_line = result.is_some_and(|r| {
        r.transcript.iter().any(|turn| turn.speaker == Speaker::Agent && words(&turn.text).contains(&words(&closing)))
    });
    let timeline = callee.map(|c| &c.timeline);
    let mut conversation: Vec<ConversationLine> = callee
        .iter()
        .flat_map(|c| c.lines.iter())
        .map(|line| ConversationLine {
            at_ms: line.at_ms,
            who: if line.speaker == "callee" { "callee said" } else { "callee heard" },
            text: line.text.clone(),
        })
        .chain(result.iter().flat_map(|r| r.transcript.iter()).map(|turn| ConversationLine {
            at_ms: turn.at_ms,
            who: if turn.speaker == Speaker::Agent { "agent said" } else { "agent heard" },
            text: turn.text.clone(),
        }))
        .collect();
    conversation.sort_by_key(|line| line.at_ms);
    CallReport {
        file: path.display().to_string(),
        persona: persona.name.clone(),
        voice: callee.map(|c| c.voice.clone()).or_else(|| persona.voice.clone()).unwrap_or_default(),
        completed: result.is_some(),
        outcome: match result {
            Some(r) => {
                serde_json::to_value(r.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
            None => "none".to_owned(),
        },
        required_correct,
        required_total,
        fields: FieldReport::from_grade(&graded),
        dead_air: timeline.map(|t| t.dead_air(DEAD_AIR_MS)).unwrap_or_default(),
        closing_line,
        hangup_after_goodbye: timeline.is_some_and(|t| t.hung_up_after_goodbye()),
        ended_by: timeline.map(|t| t.ended_by),
        call_length_s: timeline.map(|t| (t.end_ms as f64 / 100.0).round() / 10.0).unwrap_or(0.0),
        error: error.or_else(|| callee.and_then(|c| c.error.clone())),
        conversation,
    }
}

/// Lowercase words joined by single spaces.
fn words(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn empty_result(playbook: &str) -> CallResult {
    CallResult {
        v: 1,
        call_id: "none".into(),
        call_sid: None,
        playbook: playbook.to_owned(),
        outcome: CallOutcome::Failed,
        fields: BTreeMap::new(),
        transcript: Vec::new(),
        latency: Default::default(),
        started_at: String::new(),
        ended_at: String::new(),
        notes: Vec::new(),
    }
}
/// Variables of the media and brain workers that an eval leaves to the stack (the bus, the
/// worker's name and metrics, where recordings and playbooks are).
const STACK_OWNED: &[&str] =
    &["NATS_URL", "WORKER_ID", "HOSTNAME", "METRICS_ADDR", "MAX_CALLS", "RECORDINGS_DIR", "PLAYBOOKS_DIR"];

/// The stack's settings for an eval of `jobs` calls at once: the media and brain workers' own
/// variables set in `environment` (turn-taking such as `PAUSE_MS` or `ENDPOINT_SILENCE_MS`, the
/// brain's `BRAIN_POLICY` and `LLM_*`), so that `PAUSE_MS=0 gymcall eval ...` measures what it
/// says, then the concurrency.
fn worker_settings_from_env(environment: impl Iterator<Item = (String, String)>, jobs: usize) -> Vec<(String, String)> {
    let wanted = |name: &str| {
        (media_worker::ENV_VARS.contains(&name) || brain_worker::config::ENV_VARS.contains(&name))
            && !STACK_OWNED.contains(&name)
    };
    let mut settings: Vec<(String, String)> = environment.filter(|(name, _)| wanted(name)).collect();
    settings.sort();
    settings.push(("MAX_CONCURRENT_CALLS".into(), jobs.to_string()));
    settings
}

#[cfg(test)]
mod tests {
    use super::worker_settings_from_env;

    #[test]
    fn the_workers_own_settings_come_from_the_environment_and_the_stacks_wiring_does_not() {
        let environment = [
            ("PAUSE_MS", "0"),
            ("ENDPOINT_SILENCE_MS", "600"),
            ("BRAIN_POLICY", "scripted"),
            ("NATS_URL", "nats://elsewhere:4222"),
            ("RECORDINGS_DIR", "/somewhere"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let settings = worker_settings_from_env(environment, 4);
        let named: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            named,
            vec![
                ("BRAIN_POLICY", "scripted"),
                ("ENDPOINT_SILENCE_MS", "600"),
                ("PAUSE_MS", "0"),
                ("MAX_CONCURRENT_CALLS", "4")
            ]
        );
    }
}
