//! Puts personas on the simulated phone network: a media hook for the fake Twilio REST API that,
//! when a call to a persona's number is answered, plays that persona on the call's Media Stream.

use super::mouth::{CommandVoice, VoiceSpec};
use super::rng::SplitMix64;
use super::timeline::{CallTimeline, EndedBy};
use super::voice::{PersonaLine, PersonaVoice};
use super::{Persona, Responder};
use crate::fake_twilio::{AnsweredCall, FakeTwilio, MediaHook, Outcome};
use crate::twilio::call::{run_twiml, CallOptions};
use speech::{SttProvider, TtsProvider};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A persona reachable on one number.
#[derive(Clone)]
pub struct PersonaLineup {
    pub persona: Persona,
    pub playbook: playbook::Playbook,
    /// Write what the persona heard here.
    pub record_wav: Option<PathBuf>,
}

/// What a persona's call ended with.
#[derive(Debug)]
pub struct PersonaCallReport {
    pub number: String,
    pub persona: String,
    pub lines: Vec<PersonaLine>,
    pub error: Option<String>,
    /// Both sides' speech as the persona heard and said it.
    pub timeline: CallTimeline,
    /// The voice the persona spoke with (`espeak-ng:en-us+f2`, or the simulator's own).
    pub voice: String,
}

/// Has the simulated Twilio answer calls to `number` with `lineup`'s persona on the line (one
/// persona, no reports: what a demo or a single-call test needs).
pub fn answer_with_persona(
    fake: &FakeTwilio,
    number: &str,
    lineup: PersonaLineup,
    stt: Arc<dyn SttProvider>,
    tts: Arc<dyn TtsProvider>,
) {
    fake.script(number, vec![Outcome::Answer]);
    let hook = media_hook(HashMap::from([(number.to_owned(), lineup)]), stt, tts, fake.auth_token().to_owned(), None);
    fake.set_media_hook(hook);
}

/// The media hook: answers each call with the persona registered for the dialed number.
pub fn media_hook(
    personas: HashMap<String, PersonaLineup>,
    stt: Arc<dyn SttProvider>,
    tts: Arc<dyn TtsProvider>,
    auth_token: String,
    reports: Option<UnboundedSender<PersonaCallReport>>,
) -> MediaHook {
    let personas = Arc::new(personas);
    Arc::new(move |answered: AnsweredCall| {
        let personas = personas.clone();
        let (stt, tts, auth_token, reports) = (stt.clone(), tts.clone(), auth_token.clone(), reports.clone());
        Box::pin(async move {
            let Some(lineup) = personas.get(&answered.to).cloned() else {
                tracing::warn!(to = %answered.to, "answered call to a number without a persona");
                return;
            };
            let name = lineup.persona.name.clone();
            let vocabulary =
                Arc::new(PersonaVoice::listening_vocabulary(&lineup.playbook, &lineup.persona.call_context()));
            // the persona's own voice when it names one, else the simulator's
            let (tts, voice_name): (Arc<dyn TtsProvider>, String) = match lineup.persona.voice.as_deref() {
                Some(spec) => match VoiceSpec::parse(spec) {
                    Ok(spec) => (Arc::new(CommandVoice::new(spec.clone())), spec.to_string()),
                    Err(error) => {
                        tracing::warn!(persona = %name, %error, "bad voice, using the simulator's");
                        (tts, "simulator".to_owned())
                    }
                },
                None => {
                    let voice_name = tts.name().to_owned();
                    (tts, voice_name)
                }
            };
            let call_seed = SplitMix64::seed_from(&answered.call_sid);
            let noise = lineup.persona.line_noise_snr_db;
            let responder = Responder::new(lineup.persona, lineup.playbook).with_seed(Some(call_seed));
            let mut voice = PersonaVoice::new(responder, tts, stt.as_ref(), Some(vocabulary));
            if let Some(snr_db) = noise {
                voice = voice.with_line_noise(snr_db, call_seed);
            }
            let mut options = CallOptions::new("http://unused/v1/twilio/voice", auth_token);
            options.call_sid = answered.call_sid.clone();
            options.account_sid = answered.account_sid.clone();
            options.from = answered.from.clone();
            options.to = answered.to.clone();
            options.record_wav = lineup.record_wav.clone();
            options.drain_idle = Duration::from_secs(2);
            options.max_media_ms = 300_000;
            let outcome = run_twiml(&options, &answered.twiml, &mut voice, None).await;
            if let Err(error) = &outcome {
                tracing::warn!(persona = %name, %error, "simulated call ended with an error");
            }
            if let Some(reports) = reports {
                let (end_ms, ended_by) = match &outcome {
                    Ok(report) if report.closed_by_server.is_some() => (report.media_ms, EndedBy::Agent),
                    Ok(report) if voice.finished() => (report.media_ms, EndedBy::Callee),
                    Ok(report) => (report.media_ms, EndedBy::Limit),
                    Err(_) => (voice.callee_speech().last().map(|s| s.end_ms).unwrap_or(0), EndedBy::Limit),
                };
                let timeline = CallTimeline {
                    callee_speech: voice.callee_speech().to_vec(),
                    agent_speech: voice.agent_speech().to_vec(),
                    goodbye: voice.goodbye(),
                    end_ms,
                    ended_by,
                };
                let _ = reports.send(PersonaCallReport {
                    number: answered.to.clone(),
                    persona: name,
                    lines: voice.lines().to_vec(),
                    error: outcome.err().map(|e| e.to_string()),
                    timeline,
                    voice: voice_name,
                });
            }
        })
    })
}
