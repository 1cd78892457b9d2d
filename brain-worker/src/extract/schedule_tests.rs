//! Schedules as new receptionists said them (issue 12): days paired with their own times,
//! ranges, British and casual times, and schedules the rules cannot settle (asked again or read
//! back, never guessed). Each test starts from the words of a failed call.

use super::*;
use playbook::PlaybookSet;
use serde_json::json;

fn gym() -> Playbook {
    PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone()
}

type Slot = (String, String, Option<String>, Option<String>);

/// The schedule heard in answer to the schedule question, with its confidence; None when the
/// answer leaves the question to be asked again.
fn heard(text: &str) -> Option<(Vec<Slot>, f32)> {
    let found = extract(&gym(), text, Some("class_schedule")).into_iter().find(|e| e.field == "class_schedule")?;
    assert_eq!(found.status, FieldStatus::Known, "{text}");
    let slots: Vec<values::ClassSlot> = serde_json::from_value(found.value).unwrap();
    Some((slots.into_iter().map(|s| (s.day, s.start, s.end, s.class_type)).collect(), found.confidence))
}

fn schedule_of(text: &str) -> Vec<Slot> {
    heard(text).unwrap_or_else(|| panic!("no schedule in {text:?}")).0
}

fn slot(day: &str, start: &str, end: Option<&str>, class: Option<&str>) -> Slot {
    (day.into(), start.into(), end.map(Into::into), class.map(Into::into))
}

fn at(day: &str, start: &str) -> Slot {
    slot(day, start, None, None)
}

/// The confidence below which a value is read back rather than acknowledged in passing.
fn confirm_below() -> f32 {
    gym().confirm_below
}

#[test]
fn days_are_paired_with_the_times_said_with_them() {
    // "Monday and Wednesday at six, Saturday at ten": three classes, not days x times
    assert_eq!(
        schedule_of("monday and wednesday at six saturday at ten"),
        vec![at("monday", "18:00"), at("wednesday", "18:00"), at("saturday", "10:00")]
    );
    // the time said first, its days after: the old reading gave Monday and Wednesday at 10 AM
    assert_eq!(
        schedule_of("we have classes at six on monday and wednesday and at ten on saturday"),
        vec![at("monday", "18:00"), at("wednesday", "18:00"), at("saturday", "10:00")]
    );
    // five classes, read back as nine (Monday, Wednesday and Friday x six, ten and noon)
    assert_eq!(
        schedule_of("we've got classes monday wednesday and friday at six and then at ten and at noon on saturdays"),
        vec![
            at("monday", "18:00"),
            at("wednesday", "18:00"),
            at("friday", "18:00"),
            at("saturday", "10:00"),
            at("saturday", "12:00"),
        ]
    );
    assert_eq!(
        schedule_of("open mat is from eleven to one on sundays"),
        vec![slot("sunday", "11:00", Some("13:00"), Some("open mat"))]
    );
}

#[test]
fn two_times_joined_by_and_are_two_classes_not_a_range() {
    // "at six and seven thirty" was read as one class from 6 to 7:30
    assert_eq!(
        schedule_of("we have classes at six and seven thirty on mondays"),
        vec![at("monday", "18:00"), at("monday", "19:30")]
    );
    let (slots, _) = heard("no gi on tuesday at six and seven and open mat saturday at ten").unwrap();
    assert_eq!(
        slots,
        vec![
            slot("tuesday", "18:00", None, Some("no-gi")),
            slot("tuesday", "19:00", None, Some("no-gi")),
            slot("saturday", "10:00", None, Some("open mat")),
        ]
    );
    // after "between", "and" still joins a range
    assert_eq!(schedule_of("saturday between noon and one"), vec![slot("saturday", "12:00", Some("13:00"), None)]);
}

#[test]
fn a_range_start_does_not_swallow_the_next_number() {
    // "ten thirty nine to eleven" became Monday 10:39: the "thirty nine" is 10:30 and "nine to
    // eleven"; which one was meant the rules cannot say, so the question is asked again
    let found = heard("monday ten thirty nine to eleven");
    assert!(found.is_none(), "{found:?}");
    assert_eq!(schedule_of("monday ten thirty to eleven"), vec![slot("monday", "10:30", Some("11:00"), None)]);
    // a morning range: not 9 PM to 11 PM
    assert_eq!(schedule_of("saturday nine to eleven"), vec![slot("saturday", "09:00", Some("11:00"), None)]);
    assert_eq!(schedule_of("monday six to seven thirty"), vec![slot("monday", "18:00", Some("19:30"), None)]);
    assert_eq!(
        schedule_of("on saturday we have open mat from eleven to one"),
        vec![slot("saturday", "11:00", Some("13:00"), Some("open mat"))]
    );
    // minutes on a class's five-minute marks stay minutes
    assert_eq!(schedule_of("tuesday at six forty five"), vec![at("tuesday", "18:45")]);
}

#[test]
fn british_and_casual_times() {
    // "half seven" was read as 7 PM
    assert_eq!(
        schedule_of("tuesdays and thursdays at half seven"),
        vec![at("tuesday", "19:30"), at("thursday", "19:30")]
    );
    assert_eq!(
        schedule_of("tuesday and thursday half past six"),
        vec![at("tuesday", "18:30"), at("thursday", "18:30")]
    );
    assert_eq!(schedule_of("wednesday quarter to seven"), vec![at("wednesday", "18:45")]);
    assert_eq!(schedule_of("friday twenty past six"), vec![at("friday", "18:20")]);
    assert_eq!(schedule_of("saturday half ten to twelve"), vec![slot("saturday", "10:30", Some("12:00"), None)]);
    assert_eq!(
        schedule_of("monday wednesday friday at midday"),
        vec![at("monday", "12:00"), at("wednesday", "12:00"), at("friday", "12:00")]
    );
    assert_eq!(schedule_of("sunday at twelve noon"), vec![at("sunday", "12:00")]);
    // "the evening class is at seven on monday": found nothing (the time came before its day)
    assert_eq!(schedule_of("the evening class is at seven on monday"), vec![at("monday", "19:00")]);
    assert_eq!(schedule_of("saturday at seven in the morning"), vec![at("saturday", "07:00")]);
    assert_eq!(schedule_of("fridays at 7pm"), vec![at("friday", "19:00")]);
    // a period word goes with the time nearest it, not with every time in the sentence
    let (slots, _) = heard("on weekdays the morning class is at six and the evening class at seven").unwrap();
    assert!(slots.contains(&at("monday", "06:00")) && slots.contains(&at("monday", "19:00")), "{slots:?}");
}

