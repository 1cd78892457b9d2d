//! A gatekeeping answer (one that would settle the rest of the survey as not applicable) is
//! confirmed before it ends anything, and never silently overwrites a known value. Each test is
//! written from a transcript of a call with a receptionist the repository had never seen (issue 12).

use super::tests::TextCall;
use protocol::results::FieldStatus;
use serde_json::Value;

/// "Yeah, anyone can come try a class", heard as "yes any want can't come trial class": the
/// agent said "Okay, thanks for letting me know" and closed the call.
#[test]
fn a_misheard_no_to_the_gate_question_is_confirmed_before_the_call_ends() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    let reply = call.callee("yes any want can't come trial class");
    assert!(!call.hung_up(), "the call went on: {reply}");
    assert!(!reply.contains("That's all I needed"), "{reply}");
    assert_ne!(call.field("drop_in_offered").0, FieldStatus::Known, "not settled on one misheard word");
    assert_ne!(call.field("drop_in_price").0, FieldStatus::NotApplicable);
    assert!(reply.contains("another gym"), "the question is asked again to confirm: {reply}");
    // the callee says it again, clearly: the survey goes on
    let reply = call.callee("yes anyone can come");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)));
    assert!(reply.contains("How much is a drop-in"), "{reply}");
}

/// A "no" said twice is believed: the survey ends as before, with the field confirmed.
#[test]
fn a_no_said_again_when_confirming_ends_the_survey() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    let reply = call.callee("no we don't do drop ins");
    assert!(!call.hung_up(), "{reply}");
    assert!(reply.contains("just to be sure"), "{reply}");
    let reply = call.callee("no sorry we don't");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)));
    assert_eq!(call.field("drop_in_price").0, FieldStatus::NotApplicable);
    // the one field that does not depend on it, then the closing
    assert!(reply.contains("Anything else a visitor should know"), "{reply}");
    call.callee("no that's all");
    assert!(call.hung_up());
}

/// "We don't really have a drop-in price, you just pay the fifteen dollar mat fee" was taken as
/// "no drop-ins": the rest of the survey was skipped.
#[test]
fn no_drop_in_price_is_not_no_drop_ins() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    let reply = call.callee("we don't really have a drop in price you just pay the fifteen dollar mat fee");
    assert!(!reply.contains("Anything else a visitor should know"), "the survey was skipped: {reply}");
    assert_ne!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)), "{reply}");
    assert_ne!(call.field("class_schedule").0, FieldStatus::NotApplicable);
    // asked again, the callee says they do take visitors: the survey goes on
    call.callee("yes you can drop in");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)));
}

/// From the end-to-end test (Summit MMA): "no sorry the drop in is thirty five dollars ..." to the
/// schedule question contradicts itself (a drop-in price means drop-ins exist): the "no" does not
/// gate, and the survey goes on without a detour.
#[test]
fn a_reply_that_gives_a_drop_in_price_does_not_close_the_gate() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
    call.callee("it's thirty five dollars and no mat fee");
    let reply = call.callee("no sorry the drop in is thirty five dollars we have all levels class on monday and friday from twelve to one p m");
    assert!(!reply.contains("just to be sure"), "{reply}");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)));
    assert!(call.policy.state().confirming.is_none());
}

/// The callee reaffirms a known value when asked to confirm a contradiction: the agent goes on
/// at once (it once waited in silence for a re-prompt).
#[test]
fn a_confirmation_of_the_known_value_goes_on_to_the_next_question() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
    let reply = call.callee("we don't do drop ins");
    assert!(reply.contains("just to be sure"), "{reply}");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "not overwritten");
    let reply = call.callee("yes we do");
    assert!(reply.contains("How much is a drop-in"), "{reply}");
}

