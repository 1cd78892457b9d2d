//! The scripted policy's turn flow: what the agent does on each input (call start, a
//! transcript, a played turn, silence ticks), from machines and holds to answers and re-prompts.

use protocol::calls::CallEventKind;

use super::by_day;
use super::gate;
use super::more_items;
use super::questions::{ask_next, current_question, introduce};
use super::read_back::{correct_known_later, correct_noted, read_back_reply, NEXT_MARKER};
use crate::conversation::{Action, Conversation, Input, Phase, GREETING_WAIT, MAX_ASKS};
use crate::extract::{self, intent::Intent, text::normalised};
use playbook::FieldType;
use protocol::brain::SayCommand;
use protocol::media::Direction;
use protocol::results::{CallOutcome, FieldStatus};
use std::time::{Duration, Instant};

/// Once the callee has started greeting us, how long the transcript may take before we speak
/// anyway.
const GREETING_TRANSCRIPT_WAIT: Duration = Duration::from_secs(15);

/// Once the callee has started an answer, how long it may take to say and transcribe before we
/// re-prompt (reading out a week of classes takes half a minute).
const ANSWER_TRANSCRIPT_WAIT: Duration = Duration::from_secs(45);

/// The most words a reply may have and still be a bare acknowledgment ("yes that's right").
const BARE_YES_WORDS: usize = 4;

/// Drives `conversation` with one input; returns what to do.
pub fn handle(conversation: &mut Conversation, now: Instant, input: Input) -> Vec<Action> {
    let actions = handle_input(conversation, now, input);
    conversation.mark_media_time(now);
    if let Phase::ReadBack { field, .. } = &conversation.state.phase {
        if !conversation.state.read_back_fields.contains(field) {
            conversation.state.read_back_fields.push(field.clone());
        }
    }
    actions
}

fn handle_input(conversation: &mut Conversation, now: Instant, input: Input) -> Vec<Action> {
    match input {
        Input::CallStarted { at_ms } => started(conversation, now, at_ms),
        Input::Resumed { at_ms } => resumed(conversation, now, at_ms),
        Input::StreamMoved { at_ms } => {
            conversation.stream_moved(now, at_ms);
            Vec::new()
        }
        Input::SpeechStarted { at_ms } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            conversation.callee_speaking();
            conversation.callee_talking = true;
            // the callee is talking: the timers wait for the transcript
            // (a long answer takes a while to say and transcribe; do not re-prompt over it)
            let wait = if conversation.state.phase == Phase::AwaitingGreeting {
                GREETING_TRANSCRIPT_WAIT
            } else {
                ANSWER_TRANSCRIPT_WAIT
            };
            let wait = wait.max(Duration::from_secs(conversation.limits().silence_timeout_s));
            conversation.silence_deadline = conversation.silence_deadline.map(|d| d.max(now + wait));
            Vec::new()
        }
        Input::Heard { text, utterance_seq, at_ms, start_ms, end_ms, confidence } => {
            if !conversation.fresh_transcript(utterance_seq, end_ms) {
                return Vec::new(); // re-sent, or heard again after the stream moved
            }
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms).max(end_ms);
            heard(conversation, now, &text, start_ms, end_ms, confidence)
        }
        Input::Played { at_ms, utterance_id } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            conversation.played(&utterance_id);
            // an earlier turn finishing while a later one is still queued to play does not start
            // the wait for an answer
            let latest = conversation.state.spoken.last().is_none_or(|s| s.utterance_id == utterance_id);
            // (nor does a line cut by the callee, who is talking now: the wait for their
            // transcript stands)
            if latest
                && !conversation.callee_talking
                && !matches!(conversation.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail)
            {
                conversation.arm_silence(now, Duration::ZERO);
            }
            Vec::new()
        }
        Input::Replied { reply_ms, tts_ms, stages } => {
            conversation.note_reply(reply_ms, tts_ms, stages);
            Vec::new()
        }
        Input::BargeIn { utterance_id, heard_text, at_ms } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            conversation.barge_in(&utterance_id, &heard_text);
            Vec::new()
        }
        Input::Amd { answered_by, at_ms } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            if answered_by.starts_with("machine") || answered_by == "fax" {
                conversation.state.notes.push(format!("answering machine detection: {answered_by}"));
                if answered_by == "machine_start"
                    && matches!(conversation.playbook.voicemail, playbook::Voicemail::LeaveMessage { .. })
                {
                    // the greeting is still playing: leave the message when it ends (its
                    // transcript arrives) or after the greeting wait
                    return Vec::new();
                }
                return conversation.voicemail(now);
            }
            Vec::new()
        }
        Input::Dtmf { at_ms, .. } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            Vec::new()
        }
        Input::ProviderFailure { stage, message, at_ms } => {
            conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
            conversation.state.notes.push(format!("{stage} failed: {message}"));
            Vec::new()
        }
        Input::CallEnded { reason, at_ms } => conversation.ended(&reason, at_ms),
        Input::Tick => match conversation.redeliver_due(now) {
            Some(actions) => actions,
            None => tick(conversation, now),
        },
        Input::LlmDelta { .. } | Input::LlmDone { .. } | Input::LlmFailed { .. } => Vec::new(),
    }
}