#[test]
fn an_implausible_schedule_is_not_kept() {
    // a class at 3 AM (a misheard "ten a m"): asked again, not acknowledged
    assert!(heard("monday at three a m").is_none());
    // five classes on one day from six words: numbers heard as times
    assert!(heard("monday six seven eight nine ten").is_none());
    // "ten to seven" is no nine-hour class
    assert!(heard("saturday ten to seven").is_none());
    // a long answer may list five classes on a Saturday
    let many = "on saturday kids at nine fundamentals at ten gi at eleven no gi at twelve and open mat at one";
    assert_eq!(schedule_of(many).len(), 5);
}

#[test]
fn a_range_whose_end_was_misheard_keeps_its_start_and_is_read_back() {
    // tuning seed 338: "gi class on thursday from six p m to seven thirty p m" heard as "from 6
    // PM to 1030 AM": the day and start stand, the end is left out and the schedule read back
    let (slots, confidence) = heard(
        "advanced class on Monday and Friday from 930 AM to 1030 AM, and be class on Thursday from 6 PM to 1030 AM",
    )
    .unwrap();
    assert_eq!(
        slots,
        vec![
            slot("monday", "09:30", Some("10:30"), Some("advanced")),
            slot("friday", "09:30", Some("10:30"), Some("advanced")),
            at("thursday", "18:00"),
        ]
    );
    assert!(confidence < confirm_below(), "{confidence}");
    // five hours from a start said with its half of the day: the end was misheard
    assert_eq!(schedule_of("tuesday from 5.30am to 10.30am"), vec![at("tuesday", "05:30")]);
    // a bare "ten to seven" is no start with a misheard end (see an_implausible_schedule_is_not_kept)
    assert!(heard("saturday ten to seven").is_none());
}

#[test]
fn a_schedule_read_more_than_one_way_is_read_back_not_noted() {
    // two lists: every day with every time, or each day its own time?
    let (slots, confidence) = heard("monday and wednesday six and seven thirty").unwrap();
    assert_eq!(slots.len(), 4);
    assert!(confidence < confirm_below(), "{confidence}");
    // days said without a time are left out, and what is kept is read back
    let (slots, confidence) = heard("gi on monday and wednesday and no gi on tuesday at six").unwrap();
    assert_eq!(slots, vec![slot("tuesday", "18:00", None, Some("no-gi"))]);
    assert!(confidence < confirm_below(), "{confidence}");
    // a plain answer is acknowledged in passing as before
    let (_, confidence) = heard("monday and wednesday at six pm saturday at ten").unwrap();
    assert!(confidence >= confirm_below(), "{confidence}");
    let (_, confidence) = heard("monday and wednesday at five saturday at ten in the morning").unwrap();
    assert!(confidence >= confirm_below(), "{confidence}");
    // six to nine without am or pm: classes run at those hours in the morning and the evening,
    // the half of the day taken is a guess, read back (text eval, tuning seeds 400, 409: "half six
    // and half past eight" was a morning class taken as an evening one and noted in passing)
    for text in [
        "monday and wednesday at six saturday at ten",
        "thursdays and fridays between half six and half past eight",
        "saturday and sunday we've got fundamentals at nine thirty, until half ten",
    ] {
        let (_, confidence) = heard(text).unwrap();
        assert!(confidence < confirm_below(), "{text}: {confidence}");
    }
    // "and friday too": the times of the days before
    assert_eq!(schedule_of("monday at six and friday too"), vec![at("monday", "18:00"), at("friday", "18:00")]);
    // "except" takes days out
    assert_eq!(schedule_of("every day except sunday at six").len(), 6);
}

#[test]
fn the_value_read_back_is_the_schedule_as_paired() {
    let gym = gym();
    let field = gym.field("class_schedule").unwrap();
    let found =
        extract(&gym, "we have classes at six on monday and wednesday and at ten on saturday", Some("class_schedule"));
    let value = found.into_iter().find(|e| e.field == "class_schedule").map(|e| e.value).unwrap_or(json!([]));
    assert_eq!(describe_brief(field, &value), "monday and wednesday at 6 PM; saturday at 10 AM");
}

/// A gym call up to the schedule question.
fn at_schedule_question() -> crate::scripted::tests::TextCall {
    at_schedule_question_after(&["hello atos", "yes we do", "twenty five dollars", "no there's no mat fee"])
}

/// A gym call where the callee said `lines`, the last of them answered with the schedule question.
fn at_schedule_question_after(lines: &[&str]) -> crate::scripted::tests::TextCall {
    let mut call = crate::scripted::tests::TextCall::gym();
    call.start();
    let mut reply = String::new();
    for line in lines {
        reply = call.callee(line);
    }
    assert!(reply.ends_with("Which days and times are your classes?"), "{reply}");
    call
}