/// Tuning eval, seed 207 (espeak-ng en-gb-x-rp+f1): "Yeah, anyone can come try a class." was
/// heard right; the price answer came back as "The mat fee is in time, Noglin. So drop-in not
/// in time, Noglin.", a "no drop-ins" held and confirmed ("Sorry, just to be sure: ..."); the
/// callee said "Yeah, so of course, we get visitors all the time." and the agent heard "Yeah,
/// I'm caught. We can't win it all in the time.": "can't" made it a second no, the survey ended
/// with 0 of 5. A reply that opens with a plain yes does not confirm a "no" against an earlier
/// yes; a plain no still does.
#[test]
fn a_confirming_reply_that_opens_with_yes_does_not_confirm_a_held_no() {
    let to_confirmation = |call: &mut TextCall| {
        call.start();
        call.callee("hello see not rapping");
        let reply = call.callee("Yes, anyone can come try a class.");
        assert!(reply.contains("How much is a drop-in"), "{reply}");
        let reply = call.callee("The mat fee is in time, Noglin. So drop-in not in time, Noglin.");
        assert!(reply.contains("just to be sure"), "{reply}");
    };
    let mut call = TextCall::gym();
    to_confirmation(&mut call);
    let reply = call.callee("Yeah, I'm caught. We can't win it all in the time.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{reply}");
    assert!(reply.contains("How much is a drop-in"), "the survey goes on: {reply}");

    let mut call = TextCall::gym();
    to_confirmation(&mut call);
    call.callee("no we don't take drop ins");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)));
}

/// Tuning seeds 357, 373 and 324 (`gymcall personas generate --seed 340` and `--seed 300`): a
/// "no" whose negation the recogniser lost was taken as a yes. "We don't do drop ins, it's
/// members only, sorry" heard as "We going through drop-ins, it's member-only, sorry", and
/// "Unfortunately not, you'd have to sign up for a membership" as "Unfortunately, you can defy up
/// for a membership": the agent said "Perfect" and asked the price, schedule and requirements of
/// a gym that takes no visitors, and all five fields were lost. Words of regret with no yes-word
/// make it a no, confirmed as any gatekeeping no is.
#[test]
fn a_yes_read_from_a_reply_said_with_regret_is_a_no_to_confirm() {
    for heard in
        ["We going through drop-ins, it's member-only, sorry.", "Unfortunately, you can defy up for a membership."]
    {
        let mut call = TextCall::gym();
        call.start();
        call.callee("Harbor, martial arts, living bad.");
        let reply = call.callee(heard);
        assert_ne!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{heard}");
        assert!(reply.contains("just to be sure"), "{heard}: {reply}");
        let reply = call.callee("No, sorry, we're members only.");
        assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)), "{heard}");
        assert_eq!(call.field("drop_in_price").0, FieldStatus::NotApplicable, "{heard}");
        assert!(!reply.contains("How much is a drop-in"), "{heard}: {reply}");
    }
    // seed 324: a clear no, then the same no heard without its negation when confirming
    let mut call = TextCall::gym();
    call.start();
    call.callee("Hello, Planet Brilliant University.");
    let reply = call.callee("Right, unfortunately not, you have to sign up for a membership.");
    assert!(reply.contains("just to be sure"), "{reply}");
    call.callee("We go to drop-ins, it's member-only, sorry.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)));
    // a yes said with an apology in it is still a yes
    for heard in ["Sure, visitors are always welcome, sorry about the noise.", "Yes, we take drop-ins, sorry."] {
        let mut call = TextCall::gym();
        call.start();
        call.callee("Hello, Granite.");
        let reply = call.callee(heard);
        assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{heard}");
        assert!(reply.contains("How much is a drop-in"), "{heard}: {reply}");
    }
}

/// Tuning seeds 304 and 333 (`gymcall personas generate --seed 300`): "Just a second, please"
/// heard as "Not that I can, please." was held as a no, and the callee's "Sorry about that, what
/// did you need?" after the hold (heard "Sorry, I'm out, Matt. What did you need?") read as a no
/// said with regret and confirmed it: the call ended with drop-ins not offered. A question back is
/// no answer.
#[test]
fn a_question_back_does_not_confirm_a_held_no() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("I still get too, how can I help?");
    let reply = call.callee("Not that I can, please.");
    assert!(reply.contains("just to be sure"), "{reply}");
    call.callee("Sorry, I'm out, Matt. What did you need?");
    assert_ne!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)));
    assert!(!call.hung_up());
    call.callee("Of course, we get visitors all the time!");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)));
}