fn started(conversation: &mut Conversation, now: Instant, at_ms: u64) -> Vec<Action> {
    conversation.state.media_ms = at_ms;
    conversation.start_clock(now);
    match conversation.state.direction {
        Direction::Outbound => {
            conversation.state.phase = Phase::AwaitingGreeting;
            conversation.silence_deadline = Some(now + GREETING_WAIT);
            // synthesized while the callee says hello, it plays as soon as they stop
            let (text, _) = super::questions::introduction(conversation);
            vec![Action::Say(SayCommand::Prepare { text })]
        }
        Direction::Inbound => {
            conversation.state.phase = Phase::Asking;
            let greeting = conversation.render(&conversation.playbook.inbound_greeting.clone());
            conversation.say(now, &greeting, true)
        }
    }
}

fn resumed(conversation: &mut Conversation, now: Instant, at_ms: u64) -> Vec<Action> {
    conversation.state.media_ms = conversation.state.media_ms.max(at_ms);
    conversation.state.brains += 1;
    conversation.state.notes.push(format!("continued by another brain at {} ms", conversation.state.media_ms));
    conversation.start_clock(now);
    // Give the callee the usual time to answer what was last asked; re-prompt on silence.
    conversation.arm_silence(now, Duration::ZERO);
    Vec::new()
}

/// True when `words` (normalised) name `field` by one of its keywords.
fn names_field(playbook: &playbook::Playbook, field: &str, words: &str) -> bool {
    playbook.field(field).is_some_and(|spec| extract::names(spec, words))
}