#[test]
fn in_a_call_an_implausible_schedule_is_asked_again_and_an_unsure_one_read_back() {
    // was acknowledged in passing ("monday at 3 AM, got it") and kept
    let mut call = at_schedule_question();
    let reply = call.callee("monday at three a m");
    assert!(!reply.contains("got it") && reply.starts_with("Sorry"), "{reply}");
    assert_eq!(call.field("class_schedule").0, FieldStatus::Unknown);

    let mut call = at_schedule_question();
    let reply = call.callee("monday and wednesday six and seven thirty");
    assert!(reply.starts_with("I have ") && reply.ends_with("Did I get that right?"), "{reply}");
}

#[test]
fn a_self_correction_replaces_the_time_before_it() {
    // fillers and self-corrections, as receptionists speak
    let (slots, confidence) = heard("monday at six no sorry seven").unwrap();
    assert_eq!(slots, vec![at("monday", "19:00")]);
    assert!(confidence < confirm_below(), "a corrected answer is read back: {confidence}");
    assert_eq!(heard("monday no wait tuesday at six").unwrap().0, vec![at("tuesday", "18:00")]);
    assert_eq!(
        schedule_of(
            "um so we have classes every monday and wednesday at like six thirty and then saturday mornings at ten"
        ),
        vec![at("monday", "18:30"), at("wednesday", "18:30"), at("saturday", "10:00")]
    );
}

#[test]
fn a_class_type_goes_with_the_times_it_is_said_with() {
    // "kids are at five": said before its time, after another time
    let slots = schedule_of("the adult class is at seven pm every weekday and kids are at five");
    assert!(slots.contains(&at("monday", "19:00")), "{slots:?}");
    assert!(slots.contains(&slot("monday", "17:00", None, Some("kids"))), "{slots:?}");
    // a kids class at five is not a kids class at seven too
    let (slots, _) = heard("kids class at five and adults at seven on weekdays").unwrap();
    assert!(slots.contains(&slot("friday", "17:00", None, Some("kids"))) && slots.contains(&at("friday", "19:00")));
    assert_eq!(
        schedule_of("tuesdays at seven we do no gi and saturdays at ten it's open mat"),
        vec![slot("tuesday", "19:00", None, Some("no-gi")), slot("saturday", "10:00", None, Some("open mat"))]
    );
}

#[test]
fn times_written_with_a_dot_are_read() {
    // tuning seed 205 (espeak-ng en-gb+m2), Whisper with the question as its prompt: "Monday and
    // Thursday, seven fifteen p m to eight forty five, that's gi." heard as below, and the agent
    // said "Sorry, I didn't quite get that."
    let slots = schedule_of("Monday and Thursday, 7.15pm to 8.45pm last week");
    assert_eq!(
        slots,
        vec![slot("monday", "19:15", Some("20:45"), None), slot("thursday", "19:15", Some("20:45"), None)]
    );
    assert_eq!(schedule_of("Tuesday from 10 AM to 11.30 AM"), vec![slot("tuesday", "10:00", Some("11:30"), None)]);
    assert_eq!(schedule_of("Saturday 9.30 to 11"), vec![slot("saturday", "09:30", Some("11:00"), None)]);
    // alone, without a time's company, a dotted number stays a price
    assert_eq!(heard("monday and wednesday, 17.50 a class"), None);
    assert_eq!(schedule_of("monday at 6.30"), vec![at("monday", "18:30")]);
}

#[test]
fn a_time_written_as_one_number_with_am_or_pm_is_read() {
    // tuning seed 205 (espeak-ng en-gb+m2): "So, monday and Thursday, between seven fifteen p m and
    // quarter to nine, that's gi." heard as below; asked again, then "Monday and Sunday, 715 p.m.
    // to 849 p.m.", and the schedule was given up
    assert_eq!(
        schedule_of("So Monday and Thursday, mid-week, 715 PM and water tonight. Next week."),
        vec![at("monday", "19:15"), at("thursday", "19:15")]
    );
    assert_eq!(
        schedule_of("Monday and Sunday, 715 p.m. to 849 p.m."),
        vec![slot("monday", "19:15", Some("20:49"), None), slot("sunday", "19:15", Some("20:49"), None)]
    );
    assert_eq!(schedule_of("saturday from 1030 to 1130 am"), vec![slot("saturday", "10:30", Some("11:30"), None)]);
    assert_eq!(schedule_of("friday at 630 in the evening"), vec![at("friday", "18:30")]);
    assert_eq!(schedule_of("sunday 9.30am to 1130"), vec![slot("sunday", "09:30", Some("11:30"), None)]);
    // tuning seed 305: "from nine thirty till eleven a m" heard "from 930 till 11am"
    assert_eq!(
        schedule_of("on Saturday a class from 930 till 11am"),
        vec![slot("saturday", "09:30", Some("11:00"), None)]
    );
    // without am/pm a long number is not a time
    assert_eq!(heard("monday 715"), None);
    assert_eq!(heard("monday and friday, 1200 members"), None);
}

#[test]
fn tuesday_heard_as_two_days_in_a_list_of_days_is_tuesday() {
    // tuning seed 303 (espeak-ng en-us+m3): "Monday, Tuesday and Thursday, six a m to half seven"
    // heard "Monday, two days, Thursday from 6 AM to 7.30 AM" twice; Tuesday was lost both times
    assert_eq!(
        schedule_of("fundamentals class on Monday, two days, Thursday from 6 AM to 7.30 AM"),
        vec![
            slot("monday", "06:00", Some("07:30"), Some("fundamentals")),
            slot("tuesday", "06:00", Some("07:30"), Some("fundamentals")),
            slot("thursday", "06:00", Some("07:30"), Some("fundamentals")),
        ]
    );
    assert_eq!(schedule_of("two days and fridays at 7pm"), vec![at("tuesday", "19:00"), at("friday", "19:00")]);
    // not beside a day, "two days" is two days
    assert_eq!(schedule_of("we train two days a week, monday at 7pm"), vec![at("monday", "19:00")]);
    assert_eq!(
        schedule_of("classes two days, monday and wednesday at 7pm"),
        vec![at("monday", "19:00"), at("wednesday", "19:00")]
    );
}