/// Tuning seed 569: "Can you hold on a sec?" heard as "Can you vote on a fake?" (no hold heard),
/// then "Okay, I'm back. Go ahead." to "Can someone who trains at another gym come and join one
/// of your classes?" was a yes: drop-ins noted as offered, and the callee's "No, sorry, we're
/// members only." after it was lost. Coming back from a wait is no answer, heard hold or not.
#[test]
fn back_from_a_wait_not_heard_as_a_hold_is_no_yes() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("Hello. Hi, I'm Brian Gillian.");
    call.callee("Can you vote on a fake?");
    let reply = call.callee("Okay, I'm back. Go ahead.");
    assert_ne!(call.field("drop_in_offered").0, FieldStatus::Known, "{reply}");
    assert!(reply.contains("Thanks for waiting"), "{reply}");
    assert!(reply.contains("drop-in") || reply.contains("another gym"), "the question again: {reply}");
    let reply = call.callee("No, sorry, remember only.");
    assert!(reply.contains("just to be sure"), "{reply}");
    call.callee("No, members only, sorry.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)));
    // a yes said on coming back that names what was asked still counts
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("Can you vote on a fake?");
    let reply = call.callee("Sorry about the wait. Yes, we take drop ins.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{reply}");
}

/// Seed 583 (tuning): "Okay so yeah, drop ins are fine." heard "Okay, so yeah, drop-in my eyes."
/// was taken as a yes; then "We charge twenty euros for a drop in. Oh, no, no mat fee." heard
/// "We can't rent it all over for a drop-in, oh no, no mat fee." turned it into no drop-ins with
/// no question asked ("Sorry about that."): 0 of 5 fields.
#[test]
fn a_no_heard_in_the_price_answer_does_not_overturn_a_yes_unasked() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("I recommend martial arts. May not hear.");
    let reply = call.callee("Okay, so yeah, drop-in my eyes.");
    assert!(reply.contains("How much is a drop-in"), "{reply}");
    let reply = call.callee("We can't rent it all over for a drop-in, oh no, no mat fee.");
    assert_ne!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)), "{reply}");
    assert_ne!(call.field("class_schedule").0, FieldStatus::NotApplicable, "{reply}");
    assert!(!reply.contains("Anything else a visitor should know"), "the survey was skipped: {reply}");
    // the "no mat fee" in the same breath means drop-ins exist: the yes stands, the price is
    // asked again
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{reply}");
    assert!(reply.contains("How much is a drop-in"), "{reply}");
}

/// The same correction with nothing in it that says drop-ins exist is asked about before it
/// settles anything.
#[test]
fn a_no_correcting_a_noted_yes_to_the_gate_is_confirmed_first() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    let reply = call.callee("Okay, so yeah, drop-in my eyes.");
    assert!(reply.contains("How much is a drop-in"), "{reply}");
    let reply = call.callee("No, we can't do drop-ins.");
    assert!(reply.contains("just to be sure"), "{reply}");
    assert_ne!(call.field("class_schedule").0, FieldStatus::NotApplicable, "{reply}");
    let reply = call.callee("No, sorry, members only.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(false)), "{reply}");
    assert!(reply.contains("Anything else a visitor should know"), "{reply}");
}

/// Tuning seed 593 (ev580b): "Um, sure, visitors are always welcome." heard "I'm sure, maybe
/// they're not always welcome." to the question, and again, word for word, to the same question
/// asked to confirm: the "no" was believed and the survey ended (0 of 5). The confirming question
/// is the field's question in other words, so the callee's answer is not the same words again.
#[test]
fn a_gatekeeping_answer_is_confirmed_in_other_words() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("Hi, Highland Grappling, Mia here.");
    let reply = call.callee("I'm sure, maybe they're not always welcome.");
    assert!(reply.contains("just to be sure"), "{reply}");
    assert!(!reply.contains("Do you take drop-in visitors"), "asked the same way again: {reply}");
    assert!(reply.contains("can someone who trains at another gym"), "{reply}");
    let reply = call.callee("Yes, we take drop ins.");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, Value::Bool(true)), "{reply}");
}