fn heard(
    conversation: &mut Conversation,
    now: Instant,
    text: &str,
    start_ms: u64,
    end_ms: u64,
    confidence: Option<f32>,
) -> Vec<Action> {
    if matches!(conversation.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
        let (_, actions) = conversation.hear(now, text, end_ms);
        return actions;
    }
    let words = normalised(text);
    if words.is_empty() {
        return unrecognised(conversation, now, start_ms, end_ms);
    }
    // The callee started this before our last turn was even decided: it answers something
    // earlier (the two crossed), not what we just asked.
    let last_agent_at_ms = conversation
        .state
        .transcript
        .iter()
        .rev()
        .find(|t| t.speaker == protocol::results::Speaker::Agent)
        .map(|t| t.at_ms);
    let crossed = last_agent_at_ms.is_some_and(|at| start_ms < at);
    let (turn, mut actions) = conversation.hear(now, text, end_ms);
    let intents = extract::intent::intents(&words);

    // Machines first: an IVR menu or a voicemail greeting, before a person has talked to us.
    let talked_to_person = conversation.state.asked.is_some() && conversation.state.phase != Phase::AwaitingGreeting;
    if intents.contains(&Intent::Voicemail) && !talked_to_person {
        actions.extend(conversation.voicemail(now));
        return actions;
    }
    if let Some(Intent::IvrMenu { digit }) = intents.iter().find(|i| matches!(i, Intent::IvrMenu { .. })) {
        conversation.state.notes.push(format!("ivr menu: pressed {digit}"));
        actions.push(Action::Event { kind: CallEventKind::Ivr, detail: format!("pressed {digit}") });
        actions.push(Action::Say(SayCommand::SendDigits { digits: digit.clone() }));
        // a person (or another menu) comes next: greet them as if the call just started
        conversation.state.phase = Phase::AwaitingGreeting;
        conversation.silence_deadline = Some(now + GREETING_WAIT * 3);
        return actions;
    }

    // A schedule asked one day at a time: this is the answer to its open question.
    if let Some(by_day) = by_day::heard(conversation, now, text, &intents, turn) {
        return extend(actions, by_day);
    }

    // A yes/no question about one option of a list: this is its answer.
    if let Some(option) = more_items::heard(conversation, now, text, &words, &intents, turn) {
        return extend(actions, option);
    }

    // A value acknowledged in passing last turn: this reply may correct it.
    let noted = std::mem::take(&mut conversation.state.noted);
    // ... unless that line was cut at its first words: then its acknowledgements were never heard
    // and are said again with the next ones (tuning seed 634: "45 euros for a drop-in, got it.
    // Is there a mat fee ...?" cut by "And the mat fee is twenty euros." went unsaid; the wrong
    // 45 was kept, never said to the callee)
    let unheard_noted: Vec<String> = if last_line_unheard(conversation) { noted.clone() } else { Vec::new() };
    for noted in &noted {
        if let Some(correction) = correct_noted(conversation, now, noted, text, &words, turn) {
            return extend(actions, correction);
        }
    }
    // ... or one noted earlier ("no, not quite, our classes are ..." two questions later)
    if conversation.state.phase == Phase::Asking {
        if let Some(correction) = correct_known_later(conversation, now, text, &words, turn, &noted) {
            return extend(actions, correction);
        }
    }

    // Fields, for whatever was asked (and what the callee volunteers).
    let asked = match &conversation.state.phase {
        Phase::ReadBack { field, .. } => Some(field.clone()),
        _ => conversation.state.asked.clone(),
    };
    let extractions = extract::extract(&conversation.playbook, text, asked.as_deref());
    // A question cut at its first words by this speech was never heard: a "no" in these words
    // answers something else, not it ("No give monday ..." still giving classes over a cut "Does
    // a visitor need anything?" was "nothing needed", tuning seed 371). A value they name (an
    // amount, an item) is still taken.
    let question_unheard = conversation.state.phase == Phase::Asking && last_line_unheard(conversation);
    let extractions: Vec<_> = if question_unheard {
        extractions
            .into_iter()
            .filter(|e| {
                let about_asked = asked.as_deref() == Some(e.field.as_str());
                !(about_asked && (e.status == FieldStatus::Refused || extract::says_none(&e.value)))
            })
            .collect()
    } else {
        extractions
    };
    // A turn that hands the call over (hold on, let me get the manager) answers nothing but the
    // question asked: stray words in it ("book" for "oh") must not settle other fields.
    let handing_over = intents.iter().any(|i| matches!(i, Intent::Hold | Intent::Transfer));
    let extractions: Vec<_> = if handing_over {
        extractions.into_iter().filter(|e| asked.as_deref() == Some(e.field.as_str())).collect()
    } else {
        extractions
    };
    // Back from hold (or a new person on the line): "okay, I'm back, go ahead" is no answer to the
    // yes/no question asked before the wait. A yes or no counts there only when the utterance
    // names what the question was about; else the question is asked again.
    let says_back = extract::intent::back_from_wait(&words);
    let back_from_hold = matches!(conversation.state.phase, Phase::Holding | Phase::Transferring) || says_back;
    let extractions: Vec<_> = if back_from_hold {
        extractions
            .into_iter()
            .filter(|e| {
                let yes_no = conversation.playbook.field(&e.field).is_some_and(|f| f.kind == FieldType::YesNo);
                !yes_no || names_field(&conversation.playbook, &e.field, &words)
            })
            .collect()
    } else {
        extractions
    };
    // an answer that would close part of the survey is believed only when said twice
    let gate = gate::hold_gate_answers(conversation, extractions, &words);
    let (extractions, held_gate, was_confirming) = (gate.kept, gate.held, gate.was_confirming);
    let extractions = in_the_calls_currency(conversation, extractions, text);
    // values the callee says again (a late confirmation, a repeated answer)
    let restated: Vec<String> = extractions
        .iter()
        .filter(|e| e.status == FieldStatus::Known)
        .filter(|e| {
            conversation
                .state
                .fields
                .get(&e.field)
                .is_some_and(|f| f.status == FieldStatus::Known && f.value == e.value)
        })
        .map(|e| e.field.clone())
        .collect();
    let extractions = doubt_what_was_misheard(conversation, extractions, confidence);
    let (field_actions, mut changed) = conversation.apply(&extractions, turn);
    actions.extend(field_actions);
    // the reply to "anything else, like ...?": what it names joins the items said before
    if let Some((field, before)) = conversation.state.more_items.take() {
        if changed.contains(&field) {
            let now_items = conversation.state.fields.get(&field).map(|f| f.value.clone()).unwrap_or_default();
            let joined = more_items::joined(&before, &now_items);
            let confidence = conversation.state.fields.get(&field).map_or(0.8, |f| f.confidence);
            actions.extend(conversation.set_field(&field, FieldStatus::Known, joined, confidence, Some(turn)));
        }
    }
    // Nothing for the current question: maybe a late answer to the one before.
    let mut restated = restated;
    let in_read_back = matches!(conversation.state.phase, Phase::ReadBack { .. });
    if changed.is_empty() && intents.is_empty() && restated.is_empty() && !in_read_back {
        // words naming what we just asked ("monday", "class") and not what we asked before are
        // an answer to this question we could not read, not a late answer to that one ("on
        // Wednesday ... to 1130" is no price of 1130)
        let names =
            |field: Option<&String>| field.is_some_and(|name| names_field(&conversation.playbook, name, &words));
        let previous_asked = conversation.state.previous_asked.clone();
        let about_current = names(asked.as_ref()) && !names(previous_asked.as_ref());
        if let Some(previous) = previous_asked.filter(|p| Some(p) != asked.as_ref() && !about_current) {
            // a bare "yeah, so ..." answers the question just asked; it is a late answer to a
            // yes/no question before only when it names what that question was about
            let yes_no = conversation.playbook.field(&previous).is_some_and(|f| f.kind == FieldType::YesNo);
            let read_as_answer_to = if yes_no { None } else { Some(previous.as_str()) };
            let late: Vec<_> = extract::extract(&conversation.playbook, text, read_as_answer_to)
                .into_iter()
                .filter(|e| e.field == previous && e.status == FieldStatus::Known)
                .collect();
            let current = conversation.state.fields.get(&previous).cloned().unwrap_or_default();
            if late.iter().any(|e| current.status == FieldStatus::Known && e.value == current.value) {
                restated.push(previous);
            } else if current.status != FieldStatus::Known && !late.is_empty() {
                let (late_actions, late_changed) = conversation.apply(&late, turn);
                actions.extend(late_actions);
                changed.extend(late_changed);
                // answered late, while we asked the current question: it still stands, say
                // nothing over it. Said after the question was asked, the question went
                // unanswered: it is asked again below, not left to seconds of silence.
                if crossed {
                    conversation.arm_silence(now, Duration::ZERO);
                    return actions;
                }
            }
        }
    }
    let risk_raised =
        changed.iter().any(|name| conversation.playbook.field(name).is_some_and(|f| f.kind == FieldType::Risk));

    let at_limit = conversation.limit_reached(now);
    if at_limit || conversation.wrap_up_due(now) {
        // at the limit, or near enough that another question would be cut: close now, with time
        // left for the closing line and the callee's goodbye
        let closing = conversation.render(&conversation.playbook.closing.clone());
        let outcome = if conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::LimitReached };
        let reason = if at_limit { "limit reached" } else { "closing before the time limit" };
        if !at_limit {
            let unsettled: Vec<String> = conversation
                .playbook
                .fields
                .iter()
                .filter(|f| f.required)
                .filter(|f| conversation.state.fields.get(&f.name).is_some_and(|v| v.status == FieldStatus::Unknown))
                .map(|f| f.name.clone())
                .collect();
            if !unsettled.is_empty() {
                conversation
                    .state
                    .notes
                    .push(format!("closed near the time limit before asking: {}", unsettled.join(", ")));
            }
        }
        actions.extend(conversation.finish(now, outcome, Some(closing), reason));
        return actions;
    }
    if let Some(field) = held_gate {
        let preface = if risk_raised { RISK_REPLY } else { "" };
        actions.extend(gate::ask_to_confirm(conversation, now, &field, preface));
        return actions;
    }
    // The callee confirmed what we already had ("yes we do" after "just to be sure"): go on.
    if let Some(field) = was_confirming {
        let settled = conversation.state.fields.get(&field).is_some_and(|f| f.status == FieldStatus::Known);
        if settled && changed.is_empty() && !intents.contains(&Intent::Goodbye) {
            actions.extend(ask_next(conversation, now, "Great, thanks. "));
            return actions;
        }
    }
    if intents.contains(&Intent::Goodbye) && changed.is_empty() {
        let closing = conversation.render(&conversation.playbook.closing.clone());
        let outcome = if conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::Partial };
        actions.extend(conversation.finish(now, outcome, Some(closing), "callee said goodbye"));
        return actions;
    }

    // Nothing new and nothing asked of us: a stray "yes that's right", or a reply that crossed
    // our question. Stay quiet; the question stands. (When we spoke first, the callee's first
    // words are their greeting.) A repeated answer said after our question is not stray: it
    // leaves the question unanswered, and is asked again below rather than left to the silence
    // timer (seconds of dead air).

    let greeting_after_we_spoke = conversation.state.callee_turns == 1;
    // a bare "yes, that's right" is an aside; a longer reply that merely opens with "okay" or
    // "right" ("okay, so there is no mapie") is an answer we could not read, and is asked again
    let bare_yes = extract::intent::confirmation(&words) == Some(true) && words.split(' ').count() <= BARE_YES_WORDS;
    let stray = changed.is_empty() && intents.is_empty() && (crossed || greeting_after_we_spoke || bare_yes);
    // (a question cut at its first words by this speech was never heard: it does not stand)
    if stray
        && conversation.state.phase == Phase::Asking
        && conversation.state.asked.is_some()
        && !last_line_unheard(conversation)
    {
        conversation.arm_silence(now, Duration::ZERO);
        return actions;
    }

    // Our last line was cut at its first words by this speech: the callee was still giving their
    // answer (two parts with a pause between them) and never heard the line, so these words do
    // not answer it. New values are taken as usual; the cut line is said again.
    if last_line_unheard(conversation) && !intents.contains(&Intent::Goodbye) {
        let phase = conversation.state.phase.clone();
        let again = match &phase {
            Phase::ReadBack { field, .. } => {
                conversation.playbook.field(field).cloned().and_then(|spec| conversation.read_back_line(&spec))
            }
            _ if changed.is_empty() && intents.is_empty() => Some(conversation.state.last_agent_text.clone()),
            _ => None,
        };
        if let Some(line) = again.filter(|line| !line.is_empty()) {
            conversation.state.notes.push("the callee went on before hearing our line; said it again".into());
            actions.extend(conversation.say(now, &line, false));
            return actions;
        }
        // The cut line asked for a field these words did not give: that ask was never heard, so
        // it does not count as one of the field's tries; the field is asked again below.
        if let (Phase::Asking, Some(asked)) = (&phase, conversation.state.asked.clone()) {
            let unanswered = conversation.state.fields.get(&asked).is_some_and(|f| f.status == FieldStatus::Unknown);
            if unanswered && !changed.contains(&asked) {
                if let Some(attempts) = conversation.state.attempts.get_mut(&asked) {
                    *attempts = attempts.saturating_sub(1);
                }
            }
        }
    }

    let phase = conversation.state.phase.clone();
    let reply = match phase {
        Phase::AwaitingGreeting => {
            // The callee greeted us (or answered a menu's transfer): introduce ourselves.
            return extend(actions, introduce(conversation, now));
        }
        Phase::Holding | Phase::Transferring
            if changed.is_empty() && !intents.contains(&Intent::Hold) && !intents.contains(&Intent::Transfer) =>
        {
            // Back from hold, or a new person: briefly say who we are again and re-ask.
            let transferred = phase == Phase::Transferring;
            conversation.state.phase = Phase::Asking;
            let question = current_question(conversation);
            let line = if transferred {
                let disclosure = conversation.playbook.disclosure_for(&conversation.state.context);
                format!("{disclosure} {question}")
            } else {
                format!("Thanks for waiting. {question}")
            };
            Some(line)
        }
        // back from a wait whose hold was not heard: the question again, as after a heard hold
        Phase::Asking if says_back && changed.is_empty() && intents.is_empty() => {
            let question = current_question(conversation);
            Some(format!("Thanks for waiting. {question}"))
        }
        _ if intents.contains(&Intent::Transfer) => {
            conversation.state.phase = Phase::Transferring;
            conversation.arm_silence(now, Duration::ZERO);
            Some("Sure, thank you.".to_owned())
        }
        _ if intents.contains(&Intent::Hold) && changed.is_empty() => {
            conversation.state.phase = Phase::Holding;
            Some("Sure, take your time.".to_owned())
        }
        _ if intents.contains(&Intent::Repeat) && changed.is_empty() => {
            let last = conversation.state.last_agent_text.clone();
            Some(if last.is_empty() { current_question(conversation) } else { last })
        }
        _ if intents.contains(&Intent::WhoIsThis) && changed.is_empty() => {
            let disclosure = conversation.playbook.disclosure_for(&conversation.state.context);
            let question = current_question(conversation);
            Some(format!("{disclosure} {question}"))
        }
        Phase::ReadBack { field, rounds } => {
            let restated_here = restated.contains(&field);
            let (line, events) = read_back_reply(conversation, &words, &field, rounds, &changed, restated_here, turn);
            actions.extend(events);
            Some(line)
        }
        _ => None,
    };
    match reply {
        Some(line) if line == NEXT_MARKER => {
            // moving on after a "no, not quite" is no cause for "Perfect."
            let preface = if risk_raised {
                RISK_REPLY
            } else if extract::intent::confirmation(&words) == Some(false) {
                "Okay, thanks. "
            } else {
                acknowledgement(conversation.state.callee_turns)
            };
            actions.extend(ask_next(conversation, now, preface));
            return actions;
        }
        Some(line) => {
            actions.extend(conversation.say(now, &line, false));
            return actions;
        }
        None => {}
    }

    // An answer to the question asked.
    let mut preface = String::new();
    if risk_raised {
        preface.push_str(RISK_REPLY);
    }
    if let Some(asked) = conversation.state.asked.clone() {
        let status = conversation.state.fields.get(&asked).map(|f| f.status).unwrap_or_default();
        match status {
            FieldStatus::Known if changed.contains(&asked) => {
                if let Some(spec) = conversation.playbook.field(&asked).cloned() {
                    // Acknowledge a confident value in passing and go on (implicit
                    // confirmation); read an uncertain one back and wait for a yes.
                    if let Some(line) = conversation.noted_line(&spec) {
                        // a list answer with a part that named no option ("bring a gi and <words
                        // not understood>"): ask once about the options not named
                        if let Some(question) = more_items::question(conversation, &spec, text) {
                            let question = more_items::begin(conversation, &asked, question);
                            actions.extend(conversation.say(now, &format!("{preface}{line} {question}"), false));
                            return actions;
                        }
                        conversation.state.noted = Vec::new();
                        for cut in unheard_noted.iter().filter(|c| **c != asked && !changed.contains(c)) {
                            let Some(cut_spec) = conversation.playbook.field(cut).cloned() else { continue };
                            if let Some(cut_line) = conversation.noted_line(&cut_spec) {
                                conversation.state.noted.push(cut.clone());
                                preface.push_str(&cut_line);
                                preface.push(' ');
                            }
                        }
                        conversation.state.noted.push(asked.clone());
                        preface.push_str(&line);
                        preface.push(' ');
                        // what else the same reply answered ("thirty, and no mat fee")
                        for other in changed.iter().filter(|c| **c != asked) {
                            let Some(other_spec) = conversation.playbook.field(other).cloned() else { continue };
                            if let Some(line) = conversation.noted_line(&other_spec) {
                                conversation.state.noted.push(other.clone());
                                preface.push_str(&line);
                                preface.push(' ');
                            }
                        }
                        actions.extend(ask_next(conversation, now, &preface));
                        return actions;
                    }
                    // "nothing" said only by negating options: each option's own question
                    if let Some(question) = more_items::negated_question(conversation, &spec, text) {
                        let question = more_items::begin(conversation, &asked, question);
                        let line = format!("{preface}Just to check: {}", gate::lowercase_first(&question));
                        actions.extend(conversation.say(now, &line, false));
                        return actions;
                    }
                    if let Some(line) = conversation.read_back_line(&spec) {
                        conversation.state.phase = Phase::ReadBack { field: asked.clone(), rounds: 1 };
                        actions.extend(conversation.say(now, &format!("{preface}{line}"), false));
                        return actions;
                    }
                }
                let negative =
                    conversation.state.fields.get(&asked).is_some_and(|f| f.value == serde_json::Value::Bool(false));
                preface.push_str(if negative {
                    "Okay, thanks for letting me know. "
                } else {
                    acknowledgement(conversation.state.callee_turns)
                });
            }
            FieldStatus::Refused if changed.contains(&asked) => preface.push_str("No problem. "),
            FieldStatus::Unknown if changed.is_empty() && !intents.contains(&Intent::DontKnow) => {
                // No answer in what they said: ask again in other words with an example; after
                // the second try leave it unknown and say why in the result.
                let attempts = conversation.state.attempts.get(&asked).copied().unwrap_or(0);
                if attempts < MAX_ASKS {
                    if let Some(spec) = conversation.playbook.field(&asked).cloned() {
                        let question = conversation.reask_for(&spec);
                        *conversation.state.attempts.entry(asked.clone()).or_default() += 1;
                        let line = format!("{preface}Sorry, I didn't quite get that. {question}");
                        actions.extend(conversation.say(now, &line, false));
                        return actions;
                    }
                }
                // a list whose options have their own questions: those, one at a time
                let spec = conversation.playbook.field(&asked).cloned();
                if let Some(question) = spec.and_then(|spec| more_items::unheard_question(conversation, &spec)) {
                    conversation
                        .state
                        .notes
                        .push(format!("{asked}: no answer understood twice; asked option by option"));
                    let question = more_items::begin(conversation, &asked, question);
                    actions.extend(conversation.say(
                        now,
                        &format!("{preface}Let me ask one at a time. {question}"),
                        false,
                    ));
                    return actions;
                }
                conversation.state.notes.push(format!("{asked}: unknown, no answer understood after two tries"));
                preface.push_str("No problem, let's move on. ");
            }
            FieldStatus::Unknown if intents.contains(&Intent::DontKnow) => {
                // they do not know: do not ask again
                conversation.state.attempts.insert(asked.clone(), 3);
                preface.push_str("No worries. ");
            }
            _ => {
                if !changed.is_empty() {
                    preface.push_str(acknowledgement(conversation.state.callee_turns));
                }
            }
        }
    }
    actions.extend(ask_next(conversation, now, &preface));
    actions
}