#[test]
fn a_day_name_a_letter_or_two_off_is_that_day() {
    // tuning seed 305 (espeak-ng en-us+m3): "fundamentals class on saturday from nine thirty a m"
    // heard "fundamentals class on thaturday from 930 AM to 11 AM"; Saturday was lost
    assert_eq!(
        schedule_of("gi class on thursday and friday from 6 AM to 730 AM and fundamentals class on thaturday from 930 AM to 11 AM"),
        vec![
            slot("thursday", "06:00", Some("07:30"), Some("gi")),
            slot("friday", "06:00", Some("07:30"), Some("gi")),
            slot("saturday", "09:30", Some("11:00"), Some("fundamentals")),
        ]
    );
    assert_eq!(schedule_of("wendsday at 7pm"), vec![at("wednesday", "19:00")]);
    // words that are no day stay so
    assert_eq!(schedule_of("today and friday at 7pm"), vec![at("friday", "19:00")]);
    assert_eq!(heard("midday"), None);
}

#[test]
fn a_time_whose_am_or_pm_lost_its_letter_is_still_a_time() {
    // tuning seeds 300-339 (espeak-ng): "six a m" came back from the recogniser as "6M", "seven
    // thirty a m" as "730M"; "730M" was no time at all, "6M" a bare number
    let (slots, confidence) = heard("Tuesday and Thursday, 730M to 9M.").unwrap();
    assert_eq!(
        slots,
        vec![slot("tuesday", "19:30", Some("21:00"), None), slot("thursday", "19:30", Some("21:00"), None)]
    );
    // its half of the day is a guess: read back, not noted in passing
    assert!(confidence < confirm_below(), "{confidence}");
    assert_eq!(schedule_of("saturday at 1030M"), vec![at("saturday", "10:30")]);
    // alone, without a day's company, a long number with "m" after it is not a price
    assert_eq!(heard("it's 40 m"), None);
}

#[test]
fn the_end_of_a_range_whose_start_was_lost_is_not_a_start() {
    // tuning seed 207 (espeak-ng en-gb-x-rp+f1): "We have open mat on wednesday from noon to two p m,
    // and all levels class on sunday from ten a m to eleven a m." heard as below: the open mat was
    // kept as a class at 2 PM
    let (slots, confidence) = heard(
        "We have opened Mac on Wednesdays from home to 2 p.m. And all levels class on Sunday from 10 a.m. to 11 a.m.",
    )
    .unwrap();
    assert_eq!(slots, vec![slot("sunday", "10:00", Some("11:00"), Some("all levels"))]);
    assert!(confidence < confirm_below(), "a day without its time is read back: {confidence}");
    // Whisper's "open map from home 30 in the morning to 1130, and Monday and Tuesday at 630 in
    // the evening" (tuning seed 313): the lost range leaves its day unsure, the other time is read
    let (slots, confidence) = heard(
        "So, on Wednesday, there's an open map from home 30 in the morning to 1130, and Monday and Tuesday at 630 in the evening.",
    )
    .unwrap();
    // ("open map" is now read as open mat: seed 313's Monday and Tuesday classes are open mats)
    assert_eq!(
        slots,
        vec![slot("monday", "18:30", None, Some("open mat")), slot("tuesday", "18:30", None, Some("open mat"))]
    );
    assert!(confidence < confirm_below(), "{confidence}");
    // a range said whole is still a range, and "until" after a time still ends it
    assert_eq!(schedule_of("monday from six until eight"), vec![slot("monday", "18:00", Some("20:00"), None)]);
    assert_eq!(schedule_of("tuesday at 6 p.m. until 8"), vec![slot("tuesday", "18:00", Some("20:00"), None)]);
}

/// Tuning seed 313 (espeak-ng en-us+f2) as heard, up to the schedule question: the drop-in price
/// was never given.
fn at_schedule_question_without_a_price() -> crate::scripted::tests::TextCall {
    // (back from hold, "What did you need?" is no yes to the drop-in question any more: the
    // question is asked again, and answered)
    at_schedule_question_after(&[
        "can truly be made within the mic.",
        "Not a second, please.",
        "Sorry, I'm out, Matt. What did you need?",
        "Yes, we take drop ins.",
        "You can't look at the front desk. I can't pay on the phone.",
        "And the mat fee is $5.",
    ])
}

/// The callee's answer to the schedule question: it gets a reply, and no price comes of it.
fn answered_without_a_price(call: &mut crate::scripted::tests::TextCall, answer: &str) {
    let reply = call.callee(answer);
    assert!(!reply.is_empty(), "an answer to the question asked gets a reply");
    assert_ne!(call.field("drop_in_price").0, FieldStatus::Known, "{:?}", call.field("drop_in_price"));
}

#[test]
fn an_unreadable_schedule_answer_is_not_a_late_price_and_gets_a_reply() {
    // the schedule answer's "to 1130" was taken as a late answer to the price question; the
    // agent then said nothing for 8 s ("the question still stands") before "Sorry, I didn't
    // catch that"
    let mut call = at_schedule_question_without_a_price();
    answered_without_a_price(
        &mut call,
        "So, on Wednesday, there's an open map from home 30 in the morning to 1130, and Monday and Tuesday at 630 in the \
         evening. It's open map, and P is Monday and Thursday from home 30 in the morning to 1030.",
    );
}

#[test]
fn a_schedule_answer_naming_days_is_no_late_answer_to_the_question_before() {
    // the same call with a number no time reading takes: "on wednesday ... 1130" named the
    // schedule's days, and was still taken as a price of 1130 and met with silence
    let mut call = at_schedule_question_without_a_price();
    answered_without_a_price(
        &mut call,
        "So, on Wednesday, there's an open map from home, it's 1130, and on Monday it's P.",
    );
}

