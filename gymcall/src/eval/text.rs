//! `gymcall eval --stt text`: the brain alone, with perfect ears. No audio: the agent's scripted
//! policy reads what the persona said, word for word, and the persona reads what the agent said.
//! Time is simulated (a word takes [`MS_PER_WORD`]), so a call takes milliseconds.
//!
//! This is a diagnostic, not the evaluation: it says how much of what a call gets wrong is the
//! brain's (the same personas, the same phrasings) and how much is the recogniser's (the gap to
//! the audio eval). Dead air and endings are not measured here (there is no audio to measure).

use brain_worker::conversation::{Action, ConversationState, Input};
use brain_worker::policy::{Policy, ScriptedPolicy};
use playbook::Playbook;
use protocol::brain::SayCommand;
use protocol::ids::CallId;
use protocol::media::Direction;
use protocol::results::CallResult;
use simulator::persona::rng::SplitMix64;
use simulator::persona::Persona;
use simulator::persona::{PersonaAction, Responder};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Simulated speaking time of one word (about 150 words a minute).
const MS_PER_WORD: u64 = 400;
/// Simulated quiet before a turn.
const TURN_GAP_MS: u64 = 600;
/// A call longer than this (simulated) is cut off, as the audio eval's timeout would.
const MAX_CALL_MS: u64 = 600_000;
/// At most this many steps (turns and timers) per call: a loop between the two sides ends here.
const MAX_STEPS: usize = 2_000;

/// One call of `persona` against the scripted brain, in text. The persona's phrasings are picked
/// with `call_seed`, as a call's are with its call SID.
pub fn text_call(persona: &Persona, playbook: &Playbook, call_seed: u64) -> CallResult {
    let state = ConversationState::new(
        CallId::from(format!("c_text_{call_seed:x}").as_str()),
        None,
        playbook,
        Direction::Outbound,
        persona.call_context(),
        "scripted",
    );
    let mut call = TextDriver {
        policy: ScriptedPolicy::new(playbook.clone(), state),
        start: Instant::now(),
        at_ms: 0,
        seq: 0,
        agent_turns: VecDeque::new(),
        hung_up: false,
        finished: false,
    };
    let mut responder = Responder::new(persona.clone(), playbook.clone()).with_seed(Some(call_seed));
    let mut persona_queue: VecDeque<PersonaAction> = VecDeque::new();
    let actions = call.handle(Input::CallStarted { at_ms: 0 });
    call.absorb(actions);
    persona_queue.extend(responder.answer());

    for _ in 0..MAX_STEPS {
        if call.finished || call.at_ms > MAX_CALL_MS {
            break;
        }
        if let Some(turn) = call.agent_turns.pop_front() {
            // the agent's turn is played to its end, then the persona hears all of it
            call.at_ms += speaking_ms(&turn.text);
            for utterance_id in turn.utterance_ids {
                let at_ms = call.at_ms;
                let actions = call.handle(Input::Played { utterance_id, at_ms });
                call.absorb(actions);
            }
            for digit in turn.digits.chars() {
                persona_queue.extend(responder.on_digit(digit));
            }
            if !turn.text.is_empty() {
                persona_queue.extend(responder.on_agent_said(&turn.text));
            }
            if call.hung_up && call.agent_turns.is_empty() {
                let at_ms = call.at_ms;
                let actions = call.handle(Input::CallEnded { reason: "agent hung up".into(), at_ms });
                call.absorb(actions);
                break;
            }
            continue;
        }
        if let Some(action) = persona_queue.pop_front() {
            match action {
                PersonaAction::Say(mut text) => {
                    // sentences said back to back are one utterance, as the endpointer hears them
                    while let Some(PersonaAction::Say(next)) = persona_queue.front() {
                        text.push(' ');
                        text.push_str(next);
                        persona_queue.pop_front();
                    }
                    call.callee_says(&text)
                }
                PersonaAction::Pause { ms } => call.wait(ms),
                PersonaAction::Beep => {}
                PersonaAction::Hangup => {
                    let at_ms = call.at_ms;
                    let actions = call.handle(Input::CallEnded { reason: "callee hung up".into(), at_ms });
                    call.absorb(actions);
                    break;
                }
            }
            continue;
        }
        // both quiet: the agent's next timer (a re-ask, "are you still there?", the end)
        match call.policy.poll_timeout() {
            Some(deadline) => {
                let deadline_ms = deadline.saturating_duration_since(call.start).as_millis() as u64;
                call.at_ms = call.at_ms.max(deadline_ms);
                let actions = call.handle(Input::Tick);
                call.absorb(actions);
                if call.agent_turns.is_empty() && call.policy.poll_timeout() == Some(deadline) {
                    // a timer that does not move: nothing more will happen
                    break;
                }
            }
            None => break,
        }
    }
    call.policy.state().result()
}