/// Amounts in an answer that names no currency are in the one the call's prices were given in:
/// "No, it's 12.50." to "So a drop-in is 12.50 pounds?" was read back as 12.50 dollars (tuning
/// seed 504). A gym's prices are in one currency; the default (dollars) stands only when no
/// other was heard.
pub(super) fn in_the_calls_currency(
    conversation: &Conversation,
    mut extractions: Vec<extract::Extraction>,
    text: &str,
) -> Vec<extract::Extraction> {
    const DEFAULT: &str = "USD";
    let known = conversation.playbook.fields.iter().filter(|f| f.kind == FieldType::Money).find_map(|f| {
        let entry = conversation.state.fields.get(&f.name)?;
        let currency = entry.value.get("currency")?.as_str()?;
        (entry.status == FieldStatus::Known && currency != DEFAULT).then(|| currency.to_owned())
    });
    let Some(known) = known else { return extractions };
    if extract::values::names_currency(&extract::text::tokenize(text)) {
        return extractions;
    }
    for extraction in &mut extractions {
        // (not a "free": nothing in any currency, and told apart from an earlier "free" by its
        // currency alone it would look like a new value)
        let free = extraction.value.get("amount").and_then(serde_json::Value::as_f64) == Some(0.0);
        if let Some(currency) = extraction.value.get_mut("currency").filter(|_| !free) {
            if currency.as_str() == Some(DEFAULT) {
                *currency = serde_json::Value::from(known.as_str());
            }
        }
    }
    extractions
}