#[test]
fn a_schedule_read_back_wrong_again_and_again_is_given_up_after_two_asks() {
    // tuning seed 313 (espeak-ng en-us+f2), what the agent heard: each answer was read back in
    // part, corrected unreadably, forgotten and asked for again ("Sorry, my mistake. Which days
    // and times are your classes?"), round and round until the 300 s limit closed the call
    let mut call = crate::scripted::tests::TextCall::gym();
    call.start();
    let mut replies = Vec::new();
    for heard in [
        "can truly be made within the mic.",
        "Not a second, please.",
        "Sorry, I'm out, Matt. What did you need?",
        // (no yes to the drop-in question, back from hold: asked again)
        "Yes, we take drop ins.",
        "You can't look at the front desk. I can't pay on the phone.",
        "And the mat fee is $5.",
        "You can't look at the front desk. I can't pay on the phone.",
        "One then Thursday, half time to half past Mm, that's me. They're open map on Monday and Tuesday, six 30 in the evening to seven 30. They're open map on Wednesday, half time M.",
        "No, not quite. We can be class on monday and thursday from 9.30 m to 10.30 m open monday and 2.30 m to 7.30 m and open monday from 9.30 m to 11.30 m.",
        "No, not quite. We can be class on Monday and Thursday from 9.30am to 10.30am, open Monday and Tuesday from 6.30pm to 7.30pm, and open Monday from 9.30am to 11.30am.",
        "Right, on Wednesday they're an open math time 30 m to half 11. Open math is Monday and Tuesday from 6 30 till m and 30. Monday and Thursday will not be at time 30 m until half n.",
        "No, not quite. We can be class on Monday and Thursday from 9.30 am to 10.30 am. Open Matt on Monday and Tuesday from 6.30 pm to 10.30 pm. And open Matt on Wednesday from 9.30 am to 11.30 am. So on Wednesday, Matt on open Matt from 9.30 in the morning to 11.30 and Monday and Tuesday at 6.30 in the evening. Matt's open Matt and he is Monday and Thursday from 9.30 in the morning to 10.30.",
        "So, on Wednesday, there's an open map from home 30 in the morning to 1130, and Monday and Tuesday at 630 in the evening. It's open map, and P is Monday and Thursday from home 30 in the morning to 1030.",
    ] {
        replies.push(call.callee(heard));
    }
    let asked = replies.iter().filter(|r| r.contains("Which days and times are your classes?")).count();
    assert!(asked <= 2, "{replies:#?}");
    assert!(replies.iter().any(|r| r.contains("Does a visitor need anything")), "{replies:#?}");
}

#[test]
fn a_class_type_pointed_back_at_its_time_is_that_times() {
    // text eval, tuning seeds 470, 563, 589, 787: "..., that's open mat" after a time was given to
    // the next group's time, the first type took both, and the schedule read as two classes at
    // once (asked again, then given up)
    let gym = gym();
    let field = gym.field("class_schedule").unwrap();
    for (text, expected) in [
        (
            "Uh, tuesdays we've got no gi from half past six till half past seven, and Tuesday, seven in the evening to nine, that's open mat, and Wednesdays and Thursdays, from half six to seven thirty p m, that's no gi.",
            vec!["tuesday 18:30 no-gi", "tuesday 19:00 open mat", "wednesday 18:30 no-gi", "thursday 18:30 no-gi"],
        ),
        (
            "Uh, on Tuesdays there's a gi class seven fifteen to quarter past nine p m. Tuesday, at eight p m, until ten o'clock, that's all levels. Wednesday and Friday, ten in the morning to half eleven, that's advanced.",
            vec!["tuesday 19:15 gi", "tuesday 20:00 all levels", "wednesday 10:00 advanced", "friday 10:00 advanced"],
        ),
        (
            "Right, kids is Sunday from ten to eleven, and on Tuesday and Friday there's a fundamentals class from seven p m to nine, and Monday and Tuesday, from half seven in the evening to nine o'clock, that's all levels.",
            vec![
                "sunday 10:00 kids",
                "tuesday 19:00 fundamentals",
                "friday 19:00 fundamentals",
                "monday 19:30 all levels",
                "tuesday 19:30 all levels",
            ],
        ),
    ] {
        let found = crate::extract::values::schedule(&crate::extract::text::tokenize(text), &super::class_types(field));
        // (read back when a time's half of the day was not said; never implausible)
        assert!(!matches!(found.doubt, Some(crate::extract::values::Doubt::Implausible(_))), "{text}: {:?}", found.doubt);
        let slots: Vec<String> = found
            .slots
            .iter()
            .map(|s| format!("{} {} {}", s.day, s.start, s.class_type.clone().unwrap_or_default()))
            .collect();
        assert_eq!(slots, expected, "{text}");
    }
    // a type leading into its times still does ("gi at six, no gi at seven")
    let found = crate::extract::values::schedule(
        &crate::extract::text::tokenize("gi on monday at six, no gi on tuesday at seven"),
        &super::class_types(field),
    );
    let types: Vec<Option<String>> = found.slots.iter().map(|s| s.class_type.clone()).collect();
    assert_eq!(types, [Some("gi".to_owned()), Some("no-gi".to_owned())]);
}

#[test]
fn days_with_an_apostrophe_and_class_types_as_recognisers_write_them() {
    // tuning seed 308 (flite awb), what Whisper wrote: "Thursday's" was no day, "G" no gi
    let text = "Some Thursday's and Fridays we've got G at 7 until half 8pm. Thursday's and Fridays we've got no G from new till 130. All levels is Tuesday and Thursday at half past 6am until half 7.";
    let slots = schedule_of(text);
    let gi: Vec<&str> = slots.iter().filter(|s| s.3.as_deref() == Some("gi")).map(|s| s.0.as_str()).collect();
    assert_eq!(gi, ["thursday", "friday"], "{slots:?}");
    assert!(slots.iter().any(|s| s.0 == "tuesday" && s.1 == "06:30"), "{slots:?}");
    // "open map" is how Whisper often writes "open mat"
    let slots = schedule_of("open map on saturday at noon");
    assert_eq!(slots[0].3.as_deref(), Some("open mat"));
}

