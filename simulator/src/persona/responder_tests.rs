//! The simulated callee's replies, turn by turn.

use super::*;
use crate::persona::said::numbers_in;

fn responder(yaml: &str) -> Responder {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let persona = Persona::from_yaml("p.yaml", yaml, &playbooks).unwrap();
    let playbook = playbooks.get(&persona.playbook).unwrap().clone();
    Responder::new(persona, playbook)
}

const GYM: &str = r#"
name: test
gym_name: Granite Grappling
greeting: Granite Grappling, Kim speaking.
facts:
  drop_in_offered: true
  drop_in_price: 25
  mat_fee: 0
  class_schedule:
    - { day: monday, start: "18:00", end: "19:30", class_type: gi }
    - { day: wednesday, start: "18:00", end: "19:30", class_type: gi }
    - { day: saturday, start: "10:00", end: "12:00", class_type: open mat }
  requirements: [gi, waiver]
"#;

fn said(actions: &[PersonaAction]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            PersonaAction::Say(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn answers_questions_worded_differently_from_the_playbook() {
    let mut r = responder(GYM);
    assert_eq!(said(&r.answer()), "Granite Grappling, Kim speaking.");
    assert!(said(&r.on_agent_said("hi this is sam an automated assistant calling on behalf of open mat finder"))
        .contains("go ahead"));
    assert_eq!(said(&r.on_agent_said("how much does a drop in class cost")), "It's twenty five dollars.");
    assert_eq!(said(&r.on_agent_said("and is there a mat fee on top of that")), "No, there's no charge for that.");
    let schedule = said(&r.on_agent_said("what does your class schedule look like during the week"));
    assert!(schedule.contains("gi class on monday and wednesday from six p m to seven thirty p m"), "{schedule}");
    assert!(schedule.contains("open mat on saturday from ten a m to noon"), "{schedule}");
    let needs = said(&r.on_agent_said("does a visitor need to bring anything like a gi or sign a waiver"));
    assert_eq!(needs, "You'll need gi and waiver.");
    assert!(said(&r.on_agent_said("that's everything thanks so much have a great day")).contains("Bye"));
    assert!(r.has_ended());
}

/// The demo's CI failure (2026-12-06): the callee answered the mat fee, the agent noted "free for a
/// drop in"; a person objects to a wrong price whatever they said last.
#[test]
fn a_wrong_value_noted_for_another_field_than_the_one_just_answered_is_corrected() {
    let mut r = responder(GYM);
    r.answer();
    assert_eq!(said(&r.on_agent_said("and is there a mat fee on top of that")), "No, there's no charge for that.");
    let reply = said(&r.on_agent_said("free for a drop in got it which days and times are your classes"));
    assert!(reply.starts_with("No, sorry, the drop in is twenty five dollars."), "{reply}");
    // a right one is let be
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("and is there a mat fee on top of that");
    let reply =
        said(&r.on_agent_said("twenty five dollars for a drop in got it which days and times are your classes"));
    assert!(!reply.contains("No, sorry"), "{reply}");
}

/// The agent's follow-up to a list answer it understood in part: the list is asked about again,
/// not the "anything else a visitor should know" topic, even when the recogniser lost the options.
#[test]
fn a_follow_up_about_more_requirements_is_answered_with_the_requirements() {
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("does a visitor need anything like a gi a waiver a certain rank or booking ahead");
    let more =
        said(&r.on_agent_said("gi noted does a visitor need anything else like wave or rack or book in the head"));
    assert!(more.contains("waiver"), "{more}");
}

/// The agent's yes/no question about one requirement alone gets a yes or a no, not the whole
/// list again (which the recogniser garbles the same way twice).
#[test]
fn a_question_about_one_option_alone_gets_a_yes_or_a_no() {
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("does a visitor need anything like a gi a waiver a certain rank or booking ahead");
    assert_eq!(said(&r.on_agent_said("gi noted does a visitor need to sign a waiver")), "Yes, they do.");
    assert_eq!(said(&r.on_agent_said("okay does a visitor need to book ahead")), "No, they don't.");
    // its "does" heard as "the", as the ear often does
    assert_eq!(said(&r.on_agent_said("okay the visitor need to book ahead")), "No, they don't.");
    // several options named: the list, as before
    let more = said(&r.on_agent_said("does a visitor need anything else like waiver or booking ahead"));
    assert!(more.contains("waiver"), "{more}");
}

#[test]
fn confirms_right_read_backs_and_corrects_wrong_ones() {
    let mut r = responder(GYM);
    r.answer();
    assert_eq!(said(&r.on_agent_said("so a drop in is twenty five dollars is that right")), "Yes, that's right.");
    assert_eq!(
        said(&r.on_agent_said("so a drop in is thirty five dollars is that right")),
        "No, it's twenty five dollars."
    );
    // tuning seed 364: a right price read back again ("sorry, just to be sure: ...") with a word
    // the ear took for a class was answered with the schedule, and the agent dropped the price
    let again =
        said(&r.on_agent_said("sorry just to be sure so a drop in is twenty five dollars a class is that right"));
    assert!(again.starts_with("Yes, that's right.") && !again.contains("not quite"), "{again}");
    // tuning seeds 312, 336: a re-ask heard with "sorry" cut to "so" is a question, not a read-back
    // (it was answered "No, not quite." and the whole timetable)
    let reask = said(&r.on_agent_said(
        "so i didn't quite get that what would a visitor pay for one class for example twenty dollars or free",
    ));
    assert_eq!(reask, "It's twenty five dollars.");
    // tuning seed 305: a schedule read-back whose cue was heard in part ("to day get that right")
    // was corrected and then answered as a schedule question too, the timetable said twice
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said("i have gi class on monday and wednesday at six p m to day get that right"));
    assert!(reply.starts_with("No, not quite."), "{reply}");
    assert_eq!(reply.to_lowercase().matches("monday").count(), 1, "{reply}");
}

/// Tuning seed 310 (ev300c): the mat fee, twenty euros, was read back as "20 dollars" and the
/// callee said "Yes, that's right." A person whose prices are in euros says no.
#[test]
fn a_price_read_back_in_another_currency_is_corrected() {
    let euro = GYM.replace("facts:", "terms: { currency: EUR }\nfacts:");
    let mut r = responder(&euro);
    r.answer();
    assert_eq!(
        said(&r.on_agent_said("so a drop in is twenty five dollars is that right")),
        "No, it's twenty five euros."
    );
    assert_eq!(said(&r.on_agent_said("so a drop in is twenty five euros is that right")), "Yes, that's right.");
    // the currency word lost to the ear: nothing to object to
    assert_eq!(said(&r.on_agent_said("so a drop in is twenty five is that right")), "Yes, that's right.");
    // noted in passing with the wrong currency: corrected too
    r.on_agent_said("how much is a drop in class");
    let reply = said(&r.on_agent_said("twenty five dollars for a drop in got it is there a mat fee on top of that"));
    assert!(reply.starts_with("No, sorry, the drop in is twenty five euros."), "{reply}");
}

#[test]
fn values_noted_in_passing_are_corrected_only_when_wrong() {
    let mut r = responder(GYM);
    r.answer();
    assert_eq!(said(&r.on_agent_said("how much is a drop in class")), "It's twenty five dollars.");
    // right: no comment, just the answer to the next question
    assert_eq!(
        said(&r.on_agent_said("twenty five dollars for a drop in got it is there a mat fee on top of that")),
        "No, there's no charge for that."
    );
    // wrong: a correction naming what it was about, then the answer
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("how much is a drop in class");
    assert_eq!(
        said(&r.on_agent_said("thirty dollars for a drop in got it is there a mat fee on top of that")),
        "No, sorry, the drop in is twenty five dollars. No, there's no charge for that."
    );
    // two answers noted together: each checked where it is named
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("how much is a drop in and is there a mat fee");
    let reply = said(&r.on_agent_said(
        "twenty five dollars for a drop in got it mat fee free got it which days and times are your classes",
    ));
    assert!(reply.starts_with("We have gi class"), "{reply}");
    // a schedule noted at the wrong hour is corrected; one with a word misheard is not
    let schedule_gym = GYM.replace("18:00", "12:00").replace("19:30", "13:00");
    let mut r = responder(&schedule_gym);
    r.answer();
    r.on_agent_said("which days and times are your classes");
    let wrong =
        said(&r.on_agent_said("monday and wednesday at one pm saturday at eleven am got it does a visitor need"));
    assert!(wrong.starts_with("No, not quite, our classes are"), "{wrong}");
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("which days and times are your classes");
    let misheard =
        said(&r.on_agent_said("monday and wednesday at six pm hundred thirty at ten am got it does a visitor need"));
    assert!(!misheard.contains("not quite"), "{misheard}");
    // a plain "got it" before a question is not a value said back
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("how much is a drop in class");
    assert_eq!(said(&r.on_agent_said("got it which days and times are your classes")).matches("No,").count(), 0);
}

#[test]
fn a_question_about_two_things_gets_both_answers() {
    let mut r = responder(GYM);
    r.answer();
    assert_eq!(
        said(&r.on_agent_said("how much is a drop in and is there a mat fee")),
        "It's twenty five dollars. And no mat fee."
    );
    // both were answered: the schedule question is not mistaken for either
    let schedule = said(&r.on_agent_said("which days and times are your classes"));
    assert!(schedule.starts_with("We have gi class on monday"), "{schedule}");
}

#[test]
fn behaviours_hold_transfer_refuse_ivr_voicemail() {
    let mut r = responder(&format!("{GYM}behaviour:\n  hold: true\n  refuse: [drop_in_price]\n"));
    r.answer();
    let first = r.on_agent_said("how much is a drop in class");
    assert!(first.contains(&PersonaAction::Pause { ms: 3000 }), "{first:?}");
    assert!(said(&r.on_agent_said("how much is a drop in class")).contains("can't give that out"));
    // a price it never gave, said back in passing, is objected to without revealing it
    let objection = said(&r.on_agent_said("forty dollars for a drop in got it is there a mat fee on top of that"));
    assert!(objection.starts_with("No, sorry, I can't give out the drop in over the phone."), "{objection}");
    assert!(!objection.contains("forty") && !objection.contains("twenty five"), "{objection}");

    let mut r = responder(&format!("{GYM}behaviour:\n  ivr: {{ menu: 'Press one for the front desk', digit: '1' }}\n"));
    assert_eq!(said(&r.answer()), "Press one for the front desk");
    assert!(r.waiting_for_digit());
    assert!(said(&r.on_digit('2')).contains("not a valid option"));
    assert_eq!(said(&r.on_digit('1')), "Granite Grappling, Kim speaking.");

    let mut r = responder(&format!("{GYM}behaviour:\n  voicemail: You have reached Granite. Leave a message.\n"));
    let greeting = r.answer();
    assert!(greeting.contains(&PersonaAction::Beep));
    assert!(r.on_agent_said("how much is a drop in").is_empty());
}

#[test]
fn schedule_read_backs_missing_a_class_are_corrected() {
    let mut r = responder(GYM);
    r.answer();
    let right = said(&r.on_agent_said("i have gi on monday and wednesday from six p m to seven thirty p m and open mat on saturday from ten a m to noon did i get that right"));
    assert_eq!(right, "Yes, that's right.");
    let wrong = said(&r.on_agent_said("i have gi on monday at seven p m did i get that right"));
    assert!(wrong.starts_with("No, not quite. We have gi class on monday and wednesday"), "{wrong}");
    // tuning seeds 303, 340, 371: a read-back naming the classes and days was also taken for the
    // schedule question, and the callee said its whole schedule again after "yes, that's right"
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("which days and times are your classes");
    let right = said(&r.on_agent_said(
        "thanks i have class on monday tuesday and thursday from 6 am to 7 am open mat on monday and wednesday from noon to 1 pm did i get that right?",
    ));
    assert_eq!(right.matches("We have").count(), 1, "{right}");
    // what follows the read-back's question is still answered
    let both = said(&r.on_agent_said("so a drop in is twenty five dollars is that right and is there a mat fee"));
    assert_eq!(both, "Yes, that's right. No, there's no charge for that.");
    // the cue found with the ear's question mark after it
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("which days and times are your classes");
    let right = said(&r.on_agent_said(
        "i have class on monday tuesday and thursday from 6 am to 7 am and open mat on monday and wednesday is that right?",
    ));
    assert_eq!(right.matches("We have").count(), 1, "{right}");
}

#[test]
fn a_class_read_back_in_the_wrong_half_of_the_day_is_corrected() {
    // a person told "6 PM" for a 6 am class says so (the text eval's seeds 400 and 409 had morning
    // classes noted as evening ones and let through)
    let mut r = responder(&GYM.replace("start: \"10:00\", end: \"12:00\"", "start: \"09:30\", end: \"11:00\""));
    r.answer();
    let wrong = said(&r.on_agent_said(
        "i have gi on monday and wednesday at 6 PM and open mat on saturday at 9:30 PM. Did I get that right?",
    ));
    assert!(wrong.starts_with("No, not quite."), "{wrong}");
    let right = said(&r.on_agent_said(
        "i have gi on monday and wednesday at 6 PM and open mat on saturday at 9:30 AM. Did I get that right?",
    ));
    assert_eq!(right, "Yes, that's right.");
    // no am or pm heard: nothing to object to
    let unsaid = said(&r.on_agent_said(
        "i have gi on monday and wednesday at six and open mat on saturday at nine thirty did i get that right",
    ));
    assert_eq!(unsaid, "Yes, that's right.");
    // the same hour in both halves, each on its own days (tuning seed 334: "no gi on wednesday
    // and friday from 6 PM to 8 PM; advanced on monday and friday from 6:30 AM" was let through
    // for a 6 am no-gi class)
    let mut r = responder(&GYM.replace(
        "start: \"18:00\", end: \"19:30\", class_type: gi }\n    - { day: wednesday",
        "start: \"06:00\", end: \"07:30\", class_type: gi }\n    - { day: wednesday",
    ));
    r.answer();
    let wrong = said(&r.on_agent_said("i have gi on monday and wednesday from 6 PM to 7:30 PM; open mat on saturday from 10 AM to noon. Did I get that right?"));
    assert!(wrong.starts_with("No, not quite."), "{wrong}");
    let right = said(&r.on_agent_said("i have gi on monday from 6 AM to 7:30 AM; gi on wednesday from 6 PM to 7:30 PM; open mat on saturday from 10 AM to noon. Did I get that right?"));
    assert_eq!(right, "Yes, that's right.");
    // acknowledged in passing in the wrong half: corrected too
    let mut r = responder(&GYM.replace("start: \"10:00\", end: \"12:00\"", "start: \"09:30\", end: \"11:00\""));
    r.answer();
    r.on_agent_said("which days and times are your classes");
    let noted = said(
        &r.on_agent_said("monday and wednesday at 6 PM; saturday at 9:30 PM, got it. Does a visitor need anything?"),
    );
    assert!(noted.starts_with("No, not quite, our classes are"), "{noted}");
}

#[test]
fn acknowledgements_get_no_reply_and_menus_repeat() {
    let mut r = responder(GYM);
    r.answer();
    assert!(r.on_agent_said("sure take your time").is_empty());
    assert!(r.on_agent_said("great thanks").is_empty());
    assert!(said(&r.on_agent_said("what was the thing about the blah")).contains("didn't catch"));
    // its own ear confuses fifteen and fifty; a person would not
    let mut r = responder(&GYM.replace("drop_in_price: 25", "drop_in_price: 15"));
    r.answer();
    assert_eq!(said(&r.on_agent_said("so a drop in is fifty dollars is that right")), "Yes, that's right.");
    assert_eq!(said(&r.on_agent_said("so a drop in is twenty dollars is that right")), "No, it's fifteen dollars.");

    let mut r = responder(&format!("{GYM}behaviour:\n  ivr: {{ menu: 'Press one for the front desk', digit: '1' }}\n"));
    r.answer();
    assert_eq!(said(&r.on_agent_said("hi this is sam an automated assistant")), "Press one for the front desk");
}

#[test]
fn spoken_numbers_are_read() {
    assert_eq!(numbers_in("twenty five dollars"), vec![25.0]);
    assert_eq!(numbers_in("it's $30 or one hundred twenty a month"), vec![30.0, 120.0]);
    assert_eq!(numbers_in("forty and five"), vec![40.0, 5.0]);
}

#[test]
fn answers_the_question_asked_again_in_its_other_wording() {
    // the agent's re-ask ("Can someone who trains at another gym come and join one of your
    // classes?") got no answer at all from generated personas: 9 s of silence, then
    // "are you still there?" (gymcall eval, tuning seeds 100 and 111)
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said(
        "sorry i didn't quite get that can someone who trains at another gym come and join one of your classes a yes or no is fine",
    ));
    assert!(!reply.is_empty() && !reply.to_lowercase().contains("say again"), "{reply:?}");
    let reply = said(&r.on_agent_said("sorry i didn't quite get that what would a visitor pay for one class"));
    assert!(reply.contains("twenty five"), "{reply:?}");
}

