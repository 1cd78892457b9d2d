//! Scripted conversations driven by text with fake time: each coping case of the policy.

use crate::conversation::{Action, ConversationState, Input};
use crate::policy::{Policy, ScriptedPolicy};
use playbook::{Playbook, PlaybookSet, Voicemail};
use protocol::brain::SayCommand;
use protocol::ids::CallId;
use protocol::media::Direction;
use protocol::results::{CallOutcome, FieldStatus, Speaker};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A call driven by text: what the callee says in, what the agent says out.
pub(crate) struct TextCall {
    pub policy: Box<dyn Policy>,
    pub now: Instant,
    pub at_ms: u64,
    pub seq: u64,
    pub commands: Vec<SayCommand>,
    pub finished: bool,
}

impl TextCall {
    pub fn new(playbook: Playbook, context: &[(&str, &str)]) -> Self {
        let context: BTreeMap<String, String> = context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let state =
            ConversationState::new(CallId::from("c_test"), None, &playbook, Direction::Outbound, context, "scripted");
        Self::with_policy(Box::new(ScriptedPolicy::new(playbook, state)))
    }

    pub fn with_policy(policy: Box<dyn Policy>) -> Self {
        TextCall { policy, now: Instant::now(), at_ms: 0, seq: 0, commands: Vec::new(), finished: false }
    }

    pub fn gym() -> Self {
        Self::new(gym_playbook(), &[("gym_name", "Atos HQ")])
    }

    /// The gym playbook with every value read back and confirmed (no `noted`).
    pub fn gym_explicit() -> Self {
        let mut playbook = gym_playbook();
        for field in &mut playbook.fields {
            field.noted = None;
        }
        Self::new(playbook, &[("gym_name", "Atos HQ")])
    }

    /// Feeds an input; returns the text the agent said in reaction.
    pub fn input(&mut self, input: Input) -> String {
        let actions = self.policy.handle(self.now, input);
        self.absorb(actions)
    }

    pub fn absorb(&mut self, actions: Vec<Action>) -> String {
        let mut said = Vec::new();
        for action in actions {
            match action {
                Action::Say(command) => {
                    if let SayCommand::Speak { text, .. } = &command {
                        if !text.is_empty() {
                            said.push(text.clone());
                        }
                    }
                    self.commands.push(command);
                }
                Action::Finished => self.finished = true,
                _ => {}
            }
        }
        said.join(" ")
    }

    pub fn start(&mut self) -> String {
        self.input(Input::CallStarted { at_ms: 0 })
    }

    /// The callee says `text` (a final transcript, one second of speech).
    pub fn callee(&mut self, text: &str) -> String {
        self.callee_heard(text, None)
    }

    /// [`Self::callee`] with the recogniser's confidence in the transcript.
    pub fn callee_heard(&mut self, text: &str, confidence: Option<f32>) -> String {
        self.seq += 1;
        self.at_ms += 3000;
        self.now += Duration::from_secs(3);
        let input = Input::Heard {
            confidence,
            text: text.to_owned(),
            utterance_seq: self.seq,
            start_ms: self.at_ms - 1000,
            end_ms: self.at_ms,
            at_ms: self.at_ms,
        };
        self.input(input)
    }

    /// Lets `seconds` pass, firing timers on the way; returns what the agent said.
    pub fn wait(&mut self, seconds: u64) -> String {
        let until = self.now + Duration::from_secs(seconds);
        let mut said = Vec::new();
        while let Some(deadline) = self.policy.poll_timeout() {
            if deadline > until {
                break;
            }
            self.now = deadline.max(self.now);
            let text = self.input(Input::Tick);
            if !text.is_empty() {
                said.push(text);
            }
            if self.policy.poll_timeout() == Some(deadline) {
                break;
            }
        }
        self.now = until;
        said.join(" ")
    }

    pub fn field(&self, name: &str) -> (FieldStatus, Value) {
        let field = self.policy.state().fields.get(name).cloned().unwrap_or_default();
        (field.status, field.value)
    }

    pub fn hung_up(&self) -> bool {
        self.commands.iter().any(|c| matches!(c, SayCommand::Hangup { .. }))
    }
}

pub(crate) fn gym_playbook() -> Playbook {
    PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone()
}

fn companion_playbook() -> Playbook {
    PlaybookSet::built_in().unwrap().get("companion-checkin").unwrap().clone()
}

fn money(amount: f64) -> Value {
    json!({ "amount": amount, "currency": "USD" })
}

#[test]
fn full_gym_call_collects_every_field_with_evidence() {
    let mut call = TextCall::gym();
    assert_eq!(call.start(), "", "waits for the callee's greeting");
    let intro = call.callee("atos jiu jitsu this is jen how can i help");
    assert!(
        intro.contains(
            "automated assistant with Open Mat Finder, calling about drop-in classes. This call may be recorded."
        ),
        "{intro}"
    );
    assert!(intro.ends_with("Do you take drop-in visitors from other gyms?"), "{intro}");
    // sent ahead when the call was answered, to be synthesized while the callee says hello
    assert_eq!(call.commands[0], SayCommand::Prepare { text: intro.clone() });
    assert!(
        matches!(call.commands[1], SayCommand::Speak { uninterruptible: true, .. }),
        "the disclosure cannot be cut off"
    );

    let reply = call.callee("yeah we do");
    assert!(reply.contains("How much is a drop-in, and is there a mat fee?"), "{reply}");
    // confident values are acknowledged in passing, in the same turn as the next question
    let reply = call.callee("twenty five dollars");
    assert_eq!(reply, "25 dollars for a drop-in, got it. Is there a mat fee on top of that?");
    // "no" here answers the mat fee question; it does not correct the price
    let reply = call.callee("no there's no mat fee");
    assert_eq!(reply, "Mat fee free, got it. Which days and times are your classes?");
    let reply = call.callee("monday and wednesday six to seven thirty pm gi and open mat saturday at noon");
    assert!(
        reply.starts_with("monday and wednesday at 6 PM; saturday at noon, got it. Does a visitor need"),
        "{reply}"
    );
    let reply = call.callee("you need a gi and you have to sign a waiver");
    assert_eq!(reply, "gi and waiver, noted. Anything else a visitor should know?");
    let reply = call.callee("parking is around the back");
    assert!(reply.contains("Thanks so much, have a great day"), "{reply}");
    assert!(call.hung_up() && call.finished);

    let result = call.policy.state().result();
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, json!(true)));
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(25.0)));
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)));
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "waiver"])));
    assert_eq!(call.field("other_info"), (FieldStatus::Known, json!("parking is around the back")));
    let schedule = call.field("class_schedule").1;
    assert_eq!(schedule.as_array().unwrap().len(), 3);
    // provenance: the evidence is the callee's own words at that transcript index
    let price = &result.fields["drop_in_price"];
    let evidence = &price.evidence[0];
    assert_eq!(result.transcript[evidence.turn].speaker, Speaker::Callee);
    assert_eq!(result.transcript[evidence.turn].text, "twenty five dollars");
    assert_eq!(evidence.text, "twenty five dollars");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(25.0)));
    assert!(price.confidence >= 0.7, "{}", price.confidence);
}

#[test]
fn a_schedule_whose_half_of_the_day_was_guessed_is_read_back_and_a_correction_taken() {
    // text eval, tuning seed 400: "Thursdays and Fridays between half six and half past eight"
    // were morning classes, noted in passing as 6:30 PM and never checked
    let mut call = TextCall::gym();
    call.start();
    call.callee("Hello, Cedar Martial Arts.");
    call.callee("yes we take drop ins");
    call.callee("twenty dollars");
    let reply = call.callee("no mat fee");
    assert!(reply.ends_with("Which days and times are your classes?"), "{reply}");
    let reply = call.callee("open mat is Thursdays and Fridays between half six and half past eight");
    assert!(!reply.contains("got it"), "{reply}");
    assert!(reply.contains("6:30 PM") && reply.ends_with("Did I get that right?"), "{reply}");
    let reply =
        call.callee("No, not quite. We have open mat on thursday and friday from six thirty a m to eight thirty a m.");
    assert!(reply.contains("6:30 AM to 8:30 AM. Did I get that right?"), "{reply}");
    let reply = call.callee("Yes, that's right.");
    assert!(reply.contains("Does a visitor need"), "{reply}");
    let schedule = call.field("class_schedule").1;
    let starts: Vec<&str> = schedule.as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["06:30", "06:30"], "{schedule}");
}

#[test]
fn explicit_read_backs_wait_for_a_yes() {
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(call.callee("twenty five dollars"), "So a drop-in is 25 dollars, is that right?");
    let reply = call.callee("yep");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    assert!(call.policy.state().fields["drop_in_price"].confidence >= 0.95, "confirmed by the read-back");
    assert_eq!(call.callee("no there's no mat fee"), "And the mat fee is free, is that right?");
    // a statement read-back: the next answer moves on
    assert!(call.callee("right").contains("Which days and times"));
}

#[test]
fn one_reply_answering_two_questions_is_noted_once() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("it's thirty dollars and there's no mat fee");
    assert_eq!(reply, "30 dollars for a drop-in, got it. Mat fee free, got it. Which days and times are your classes?");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(30.0)));
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)));
    // either can be corrected in the next reply
    let reply = call.callee("sorry no the mat fee is ten dollars");
    assert_eq!(reply, "Sorry about that. And the mat fee is 10 dollars, is that right?");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(30.0)));
}

