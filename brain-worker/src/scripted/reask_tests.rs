//! Re-asking: a question that got no usable answer is asked again in other words, with an
//! example, and after two tries the field is left unknown with the reason (issue 12: "the same
//! question asked three times word for word with the same answer, then dropped").

use super::tests::TextCall;
use protocol::results::FieldStatus;
use serde_json::json;

#[test]
fn a_question_not_understood_is_rephrased_with_an_example_and_dropped_after_two_tries() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    let asked = call.callee("yes we do");
    assert!(asked.contains("How much is a drop-in, and is there a mat fee?"), "{asked}");
    // an answer the rules cannot read
    let again = call.callee("well it kind of depends on the day honestly");
    assert!(!again.contains("How much is a drop-in, and is there a mat fee?"), "rephrased, not repeated: {again}");
    assert!(again.to_lowercase().contains("for example") || again.to_lowercase().contains("like"), "{again}");
    // the second try fails too: the field is left unknown with the reason, the survey goes on
    let next = call.callee("it kind of depends");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);
    assert!(!next.to_lowercase().contains("drop-in"), "not asked a third time: {next}");
    let notes = call.policy.state().result().notes;
    assert!(notes.iter().any(|n| n.contains("drop_in_price") && n.contains("two tries")), "{notes:?}");
}

/// From the end-to-end test (Riverside BJJ): "Oh, I'm not sure about that. Hold on, let me get the
/// manager for you" was heard as "book i'm not sure about but hold on a let me get the manager for
/// you", and "book" settled the requirements (booking ahead), which were then never asked. A turn
/// that hands the call over (hold, transfer) answers nothing but what was asked.
#[test]
fn a_hold_or_transfer_turn_settles_no_field_but_the_one_asked() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("riverside good afternoon");
    let reply = call.callee("book i'm not sure about but hold on a let me get the manager for you");
    assert_eq!(reply, "Sure, thank you.");
    assert_eq!(call.field("requirements").0, FieldStatus::Unknown);
}

/// Tuning eval, seed 209 (espeak-ng en-gb+m2): "So a drop-in is 20 dollars, is that right?",
/// the callee said "Yes, that's right." and the agent heard "Yeah, not right." It took that as
/// a no, forgot the right price, asked again, could not read the next answer ("It's when they
/// not learn.") and left the price unknown. A yes and a no at once is asked again instead; a
/// plain no still forgets.
#[test]
fn a_read_back_answered_with_a_yes_and_a_no_at_once_is_asked_again() {
    let mut call = TextCall::gym_explicit();
    call.start();
    call.callee("hello wolfpack jiu jitsu");
    call.callee("oh absolutely come on by");
    assert_eq!(call.callee("twenty dollars"), "So a drop-in is 20 dollars, is that right?");
    let reply = call.callee("Yeah, not right.");
    assert_eq!(reply, "Sorry, just to be sure: so a drop-in is 20 dollars, is that right?");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Known, "kept while it is asked again");
    let reply = call.callee("Yes, that's right.");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    assert!(call.policy.state().fields["drop_in_price"].confidence >= 0.95);

    for no in ["no that's not right", "nope that's wrong"] {
        let mut call = TextCall::gym_explicit();
        call.start();
        call.callee("hello wolfpack jiu jitsu");
        call.callee("oh absolutely come on by");
        call.callee("twenty dollars");
        let reply = call.callee(no);
        assert!(reply.starts_with("Sorry, my mistake."), "{no:?}: {reply}");
        assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown, "{no:?}");
    }
}

/// Held-out eval at `84e80dd`: three calls were still asking questions when the line was cut at
/// the 300 s limit, so they had no closing line heard and no goodbye. Within the last 30 s
/// before the playbook's `max_duration_s` the agent takes the answer it just heard and closes,
/// with time left for the goodbye; earlier it asks on.
#[test]
fn near_the_time_limit_the_agent_closes_instead_of_asking_on() {
    use protocol::brain::SayCommand;
    let answer_at = |call: &mut TextCall, at_ms: u64, text: &str| {
        call.seq += 1;
        call.now += std::time::Duration::from_millis(at_ms - call.at_ms);
        call.at_ms = at_ms;
        call.input(crate::conversation::Input::Heard {
            confidence: None,
            text: text.to_owned(),
            utterance_seq: call.seq,
            start_ms: at_ms - 1000,
            end_ms: at_ms,
            at_ms,
        })
    };
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
    let reply = answer_at(&mut call, 200_000, "twenty dollars and no mat fee");
    assert!(reply.ends_with("Which days and times are your classes?"), "asks on at 200 s: {reply}");

    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
    let reply = answer_at(&mut call, 275_000, "twenty dollars and no mat fee");
    assert!(reply.ends_with("That's all I needed. Thanks so much, have a great day!"), "{reply}");
    assert!(call.commands.iter().any(|c| matches!(c, SayCommand::Hangup { .. })), "{:?}", call.commands);
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Known, "the last answer is kept");
    let notes = call.policy.state().result().notes;
    assert!(notes.iter().any(|n| n.contains("time limit") && n.contains("class_schedule")), "{notes:?}");
}