#[test]
fn a_schedule_asked_one_day_at_a_time_is_answered_in_parts() {
    let mut r = responder(GYM);
    r.answer();
    r.on_agent_said("which days and times are your classes");
    // the agent's words as the persona's ear gives them (normalised, no punctuation)
    assert_eq!(
        said(&r.on_agent_said(
            "sorry the line isn't great let's go day by day which days of the week do you have classes"
        )),
        "We have classes on monday, wednesday and saturday."
    );
    assert_eq!(
        said(&r.on_agent_said("thanks what times are your classes on monday")),
        "On monday there's gi class from six p m to seven thirty p m."
    );
    assert_eq!(
        said(&r.on_agent_said("what times are your classes on saturday")),
        "On saturday there's open mat from ten a m to noon."
    );
    assert_eq!(said(&r.on_agent_said("what times are your classes on tuesday")), "Nothing on tuesday, sorry.");
    // the whole timetable is still what the whole question gets
    let mut r = responder(GYM);
    r.answer();
    let whole = said(&r.on_agent_said("which days and times are your classes"));
    assert!(whole.contains("monday and wednesday") && whole.contains("saturday"), "{whole}");
}

/// Text eval, tuning seed 631: "So a drop-in is 37.50 dollars, is that right?" (heard "so a drop
/// in is thirty seven dollars fifty ...") was answered "No, it's thirty seven fifty." for a
/// price of 37.50: the ear took the cents for another number.
#[test]
fn a_price_with_cents_read_back_right_is_agreed_to() {
    let cents = GYM.replace("drop_in_price: 25", "drop_in_price: 37.5");
    assert_ne!(cents, GYM, "the persona's price is 37.50");
    let mut r = responder(&cents);
    r.answer();
    for right in
        ["so a drop in is thirty seven dollars fifty is that right", "so a drop in is thirty seven fifty is that right"]
    {
        assert_eq!(said(&r.on_agent_said(right)), "Yes, that's right.", "{right}");
    }
    let reply = said(&r.on_agent_said("so a drop in is thirty seven dollars is that right"));
    assert!(reply.starts_with("No"), "{reply}");
}