#[test]
fn a_refusal_with_the_other_amount_is_not_taken_as_the_refused_one() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    // the price is refused; the amount that follows is the mat fee (even when the recogniser
    // lost the words "mat fee")
    call.callee("sorry i can't give that out over the phone and the fee is fifteen dollars");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Refused);

    // a price noted by mistake is taken back when the callee says it was never given
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert!(call.callee("fifty dollars").starts_with("50 dollars for a drop-in, got it."));
    let reply = call.callee("no sorry i can't give out the drop in price over the phone");
    assert_eq!(reply, "Sorry, my mistake. Is there a mat fee on top of that?");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Refused);
}

#[test]
fn an_uncertain_value_is_read_back_even_when_it_could_be_noted() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    // a bare number is a less certain price than "... dollars"
    assert_eq!(call.callee("it's twenty"), "So a drop-in is 20 dollars, is that right?");
}

/// From the demo's transcript (CI, 2026-12-06): the simulated gym heard only the second part of
/// "How much is a drop-in, and is there a mat fee?" and said "no there is no charge for that";
/// the agent noted "free for a drop-in, got it" and a drop-in of thirty dollars was lost. Tuning
/// seed 328 lost a drop-in of forty dollars the same way.
#[test]
fn a_none_to_a_two_part_question_naming_neither_part_is_read_back() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert_eq!(call.callee("no there is no charge for that"), "So a drop-in is free, is that right?");
    let reply = call.callee("no it's thirty dollars");
    assert_eq!(reply, "Sorry about that. So a drop-in is 30 dollars, is that right?");
    let reply = call.callee("yes that's right");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(30.0)));
    // tuning seed 328: the none said after a yes, the mat fee's name heard as "the mat"
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("Yeah, so no, there's no extra fee for the mat.");
    assert_eq!(reply, "So a drop-in is free, is that right?");

    // a none that names its part, or an amount, is noted as before
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("no there's no charge for a drop in");
    assert!(reply.starts_with("free for a drop-in, got it."), "{reply}");
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.callee("no mat fee");
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)));
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert!(call.callee("thirty dollars").starts_with("30 dollars for a drop-in, got it."));
}

#[test]
fn a_correction_after_a_value_noted_in_passing_is_taken() {
    // the callee names the field and the right value
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert!(call.callee("thirty dollars").starts_with("30 dollars for a drop-in, got it."));
    let reply = call.callee("no sorry the drop in is thirty five dollars");
    assert_eq!(reply, "Sorry about that. So a drop-in is 35 dollars, is that right?");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(35.0)));
    assert_eq!(call.field("mat_fee").0, FieldStatus::Unknown, "the correction is not a mat fee");
    let reply = call.callee("yes");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "the open question comes back: {reply}");
    assert_eq!(call.callee("ten dollars"), "Mat fee 10 dollars, got it. Which days and times are your classes?");

    // an explicit "that's wrong" with a value, without naming the field
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.callee("thirty dollars");
    let reply = call.callee("that's not right i said forty dollars");
    assert_eq!(reply, "Sorry about that. So a drop-in is 40 dollars, is that right?");

    // wrong, without the right value: ask again
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.callee("thirty dollars");
    // in other words, with an example (tuning seed 616: the same question twice, misheard twice)
    assert_eq!(
        call.callee("no no that's wrong"),
        "Sorry, my mistake. What would a visitor pay for one class? For example, twenty dollars, or free."
    );
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);

    // an answer to the new question that starts with "no" and carries an amount is an answer
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.callee("thirty dollars");
    let reply = call.callee("no it's ten dollars");
    assert!(reply.starts_with("Mat fee 10 dollars, got it."), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(30.0)));
}

#[test]
fn moving_on_after_a_no_is_not_met_with_perfect() {
    // tuning seed 203: after two read-backs of the schedule, "No, not quite. We have all levels on
    // monday and 2 PM from 6 PM to 8 PM. ..." was answered "Perfect. Does a visitor need ..."
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(call.callee("twenty dollars"), "So a drop-in is 20 dollars, is that right?");
    assert_eq!(call.callee("no it's twenty five"), "Sorry about that. So a drop-in is 25 dollars, is that right?");
    let reply = call.callee("no, not quite, it's twenty six");
    assert!(reply.starts_with("Okay, thanks. "), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(26.0)));
}

#[test]
fn an_answer_that_only_repeats_a_known_value_is_asked_again_at_once() {
    // tuning seed 209: "Drop ins are twenty dollars." heard as "Drop in my window, Nolan." read
    // as drop-ins offered again (known); the agent stayed quiet for 8 s, then "Sorry, I didn't
    // catch that"
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("Drop in my window, Nolan.");
    assert!(reply.starts_with("Sorry, I didn't quite get that."), "{reply:?}");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, json!(true)));
}

#[test]
fn a_line_cut_at_once_by_words_that_began_before_it_is_said_again() {
    // tuning seed 215: "Right, a drop in is forty dollars." then, after a short pause, "And no
    // mat fee." (heard "And norm at fee."), which began before the agent's "40 dollars for a
    // drop-in, got it. Is there a mat fee on top of that?" and cut it at once. Read as a reply
    // that crossed the question, it was met with 8 s of silence: the question was never heard.
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let said = call.callee("Right, a drop in is forty dollars.");
    assert!(said.ends_with("Is there a mat fee on top of that?"), "{said}");
    let line_at = call.at_ms;
    let id = last_utterance_id(&call);
    call.input(Input::BargeIn { utterance_id: id, heard_text: "".into(), at_ms: line_at + 300 });
    call.seq += 1;
    let heard = Input::Heard {
        confidence: None,
        text: "And norm at fee.".into(),
        utterance_seq: call.seq,
        start_ms: line_at - 200,
        end_ms: line_at + 1200,
        at_ms: line_at + 1500,
    };
    call.at_ms = line_at + 1500;
    let reply = call.input(heard);
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply:?}");
}

fn to_price_question(call: &mut TextCall) {
    call.start();
    call.callee("hello atos");
    call.callee("yes we do");
}

#[test]
fn read_back_is_corrected_when_the_callee_says_it_is_wrong() {
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(call.callee("twenty dollars"), "So a drop-in is 20 dollars, is that right?");
    let reply = call.callee("no it's twenty five");
    assert_eq!(reply, "Sorry about that. So a drop-in is 25 dollars, is that right?");
    let reply = call.callee("yes");
    assert!(reply.contains("mat fee"), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(25.0)));

    // wrong, without the right value: ask again
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    call.callee("fifteen");
    let reply = call.callee("no that's not right");
    assert_eq!(
        reply,
        "Sorry, my mistake. What would a visitor pay for one class? For example, twenty dollars, or free."
    );
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);
    assert_eq!(call.callee("thirty bucks"), "So a drop-in is 30 dollars, is that right?");
}

#[test]
fn hold_waits_without_reprompting_then_resumes() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert_eq!(call.callee("hold on one sec"), "Sure, take your time.");
    // longer than the silence timeout: still holding, no re-prompt
    assert_eq!(call.wait(20), "");
    let reply = call.callee("okay sorry about that");
    assert_eq!(reply, "Thanks for waiting. How much is a drop-in, and is there a mat fee?");
    assert_eq!(call.callee("it's twenty"), "So a drop-in is 20 dollars, is that right?");
}

#[test]
fn back_from_hold_is_no_answer_to_the_yes_no_question_asked_before_it() {
    // "Hang on, let me grab the schedule." / "Sure, thank you." / "Okay, I'm back. Go ahead."
    // was taken as a yes to "do you take drop-in visitors?" and the survey of a members-only gym
    // went on with four questions it could not answer (text eval, tuning seeds 502, 664, 541)
    for (hold, back) in [
        ("Hang on, let me grab the schedule.", "Okay, I'm back. Go ahead."),
        ("Can you hold on a sec?", "Thanks for holding. What was it?"),
        ("Just a second, please.", "Sorry about that, what did you need?"),
    ] {
        let mut call = TextCall::gym();
        call.start();
        let intro = call.callee("Hello, Copper Grappling.");
        assert!(intro.ends_with("Do you take drop-in visitors from other gyms?"), "{intro}");
        call.callee(hold);
        let reply = call.callee(back);
        assert!(reply.ends_with("Do you take drop-in visitors from other gyms?"), "{back}: {reply}");
        assert_eq!(call.field("drop_in_offered").0, FieldStatus::Unknown, "{back}");
        let reply = call.callee("So, no, we don't take visitors at the moment.");
        assert!(!reply.contains("How much"), "{reply}");
    }
    // an answer that names the subject is one, hold or not
    let mut call = TextCall::gym();
    call.start();
    call.callee("Hello, Copper Grappling.");
    call.callee("Can you hold on a sec?");
    let reply = call.callee("Okay, I'm back. Yes, we take drop ins.");
    assert!(reply.contains("How much is a drop-in"), "{reply}");
    assert_eq!(call.field("drop_in_offered"), (FieldStatus::Known, json!(true)));
}

