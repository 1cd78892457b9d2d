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
    assert!(reply.to_lowercase().contains("drop-in"), "the question is asked again to confirm: {reply}");
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