#[test]
fn a_range_of_two_times_written_as_numbers() {
    // tuning seed 307 (flite rms), what Whisper wrote for "There's gi on Wednesday, Thursday and
    // Friday, from nine thirty to ten thirty.": asked again, and again
    let (slots, confidence) = heard("There's G on Wednesday, Thursday and Friday from 930 to 1030.").unwrap();
    assert_eq!(slots.len(), 3, "{slots:?}");
    // (half past nine without am or pm: the half of the day is guessed, and read back)
    assert!(slots.iter().all(|s| ["09:30", "21:30"].contains(&s.1.as_str())), "{slots:?}");
    assert!(confidence < confirm_below(), "{confidence}");
    let slots = schedule_of("But g is Wednesday, Thursday and Friday from 930 am to 1030.");
    assert!(slots.iter().all(|s| s.1 == "09:30" && s.2.as_deref() == Some("10:30")), "{slots:?}");
    // an amount range stays money
    assert!(heard("monday from 150 to 200 dollars").is_none_or(|(slots, _)| slots.iter().all(|s| s.1 != "01:50")));
}

#[test]
fn a_class_said_again_with_its_half_of_the_day_is_one_class() {
    // text eval, tuning seeds 454, 712: a correction with "a m" and the same classes said again
    // without it made two classes each, the guessed ones in the evening
    let text = "No, not quite. We have advanced class on monday and tuesday from six thirty a m to eight a m, and fundamentals class on friday from seven a m to nine a m. Also, Monday and Tuesday we've got advanced from half six to eight o'clock. Also, on Friday there's a fundamentals class from seven a m till nine.";
    let (slots, confidence) = heard(text).unwrap();
    let starts: Vec<String> = slots.iter().map(|s| format!("{} {}", s.0, s.1)).collect();
    assert_eq!(starts, ["monday 06:30", "tuesday 06:30", "friday 07:00"], "{slots:?}");
    assert!(confidence >= confirm_below(), "nothing left to guess: {confidence}");
    // two classes at the same hour in both halves of a day, each said with its half, stay two
    let slots = schedule_of("monday at six a m and monday at six p m");
    assert_eq!(slots.len(), 2, "{slots:?}");
}

/// Tuning seed 309 (espeak-ng en-us+f2): a well-heard timetable ("6.30 p.m." written with a
/// dot) with an open mat at 6:30-7:30 and a class whose type was misheard at 7-8 on Friday was
/// thrown away as "two classes at once" and asked for again until it was lost.
#[test]
fn two_classes_at_once_of_a_type_not_heard_are_read_back_not_thrown_away() {
    let text = "No, not quite. We have opened Macon Tuesday, Thursday and Friday from 6.30 p.m. to 7.30 p.m. \
                But men's class on Tuesday and Friday from 8 p.m. to 9 p.m. And no big class on Friday from 7 p.m. to 8 p.m.";
    let (slots, confidence) = heard(text).expect("a schedule");
    // two classes at once on Friday, the type of one not heard: read back for a yes
    assert!(confidence < confirm_below(), "{confidence}");
    for (day, start, end) in
        [("tuesday", "18:30", "19:30"), ("thursday", "18:30", "19:30"), ("friday", "20:00", "21:00")]
    {
        assert!(
            slots.iter().any(|s| s.0 == day && s.1 == start && s.2.as_deref() == Some(end)),
            "{day} {start}-{end} in {slots:?}"
        );
    }
    assert_eq!(
        schedule_of("open mat on saturday at 10.15 a.m."),
        vec![slot("saturday", "10:15", None, Some("open mat"))]
    );
}

#[test]
fn times_left_without_days_after_times_said_before_their_days_are_read_back() {
    // tuning seed 360: "sunday, from ten in the morning to noon, that's no gi. There's gi on
    // Friday, eleven to twelve noon" heard with its Sunday lost; both classes went to Friday and
    // were noted in passing
    let (_, confidence) =
        heard("From 10 in the morning commune, Mat no gee, they're beyond Friday, 11 to 12 noon.").unwrap();
    assert!(confidence < confirm_below(), "{confidence}");
    // days said first, then more times: the times are on those days, as before
    let (slots, confidence) = heard("monday at six pm, and then also at seven thirty pm").unwrap();
    assert_eq!(slots.len(), 2);
    assert!(confidence >= confirm_below(), "{confidence}");
}

/// One day's classes, asked one day at a time (`scripted::by_day`): the day asked about is the
/// classes' day whatever day the recogniser made of the answer's words; the whole timetable said
/// again gives only that day's classes; "nothing on monday" is none; words with no time are no
/// answer.
#[test]
fn one_days_classes_are_on_the_day_asked_about() {
    let playbook = gym();
    let field = playbook.field("class_schedule").unwrap();
    let starts = |day: usize, text: &str| {
        day_classes(field, day, text).map(|slots| slots.into_iter().map(|s| (s.day, s.start)).collect::<Vec<_>>())
    };
    let on = |day: &str, start: &str| (day.to_owned(), start.to_owned());
    assert_eq!(starts(3, "fundamentals six to seven thirty in the morning"), Some(vec![on("thursday", "06:00")]));
    // "Tuesday" heard as "Thursday": asked about Tuesday
    assert_eq!(
        starts(1, "on thursday there's fundamentals from six to seven thirty a m and open mat from noon to one"),
        Some(vec![on("tuesday", "06:00"), on("tuesday", "12:00")])
    );
    let whole = "We have gi class on monday and wednesday from six p m to seven thirty p m, and open mat on saturday from ten a m to noon.";
    assert_eq!(starts(2, whole), Some(vec![on("wednesday", "18:00")]));
    assert_eq!(starts(4, whole), None);
    assert_eq!(starts(0, "Nothing on monday, sorry."), Some(vec![]));
    assert_eq!(starts(0, "the thing is"), None);
}