/// Values heard for the first time in a transcript the recogniser itself was unsure of (its
/// confidence below the field's `confirm_heard_below`, or else the playbook's) are read back
/// rather than acknowledged in passing, however plainly the words gave them: "On Wendy and
/// Friday there's a kids class between 6 p.m. and 7 30" gave a well-formed schedule with
/// Wednesday lost (tuning seed 343).
/// Their confidence is kept under `confirm_below`; values already known are left to the rules
/// that weigh a later answer against them.
fn doubt_what_was_misheard(
    conversation: &Conversation,
    mut extractions: Vec<extract::Extraction>,
    confidence: Option<f32>,
) -> Vec<extract::Extraction> {
    let Some(heard) = confidence else { return extractions };
    let playbook = &conversation.playbook;
    let doubted = |field: &str| {
        let below = playbook.field(field).and_then(|spec| spec.confirm_heard_below);
        heard < below.unwrap_or(playbook.confirm_heard_below)
    };
    let cap = (playbook.confirm_below - 0.05).max(0.0);
    for extraction in &mut extractions {
        let first = conversation.state.fields.get(&extraction.field).is_none_or(|f| f.status == FieldStatus::Unknown);
        if first && extraction.status == FieldStatus::Known && doubted(&extraction.field) {
            extraction.confidence = extraction.confidence.min(cap);
        }
    }
    extractions
}