#[test]
fn repeat_says_the_last_turn_again() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let asked = call.policy.state().last_agent_text.clone();
    assert_eq!(call.callee("sorry can you repeat that"), asked);
    assert_eq!(call.callee("what"), asked);
}

#[test]
fn no_drop_ins_marks_dependent_fields_not_applicable() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("atos good afternoon");
    // a "no" that would end the survey is asked again before it is believed (issue 12)
    let reply = call.callee("no sorry we don't do drop ins");
    assert_eq!(
        reply,
        "Sorry, just to be sure: can someone who trains at another gym come and join one of your classes? A yes or no is fine."
    );
    let reply = call.callee("no we don't");
    assert!(reply.contains("Anything else a visitor should know"), "skips price, fee, schedule: {reply}");
    for field in ["drop_in_price", "mat_fee", "class_schedule", "requirements"] {
        assert_eq!(call.field(field).0, FieldStatus::NotApplicable, "{field}");
    }
    let reply = call.callee("nope that's it");
    assert!(reply.contains("Thanks so much"), "{reply}");
    let result = call.policy.state().result();
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert_eq!(result.fields["drop_in_offered"].value, json!(false));
}

#[test]
fn refusal_marks_the_field_refused_and_moves_on() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("i can't give out pricing over the phone");
    assert_eq!(reply, "No problem. Is there a mat fee on top of that?");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Refused);
}

#[test]
fn transfer_waits_and_greets_the_new_person() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert_eq!(call.callee("oh let me get the manager"), "Sure, thank you.");
    assert_eq!(call.wait(15), "", "no re-prompt while the manager comes");
    let reply = call.callee("hi this is mike the manager");
    assert!(
        reply.starts_with(
            "Hi, this is Sam, an automated assistant with Open Mat Finder, calling about drop-in classes."
        ),
        "{reply}"
    );
    assert!(reply.ends_with("How much is a drop-in, and is there a mat fee?"), "{reply}");
    assert!(call.callee("twenty two dollars").starts_with("22 dollars for a drop-in, got it."));
}

/// From the end-to-end Riverside transfer call: the first person is not sure and fetches the
/// manager; the manager's greeting is misheard. Whatever question the agent asks again after the
/// transfer, the answer is read for that question: "fifteen dollars and no mat fee" said to the
/// price question is a price and no mat fee, not "no drop-ins".
#[test]
fn after_a_transfer_the_answer_is_read_for_the_question_said() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("waivers five but afternoon the");
    assert_eq!(call.callee("book i'm not sure about but hold on a let me get the manager for you"), "Sure, thank you.");
    let reply = call.callee("on the to month drop waivers like brazilian jiu jitsu what did you want to know");
    // nothing was settled before the transfer ("not sure"), so the first question comes again
    assert!(reply.ends_with("Do you take drop-in visitors from other gyms?"), "{reply}");
    let reply = call.callee("yes we do");
    assert!(reply.ends_with("How much is a drop-in, and is there a mat fee?"), "{reply}");
    let reply = call.callee("at fifteen dollars and no mat fee");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(15.0)), "{reply}");
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)), "{reply}");
    assert_ne!(call.field("drop_in_offered").1, json!(false), "{reply}");
    assert!(!call.finished, "the survey goes on: {reply}");
}

#[test]
fn silence_reprompts_then_ends_the_call() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    // the silence timeout counts from the end of the question (about its speaking time later)
    let first = call.wait(15);
    assert_eq!(first, "Hello, are you still there? How much is a drop-in, and is there a mat fee?");
    let second = call.wait(15);
    assert_eq!(second, "Hello, are you still there? How much is a drop-in, and is there a mat fee?");
    assert!(!call.hung_up());
    let last = call.wait(15);
    assert!(last.contains("goodbye"), "{last}");
    assert!(call.hung_up() && call.finished);
    assert_eq!(call.policy.state().result().outcome, CallOutcome::LimitReached);
}

#[test]
fn speaks_first_when_nobody_greets() {
    let mut call = TextCall::gym();
    call.start();
    let intro = call.wait(4);
    assert!(intro.contains("automated assistant"), "{intro}");
}

#[test]
fn ivr_menu_sends_the_front_desk_digit() {
    let mut call = TextCall::gym();
    call.start();
    let reply = call.callee("thank you for calling atos press one for billing press two for the front desk");
    assert_eq!(reply, "");
    assert_eq!(call.commands.last(), Some(&SayCommand::SendDigits { digits: "2".into() }));
    let intro = call.callee("front desk this is amy");
    assert!(intro.contains("automated assistant"), "{intro}");
    assert!(call.policy.state().notes.iter().any(|n| n.contains("pressed 2")));
}

#[test]
fn voicemail_greeting_leaves_a_message_or_hangs_up() {
    let mut call = TextCall::gym();
    call.start();
    let said =
        call.callee("hi you've reached atos jiu jitsu we can't take your call please leave a message after the beep");
    assert!(
        said.contains("automated assistant calling on behalf of Open Mat Finder about drop-in classes at Atos HQ"),
        "{said}"
    );
    assert!(matches!(call.commands[1], SayCommand::Speak { uninterruptible: true, .. }));
    assert!(call.hung_up() && call.finished);
    assert_eq!(call.policy.state().result().outcome, CallOutcome::Voicemail);

    let mut playbook = gym_playbook();
    playbook.voicemail = Voicemail::HangUp;
    let mut call = TextCall::new(playbook, &[]);
    call.start();
    assert_eq!(call.callee("please leave a message after the tone"), "");
    assert!(matches!(call.commands[0], SayCommand::Prepare { .. }), "sent when the call was answered");
    assert_eq!(call.commands[1..], vec![SayCommand::Hangup { reason: "voicemail, hanging up".into() }]);
}

#[test]
fn amd_machine_verdict_triggers_the_voicemail_behaviour() {
    let mut call = TextCall::gym();
    call.start();
    let said = call.input(Input::Amd { answered_by: "machine_end_beep".into(), at_ms: 4000 });
    assert!(said.contains("We'll try again another time"), "{said}");
    assert!(call.hung_up());
    // a human verdict changes nothing
    let mut call = TextCall::gym();
    call.start();
    assert_eq!(call.input(Input::Amd { answered_by: "human".into(), at_ms: 1000 }), "");
    assert!(!call.hung_up());
}

#[test]
fn barge_in_keeps_only_what_was_heard() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hello");
    let last_id = match call.commands.last() {
        Some(SayCommand::Speak { utterance_id, .. }) => utterance_id.clone(),
        other => panic!("expected speech, got {other:?}"),
    };
    call.input(Input::BargeIn {
        utterance_id: last_id,
        heard_text: "Hi, this is Sam, an automated".into(),
        at_ms: 5000,
    });
    let transcript = &call.policy.state().transcript;
    let agent = transcript.iter().rfind(|t| t.speaker == Speaker::Agent).unwrap();
    assert_eq!(agent.text, "Hi, this is Sam, an automated");
    assert!(agent.interrupted);
}

#[test]
fn max_turns_ends_the_call() {
    let mut playbook = gym_playbook();
    playbook.limits.max_turns = 4;
    let mut call = TextCall::new(playbook, &[]);
    call.start();
    call.callee("hello");
    call.callee("mm");
    call.callee("uh");
    let last = call.callee("hmm");
    assert!(last.contains("Thanks so much"), "{last}");
    assert_eq!(call.policy.state().result().outcome, CallOutcome::LimitReached);
}

#[test]
fn answers_volunteered_ahead_are_not_asked_again() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("hi atos");
    let reply = call.callee("yeah drop ins are twenty bucks and the mat fee is five dollars");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(20.0)));
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(5.0)));
    assert!(reply.contains("Which days and times"), "goes straight to the schedule: {reply}");
}

#[test]
fn companion_call_collects_mood_topics_and_flags_risk() {
    let mut call = TextCall::new(companion_playbook(), &[("caller_org", "Sunny Days"), ("callee_name", "Margaret")]);
    call.start();
    let intro = call.callee("hello");
    assert!(intro.contains("automated assistant calling on behalf of Sunny Days"), "{intro}");
    assert!(intro.contains("How are you doing today, Margaret?"), "{intro}");
    let reply = call.callee("oh about a four i haven't eaten since tuesday");
    assert!(reply.starts_with("I'm really sorry to hear that."), "{reply}");
    assert!(reply.contains("4 out of ten"), "{reply}");
    call.callee("yes");
    let reply = call.callee("my daughter hasn't called and my knee hurts");
    assert!(reply.contains("family and health"), "{reply}");
    let reply = call.callee("that's right");
    assert!(reply.contains("Take care"), "{reply}");
    let result = call.policy.state().result();
    assert_eq!(result.outcome, CallOutcome::Completed);
    assert_eq!(result.fields["mood"].value, json!(4));
    assert_eq!(result.fields["topics"].value, json!(["family", "health"]));
    let risk = &result.fields["risk"];
    assert_eq!(risk.status, FieldStatus::Known);
    assert_eq!(risk.value["flagged"], json!(true));
    assert!(risk.value["escalation_note"].as_str().unwrap().contains("human should call them back"));
    assert_eq!(result.transcript[risk.evidence[0].turn].text, "oh about a four i haven't eaten since tuesday");

    // a calm call ends with the risk field known and clear
    let mut call = TextCall::new(companion_playbook(), &[]);
    call.start();
    call.callee("hi");
    call.callee("pretty good an eight");
    call.callee("yes");
    call.callee("the garden mostly");
    call.callee("yes");
    let result = call.policy.state().result();
    assert_eq!(result.fields["risk"].value, json!({ "flagged": false }));
    assert_eq!(result.fields["topics"].value, json!(["hobbies"]));
}