/// Tuning seed 337 (ev300d, flite rms): "So, there's gi on Sundays, from midday till one thirty.
/// Also, there's advanced on Saturdays, eleven to half past twelve in the afternoon. ..." heard
/// with "Saturdays" as "uncertainties"; the advanced class took Sunday from the sentence before
/// and the schedule was noted in passing. Another class type's times in a sentence of their own
/// with no day heard are read back.
#[test]
fn another_class_in_a_new_sentence_without_its_day_is_read_back() {
    let heard_text = "So, there's G on Sundays, from midday till 1 30. Also, there's advanced uncertainties, 11 to half past 12 in the afternoon. Also, on Mondays and Fridays, there's an open Mat at half 9, until 11 AM.";
    let (_, confidence) = heard(heard_text).expect("a schedule");
    assert!(confidence < confirm_below(), "read back: {confidence}");
    // the same class type going on, or times in the same sentence, still take the days before
    for text in ["gi on monday at 6 pm. also gi at 7.30 pm", "on monday there's gi at 6 pm and then no gi at 7.30 pm"] {
        let (_, confidence) = heard(text).expect("a schedule");
        assert!(confidence >= confirm_below(), "{text}: {confidence}");
    }
}

#[test]
fn half_half_seven_is_half_past_seven() {
    // tuning seed 523 (espeak-ng en-us+m3): "there's no gi on Monday and Thursday, between six
    // thirty and half past seven" heard as below: two classes, at 6:30 and at 7:30
    let text = "Also, there are no beyond Monday and Thursday, between 6 30 and half half 7 o'clock.";
    let slots = schedule_of(text);
    assert_eq!(
        slots,
        vec![slot("monday", "18:30", Some("19:30"), None), slot("thursday", "18:30", Some("19:30"), None)],
        "{text}"
    );
    // seed 500 (en-us+m7): "from half past seven p m to eight thirty"
    let slots = schedule_of("There are kids on Thursday, from half half 7pm to 830.");
    assert_eq!(slots, vec![slot("thursday", "19:30", Some("20:30"), Some("kids"))]);
}

#[test]
fn a_range_after_between_or_from_that_ends_in_a_compact_number_or_another_time() {
    // tuning seed 525 (flite rms), heard right but for the compact numbers: the end of "between
    // half 6 p.m. and 730" was lost and the open mat classes were dropped whole
    let text = "There's all levels on Monday and Friday, between half 6 p.m. and 730, and open Mat is Wednesday's and Fridays from 930 till half past 10 in the morning.";
    assert_eq!(
        schedule_of(text),
        vec![
            slot("monday", "18:30", Some("19:30"), Some("all levels")),
            slot("friday", "18:30", Some("19:30"), Some("all levels")),
            slot("wednesday", "09:30", Some("10:30"), Some("open mat")),
            slot("friday", "09:30", Some("10:30"), Some("open mat")),
        ]
    );
    // still no range of amounts
    assert!(heard("it's from 150 to 200 dollars a month").is_none());
}

#[test]
fn a_range_end_heard_after_midnight_is_read_after_noon_when_only_that_makes_a_class() {
    // tuning seed 506 (espeak-ng en-gb+m2): "open mat on sunday from eleven a m to twelve thirty
    // p m" heard "... from 11 AM to 1230 AM": the end was left out
    let slots = schedule_of("and open mat on sunday from 11 AM to 1230 AM.");
    assert_eq!(slots, vec![slot("sunday", "11:00", Some("12:30"), Some("open mat"))]);
    // seed 529 (en-gb-x-rp+f1): "from midday till one p m" heard "from midnight till 1 pm": read
    // as no class, and the whole answer asked again
    let text = "Let me see, on Wednesday and Friday is now an open map from 1215 till 1.45 pm. On Tuesday is now a new class from midnight till 1 pm.";
    assert_eq!(
        schedule_of(text),
        vec![
            slot("wednesday", "12:15", Some("13:45"), Some("open mat")),
            slot("friday", "12:15", Some("13:45"), Some("open mat")),
            slot("tuesday", "12:00", Some("13:00"), None),
        ]
    );
}

#[test]
fn a_long_answer_with_two_classes_at_once_is_read_back_without_the_later_one() {
    // tuning seed 501 (espeak-ng en-gb+m2): "Tuesday" heard "due may" put the open mat on the
    // weekend, inside the fundamentals class; the whole answer was refused and asked for again,
    // and heard the same way again
    let text = "Right, on Saturday, on Sunday, I'm a fundamental class at the 11 in the morning, due may from 930 to 1130 am. I'm open Matt, on due may and Wednesday, I'm a normal level class from 6pm till 8 o'clock.";
    let (slots, confidence) = heard(text).expect("read back, not asked again");
    assert!(confidence < confirm_below(), "read back: {confidence}");
    let times: Vec<(&str, &str)> = slots.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
    assert_eq!(times, vec![("saturday", "11:00"), ("sunday", "11:00"), ("wednesday", "18:00")]);
}