fn extend(mut actions: Vec<Action>, more: Vec<Action>) -> Vec<Action> {
    actions.extend(more);
    actions
}

/// Said when the callee says something alarming (the risk field is raised).
const RISK_REPLY: &str =
    "I'm really sorry to hear that. I'll make sure someone from our team checks in with you soon. ";

fn acknowledgement(turn: u32) -> &'static str {
    ["Great, thanks. ", "Okay. ", "Perfect. ", "Thanks. "][turn as usize % 4]
}

fn tick(conversation: &mut Conversation, now: Instant) -> Vec<Action> {
    if matches!(conversation.state.phase, Phase::Closing | Phase::Ended | Phase::Voicemail) {
        return Vec::new();
    }
    if conversation.hard_deadline.is_some_and(|deadline| now >= deadline) {
        let closing = conversation.render(&conversation.playbook.closing.clone());
        let outcome = if conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::LimitReached };
        return conversation.finish(
            now,
            outcome,
            Some(format!("I'm afraid I have to wrap up. {closing}")),
            "max duration reached",
        );
    }
    let Some(deadline) = conversation.silence_deadline else { return Vec::new() };
    if now < deadline {
        return Vec::new();
    }
    match conversation.state.phase {
        Phase::AwaitingGreeting => {
            // Nobody greeted us: speak first.
            introduce(conversation, now)
        }
        _ => {
            conversation.state.silence_prompts += 1;
            if conversation.state.silence_prompts > conversation.limits().silence_reprompts {
                conversation.state.notes.push("ended after silence".into());
                let outcome =
                    if conversation.required_settled() { CallOutcome::Completed } else { CallOutcome::LimitReached };
                return conversation.finish(
                    now,
                    outcome,
                    Some("I'll let you go for now. Thanks, goodbye!".into()),
                    "silence",
                );
            }
            let question = current_question(conversation);
            let line = match conversation.state.phase {
                Phase::Holding | Phase::Transferring => format!("Hello, are you still there? {question}"),
                Phase::ReadBack { ref field, .. } => {
                    let spec = conversation.playbook.field(field).cloned();
                    let line = spec.and_then(|s| conversation.read_back_line(&s)).unwrap_or(question);
                    format!("Hello? {line}")
                }
                // the callee spoke last, and we kept quiet on what they said: we did not
                // follow it, so say so rather than ask whether anyone is there
                _ if callee_spoke_last(conversation) => format!("Sorry, I didn't catch that. {question}"),
                _ => format!("Hello, are you still there? {question}"),
            };
            if matches!(conversation.state.phase, Phase::Holding | Phase::Transferring) {
                conversation.state.phase = Phase::Asking;
            }
            conversation.say(now, &line, false)
        }
    }
}

