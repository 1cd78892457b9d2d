//! The media stream moving to another media worker mid-call (issue 16 item 5: after a media
//! worker was SIGKILLed, the callee's answer got no reply and ~40 s of dead air followed until
//! the agent re-asked question 1). The new worker counts transcripts from 0 again, the gateway
//! replays the caller's latest audio to it, and the line in flight may have been cut off.

use super::tests::TextCall;
use crate::conversation::Input;
use protocol::brain::SayCommand;
use protocol::results::FieldStatus;
use std::time::Duration;

/// The last line the agent spoke: its utterance id and text.
fn last_line(call: &TextCall) -> (String, String) {
    call.commands
        .iter()
        .rev()
        .find_map(|c| match c {
            SayCommand::Speak { utterance_id, text, .. } => Some((utterance_id.clone(), text.clone())),
            _ => None,
        })
        .expect("the agent spoke")
}

/// A final transcript from the new worker: its own `utterance_seq`, ending at `end_ms`.
fn heard_from_new_worker(call: &mut TextCall, seq: u64, text: &str, end_ms: u64) -> String {
    call.now += Duration::from_millis(800);
    call.at_ms = call.at_ms.max(end_ms);
    call.input(Input::Heard {
        confidence: None,
        text: text.to_owned(),
        utterance_seq: seq,
        start_ms: end_ms.saturating_sub(1500),
        end_ms,
        at_ms: end_ms,
    })
}

/// Up to the drop-in question, with every line played.
fn asked_about_drop_ins() -> TextCall {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos jiu jitsu how can i help");
    let (id, text) = last_line(&call);
    assert!(text.to_lowercase().contains("drop"), "{text}");
    call.input(Input::Played { utterance_id: id, at_ms: call.at_ms + 2000 });
    call
}

#[test]
fn the_new_workers_transcripts_count_from_zero_and_are_answered() {
    // before: `utterance_seq` 0 from the new worker was below the last one handled (1), so every
    // answer was dropped as "already handled" until the silence timer re-asked
    let mut call = asked_about_drop_ins();
    call.input(Input::StreamMoved { at_ms: call.at_ms + 2500 });
    let end_ms = call.at_ms + 4000;
    let reply = heard_from_new_worker(&mut call, 0, "yes we do drop ins are welcome", end_ms);
    assert!(!reply.is_empty(), "the answer given during the move got a reply");
    assert_eq!(call.field("drop_in_offered").0, FieldStatus::Known);
}

#[test]
fn audio_heard_again_after_the_move_is_not_taken_twice() {
    let mut call = asked_about_drop_ins();
    let first = call.callee("yes we do drop ins are welcome");
    assert!(!first.is_empty());
    let (turns_before, heard_until) = (call.policy.state().callee_turns, call.at_ms);
    call.input(Input::StreamMoved { at_ms: heard_until + 500 });
    // the gateway replayed the last seconds: the new worker hears that answer again
    let again = heard_from_new_worker(&mut call, 0, "yes we do drop ins are welcome", heard_until);
    assert_eq!(again, "", "a replayed answer is not answered twice");
    assert_eq!(call.policy.state().callee_turns, turns_before);
    // what comes after it is new
    let next = heard_from_new_worker(&mut call, 1, "it is twenty dollars and no mat fee", heard_until + 4000);
    assert!(!next.is_empty());
    assert_eq!(call.policy.state().callee_turns, turns_before + 1);
}

#[test]
fn a_line_cut_off_by_the_move_is_said_again_when_nothing_shows_it_was_heard() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos jiu jitsu how can i help");
    let (_, question) = last_line(&call);
    // no Played: the worker died while it was playing
    call.input(Input::StreamMoved { at_ms: call.at_ms + 1500 });
    assert_eq!(call.wait(1), "", "the echo of its mark may still come");
    let again = call.wait(1);
    assert_eq!(again, question, "said again");
    let notes = call.policy.state().result().notes;
    assert!(notes.iter().any(|n| n.contains("moved")), "{notes:?}");
}

#[test]
fn a_line_whose_mark_echo_comes_after_the_move_is_not_said_again() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos jiu jitsu how can i help");
    let (id, _) = last_line(&call);
    call.input(Input::StreamMoved { at_ms: call.at_ms + 1500 });
    // Twilio's echo of the mark came while the stream moved; the replay brings it
    call.input(Input::Played { utterance_id: id, at_ms: call.at_ms + 1600 });
    assert_eq!(call.wait(3), "");
}

#[test]
fn a_line_the_callee_is_already_answering_is_not_said_again() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos jiu jitsu how can i help");
    call.input(Input::StreamMoved { at_ms: call.at_ms + 1500 });
    call.input(Input::SpeechStarted { at_ms: call.at_ms + 1600 });
    assert_eq!(call.wait(3), "");
}