#[test]
fn a_class_type_before_two_days_leads_into_their_times_when_the_first_type_was_not_heard() {
    // tuning seed 504 (espeak-ng en-us+f2): "no gi" heard "no big"; each type was put on the
    // times before it ("fundamentals on monday ...; kids on saturday and sunday from 9 AM") and
    // the correction was read back wrong three times
    let text = "No, not quite. We have no big class on Monday from 11 AM to noon. Fundamentals class on saturday and sunday from 9 AM to 11 AM. And kids class on saturday and sunday from 11 AM to 1 PM.";
    assert_eq!(
        schedule_of(text),
        vec![
            slot("monday", "11:00", Some("12:00"), None),
            slot("saturday", "09:00", Some("11:00"), Some("fundamentals")),
            slot("sunday", "09:00", Some("11:00"), Some("fundamentals")),
            slot("saturday", "11:00", Some("13:00"), Some("kids")),
            slot("sunday", "11:00", Some("13:00"), Some("kids")),
        ]
    );
}

#[test]
fn some_days_beside_another_day_is_sunday() {
    // tuning seed 526 (flite slt), the same in three tellings
    let text = "No, not white. We have gi on thursday from 11 AM to 12 30 PM, events class on thursday and friday from 6 30 PM to 7 30 PM, and no gi on saturday and some days from noon to 1 PM.";
    let slots = schedule_of(text);
    assert!(slots.contains(&slot("sunday", "12:00", Some("13:00"), Some("no-gi"))), "{slots:?}");
    assert!(slots.contains(&slot("saturday", "12:00", Some("13:00"), Some("no-gi"))), "{slots:?}");
    // not on its own
    let slots = schedule_of("some days we have open mat at noon on saturday");
    assert!(!slots.iter().any(|s| s.0 == "sunday"), "{slots:?}");
}

#[test]
fn a_two_between_days_is_tuesday() {
    // tuning seed 629 (espeak-ng en-us+f2): "on Mondays, Tuesdays and Thursdays there's a
    // fundamentals class at ten in the morning, until eleven thirty" heard so, read back without
    // the Tuesday; the correction heard with a class at 2 PM for it
    let class = |day: &str| slot(day, "10:00", Some("11:30"), Some("fundamentals"));
    assert_eq!(
        schedule_of(
            "Okay, so on Monday, two minutes Thursday, there are fundamentals class at 10 in the morning until 11 30."
        ),
        vec![class("monday"), class("tuesday"), class("thursday")]
    );
    assert_eq!(
        schedule_of("No, not quite. We have fundamentals class on Monday, two dancers get from 10am to 11.30am."),
        vec![class("monday"), class("tuesday")]
    );
    // a "two" after a day that goes on as a time stays a time
    assert_eq!(schedule_of("monday two pm"), vec![at("monday", "14:00")]);
    assert_eq!(schedule_of("monday two to four"), vec![slot("monday", "14:00", Some("16:00"), None)]);
    assert_eq!(schedule_of("monday, two thirty"), vec![at("monday", "14:30")]);
    assert_eq!(schedule_of("saturday, two in the afternoon"), vec![at("saturday", "14:00")]);
    assert_eq!(
        schedule_of("monday, two o'clock and thursday at six"),
        vec![at("monday", "14:00"), at("thursday", "18:00")]
    );
}

#[test]
fn have_past_is_half_past() {
    // tuning seed 627 (flite slt): "Mondays we've got open mat nine thirty a m to half past
    // eleven" heard "... 9.30 a.m. to have past 11." gave a second Monday class at 11 AM
    assert_eq!(
        schedule_of(
            "Fundamental this Sunday, noon to 1.30 p.m. Also, Tuesdays and Fridays, we've got all levels at 11 a.m. \
             Until well, also, Monday we've got open at 9.30 a.m. to have past 11."
        ),
        vec![
            slot("sunday", "12:00", Some("13:30"), None),
            slot("tuesday", "11:00", None, Some("all levels")),
            slot("friday", "11:00", None, Some("all levels")),
            slot("monday", "09:30", Some("11:30"), None),
        ]
    );
}

#[test]
fn a_time_lost_after_from_is_read_back() {
    // tuning seed 631 (flite slt): "On Mondays and Fridays there's a fundamentals class from
    // twelve till two. Open mat is Tuesdays at seven in the evening, until nine." heard so gave
    // Monday, Friday and Tuesday at 7 PM, acknowledged in passing
    let (slots, confidence) = heard(
        "Oh, Friday, at 10 in the morning, that she, on Monday's and Friday, is there the fundamental class \
         from well due to open that is Tuesday, that 7 in the evening until 9.",
    )
    .unwrap();
    assert!(slots.contains(&slot("tuesday", "19:00", Some("21:00"), None)), "{slots:?}");
    assert!(confidence < confirm_below(), "{confidence}");
    // "from" with its time, its days, or about something else stays as plain as before
    for text in [
        "monday and friday from twelve till two, tuesday at seven pm",
        "classes from monday to friday at six pm",
        "monday at six pm, visitors from other gyms are welcome",
    ] {
        let (_, confidence) = heard(text).unwrap();
        assert!(confidence >= confirm_below(), "{text}: {confidence}");
    }
}

#[test]
fn two_times_as_numbers_joined_after_a_day_are_a_range() {
    // tuning seed 650 (espeak-ng en-us+m7): "Also, on Tuesday there's a gi class six thirty to
    // seven thirty." heard "... 630 to 730." was left out of the read-back
    assert_eq!(
        schedule_of(
            "On Wednesday and Friday, Miramie class from 8 o'clock till 9pm. Also, on Tuesday, Miramie class 630 to 730. \
             Also, kid in Monday and 2, they from 8 o'clock till 9 o'clock."
        ),
        vec![
            slot("wednesday", "20:00", Some("21:00"), None),
            slot("friday", "20:00", Some("21:00"), None),
            slot("tuesday", "18:30", Some("19:30"), None),
            slot("monday", "20:00", Some("21:00"), None),
            slot("tuesday", "20:00", Some("21:00"), None),
        ]
    );
    // an amount range stays amounts, and such numbers with no day before them stay numbers
    assert!(heard("on tuesday it's 150 to 200 dollars").is_none());
    assert!(heard("we have 630 to 730 members").is_none());
}