/// Tuning seeds 522, 525 (second run): the agent's last line, heard "nope drop in what did you
/// want that's all i needed thanks so much have a great day", was answered with the drop-in
/// price: the call ended without the callee's goodbye.
#[test]
fn a_line_that_ends_with_a_farewell_gets_a_goodbye() {
    let mut r = responder(GYM);
    r.answer();
    let actions = r.on_agent_said("nope drop in what did you want that's all i needed thanks so much have a great day");
    assert!(actions.iter().any(|a| matches!(a, PersonaAction::Hangup)), "{actions:?}");
    // a question after a farewell-like word is still a question
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said("bye the way how much is a drop in class"));
    assert_eq!(reply, "It's twenty five dollars.");
    // and a question the ear ended with a "bye" (tuning seed 530, third run: the callee said
    // goodbye to the drop-in question and hung up)
    let mut r = responder(GYM);
    r.answer();
    let actions = r.on_agent_said(
        "sorry what did require get that can someone who trains at another gym come and join one of your classes yes or no with bye",
    );
    assert!(!actions.iter().any(|a| matches!(a, PersonaAction::Hangup)), "{actions:?}");
}

/// Tuning seed 556: "You just need to fill out a waiver." heard "You not need to fill out a
/// waiver.", read back "So for requirements: nothing special. Is that right?", was agreed to
/// (the ear made "nothing schedule" of it and lists were never checked): a person who needs a
/// waiver objects to "nothing".
#[test]
fn a_list_read_back_clearly_wrong_is_corrected() {
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said("so for requirements nothing schedule is that right"));
    assert!(reply.starts_with("No") && reply.contains("waiver"), "{reply}");
    // an item in place of the ones needed
    let reply = said(&r.on_agent_said("so for requirements booking ahead is that right"));
    assert!(reply.starts_with("No"), "{reply}");
    // right, or with an item the ear dropped: agreed
    for right in ["so for requirements gi and waiver is that right", "so for requirements a gi is that right"] {
        assert_eq!(said(&r.on_agent_said(right)), "Yes, that's right.", "{right}");
    }
    // nothing needed: an item said back is objected to, "nothing" agreed to
    let none = GYM.replace("requirements: [gi, waiver]", "requirements: []");
    assert_ne!(none, GYM);
    let mut r = responder(&none);
    r.answer();
    let reply = said(&r.on_agent_said("so for requirements a waiver is that right"));
    assert!(reply.starts_with("No") && reply.contains("nothing"), "{reply}");
    assert_eq!(said(&r.on_agent_said("so for requirements nothing special is that right")), "Yes, that's right.");
}