/// A seed per persona file, as the audio eval's per-call SIDs give one.
pub fn call_seed(persona: &Persona) -> u64 {
    persona.seed.unwrap_or_else(|| SplitMix64::seed_from(&persona.name))
}

struct AgentTurn {
    utterance_ids: Vec<String>,
    text: String,
    digits: String,
}

struct TextDriver {
    policy: ScriptedPolicy,
    start: Instant,
    at_ms: u64,
    seq: u64,
    agent_turns: VecDeque<AgentTurn>,
    hung_up: bool,
    finished: bool,
}

impl TextDriver {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.at_ms)
    }

    fn handle(&mut self, input: Input) -> Vec<Action> {
        let now = self.now();
        self.policy.handle(now, input)
    }

    /// The agent's sentences become one turn (as the callee hears them back to back).
    fn absorb(&mut self, actions: Vec<Action>) {
        let mut turn = AgentTurn { utterance_ids: Vec::new(), text: String::new(), digits: String::new() };
        for action in actions {
            match action {
                Action::Say(SayCommand::Speak { utterance_id, text, .. }) => {
                    if !turn.utterance_ids.contains(&utterance_id) {
                        turn.utterance_ids.push(utterance_id);
                    }
                    if !text.trim().is_empty() {
                        if !turn.text.is_empty() {
                            turn.text.push(' ');
                        }
                        turn.text.push_str(text.trim());
                    }
                }
                Action::Say(SayCommand::SendDigits { digits }) => turn.digits.push_str(&digits),
                Action::Say(SayCommand::Hangup { .. }) => self.hung_up = true,
                Action::Finished => self.finished = true,
                // text-only: nothing is synthesized, so nothing to prepare
                Action::Say(SayCommand::Prepare { .. }) | Action::Event { .. } | Action::LlmRequest { .. } => {}
            }
        }
        if !turn.utterance_ids.is_empty() || !turn.digits.is_empty() {
            self.agent_turns.push_back(turn);
        }
    }

    fn callee_says(&mut self, text: &str) {
        self.at_ms += TURN_GAP_MS;
        let start_ms = self.at_ms;
        let actions = self.handle(Input::SpeechStarted { at_ms: start_ms });
        self.absorb(actions);
        self.at_ms += speaking_ms(text);
        self.seq += 1;
        let end_ms = self.at_ms;
        let heard = Input::Heard {
            text: text.to_owned(),
            utterance_seq: self.seq,
            start_ms,
            end_ms,
            at_ms: end_ms,
            confidence: None,
        };
        let actions = self.handle(heard);
        self.absorb(actions);
    }

    /// The persona is quiet for `ms` (on hold): the agent's timers fire on the way.
    fn wait(&mut self, ms: u64) {
        let until_ms = self.at_ms + ms;
        while let Some(deadline) = self.policy.poll_timeout() {
            let deadline_ms = deadline.saturating_duration_since(self.start).as_millis() as u64;
            if deadline_ms > until_ms {
                break;
            }
            self.at_ms = self.at_ms.max(deadline_ms);
            let actions = self.handle(Input::Tick);
            self.absorb(actions);
            if self.policy.poll_timeout() == Some(deadline) || !self.agent_turns.is_empty() || self.finished {
                break;
            }
        }
        self.at_ms = self.at_ms.max(until_ms);
    }
}

fn speaking_ms(text: &str) -> u64 {
    text.split_whitespace().count() as u64 * MS_PER_WORD
}

#[cfg(test)]
mod tests {
    use super::*;
    use playbook::PlaybookSet;
    use simulator::persona::grade::grade;

    /// The repository's personas (a hold, a transfer, an IVR menu, a voicemail, a refusal, a
    /// members-only gym, an interruption, the companion check-in) played in text: every call
    /// comes to an end, and the plain gym survey gets every required field.
    #[test]
    fn the_repository_personas_play_to_an_end_in_text() {
        let playbooks = PlaybookSet::built_in().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../personas");
        let personas = crate::eval::load_personas(&dir, &playbooks).unwrap();
        assert!(personas.len() >= 8, "{} personas", personas.len());
        for (path, persona) in &personas {
            let playbook = playbooks.get(&persona.playbook).unwrap();
            let result = text_call(persona, playbook, call_seed(persona));
            assert!(!result.transcript.is_empty(), "{}: nothing said", path.display());
            let graded = grade(persona, playbook, &result);
            let (correct, total) = graded.required_score();
            eprintln!("{}: {correct}/{total}", path.display());
            if path.ends_with("atlas-bjj.yaml") {
                assert_eq!(correct, total, "{}: {:#?}", path.display(), result.transcript);
            }
        }
    }
}