/// Tuning eval, seed 205 (espeak-ng en-gb+m2): to "Anything else a visitor should know?" the
/// callee said "No, I think that's it." and the agent heard "I think that's it." "That's it" is
/// also a confirmation word, so the answer was dropped as a "yes" to nothing, and the agent was
/// silent 8 s before "Sorry, I didn't catch that." It says there is nothing more: close.
#[test]
fn i_think_thats_it_ends_the_last_question() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yeah we do");
    call.callee("twenty five dollars");
    call.callee("no there's no mat fee");
    call.callee("monday and wednesday six to seven thirty gi and open mat saturday at noon");
    call.callee("yes that's right");
    let reply = call.callee("you need a gi and you have to sign a waiver");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    let reply = call.callee("I think that's it.");
    assert!(reply.contains("Thanks so much, have a great day"), "{reply}");
    assert_eq!(call.field("other_info"), (FieldStatus::Known, serde_json::json!("nothing else")));
}

/// Tuning eval, seed 210 (espeak-ng en-gb+f4): "Twenty five bucks per class." was heard as
/// "When did I work for class?"; the agent's re-ask of the price was cut at once by the second
/// half of the answer ("And the mat fee is twenty dollars."), which began before it. The re-ask
/// was never heard, yet it counted as the price's second and last try: "Great, thanks. Which
/// days and times are your classes?", and the price was never asked again. An ask cut before
/// it was heard is not a try.
#[test]
fn a_reask_cut_before_it_was_heard_is_not_one_of_the_tries() {
    use crate::conversation::Input;
    let mut call = TextCall::gym();
    call.start();
    call.callee("see that you get through how can i help");
    call.callee("okay so yes we take drop-in");
    let reask = call.callee("When did I work for class?");
    assert!(reask.starts_with("Sorry, I didn't quite get that."), "{reask}");
    let line_at = call.at_ms;
    let id = call
        .commands
        .iter()
        .rev()
        .find_map(|c| match c {
            protocol::brain::SayCommand::Speak { utterance_id, .. } => Some(utterance_id.clone()),
            _ => None,
        })
        .expect("a line");
    call.input(Input::BargeIn { utterance_id: id, heard_text: "".into(), at_ms: line_at + 200 });
    call.seq += 1;
    call.at_ms = line_at + 1700;
    let reply = call.input(Input::Heard {
        confidence: None,
        text: "And the mat fee is $20.".into(),
        utterance_seq: call.seq,
        start_ms: line_at - 200,
        end_ms: line_at + 1400,
        at_ms: line_at + 1700,
    });
    assert!(reply.ends_with("How much is a drop-in, and is there a mat fee?"), "the price is asked again: {reply}");
    let reply = call.callee("twenty five dollars");
    assert!(reply.starts_with("25 dollars for a drop-in, got it."), "{reply}");
    assert_eq!(call.field("mat_fee").0, FieldStatus::Known, "{reply}");
}

/// Tuning eval, seed 210 (espeak-ng en-gb+f4): the schedule was read back, the callee said "Yes,
/// that's right." twice and the agent heard "Yes, not right." twice: it asked once more, then
/// forgot the whole schedule ("Sorry, my mistake"), asked for it again and could not read the
/// second telling. Twice a yes and a no at once is taken as the yes it opens with, less sure.
#[test]
fn a_read_back_answered_twice_with_a_yes_and_a_no_at_once_keeps_the_value() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("cedar jiu jitsu how can i help");
    call.callee("okay so yes we take drop ins");
    call.callee("twenty five dollars and the mat fee is twenty dollars");
    // as heard on that call
    let read_back = call.callee(
        "Right, Monday and Thursday, we've got no gee from six thirty, till half half eight, and Friday, between 11mm \
         and well thirty. That's all then one, and on Tuesday and Wednesday then open map from 11mm till noon.",
    );
    assert!(read_back.ends_with("Did I get that right?"), "{read_back}");
    let again = call.callee("Yes, not right.");
    assert!(again.starts_with("Sorry, just to be sure"), "{again}");
    let schedule = call.field("class_schedule");
    let reply = call.callee("Yes, not right.");
    assert!(!reply.contains("my mistake"), "{reply}");
    assert!(reply.contains("Does a visitor need anything"), "on to the next question: {reply}");
    assert_eq!(call.field("class_schedule"), schedule, "kept as read back");
    let entry = &call.policy.state().fields["class_schedule"];
    assert!(entry.confidence < 0.95, "less sure than a plain yes: {}", entry.confidence);
    let notes = call.policy.state().result().notes;
    assert!(notes.iter().any(|n| n.contains("class_schedule") && n.contains("yes and a no")), "{notes:?}");
}