#[test]
fn stray_confirmations_and_crossed_replies_do_not_derail_the_question() {
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    // a late "yes that's right" while the price question stands: no reply, no re-ask
    assert_eq!(call.callee("yes that's right"), "");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);
    assert_eq!(call.callee("it's twenty dollars"), "So a drop-in is 20 dollars, is that right?");
    // the same value said again to a read-back confirms it
    let reply = call.callee("yeah twenty dollars");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    // "no, there's no charge" to "the mat fee is free, is that right?" is a yes
    assert_eq!(call.callee("no mat fee"), "And the mat fee is free, is that right?");
    let reply = call.callee("no there's no charge for that");
    assert!(reply.contains("Which days and times"), "{reply}");
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)));

    // a reply that started before our last turn was said answers something earlier: quiet
    let asked = call.policy.state().last_agent_text.clone();
    call.seq += 1;
    let crossed = call.input(Input::Heard {
        confidence: None,
        text: "sorry what was that".into(),
        utterance_seq: call.seq,
        start_ms: 100,
        end_ms: call.at_ms + 10,
        at_ms: call.at_ms + 20,
    });
    // a request to repeat is answered even when it crossed
    assert_eq!(crossed, asked);
    call.seq += 1;
    let crossed = call.input(Input::Heard {
        confidence: None,
        text: "okay".into(),
        utterance_seq: call.seq,
        start_ms: 100,
        end_ms: call.at_ms + 30,
        at_ms: call.at_ms + 40,
    });
    assert_eq!(crossed, "");
}

#[test]
fn a_late_answer_to_the_previous_question_is_kept_without_talking_over_the_next() {
    let mut call = TextCall::new(companion_playbook(), &[("callee_name", "Ann")]);
    call.start();
    call.callee("hello");
    let reply = call.callee("oh i don't know really");
    assert!(reply.ends_with("What's been on your mind lately?"), "{reply}");
    // the mood comes late, after topics were asked: kept, and the question asked again rather
    // than left to the silence timer (seconds of dead air)
    let reply = call.callee("maybe about a six");
    assert!(reply.ends_with("What's been on your mind lately?"), "{reply}");
    assert_eq!(call.field("mood"), (FieldStatus::Known, json!(6)));
    let reply = call.callee("the garden mostly");
    assert!(reply.contains("hobbies"), "{reply}");
}

#[test]
fn a_late_answer_that_crossed_the_next_question_is_kept_and_the_question_stands() {
    let mut call = TextCall::new(companion_playbook(), &[("callee_name", "Ann")]);
    call.start();
    call.callee("hello");
    let reply = call.callee("oh i don't know really");
    assert!(reply.ends_with("What's been on your mind lately?"), "{reply}");
    // started before that question was asked: it answers the one before, and nothing is said
    // over the question just asked
    call.seq += 1;
    let crossed = call.input(Input::Heard {
        confidence: None,
        text: "maybe about a six".into(),
        utterance_seq: call.seq,
        start_ms: call.at_ms - 500,
        end_ms: call.at_ms + 1500,
        at_ms: call.at_ms + 1500,
    });
    assert_eq!(crossed, "");
    assert_eq!(call.field("mood"), (FieldStatus::Known, json!(6)));
}

#[test]
fn greeting_after_we_spoke_first_is_not_taken_as_an_answer() {
    let mut call = TextCall::gym();
    call.start();
    // the callee started talking: we wait for their words rather than speak over them
    call.input(Input::SpeechStarted { at_ms: 500 });
    assert_eq!(call.wait(12), "", "still waiting for the greeting's transcript");
    let intro = call.wait(6);
    assert!(intro.contains("automated assistant"), "spoke first in the end: {intro}");
    // the late greeting does not get "sorry, I didn't get that"
    assert_eq!(call.callee("thanks for calling atlas this is jess"), "");
    assert!(call.callee("yes we do").contains("How much is a drop-in, and is there a mat fee?"));
}

#[test]
fn no_reprompt_while_the_callee_is_still_talking() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.input(Input::SpeechStarted { at_ms: call.at_ms + 500 });
    // far longer than the silence timeout (a long answer): still being said and transcribed
    assert_eq!(call.wait(40), "");
    assert!(call.callee("it's twenty five dollars").starts_with("25 dollars for a drop-in, got it."));

    // a transcript that never comes: re-prompted in the end
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.input(Input::SpeechStarted { at_ms: call.at_ms + 500 });
    assert!(call.wait(60).contains("How much is a drop-in"));
}

#[test]
fn a_fifteen_fifty_mix_up_in_a_correction_keeps_the_first_answer() {
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(call.callee("it's fifteen dollars"), "So a drop-in is 15 dollars, is that right?");
    // the callee's "no, it's fifteen" reaches us as "fifty"
    let reply = call.callee("no it's fifty dollars");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(15.0)));
    assert!(call.policy.state().notes.iter().any(|n| n.contains("kept 15")));
    // an ordinary correction still replaces the value
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    call.callee("it's fifteen dollars");
    assert_eq!(call.callee("no it's twenty dollars"), "Sorry about that. So a drop-in is 20 dollars, is that right?");
}

#[test]
fn reply_latencies_reported_by_the_media_worker_end_up_in_the_result() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let stages = protocol::results::ReplyStages::from_times(1000, 1400, 1460, 1480, 1520, 1740);
    call.input(Input::Replied { reply_ms: 740, tts_ms: Some(35), stages: Some(stages) });
    // an older media worker sends no stages
    call.input(Input::Replied { reply_ms: 810, tts_ms: None, stages: None });
    let latency = call.policy.state().result().latency;
    assert_eq!(latency.voice_to_voice_ms, vec![740, 810]);
    assert_eq!(latency.tts_ms, vec![35]);
    // end of speech -> final transcript, and the stages themselves
    assert_eq!(latency.stt_ms, vec![460]);
    assert_eq!(latency.replies, vec![stages]);
    assert_eq!(latency.replies[0].total_ms(), latency.voice_to_voice_ms[0]);
}

#[test]
fn an_earlier_turn_finishing_does_not_start_the_wait_for_the_latest_one() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let asked_id = call.policy.state().spoken.last().unwrap().utterance_id.clone();
    // the callee asks to hear it again while the question is still playing: a second turn queues
    call.callee("sorry what was that");
    call.wait(1);
    // the first one's mark comes back; the repeat is still to play
    call.input(Input::Played { utterance_id: asked_id, at_ms: call.at_ms + 1000 });
    assert_eq!(call.wait(9), "", "no re-prompt over the repeat");
}

// Heard in `gymcall eval` on tuning seeds (100-111, Whisper hearing espeak-ng voices).

#[test]
fn an_answer_opening_with_okay_is_asked_again_not_taken_for_an_aside() {
    // "Right, the mat fee is five dollars." heard as "Right, remember me in time, Noggin.": the
    // agent kept quiet for the silence timeout (9 s of dead air), then asked "Hello, are you
    // still there?", ten times over, to the call's time limit (seed 111)
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("35 dollars per class");
    assert!(reply.contains("mat fee"), "{reply}");
    let reply = call.callee("Right, remember me in time, Noggin.");
    assert!(reply.contains("Sorry"), "an answer not understood is asked again at once: {reply:?}");
    assert!(!reply.contains("still there"), "{reply}");
    // a bare "okay" after a question is still an aside: the question stands, nothing said
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    assert_eq!(call.callee("okay"), "");
}

#[test]
fn silence_after_the_callee_spoke_is_not_met_with_are_you_still_there() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    // an aside we keep quiet on, then nothing: the callee did speak, so we did not follow
    assert_eq!(call.callee("okay"), "");
    let reply = call.wait(15);
    assert!(reply.starts_with("Sorry, I didn't catch that."), "{reply}");
}

#[test]
fn a_line_said_on_a_timer_is_stamped_when_it_is_said() {
    // the agent's lines in the result carried the media time of the callee's last words even
    // when a silence timer spoke them 9-45 s later, which hid the dead air in the transcript
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let heard_at = call.at_ms;
    let reply = call.wait(15);
    assert!(reply.contains("still there"), "{reply}");
    let turn = call.policy.state().transcript.last().unwrap().clone();
    assert_eq!(turn.speaker, Speaker::Agent);
    assert!(turn.at_ms >= heard_at + 9000, "said at {} ms, the callee last spoke at {heard_at} ms", turn.at_ms);
}