/// Tuning seed 566: "I have class on friday from 8 PM to 9 PM; class on wednesday at 5:30 PM;
/// class on wednesday at 7 PM; ..." for one Wednesday class from 5:30 to 7 was agreed to: every
/// class's day and hour was said, and a class that does not exist was never checked.
#[test]
fn a_schedule_read_back_with_a_class_that_does_not_exist_is_corrected() {
    let mut r = responder(GYM);
    r.answer();
    let extra =
        "i have class on monday and wednesday from six p m to seven thirty p m class on monday at seven thirty p m \
                 and open mat on saturday from ten a m to twelve p m did i get that right";
    let reply = said(&r.on_agent_said(extra));
    assert!(reply.starts_with("No, not quite"), "{reply}");
    let right = "i have class on monday and wednesday from six p m to seven thirty p m \
                 and open mat on saturday from ten a m to twelve p m did i get that right";
    assert_eq!(said(&r.on_agent_said(right)), "Yes, that's right.");
}

/// Tuning seed 552 (second run): "One more thing before I go, I didn't catch it earlier. What
/// should a visitor bring or do before their first class? ..." heard with "right" in its first
/// words was answered as a read-back of the schedule, not with the requirements.
#[test]
fn a_question_with_right_in_its_first_words_is_no_read_back() {
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said(
        "okay one more the before right open at eight at two per we're what should a visitor bring or do before their first class for get all bring a gi or sign a waiver",
    ));
    assert!(!reply.starts_with("No, not quite"), "{reply}");
    assert!(reply.contains("gi") || reply.contains("waiver"), "{reply}");
    // a read-back that ends with "right" is still one
    let reply = said(&r.on_agent_said("so a drop in is twenty five dollars right"));
    assert_eq!(reply, "Yes, that's right.");
}