/// Tuning eval, seed 207 (espeak-ng en-gb-x-rp+f1): asked "Is there a mat fee on top of that?",
/// the callee said "Yes, there's a five dollar mat fee." and the agent heard "Yes, now that I'm
/// not a mat fee.": it took "not a mat fee" as no fee ("Mat fee free, got it"). A plain yes to
/// "is there a fee" and a "not" at once is no answer: the agent asks again rather than note a
/// free mat.
#[test]
fn a_yes_to_is_there_a_fee_is_not_taken_as_no_fee() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello cedar grappling");
    call.callee("yeah anyone can come try a class");
    let asked = call.callee("it's twenty five dollars");
    assert!(asked.contains("Is there a mat fee on top of that?"), "{asked}");
    let reply = call.callee("Yes, now that I'm not a mat fee.");
    assert!(!reply.to_lowercase().contains("free"), "{reply}");
    assert_ne!(call.field("mat_fee").0, FieldStatus::Known, "{reply}");
    assert!(reply.to_lowercase().contains("mat"), "asks about the mat fee again: {reply}");
    call.callee("five dollars");
    assert_eq!(call.field("mat_fee").1["amount"], 5.0);
}

/// Tuning seed 530 (espeak-ng en-us+m3): "A drop in is twenty two fifty dollars." heard "A
/// drop-in is 20, 250,000.", read back as 20 dollars; "No, it's twenty two fifty." heard "No,
/// it's 20 to 50." was taken as the 20 said again, a yes, and 20 was kept. A "no" with the same
/// value is no yes: the numbers are read another way ("to" for "two") and that is read back.
#[test]
fn a_no_that_says_the_read_back_value_again_is_no_yes() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello bluewater martial arts");
    call.callee("yes we take drop ins");
    assert_eq!(call.callee("A drop-in is 20, 250,000."), "So a drop-in is 20 dollars, is that right?");
    let reply = call.callee("No, it's 20 to 50.");
    assert_eq!(reply, "Sorry about that. So a drop-in is 22.50 dollars, is that right?");
    let reply = call.callee("Yes, that's right.");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    assert_eq!(call.field("drop_in_price").1["amount"], 22.5);

    // seed 503 (en-us+m7): no other reading ("22.50 dollars" read back, the callee's ear lost
    // the "fifty"): kept, not confirmed, with a note, and the survey goes on
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello stonebridge");
    call.callee("yes we take drop ins");
    assert_eq!(call.callee("Oh, I'm laughing in 2250, New Orleans."), "So a drop-in is 22.50 dollars, is that right?");
    let reply = call.callee("No, it's 22.50.");
    assert!(!reply.contains("22.50"), "not read back again: {reply}");
    let price = &call.policy.state().fields["drop_in_price"];
    assert_eq!(price.value["amount"], 22.5);
    assert!(price.confidence < 0.95, "not confirmed: {}", price.confidence);
    let notes = call.policy.state().result().notes;
    assert!(notes.iter().any(|n| n.contains("drop_in_price") && n.contains("unconfirmed")), "{notes:?}");

    // a no that is the value itself still agrees: "no, there's no charge" to "it's free?"
    let mut call = TextCall::gym_explicit();
    call.start();
    call.callee("hello");
    call.callee("yes we take drop ins");
    call.callee("twenty dollars");
    call.callee("yes");
    assert_eq!(call.callee("it's free"), "And the mat fee is free, is that right?");
    let reply = call.callee("no, there's no charge for the mats");
    assert!(!reply.contains("Sorry"), "{reply}");
    assert_eq!(call.field("mat_fee").0, FieldStatus::Known);
}

/// Tuning seed 504 (espeak-ng en-us+f2): "So a drop-in is 12.50 pounds, is that right?", the
/// callee (whose ear lost the "fifty") said "No, it's twelve pounds fifty.", heard "No, it's
/// 12.50.", and the agent read back "12.50 dollars": an amount with no currency heard is in the
/// call's currency.
#[test]
fn an_amount_without_a_currency_is_in_the_one_the_calls_prices_were_given_in() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("foxhill brazilian jiu jitsu how can i help");
    call.callee("yes anyone can come try a class");
    let reply = call.callee("Yes, it's £17.50. No far, it £12.50. There's no mat fee.");
    assert!(reply.starts_with("So a drop-in is 12.50 pounds, is that right?"), "{reply}");
    let reply = call.callee("No, it's 12.50.");
    assert!(!reply.contains("dollars"), "{reply}");
    assert_eq!(call.field("drop_in_price").1["currency"], "GBP");
    // a "free" said again is the same free, not a new value to read back
    let free = call.field("mat_fee");
    assert_eq!(free.1["amount"], 0.0);
    call.callee("yes that's right");
    let reply = call.callee("no, there's no mat fee");
    assert!(!reply.contains("mat fee is free"), "{reply}");
    assert_eq!(call.field("mat_fee"), free);
    // a currency said is kept
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello");
    call.callee("yes anyone can come try a class");
    call.callee("it's twelve pounds fifty and there's no mat fee");
    call.callee("no, it's twelve dollars fifty");
    assert_eq!(call.field("drop_in_price").1["currency"], "USD");
}