#[test]
fn speech_the_recogniser_made_nothing_of_does_not_leave_the_line_quiet() {
    // Whisper returned nothing for a 3 s answer; the brain kept waiting for the transcript
    // (45 s, as for a long answer) and both sides sat in silence for 50 s (seed 103)
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.at_ms += 500;
    assert_eq!(call.input(Input::SpeechStarted { at_ms: call.at_ms }), "");
    call.now += Duration::from_secs(3);
    let start_ms = call.at_ms;
    call.at_ms += 3000;
    call.seq += 1;
    let reply = call.input(Input::Heard {
        confidence: None,
        text: String::new(),
        utterance_seq: call.seq,
        start_ms,
        end_ms: call.at_ms,
        at_ms: call.at_ms,
    });
    assert!(reply.starts_with("Sorry, I didn't catch that."), "{reply:?}");
    // a click or a cough (0.3 s) leaves the question on the usual timer, not 45 s
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.input(Input::SpeechStarted { at_ms: call.at_ms + 100 });
    call.seq += 1;
    let at_ms = call.at_ms + 400;
    let reply = call.input(Input::Heard {
        confidence: None,
        text: " ".into(),
        utterance_seq: call.seq,
        start_ms: at_ms - 300,
        end_ms: at_ms,
        at_ms,
    });
    assert_eq!(reply, "");
    let reply = call.wait(12);
    assert!(reply.contains("How much is a drop-in"), "re-asked on the usual silence timer: {reply:?}");
}

#[test]
fn a_yeah_after_the_next_question_answers_it_not_the_one_before() {
    // after "just to be sure: do you take drop-ins?" and "Is there a mat fee on top of that?",
    // "Yeah, so there's a ten euro mat fee, but ..." misheard was taken as a late "yes" to the
    // drop-in question, a repeat of what was known, so the agent kept quiet for the silence
    // timeout (seed 102)
    let mut call = TextCall::gym();
    call.start();
    for line in [
        "I'll remember you, if you didn't get",
        "Not that good, please.",
        "Thanks for holding me while I'm in here, so yeah, we take Robin.",
        "We can't afford to your own food and login and attend your own money. Only if you don't have your own insurance.",
        "So we can't afford to do your own thing to drop in.",
    ] {
        call.callee(line);
    }
    let reply = call.callee("Sure, maybe it could not always welcome.");
    assert!(reply.ends_with("Is there a mat fee on top of that?"), "{reply}");
    let reply = call.callee("Yeah, so Hannah and your O'Masty, but only if you don't have your own insurance.");
    assert!(reply.starts_with("Sorry"), "{reply:?}");
}

/// The id of the agent's last spoken turn.
fn last_utterance_id(call: &TextCall) -> String {
    match call.commands.iter().rev().find(|c| matches!(c, SayCommand::Speak { .. })) {
        Some(SayCommand::Speak { utterance_id, .. }) => utterance_id.clone(),
        _ => panic!("nothing said yet"),
    }
}

#[test]
fn a_read_back_cut_before_it_was_heard_is_not_answered_by_the_callees_next_words() {
    // An answer in two parts with a short pause between them becomes two turns: the read-back of
    // the first was cut by the second at its first word, and the second ("no kids classes
    // though") was taken as the callee saying the read-back was wrong (Summit MMA in
    // e2e_personas, with the endpoint counted from the voice's end)
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(call.callee("twenty five dollars"), "So a drop-in is 25 dollars, is that right?");
    let id = last_utterance_id(&call);
    call.input(Input::BargeIn { utterance_id: id, heard_text: "So".into(), at_ms: call.at_ms + 400 });
    let reply = call.callee("no mat fee though");
    // the new words are taken, and the read-back they cut is not answered by them
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(25.0)), "{reply}");
    assert_eq!(call.field("mat_fee"), (FieldStatus::Known, money(0.0)), "{reply}");
    assert!(!reply.contains("my mistake"), "{reply}");
    // words that answer nothing: the cut line is said again
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    call.callee("twenty five dollars");
    let id = last_utterance_id(&call);
    call.input(Input::BargeIn { utterance_id: id, heard_text: "".into(), at_ms: call.at_ms + 400 });
    let reply = call.callee("no kids classes though");
    assert_eq!(reply, "So a drop-in is 25 dollars, is that right?");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, money(25.0)));
}

#[test]
fn a_line_cut_by_the_callee_does_not_restart_the_silence_timer_while_they_talk() {
    // a 14 s schedule answer barged into the agent's read-back; the cut line's mark came back
    // and started the 8 s silence timer, so "Hello? So a drop-in is ..." was said over the
    // callee, 0.4 s before their transcript arrived (seed 200)
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let id = last_utterance_id(&call);
    assert_eq!(call.input(Input::SpeechStarted { at_ms: call.at_ms + 500 }), "");
    call.input(Input::BargeIn { utterance_id: id.clone(), heard_text: "How much".into(), at_ms: call.at_ms + 700 });
    call.input(Input::Played { at_ms: call.at_ms + 800, utterance_id: id });
    assert_eq!(call.wait(20), "", "nothing said while the callee is talking and being transcribed");
    let reply = call.callee("twenty dollars and no mat fee");
    assert!(reply.contains("Which days"), "{reply}");
}

/// Tuning seed 634 (ev620b): "It's forty five euros, no sorry, forty euros." heard "It's 45-year
/// long, no hurry, all the year long." was noted in passing, and the line saying so was cut at its
/// first word by "And the mat fee is twenty euros."; the reply acknowledged only the mat fee, so
/// the wrong 45 was kept without the callee ever hearing it.
#[test]
fn an_acknowledgement_cut_before_it_was_heard_is_said_again() {
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    let reply = call.callee("it's forty five euros");
    assert!(reply.starts_with("45 euros for a drop-in, got it."), "{reply}");
    let id = last_utterance_id(&call);
    call.input(Input::BargeIn { utterance_id: id, heard_text: "".into(), at_ms: call.at_ms + 300 });
    let reply = call.callee("and the mat fee is twenty euros");
    assert!(reply.starts_with("45 euros for a drop-in, got it. Mat fee 20 euros, got it."), "{reply}");
    // and the drop-in can still be corrected after it
    let reply = call.callee("no sorry the drop in is forty euros");
    assert!(reply.contains("40 euros"), "{reply}");

    // a line heard to its end is not said again
    let mut call = TextCall::gym();
    to_price_question(&mut call);
    call.callee("it's forty five euros");
    let reply = call.callee("and the mat fee is twenty euros");
    assert!(!reply.contains("for a drop-in"), "{reply}");
}

/// A gym call up to the requirements question.
fn to_requirements_question(call: &mut TextCall) {
    to_schedule_question(call);
    let reply = call.callee("monday and wednesday six to seven thirty pm gi and open mat saturday at noon");
    assert!(reply.ends_with("a certain rank or booking ahead?"), "{reply}");
}

/// Tuning seeds 340 and 369 (`gymcall personas generate --seed 340`, audio eval): asked what a
/// visitor needs, the gym was still giving its classes ("... and there's no gi on Sunday, eleven to
/// twelve noon"); the "no gi" (or a bare "no") was read as nothing needed and noted. An answer that
/// gives classes on days is no "nothing" to the requirements question.
#[test]
fn classes_given_to_the_requirements_question_are_not_nothing_needed() {
    for heard in [
        "I have some fundamental risk disease from quarter past 12 PM to 1.45 PM and there is no gi on sunday at 11 PM.",
        "Let me see certain name at 7 15 in the evening at sea also, no good in certain name and friday at 6 30 in the morning.",
    ] {
        let mut call = TextCall::gym();
        to_requirements_question(&mut call);
        let reply = call.callee(heard);
        assert_eq!(call.field("requirements").0, FieldStatus::Unknown, "{heard}: {reply}");
        assert!(!reply.contains("nothing special"), "{reply}");
    }
    // a plain none, and items named beside a day, are still answers
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("no nothing just show up");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!([])));
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("bring a gi and book ahead for the monday six pm class");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "booking_ahead"])));
}

/// Tuning seed 371 (`gymcall personas generate --seed 371`, audio eval): the schedule read back
/// and confirmed, the gym went on giving its classes 0.5 s later and cut "Great, thanks. Does a
/// visitor need anything ...?" before its first word; "No give monday and in the morning ..." was
/// read as the answer to that question, "nothing needed", and noted. A question the callee never
/// heard does not frame what they say: their words are read as volunteered, and the cut question
/// is asked again.
/// A gym call up to the requirements question, cut by the callee before its first word played.
fn to_cut_requirements_question() -> TextCall {
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let id = last_utterance_id(&call);
    call.input(Input::BargeIn { utterance_id: id, heard_text: "".into(), at_ms: call.at_ms + 300 });
    call
}

#[test]
fn words_over_a_question_cut_before_it_was_heard_do_not_answer_it() {
    for heard in ["no that's everything", "No give monday and in the morning and there are kids on tuesday"] {
        let mut call = to_cut_requirements_question();
        let reply = call.callee(heard);
        assert_eq!(call.field("requirements").0, FieldStatus::Unknown, "{heard}: {reply}");
        assert!(reply.ends_with("a certain rank or booking ahead?"), "{heard}: {reply}");
    }
    // heard, the same words answer it
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("no that's everything");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!([])));
    // cut, a requirement named in passing is still taken
    let mut call = to_cut_requirements_question();
    call.callee("oh and you need to sign a waiver first");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["waiver"])));
}