/// True when the last turn of the transcript is the callee's.
fn callee_spoke_last(conversation: &Conversation) -> bool {
    conversation.state.transcript.last().is_some_and(|turn| turn.speaker == protocol::results::Speaker::Callee)
}

/// Speech this long that the recogniser made nothing of was someone talking, not a noise.
const UNRECOGNISED_SPEECH_MS: u64 = 1500;

/// An utterance the recogniser made nothing of (an empty final transcript). The wait for its
/// transcript is over: a long one was the callee talking, so say we did not catch it and ask
/// again; a short one (a cough, a click) leaves the question standing on the usual timer.
fn unrecognised(conversation: &mut Conversation, now: Instant, start_ms: u64, end_ms: u64) -> Vec<Action> {
    conversation.state.media_ms = conversation.state.media_ms.max(end_ms);
    conversation.callee_talking = false;
    let talking = end_ms.saturating_sub(start_ms) >= UNRECOGNISED_SPEECH_MS;
    let asking = matches!(conversation.state.phase, Phase::Asking | Phase::ReadBack { .. })
        && conversation.state.asked.is_some();
    if talking && asking {
        conversation.state.notes.push(format!("speech at {start_ms}-{end_ms} ms not recognised; asked again"));
        let question = current_question(conversation);
        return conversation.say(now, &format!("Sorry, I didn't catch that. {question}"), false);
    }
    conversation.arm_silence(now, Duration::ZERO);
    Vec::new()
}

/// Words of a cut agent line the callee may have heard and still not know what it said.
const UNHEARD_WORDS: usize = 2;

/// True when the agent's last line was cut (barge-in) before more than its first words played,
/// and it had more to say than that (a two-word "Sure, thanks." cut at its end was heard).
fn last_line_unheard(conversation: &Conversation) -> bool {
    let meant = conversation.state.last_agent_text.split_whitespace().count();
    conversation
        .state
        .transcript
        .iter()
        .rev()
        .find(|turn| turn.speaker == protocol::results::Speaker::Agent)
        .is_some_and(|turn| {
            let heard = turn.text.split_whitespace().count();
            turn.interrupted && heard <= UNHEARD_WORDS && meant > heard + UNHEARD_WORDS
        })
}