/// Tuning seeds 545, 553 (ev540c): "nothing special, noted." heard "nothing schedule noted" was
/// answered with the whole timetable as a correction; with the closing line after it, in place
/// of the goodbye.
#[test]
fn a_word_that_names_the_schedule_is_no_schedule_said_back() {
    let mut r = responder(GYM);
    r.answer();
    let actions = r.on_agent_said("nothing schedule noted that's all i needed thanks so much have a great day");
    assert!(actions.iter().any(|a| matches!(a, PersonaAction::Hangup)), "{actions:?}");
    assert!(!said(&actions).contains("not quite"), "{actions:?}");
    // a schedule said back wrong in passing is still corrected
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said("tuesday and thursday at six p m got it does a visitor need anything"));
    assert!(reply.contains("not quite"), "{reply}");
}

/// Tuning seeds 593 and 603 (ev580a): "Sorry, just to be sure: do you take drop-in visitors from
/// other gyms?" heard "sorry tuesday the sure need a drop in visitors from other gi and" was
/// answered "No, they don't." (about a gi) by a gym that takes visitors: the question about
/// drop-ins is what the words ask, a gi only its last word.
#[test]
fn a_question_that_asks_about_another_field_is_no_question_about_an_option() {
    let mut r = responder(GYM);
    r.answer();
    let reply = said(&r.on_agent_said("sorry tuesday the sure need a drop in visitors from other gi and"));
    assert!(!reply.starts_with("No"), "{reply}");
    assert!(!reply.contains("they do"), "an answer about drop-ins, not about a gi: {reply}");
    // a question about the option alone still gets its yes or no
    assert_eq!(said(&r.on_agent_said("okay the visitor need to book ahead")), "No, they don't.");
}

/// Tuning seeds 594 and 610 (ev580a): "And the mat fee is 20 pounds, is that right?" was agreed
/// to by a gym with no mat fee; a person objects to a price said back for what is free.
#[test]
fn a_price_read_back_for_what_is_free_is_corrected() {
    let mut r = responder(GYM);
    r.answer();
    assert_eq!(said(&r.on_agent_said("and the mat fee is twelve dollars that right")), "No, it's free.");
    assert_eq!(said(&r.on_agent_said("and the mat fee is free is that right")), "Yes, that's right.");
    // "free" heard as "three" is still agreed to
    assert_eq!(said(&r.on_agent_said("and the mat fee is three that right")), "Yes, that's right.");
}