/// The gym playbook without its options' own yes/no questions: the options not named are asked
/// about together, in the field's `more` wording.
fn options_asked_together() -> Playbook {
    let mut playbook = gym_playbook();
    let requirements = playbook.fields.iter_mut().find(|f| f.name == "requirements").unwrap();
    for option in &mut requirements.options {
        if let playbook::OptionSpec::WithPhrases { question, .. } = option {
            *question = None;
        }
    }
    playbook
}

#[test]
fn a_requirements_answer_with_more_parts_than_it_named_is_asked_about_once_more() {
    // tuning seed 333: "you'll need to bring your own gi and sign a waiver" heard as "You need
    // to bring your own key and hide away." was noted as "gi" and the waiver lost
    let mut call = TextCall::new(options_asked_together(), &[("gym_name", "Atos HQ")]);
    to_requirements_question(&mut call);
    let reply = call.callee("You need to bring your own key and hide away.");
    assert_eq!(reply, "gi, noted. Does a visitor need anything else, like waiver, rank or booking ahead?");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi"])));
    let reply = call.callee("yes, you have to sign a waiver");
    assert_eq!(reply, "gi and waiver, noted. Anything else a visitor should know?");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "waiver"])));

    // a playbook without its own `more` wording asks in the default one
    let mut playbook = options_asked_together();
    playbook.fields.iter_mut().find(|f| f.name == "requirements").unwrap().more = None;
    let mut call = TextCall::new(playbook, &[("gym_name", "Atos HQ")]);
    to_requirements_question(&mut call);
    let reply = call.callee("You need to bring your own key and hide away.");
    assert_eq!(reply, "gi, noted. Anything else, like waiver, rank or booking ahead?");

    // nothing more: the items stand, and it is not asked a third time
    let mut call = TextCall::new(options_asked_together(), &[("gym_name", "Atos HQ")]);
    to_requirements_question(&mut call);
    call.callee("You need to bring your own key and hide away.");
    let reply = call.callee("no, that's it");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    assert!(!reply.contains("like waiver"), "{reply}");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi"])));
}

/// Tuning seed 304 (ev300c, espeak-ng en-us+m3): "you'll need to bring a gi, be a blue belt or
/// higher and text us beforehand" heard as "... or higher end test, does the forehand." was noted
/// as gi and rank; "anything else, like waiver or booking ahead?" got the whole answer again,
/// "... and tie up my name before", and booking ahead was lost. With the options' own questions
/// (the gym playbook), each option not named is asked about alone, and a yes is heard.
#[test]
fn options_not_named_are_asked_about_one_at_a_time_when_they_have_their_own_question() {
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let reply = call.callee("You'll need to bring a gi, a blue belt, or higher end test, does the forehand.");
    assert_eq!(reply, "gi and rank, noted. Does a visitor need to sign a waiver?");
    let reply = call.callee("No, they don't.");
    assert_eq!(reply, "Okay. Does a visitor need to book ahead?");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "rank"])));
    let reply = call.callee("Yes, they do.");
    assert!(reply.starts_with("Okay, thanks. ") && reply.ends_with("Anything else a visitor should know?"), "{reply}");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "rank", "booking_ahead"])));

    // an answer naming an item joins it too, and a "sorry?" gets the same question again
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("You need to bring your own key and hide away.");
    let reply = call.callee("sorry, can you say that again?");
    assert!(reply.ends_with("Does a visitor need to sign a waiver?"), "{reply}");
    let reply = call.callee("yeah you have to sign the liability form");
    assert_eq!(reply, "Okay. Does a visitor need a certain rank?");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "waiver"])));
    // "no, that's all" is no to the rest too
    let reply = call.callee("no, that's all");
    assert!(reply.starts_with("Okay, thanks. ") && reply.ends_with("Anything else a visitor should know?"), "{reply}");

    // a reply about something else ends the questions and is heard as usual
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("You need to bring your own key and hide away.");
    let reply = call.callee("No, not quite. Our classes are no gi class on Tuesday and Friday from 6pm to 7pm.");
    assert!(reply.starts_with("Sorry about that. I have no gi on tuesday and friday from 6 PM to 7 PM"), "{reply}");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi"])));
}

#[test]
fn a_requirements_answer_that_names_each_of_its_parts_is_not_asked_about_again() {
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let reply = call.callee("Um, you'll need to bring a gi and sign a waiver.");
    assert_eq!(reply, "gi and waiver, noted. Anything else a visitor should know?");
}

/// From the demo's transcript (CI, 2026-12-06, the second failure): after "monday and wednesday
/// ..., got it. Does a visitor need anything ...?" the simulated gym, which heard the read-back
/// wrong, said "no" and gave its schedule again. The agent took the "no" as "nothing is needed"
/// and the gi and waiver the gym then gave to "anything else?" were kept as other info.
#[test]
fn a_no_that_restates_the_value_noted_is_about_that_value_and_the_question_is_asked_again() {
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let reply = call.callee(
        "no nope what our classes are monday and wednesday six to seven thirty pm gi and open mat saturday at noon",
    );
    assert_eq!(call.field("requirements").0, FieldStatus::Unknown, "the no was not about requirements: {reply}");
    assert!(reply.ends_with("a certain rank or booking ahead?"), "the open question is asked again: {reply}");
    let reply = call.callee("you'll need to bring a gi and sign a waiver first");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, serde_json::json!(["gi", "waiver"])), "{reply}");

    // a plain no with nothing of the noted field in it still answers the question asked
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    call.callee("no nothing special");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, serde_json::json!([])));
}

/// The same transcript's end: requirements noted as none from a "no" (0.7), then the gym gave
/// its gi and waiver to "Anything else a visitor should know?". Items named later outweigh an
/// earlier none.
#[test]
fn items_named_after_a_none_was_noted_replace_the_none() {
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let reply = call.callee("no");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    assert_eq!(call.field("requirements").0, FieldStatus::Known);
    call.callee("you'll need to bring a gi and sign a waiver first");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, serde_json::json!(["gi", "waiver"])));
}

/// To the schedule question, with the drop-in, its price and the mat fee settled.
fn to_schedule_question(call: &mut TextCall) {
    call.start();
    call.callee("atos jiu jitsu this is jen how can i help");
    call.callee("yeah we do");
    call.callee("twenty five dollars");
    let reply = call.callee("no there's no mat fee");
    assert!(reply.ends_with("Which days and times are your classes?"), "{reply}");
}

/// Tuning seed 338 (`gymcall personas generate --seed 300`, audio eval): a schedule misheard and
/// noted in passing ("monday at 7:30 PM; friday at 10:30 AM, got it"); the gym said "No, not
/// quite" and gave its classes again, one range heard with an end before its start ("Thursday
/// from 6 PM to 1030 AM"), and answered the open question in the same breath. The correction was
/// thrown away as implausible and the value said to be wrong was kept.
#[test]
fn a_value_said_to_be_wrong_is_never_kept_and_a_misheard_class_end_does_not_sink_the_rest() {
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    // (the transcript said "Monday and Friday from 930, still half 10 AM": a time lost after
    // "from", read back since tuning seed 631; said without the "from 930" it is noted in passing
    // as it was then)
    let reply = call.callee(
        "So, in the evening and half-half-seven, that's me. Also, a month in Monday and Friday, still half 10 AM.",
    );
    assert!(reply.ends_with("a certain rank or booking ahead?"), "{reply}");
    let wrong = call.field("class_schedule");
    let reply = call.callee(
        "No, not quite. Our class in our advanced class on Monday and Friday from 930 AM to 1030 AM, and be class on Thursday from 6 PM to 1030 AM. You just need to text us before hands.",
    );
    assert_ne!(call.field("class_schedule"), wrong, "the schedule said to be wrong is not kept: {reply}");
    // what was heard well is read back for a yes (the misheard end left out), not asked for again
    assert_eq!(
        reply,
        "Sorry about that. I have advanced on monday and friday from 9:30 AM to 10:30 AM; class on thursday at 6 PM. Did I get that right?"
    );
    let reply = call.callee("yes that's right");
    let (status, value) = call.field("class_schedule");
    assert_eq!(status, FieldStatus::Known, "{reply}");
    let starts: Vec<(String, String)> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["day"].as_str().unwrap().to_owned(), c["start"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        starts,
        [("monday", "09:30"), ("friday", "09:30"), ("thursday", "18:00")].map(|(d, s)| (d.to_owned(), s.to_owned()))
    );
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["booking_ahead"])), "{reply}");

    // the same correction with nothing in it the rules can read: the value said to be wrong is
    // forgotten and asked for again after the open question's answer is taken
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    call.callee(
        "So, in the evening and half-half-seven, that's me. Also, a month in Monday and Friday, still half 10 AM.",
    );
    let reply = call.callee("No, not quite. You just need to text us before hands.");
    assert_eq!(call.field("class_schedule").0, FieldStatus::Unknown, "{reply}");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["booking_ahead"])), "{reply}");
    let reply = call.callee("no that's all");
    assert!(reply.ends_with("Which days and times are your classes?"), "{reply}");
}