/// A call with `playbook` up to the requirements question (drop-ins, prices and a schedule
/// given).
fn at_requirements(playbook: playbook::Playbook) -> TextCall {
    let mut call = TextCall::new(playbook, &[("gym_name", "Atos HQ")]);
    call.start();
    call.callee("hello atos");
    call.callee("yes we take drop ins");
    call.callee("twenty dollars and no mat fee");
    call.callee("monday and wednesday at six pm");
    call
}

/// Tuning seed 556: "You just need to fill out a waiver." heard "You not need to fill out a
/// waiver." was read back as "nothing special"; the callee's "No, it's waiver." heard "No, it's
/// waymer." confirmed the "nothing" (its opening "no" read as the none said again). With the
/// options' own questions in the playbook the agent asks about the waiver instead (next test);
/// here, without them, the "nothing" is read back.
#[test]
fn a_no_to_nothing_read_back_that_names_a_misheard_item_corrects_it() {
    let mut playbook = super::tests::gym_playbook();
    for field in &mut playbook.fields {
        for option in &mut field.options {
            if let playbook::OptionSpec::WithPhrases { question, .. } = option {
                *question = None;
            }
        }
    }
    let start = |playbook: &playbook::Playbook| {
        let mut call = at_requirements(playbook.clone());
        let reply = call.callee("You not need to fill out a waiver.");
        assert!(reply.contains("nothing special. Is that right?"), "{reply}");
        call
    };
    let mut call = start(&playbook);
    let reply = call.callee("No, it's waymer.");
    assert!(reply.contains("So for requirements: waiver. Is that right?"), "{reply}");
    call.callee("Yes, that's right.");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["waiver"])));
    // "no, nothing" to "nothing special?" still agrees
    let mut call = start(&playbook);
    call.callee("No, nothing.");
    assert_eq!(call.field("requirements").1, json!([]));
    assert!(call.policy.state().fields.get("requirements").is_some_and(|f| f.confidence >= 0.9));
}

/// Tuning seeds 556, 577: "You just need to fill out a waiver." heard "You not need to fill out
/// a waiver."; "you just need to text us beforehand" heard "you'll not need to text us before
/// hand". Options named only to be negated are asked about one at a time by their own questions.
#[test]
fn options_named_only_to_be_negated_are_asked_about_alone() {
    let mut call = at_requirements(super::tests::gym_playbook());
    let reply = call.callee("You not need to fill out a waiver.");
    assert!(reply.ends_with("Just to check: does a visitor need to sign a waiver?"), "{reply}");
    let reply = call.callee("Yes, they do.");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["waiver"])));
    assert!(reply.contains("Anything else a visitor should know?"), "{reply}");
    // a no leaves nothing
    let mut call = at_requirements(super::tests::gym_playbook());
    let reply = call.callee("Okay, so you'll not need to text us before hand.");
    assert!(reply.ends_with("Just to check: does a visitor need to book ahead?"), "{reply}");
    call.callee("No, they don't.");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!([])));
}

/// Tuning seed 608 (ev580b): "So, you just need to have a gi, we're gi only." heard "So you just
/// need the family, we're the only..." to the requirements question and the same again to it in
/// other words: the list was given up ("No problem, let's move on."). Each option is asked about
/// alone first; the yes and the noes settle it.
#[test]
fn a_list_not_understood_twice_is_asked_option_by_option() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
    call.callee("twenty dollars and no mat fee");
    let reply = call.callee("monday and wednesday at six pm");
    assert!(reply.contains("Does a visitor need anything"), "{reply}");
    let reply = call.callee("So you just need the family, we're the only...");
    assert!(reply.contains("Sorry, I didn't quite get that"), "{reply}");
    let reply = call.callee("Oh, you just need the family where he only...");
    assert!(reply.contains("Does a visitor need to bring a gi?"), "{reply}");
    assert!(call.callee("Yes, they do.").contains("Does a visitor need to sign a waiver?"));
    assert!(call.callee("No, they don't.").contains("certain rank"));
    assert!(call.callee("No.").contains("book ahead"));
    let reply = call.callee("No, they don't.");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, serde_json::json!(["gi"])), "{reply}");
    assert!(reply.contains("Anything else a visitor should know"), "{reply}");
}