/// Tuning seed 313: a schedule misheard and noted in passing; the gym answered the next two
/// questions and then, to "Anything else a visitor should know?", said "No, not quite, our classes
/// are ..." with the timetable well heard. The agent said "Perfect. That's all I needed" and kept
/// the wrong schedule: a correction counted only right after the value was noted.
#[test]
fn a_later_correction_that_names_a_noted_field_and_gives_it_again_is_taken() {
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    let reply = call.callee("One then serve, they have time to have past Nm, Mat fee. They're open mat on Monday and Tuesday, 630 in the evening to 730. They're open mat on Wednesday at half 9am.");
    assert!(reply.ends_with("a certain rank or booking ahead?"), "{reply}");
    let wrong = call.field("class_schedule");
    let reply = call.callee("Okay, so you need to have some experience, and book online.");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    let reply = call.callee("No, not quite. Our class in our week last on Monday and Thursday from 9.30 am to 10.30 am, open mat on Monday and Tuesday from 6.30 pm to 7.30 pm, and open mat on Wednesday from 9.30 am to 11.30 am.");
    assert_ne!(call.field("class_schedule"), wrong, "{reply}");
    assert!(reply.starts_with("Sorry about that. I have "), "the correction is read back: {reply}");
    assert!(reply.contains("monday and thursday from 9:30 AM to 10:30 AM"), "{reply}");
    call.callee("yes that's right");
    assert_eq!(call.field("class_schedule").0, FieldStatus::Known);

    // tuning seed 327 (flite awb): the same right after the requirements were noted. The "no gi
    // class" in it is no correction of the requirements (they were read back as "gi" alone).
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let reply = call.callee(
        "Oh, you'll need to wear a clean gi, have some experience, blue belt and up and signed up the day before.",
    );
    assert_eq!(reply, "gi, rank and booking ahead, noted. Anything else a visitor should know?");
    let reply = call.callee("No, not quite. Our classes are no gi class on Tuesday and Friday from 6pm to 7pm. All levels class on Wednesday from 7am to 8.30am, and gi class on Wednesday and Thursday from 8pm to 10pm.");
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["gi", "rank", "booking_ahead"])), "{reply}");
    assert!(reply.starts_with("Sorry about that. I have no gi on tuesday and friday from 6 PM to 7 PM"), "{reply}");
    call.callee("yes that is right");
    let (_, schedule) = call.field("class_schedule");
    assert_eq!(schedule[0]["class_type"], "no-gi");

    // tuning seed 303: "not quite" heard as "that's why"; the "no" right after the requirements
    // were noted, with a timetable in it, is about the schedule all the same
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    // (heard "You not need to be at least a blue bell.", a nothing now read back, not noted: the
    // requirements are noted here from the answer as said)
    let reply = call.callee("You need to be at least a blue belt.");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    let requirements = call.field("requirements");
    let reply = call.callee("No, that's why our class in our fundamentals class on Monday, Tuesday and Thursday from 6 a.m. to 7.30 a.m. and open map on Monday and Wednesday from 1 p.m.");
    assert!(
        reply.starts_with("Sorry about that. I have fundamentals on monday, tuesday and thursday from 6 AM"),
        "{reply}"
    );
    assert_eq!(call.field("requirements"), requirements);

    // a "no" right after a value was noted that says part of the schedule again is no correction
    let mut call = TextCall::gym();
    to_requirements_question(&mut call);
    let kept = call.field("class_schedule");
    let reply = call.callee("you need to bring a gi");
    assert!(reply.ends_with("Anything else a visitor should know?"), "{reply}");
    call.callee("no, just that the saturday open mat is at noon");
    assert_eq!(call.field("class_schedule"), kept);

    // a "no" to "anything else?" that names a class but gives no timetable is an answer, not a
    // correction: the schedule stays
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    call.callee("monday and wednesday six to seven thirty pm gi and open mat saturday at noon");
    let kept = call.field("class_schedule");
    call.callee("no nothing special");
    call.callee("no not really, just come to class early");
    assert_eq!(call.field("class_schedule"), kept);
}

/// Tuning seed 343 (flite slt): "On Wednesday and Friday there's a kids class between six p m
/// and seven thirty, and Fridays, at six thirty a m, that's open mat" heard as "On Wendy and
/// Friday there the kids class between 6 p.m. and 7 30 and Friday at 6 30 a.m. that's open
/// that." The words gave a well-formed schedule with Wednesday lost, and it was acknowledged in
/// passing. The recogniser was unsure of the words: what they gave is read back for a yes.
#[test]
fn values_heard_in_a_transcript_the_recogniser_was_unsure_of_are_read_back() {
    let heard =
        "On Wendy and Friday there the kids class between 6 p.m. and 7 30 and Friday at 6 30 a.m. that's open that.";
    let mut playbook = gym_playbook();
    playbook.confirm_heard_below = 0.6;
    let gym = || TextCall::new(playbook.clone(), &[("gym_name", "Atos HQ")]);
    let unsure = 0.5;
    let mut call = gym();
    to_schedule_question(&mut call);
    let reply = call.callee_heard(heard, Some(unsure));
    assert!(reply.starts_with("I have kids on friday from 6 PM to 7:30 PM"), "{reply}");
    assert!(reply.ends_with("Did I get that right?"), "{reply}");
    let reply = call.callee("no not quite we have kids class on wednesday and friday from six p m to seven thirty p m and open mat on friday at six thirty a m");
    assert!(reply.starts_with("Sorry about that. I have kids on wednesday and friday"), "{reply}");

    // the same words heard with confidence (or from a recogniser that gives none): in passing
    for confidence in [Some(0.7), None] {
        let mut call = gym();
        to_schedule_question(&mut call);
        let reply = call.callee_heard(heard, confidence);
        assert!(reply.contains(", got it. Does a visitor need anything"), "{reply}");
    }

    // off by default (`confirm_heard_below: 0`): the same unsure words are noted in passing
    let mut bare = gym_playbook();
    bare.confirm_heard_below = 0.0;
    bare.fields.iter_mut().for_each(|field| field.confirm_heard_below = None);
    let mut call = TextCall::new(bare, &[("gym_name", "Atos HQ")]);
    to_schedule_question(&mut call);
    let reply = call.callee_heard(heard, Some(unsure));
    assert!(reply.contains(", got it. Does a visitor need anything"), "{reply}");

    // a field's own threshold: the gym playbook reads back a schedule heard in doubted words
    // (`class_schedule.confirm_heard_below: 0.6`) and notes a price heard with the same doubt
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    let reply = call.callee_heard(heard, Some(unsure));
    assert!(reply.starts_with("I have kids on friday from 6 PM to 7:30 PM"), "{reply}");
    let mut call = TextCall::gym();
    call.start();
    call.callee("atos jiu jitsu this is jen how can i help");
    call.callee("yeah we do");
    let reply = call.callee_heard("twenty five dollars", Some(unsure));
    assert!(reply.starts_with("25 dollars for a drop-in, got it."), "{reply}");

    // a value already known is not put in doubt by a later unsure transcript
    let mut call = gym();
    to_requirements_question(&mut call);
    let known = call.field("drop_in_price");
    let reply = call.callee_heard("you need a gi and the drop in is twenty five", Some(unsure));
    assert_eq!(call.field("drop_in_price"), known, "{reply}");
    assert!(reply.starts_with("So for requirements: gi. Is that right?"), "{reply}");
}

/// A gym call whose schedule was read back and corrected twice (the last telling: open mat on
/// Monday and Friday at 7 pm), up to the question which days have classes, after the others.
fn to_day_by_day() -> TextCall {
    let mut call = TextCall::new(by_day_playbook(), &[("gym_name", "Atos HQ")]);
    to_schedule_question(&mut call);
    call.callee_heard(FIRST_TELLING, Some(0.4));
    call.callee("no that's why we have open mat on monday at 6 pm");
    call.callee("no not quite we have open mat on monday and friday at 7 pm");
    call.callee("just sign a waiver");
    let reply = call.callee("parking is out back");
    assert!(reply.ends_with("Which days of the week do you have classes?"), "{reply}");
    call
}

/// The gym playbook with `by_day` wording on its schedule (off in the shipped one).
fn by_day_playbook() -> Playbook {
    let mut playbook = gym_playbook();
    playbook.fields.iter_mut().find(|f| f.name == "class_schedule").unwrap().by_day = Some(playbook::ByDay {
        days: "Which days of the week do you have classes?".into(),
        day: "What times are your classes on {day}?".into(),
    });
    playbook
}

/// Tuning seed 303's first telling, as heard.
const FIRST_TELLING: &str = "Let me see, Monday and Wednesday, we've got open map from winter, well in the afternoon, although Monday, two days and Thursday, six am to have them and have fundamentals.";

/// Tuning seeds 303, 310, 313 (audio eval): a schedule read back twice and corrected twice,
/// each telling heard with a slip of its own ("Monday, two days, Thursday" for Monday, Tuesday
/// and Thursday); the third hearing was kept unconfirmed. Now the schedule is asked one day at a
/// time (short answers) once the other questions are asked, days heard in the last telling are
/// asked about too, and the classes heard are read back once.
#[test]
fn a_schedule_corrected_twice_is_asked_one_day_at_a_time() {
    let mut call = TextCall::new(by_day_playbook(), &[("gym_name", "Atos HQ")]);
    to_schedule_question(&mut call);
    let reply = call.callee_heard(FIRST_TELLING, Some(0.4));
    assert!(reply.ends_with("Did I get that right?"), "{reply}");
    let reply =
        call.callee("no that's why we have fundamentals class on monday two days thursday from 6 am to 7.30 am");
    assert!(reply.starts_with("Sorry about that. I have"), "{reply}");
    // the last telling stands while the other questions are asked first
    let reply = call.callee("no that's why we have fundamentals class on monday to monday from 6 am to 730 am");
    assert!(reply.starts_with("Okay, thanks. Does a visitor need anything"), "{reply}");
    assert_eq!(call.callee("just sign a waiver"), "waiver, noted. Anything else a visitor should know?");
    let reply = call.callee("parking is out back");
    assert!(
        reply.ends_with(
            "One more thing: the line wasn't great earlier. Let's go day by day. Which days of the week do you have classes?"
        ),
        "{reply}"
    );
    // the answer's days, and the last telling's (Monday)
    let reply = call.callee("tuesday and thursday");
    assert_eq!(reply, "Thanks. What times are your classes on Monday?");
    let reply =
        call.callee("on monday there's fundamentals from six to seven thirty a m and open mat from noon to one");
    assert_eq!(reply, "Okay. What times are your classes on Tuesday?");
    // a day named wrong by the recogniser is still the day asked about
    let reply = call.callee("on thursday there's fundamentals from six to seven thirty a m");
    assert_eq!(reply, "Okay. What times are your classes on Thursday?");
    // an answer with nothing readable is asked again once
    let reply = call.callee("the thing is");
    assert_eq!(reply, "Sorry, I didn't catch that. What times are your classes on Thursday?");
    let reply = call.callee("fundamentals six to seven thirty in the morning");
    assert!(reply.starts_with("Thanks. I have fundamentals on monday"), "{reply}");
    assert!(reply.ends_with("Did I get that right?"), "{reply}");
    let starts: Vec<(String, String)> = call
        .field("class_schedule")
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["day"].as_str().unwrap().to_owned(), c["start"].as_str().unwrap().to_owned()))
        .collect();
    let want = [("monday", "06:00"), ("monday", "12:00"), ("tuesday", "06:00"), ("thursday", "06:00")];
    assert_eq!(starts, want.map(|(d, s)| (d.to_owned(), s.to_owned())), "{reply}");
    let reply = call.callee("yes that's right");
    assert!(reply.ends_with("have a great day!"), "{reply}");
    assert_eq!(call.field("class_schedule").0, FieldStatus::Known);
    assert_eq!(call.field("requirements"), (FieldStatus::Known, json!(["waiver"])));

    // a day with no classes, and a hold that ends the day-by-day questions
    let mut call = to_day_by_day();
    let reply = call.callee("monday wednesday and friday");
    assert_eq!(reply, "Thanks. What times are your classes on Monday?");
    assert_eq!(call.callee("nothing on monday sorry"), "Okay. What times are your classes on Wednesday?");
    let reply = call.callee("hold on one second");
    assert_eq!(reply, "Sure, take your time.");
    assert!(call.policy.state().by_day.is_none());

    // the days' classes read back and said not to be right: they stand (less sure), not the
    // whole timetable heard once more (tuning seed 303: right by day, its end times heard as
    // "6 AM to 7 AM" and corrected; the correction's hearing lost Thursday)
    let mut call = to_day_by_day();
    call.callee("wednesday and friday");
    // Monday, from the last telling
    call.callee("no classes on monday");
    call.callee("on wednesday there's open mat from noon to one");
    let reply = call.callee("on friday there's open mat from seven to eight pm");
    assert!(reply.ends_with("Did I get that right?"), "{reply}");
    let reply = call.callee("no not quite we have open mat on wednesday from noon to 1:30 pm");
    assert!(reply.ends_with("have a great day!"), "{reply}");
    let (status, value) = call.field("class_schedule");
    assert_eq!(status, FieldStatus::Known);
    let starts: Vec<&str> = value.as_array().unwrap().iter().map(|c| c["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["12:00", "19:00"], "{value}");
    assert!(call.policy.state().notes.iter().any(|n| n.contains("kept what the days gave")));

    // a playbook without `by_day` (the shipped gym playbook) keeps the last hearing, as before
    let mut call = TextCall::gym();
    to_schedule_question(&mut call);
    call.callee_heard(FIRST_TELLING, Some(0.4));
    call.callee("no that's why we have open mat on monday at 6 pm");
    let reply = call.callee("no not quite we have open mat on monday and friday at 7 pm");
    assert!(reply.starts_with("Okay, thanks. Does a visitor need"), "{reply}");
    call.callee("just sign a waiver");
    assert!(call.callee("parking is out back").ends_with("have a great day!"));
}

/// Tuning seed 305 (espeak-ng en-us+m3): the mat fee corrected ("No, sorry, the mat fee is five
/// pounds") and the schedule given right after, before the mat fee was read back; the schedule,
/// heard "on Saturday there are a fundamental class from 930 till 11am and be in Thursday and
/// Friday from 6th till half past Heaven", was kept unsure and never read back: the agent
/// confirmed the mat fee and went on to the requirements with Thursday and Friday at 6 PM
/// (the gym's classes: Saturday 9:30 AM, Thursday and Friday 6 AM).
#[test]
fn an_unsure_value_given_while_another_is_read_back_is_read_back_too() {
    let mut call = TextCall::gym();
    call.start();
    call.callee("Yes, we take drop-ins.");
    call.callee("15 pounds, and there's a nine pounds mat fee.");
    let reply = call.callee("No, sorry, the mat fee is 5 pounds.");
    assert!(reply.contains("the mat fee is 5 pounds, is that right?"), "{reply}");
    // the schedule is heard while the mat fee is read back: it is read back in its turn
    let reply = call.callee(
        "Okay, so on Saturday there are a fundamental class from 930 till 11am and be in Thursday and Friday from 6th till half past Heaven.",
    );
    assert!(reply.contains("Did I get that right?") && reply.contains("thursday"), "{reply}");
    let reply = call.callee("No, not quite. Gi is Thursdays and Fridays from six a m to seven thirty a m.");
    assert!(reply.contains("6 AM"), "{reply}");
}

/// Tuning seed 330 (espeak-ng en-gb-x-rp+f1): a hold misheard ("Can you go on a fake?") and two
/// answers not understood used up both asks of the drop-in price; the rest of the survey went
/// well and the call closed at 131 s of 300 with the price unknown. Given up after two tries, a
/// required field is asked once more before the close when there is time, and only once.
/// A gym call where the drop-in price was given up after two answers not understood and every
/// other question was answered, up to the agent's reply to the last answer.
fn to_the_end_with_the_price_given_up(call: &mut TextCall) -> String {
    call.start();
    call.callee("Riverbend BJJ, how can I help?");
    call.callee("yes we take drop ins");
    call.callee("Thank for only one minute.");
    let reply = call.callee("Let me see, on course, we get minute and all in a time.");
    assert!(reply.contains("Is there a mat fee"), "{reply}");
    call.callee("20 dollars for the mat fee");
    call.callee("monday at 7pm and thursday at 7pm");
    call.callee("yes that's right");
    call.callee("you need a gi");
    call.callee("no that's it")
}

#[test]
fn a_field_given_up_after_two_tries_is_asked_once_more_before_the_close() {
    let mut call = TextCall::gym();
    let reply = to_the_end_with_the_price_given_up(&mut call);
    assert!(reply.contains("One more thing") && reply.contains("pay for one class"), "{reply}");
    assert!(!call.hung_up());
    let reply = call.callee("it's twenty five dollars");
    assert!(reply.contains("have a great day"), "{reply}");
    assert_eq!(call.field("drop_in_price"), (FieldStatus::Known, json!({"amount": 25.0, "currency": "USD"})));
    // not understood again: the call closes
    let mut call = TextCall::gym();
    to_the_end_with_the_price_given_up(&mut call);
    let reply = call.callee("on course we get minute");
    assert!(reply.contains("have a great day"), "{reply}");
    assert_eq!(call.field("drop_in_price").0, FieldStatus::Unknown);
}

/// A read-back is no context for the recogniser (the correction it gets is heard without it);
/// a question is. On the read-back replies of tuning runs (seeds 580-619 and 540-579,
/// `context-bench`), Whisper's WER was 40.2% and 40.3% with the read-back as its previous text
/// against 35.9% and 28.8% without.
#[test]
fn a_read_back_is_said_as_no_context_for_the_answer() {
    let context_of_last =
        |call: &TextCall| match call.commands.iter().rev().find(|c| matches!(c, SayCommand::Speak { .. })) {
            Some(SayCommand::Speak { context, text, .. }) => (*context, text.clone()),
            _ => panic!("nothing said"),
        };
    let mut call = TextCall::gym_explicit();
    to_price_question(&mut call);
    assert_eq!(context_of_last(&call).0, true, "a question is the answer's context");
    assert_eq!(call.callee("twenty dollars"), "So a drop-in is 20 dollars, is that right?");
    assert_eq!(context_of_last(&call), (false, "So a drop-in is 20 dollars, is that right?".to_owned()));
    let reply = call.callee("yes");
    assert!(reply.contains("mat fee"), "{reply}");
    assert!(context_of_last(&call).0, "the next question is: {reply}");
}
