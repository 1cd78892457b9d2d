//! Extraction on varied phrasings, written the way STT prints them (lowercase, no punctuation,
//! numbers as words) and the way people type them.

use super::*;
use playbook::PlaybookSet;
use serde_json::json;

fn gym() -> Playbook {
    PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone()
}

fn companion() -> Playbook {
    PlaybookSet::built_in().unwrap().get("companion-checkin").unwrap().clone()
}

fn value_of(playbook: &Playbook, text: &str, asked: &str, field: &str) -> Option<(FieldStatus, Value)> {
    extract(playbook, text, Some(asked)).into_iter().find(|e| e.field == field).map(|e| (e.status, e.value))
}

fn amount(text: &str, asked: &str, field: &str) -> Option<f64> {
    let (status, value) = value_of(&gym(), text, asked, field)?;
    assert_eq!(status, FieldStatus::Known, "{text}");
    value.get("amount").and_then(Value::as_f64)
}

#[test]
fn prices_in_many_phrasings() {
    let cases: &[(&str, f64)] = &[
        ("twenty bucks", 20.0),
        ("$25", 25.0),
        ("It's $25.", 25.0),
        ("twenty five dollars", 25.0),
        ("twenty-five dollars per class", 25.0),
        ("it's thirty dollars for a drop in", 30.0),
        ("a drop in is fifteen", 15.0),
        ("we charge 40 dollars", 40.0),
        ("it's free", 0.0),
        ("no charge for visitors", 0.0),
        ("it doesn't cost anything", 0.0),
        ("um i think it's like twenty two fifty no twenty five dollars", 25.0),
        ("a hundred and twenty dollars a month for membership but a single class is twenty", 20.0),
        ("seven dollars and fifty cents", 7.5),
        ("$7.50", 7.5),
        ("thirty five", 35.0),
        ("it's complimentary for visiting black belts", 0.0),
    ];
    for (text, expected) in cases {
        assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(*expected), "{text}");
    }
}

#[test]
fn money_is_attributed_by_the_words_around_it() {
    let gym = gym();
    let text = "drop ins are twenty five and the mat fee is ten dollars";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(25.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(10.0));
    // asked about the mat fee: "there's no mat fee" is zero, and it does not touch the price
    assert_eq!(amount("there's no mat fee", "mat_fee", "mat_fee"), Some(0.0));
    assert_eq!(amount("no the mat fee is included", "mat_fee", "mat_fee"), Some(0.0));
    assert_eq!(amount("fifteen for the mat fee", "drop_in_price", "mat_fee"), Some(15.0));
    assert!(value_of(&gym, "fifteen for the mat fee", "drop_in_price", "drop_in_price").is_none());
    // a time is not a price
    assert!(value_of(&gym, "come at six thirty", "drop_in_price", "drop_in_price").is_none());
    // a count is not a price
    assert!(value_of(&gym, "we have two classes", "drop_in_price", "drop_in_price").is_none());
}

#[test]
fn an_amount_is_not_given_to_a_fee_named_later_about_something_else() {
    let text = "classes are free for visitors we just charge a mat fee";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(0.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), None, "a mat fee of unknown amount");
}

#[test]
fn two_amounts_in_one_answer_go_to_the_fields_named_before_them() {
    // answers to "how much is a drop-in, and is there a mat fee?"
    for (text, price, fee) in [
        ("it's twenty five dollars and matt fee is ten dollars", 25.0, 10.0),
        ("it's thirty five dollars and the mat fee is ten", 35.0, 10.0),
        ("at fifteen dollars and no matt fee", 15.0, 0.0),
        ("twenty dollars no mat fee", 20.0, 0.0),
        ("forty bucks a class plus a fifteen dollar mat fee", 40.0, 15.0),
        ("the drop in is thirty dollars and there's no mat fee", 30.0, 0.0),
        ("classes are free for visitors we just charge a ten dollar mat fee", 0.0, 10.0),
    ] {
        assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(price), "price in {text:?}");
        assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(fee), "mat fee in {text:?}");
    }
}

fn yes_no_answer(text: &str, asked: &str) -> Option<bool> {
    value_of(&gym(), text, asked, asked).and_then(|(_, v)| v.as_bool())
}

#[test]
fn yes_no_with_negations() {
    let cases: &[(&str, bool)] = &[
        ("yes", true),
        ("yeah we do", true),
        ("yep drop ins are welcome", true),
        ("sure thing come on by", true),
        ("absolutely", true),
        ("of course we love visitors", true),
        ("no", false),
        ("nope", false),
        ("we don't do drop-ins", false),
        ("we don't do drop ins sorry", false),
        ("sorry we do not allow drop ins", false),
        ("unfortunately not", false),
        ("it's members only", false),
        ("drop ins aren't allowed right now", false),
        ("no problem we take drop ins all the time", true),
        ("yeah no we don't do that", false),
        // text eval, tuning seed 326: a filler between the opener and the no
        ("Yeah, so no, sorry, we're members only.", false),
        ("Okay so no, we don't take visitors at the moment.", false),
        ("Yeah, so of course, we get visitors all the time.", true),
    ];
    for (text, expected) in cases {
        assert_eq!(yes_no_answer(text, "drop_in_offered"), Some(*expected), "{text}");
    }
}

#[test]
fn an_opener_then_no_is_a_no() {
    // tuning seed 204 (espeak-ng en-gb+f4): "Right, no, sorry, we're members only." heard as
    // "Right, no, sorry. Remember no, no." was a yes ("right" opened it): "Perfect. How much is
    // a drop-in?" and a survey of a gym that takes no visitors
    for text in ["Right, no, sorry. Remember no, no.", "Right, no, sorry, we're members only.", "okay no not really"] {
        assert_eq!(yes_no_answer(text, "drop_in_offered"), Some(false), "{text}");
    }
    // "no need", "no problem" after a yes are no "no"
    for text in ["yeah, no need to book, just come in", "yes no problem"] {
        assert_eq!(yes_no_answer(text, "drop_in_offered"), Some(true), "{text}");
    }
}

#[test]
fn drop_in_refusal_is_recognised_when_not_asked() {
    // said while the agent was asking something else
    let found = value_of(&gym(), "oh we don't do drop ins here", "class_schedule", "drop_in_offered");
    assert_eq!(found, Some((FieldStatus::Known, json!(false))));
    let found = value_of(&gym(), "drop ins are twenty dollars", "class_schedule", "drop_in_price");
    assert_eq!(found.map(|(_, v)| v["amount"].clone()), Some(json!(20.0)));
}

fn days(text: &str) -> Vec<&'static str> {
    values::days_in(&text::tokenize(text)).into_iter().map(|d| values::DAYS[d]).collect()
}

#[test]
fn days_and_day_groups() {
    assert_eq!(days("monday and wednesday"), vec!["monday", "wednesday"]);
    assert_eq!(days("every weekday"), vec!["monday", "tuesday", "wednesday", "thursday", "friday"]);
    assert_eq!(days("weekends"), vec!["saturday", "sunday"]);
    assert_eq!(days("Mon through Fri"), vec!["monday", "tuesday", "wednesday", "thursday", "friday"]);
    assert_eq!(days("tuesdays and thursdays"), vec!["tuesday", "thursday"]);
    assert_eq!(days("every day except friday").len(), 6);
    assert_eq!(days("thursday to saturday"), vec!["thursday", "friday", "saturday"]);
    assert_eq!(days("weekdays but not wednesday"), vec!["monday", "tuesday", "thursday", "friday"]);
}

fn spans(text: &str) -> Vec<(String, Option<String>)> {
    values::time_spans(&text::tokenize(text), true)
        .into_iter()
        .map(|s| (values::hh_mm(s.start), s.end.map(values::hh_mm)))
        .collect()
}

fn span(start: &str, end: Option<&str>) -> (String, Option<String>) {
    (start.to_owned(), end.map(str::to_owned))
}

#[test]
fn times_and_ranges() {
    assert_eq!(spans("six to seven thirty"), vec![span("18:00", Some("19:30"))]);
    assert_eq!(spans("6:30pm"), vec![span("18:30", None)]);
    assert_eq!(spans("noon"), vec![span("12:00", None)]);
    assert_eq!(spans("at seven in the evening"), vec![span("19:00", None)]);
    assert_eq!(spans("from 6:30 am until 7:30"), vec![span("06:30", Some("07:30"))]);
    assert_eq!(spans("eleven to twelve thirty"), vec![span("11:00", Some("12:30"))]);
    assert_eq!(spans("11 to 1"), vec![span("11:00", Some("13:00"))]);
    assert_eq!(spans("six fifteen in the morning"), vec![span("06:15", None)]);
    assert_eq!(spans("half past five"), vec![span("17:30", None)]);
    assert_eq!(spans("quarter to seven"), vec![span("18:45", None)]);
    assert_eq!(spans("7-8:30pm"), vec![span("19:00", Some("20:30"))]);
    assert_eq!(spans("18:00 to 19:30"), vec![span("18:00", Some("19:30"))]);
    assert_eq!(spans("between noon and one"), vec![span("12:00", Some("13:00"))]);
    assert_eq!(spans("seven o'clock"), vec![span("19:00", None)]);
}

fn schedule_of(text: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    let (status, value) =
        value_of(&gym(), text, "class_schedule", "class_schedule").unwrap_or((FieldStatus::Unknown, json!([])));
    assert_eq!(status, FieldStatus::Known, "{text}");
    let slots: Vec<values::ClassSlot> = serde_json::from_value(value).unwrap();
    slots.into_iter().map(|s| (s.day, s.start, s.end, s.class_type)).collect()
}

fn slot(
    day: &str,
    start: &str,
    end: Option<&str>,
    class: Option<&str>,
) -> (String, String, Option<String>, Option<String>) {
    (day.into(), start.into(), end.map(Into::into), class.map(Into::into))
}

#[test]
fn schedules_in_many_phrasings() {
    assert_eq!(
        schedule_of("monday and wednesday six to seven thirty gi"),
        vec![slot("monday", "18:00", Some("19:30"), Some("gi")), slot("wednesday", "18:00", Some("19:30"), Some("gi"))]
    );
    assert_eq!(
        schedule_of("no gi tuesdays at seven and open mat saturday at noon"),
        vec![slot("tuesday", "19:00", None, Some("no-gi")), slot("saturday", "12:00", None, Some("open mat"))]
    );
    assert_eq!(
        schedule_of("fundamentals every weekday at 6:30am"),
        ["monday", "tuesday", "wednesday", "thursday", "friday"]
            .iter()
            .map(|d| slot(d, "06:30", None, Some("fundamentals")))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        schedule_of("kids class on saturday morning at ten and adults gi at eleven"),
        vec![slot("saturday", "10:00", None, Some("kids")), slot("saturday", "11:00", None, Some("gi"))]
    );
    assert_eq!(
        schedule_of("we have gi classes mon through fri from 7 to 8:30 pm and open mat on sundays from eleven to one"),
        ["monday", "tuesday", "wednesday", "thursday", "friday"]
            .iter()
            .map(|d| slot(d, "19:00", Some("20:30"), Some("gi")))
            .chain([slot("sunday", "11:00", Some("13:00"), Some("open mat"))])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        schedule_of("tuesday thursday at six no gi"),
        vec![slot("tuesday", "18:00", None, Some("no-gi")), slot("thursday", "18:00", None, Some("no-gi"))]
    );
    assert_eq!(
        schedule_of("Mondays: Gi 6:00-7:30 PM, No-Gi 7:30-8:30 PM"),
        vec![slot("monday", "18:00", Some("19:30"), Some("gi")), slot("monday", "19:30", Some("20:30"), Some("no-gi"))]
    );
}

fn requirements(text: &str) -> Option<Vec<String>> {
    let (status, value) = value_of(&gym(), text, "requirements", "requirements")?;
    assert_eq!(status, FieldStatus::Known, "{text}");
    serde_json::from_value(value).ok()
}

#[test]
fn requirements_with_negations() {
    let cases: &[(&str, &[&str])] = &[
        ("you need a gi and you have to sign a waiver", &["gi", "waiver"]),
        ("no you don't need a gi", &[]),
        ("just sign the waiver when you get here", &["waiver"]),
        ("bring your own gi and book ahead online", &["gi", "booking_ahead"]),
        ("a gi is optional but everyone signs a release form", &["waiver"]),
        ("any rank is welcome you just need to sign a waiver", &["waiver"]),
        ("you need to be at least a blue belt", &["rank"]),
        ("nothing just show up", &[]),
        // text eval, tuning seed 472
        ("Just yourself, really.", &[]),
        ("please call ahead so we know you're coming", &["booking_ahead"]),
        ("you don't need to book just bring a gi", &["gi"]),
        // heard on a tuning call (persona 212): "book ahead" as "books ahead"
        ("You will need to have a gi, or gi only and books ahead online.", &["gi", "booking_ahead"]),
        ("most people reserved a spot and signed the waivers", &["booking_ahead", "waiver"]),
        ("no need to have booked", &[]),
    ];
    for (text, expected) in cases {
        let mut found = requirements(text).unwrap_or_else(|| panic!("nothing found in {text:?}"));
        found.sort();
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected, "{text}");
    }
}

/// Tuning seeds 349 and 367 (`gymcall personas generate --seed 340`, audio eval): "be at least
/// a blue belt" heard as "be at least a new mail", "bring your own gi" as "bring your own juice";
/// the rank and the gi were lost. The words that lead into an option (its `frames`) give it when
/// what follows names no option, and the value is read back.
#[test]
fn an_option_is_taken_from_the_words_that_lead_into_it_and_read_back() {
    let cases: &[(&str, &[&str])] = &[
        (
            "You will need to bring your own juice, find the liability form and let us know in advance.",
            &["gi", "waiver", "booking_ahead"],
        ),
        ("Right, you need to fill out a waiver and be at least a new mail.", &["waiver", "rank"]),
        ("Oh, you need to fill in the really form, be at least a little melt.", &["waiver", "rank"]),
    ];
    for (text, expected) in cases {
        let found = extract(&gym(), text, Some("requirements")).into_iter().find(|e| e.field == "requirements");
        let found = found.unwrap_or_else(|| panic!("nothing found in {text:?}"));
        let mut items: Vec<String> = serde_json::from_value(found.value.clone()).unwrap();
        items.sort();
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(items, expected, "{text}");
        assert!(found.confidence < gym().confirm_below, "read back: {text}");
    }
    // the option's own words are as sure as before; a negated frame gives nothing
    let plain = extract(&gym(), "bring your own gi and be at least a blue belt", Some("requirements"));
    let plain = plain.into_iter().find(|e| e.field == "requirements").unwrap();
    assert_eq!(plain.value, json!(["gi", "rank"]));
    assert!(plain.confidence >= gym().confirm_below);
    assert_eq!(requirements("no you don't have to bring your own anything"), Some(vec![]));
}

#[test]
fn refusals_mark_the_asked_field_refused() {
    for text in [
        "i can't give out pricing over the phone",
        "sorry we don't give that out over the phone you'd have to come in",
        "i'd rather not say",
        "you'll have to come in and ask",
        "i'm not allowed to share prices",
    ] {
        let found = value_of(&gym(), text, "drop_in_price", "drop_in_price");
        assert_eq!(found.map(|(status, _)| status), Some(FieldStatus::Refused), "{text}");
    }
    // "we don't do drop-ins" is an answer, not a refusal
    let found = value_of(&gym(), "we don't do drop ins", "drop_in_offered", "drop_in_offered");
    assert_eq!(found, Some((FieldStatus::Known, json!(false))));
}

fn mood(text: &str) -> Option<Value> {
    value_of(&companion(), text, "mood", "mood").map(|(_, v)| v)
}

#[test]
fn mood_numbers_and_words() {
    assert_eq!(mood("about a seven"), Some(json!(7)));
    assert_eq!(mood("i'd say 8 out of 10"), Some(json!(8)));
    assert_eq!(mood("maybe six or seven"), Some(json!(6.5)));
    assert_eq!(mood("pretty good actually"), Some(json!(8)));
    assert_eq!(mood("not great to be honest"), Some(json!(4)));
    assert_eq!(mood("terrible"), Some(json!(2)));
    assert_eq!(mood("a hundred percent"), None);
}

#[test]
fn alarming_statements_raise_the_risk_flag() {
    let companion = companion();
    for text in [
        "honestly some days i just want to die",
        "i fell down in the kitchen yesterday and couldn't get up",
        "i haven't eaten since tuesday",
        "I can't go on like this.",
    ] {
        let risk = extract(&companion, text, Some("topics")).into_iter().find(|e| e.field == "risk");
        let risk = risk.unwrap_or_else(|| panic!("no risk in {text:?}"));
        assert_eq!(risk.value["flagged"], json!(true), "{text}");
        assert!(risk.value["escalation_note"].as_str().unwrap().contains("human"), "{text}");
    }
    for text in ["i went for a walk in the garden", "i'm doing fine thanks", "my daughter visited"] {
        assert!(extract(&companion, text, Some("topics")).iter().all(|e| e.field != "risk"), "{text}");
    }
}

#[test]
fn topics_are_listed() {
    let (_, value) =
        value_of(&companion(), "my daughter visited and my knee has been hurting", "topics", "topics").unwrap();
    let mut topics: Vec<String> = serde_json::from_value(value).unwrap();
    topics.sort();
    assert_eq!(topics, vec!["family", "health"]);
}

#[test]
fn read_back_describes_values() {
    let gym = gym();
    let price = gym.field("drop_in_price").unwrap();
    assert_eq!(describe(price, &json!({"amount": 25.0, "currency": "USD"})), "25 dollars");
    assert_eq!(describe(price, &json!({"amount": 0.0, "currency": "USD"})), "free");
    let schedule = gym.field("class_schedule").unwrap();
    let value = json!([
        {"day": "monday", "start": "18:00", "end": "19:30", "class_type": "gi"},
        {"day": "wednesday", "start": "18:00", "end": "19:30", "class_type": "gi"},
        {"day": "saturday", "start": "12:00", "end": null, "class_type": "open mat"}
    ]);
    assert_eq!(
        describe(schedule, &value),
        "gi on monday and wednesday from 6 PM to 7:30 PM; open mat on saturday at noon"
    );
    let offered = gym.field("drop_in_offered").unwrap();
    assert_eq!(describe(offered, &json!(false)), "you don't take drop-ins");
}

#[test]
fn spoken_times_and_prices_as_a_speech_engine_writes_them() {
    // "p m" / "a m" as two words, "oh" minutes, dollars-and-cents as two numbers
    assert_eq!(spans("from six p m to seven thirty p m"), vec![span("18:00", Some("19:30"))]);
    assert_eq!(spans("nine oh five a m"), vec![span("09:05", None)]);
    assert_eq!(spans("from noon to one p m"), vec![span("12:00", Some("13:00"))]);
    assert_eq!(amount("it's twelve fifty", "drop_in_price", "drop_in_price"), Some(12.5));
    assert_eq!(amount("no there's no charge for that", "mat_fee", "mat_fee"), Some(0.0));
    assert_eq!(
        schedule_of("we have gi class on monday and wednesday from six p m to seven thirty p m and open mat on saturday from ten a m to twelve p m"),
        vec![
            slot("monday", "18:00", Some("19:30"), Some("gi")),
            slot("wednesday", "18:00", Some("19:30"), Some("gi")),
            slot("saturday", "10:00", Some("12:00"), Some("open mat")),
        ]
    );
    assert_eq!(
        schedule_of("fundamentals class on tuesday and thursday from six a m to seven a m and open mat on sunday from eleven a m to one p m"),
        vec![
            slot("tuesday", "06:00", Some("07:00"), Some("fundamentals")),
            slot("thursday", "06:00", Some("07:00"), Some("fundamentals")),
            slot("sunday", "11:00", Some("13:00"), Some("open mat")),
        ]
    );
    assert_eq!(
        schedule_of("all levels class on monday and friday from noon to one p m"),
        vec![
            slot("monday", "12:00", Some("13:00"), Some("all levels")),
            slot("friday", "12:00", Some("13:00"), Some("all levels"))
        ]
    );
    assert_eq!(yes_no_answer("yeah we love having visitors come train with us", "drop_in_offered"), Some(true));
    assert_eq!(
        yes_no_answer("no sorry we're members only we don't do drop ins at all", "drop_in_offered"),
        Some(false)
    );
    assert_eq!(
        requirements("you'll need waiver and book"),
        Some(vec!["waiver".to_owned(), "booking_ahead".to_owned()])
    );
    assert_eq!(requirements("no nothing special just show up"), Some(vec![]));
    let found = value_of(
        &gym(),
        "sorry i can't give that out over the phone you'd have to come by the front desk",
        "drop_in_price",
        "drop_in_price",
    );
    assert_eq!(found.map(|(status, _)| status), Some(FieldStatus::Refused));
    // a bare number next to another field's name is that field's; a time is nobody's price
    assert_eq!(amount("the mat fee is like ten", "drop_in_price", "mat_fee"), Some(10.0));
    assert!(value_of(&gym(), "drop in classes are monday six thirty", "class_schedule", "drop_in_price").is_none());
}

#[test]
fn odd_input_never_panics() {
    let inputs = [
        "",
        " ",
        "$",
        "$$$",
        ":",
        "6:",
        ":30",
        "99:99",
        "6-",
        "-7",
        "--",
        "1.2.3",
        "$.50",
        "one hundred and",
        "a hundred",
        "twenty twenty twenty",
        "press",
        "press press 1",
        "for press",
        "through",
        "monday through",
        "from to",
        "half past",
        "quarter to",
        "oh",
        "nine oh",
        "é ü 日本 🙂",
        "\u{0}\u{1}",
        "999999999999999999999 dollars",
        "-5 dollars",
        "no no no no not not don't",
        "between and",
        "at at at",
        "p m a m",
        "'",
        "''''",
        "12:00-",
        "$1e308",
        &"twenty five ".repeat(500),
    ];
    let gym = gym();
    let companion = companion();
    for text in inputs {
        for field in gym.fields.iter().map(|f| Some(f.name.as_str())).chain([None]) {
            let _ = extract(&gym, text, field);
        }
        for field in companion.fields.iter().map(|f| Some(f.name.as_str())).chain([None]) {
            let _ = extract(&companion, text, field);
        }
        let _ = intent::intents(&text::normalised(text));
        let _ = intent::confirmation(&text::normalised(text));
    }
}

#[test]
fn one_word_compounds_from_the_speech_engine() {
    assert_eq!(schedule_of("nogi on tuesday at seven"), vec![slot("tuesday", "19:00", None, Some("no-gi"))]);
    assert_eq!(yes_no_answer("we don't do dropins", "drop_in_offered"), Some(false));
}

// Heard in `gymcall eval` on tuning seeds (100-111, Whisper hearing espeak-ng voices).

#[test]
fn a_yes_and_a_no_in_one_answer_settle_nothing() {
    // "Right, sure, visitors are always welcome." heard this way twice was taken as "no
    // drop-ins", confirmed, and the call surveyed nothing (seed 103)
    assert_eq!(yes_no_answer("Right, sure, visit and not all way welcome.", "drop_in_offered"), None);
    // a plain "yeah, no" is still a no
    assert_eq!(yes_no_answer("yeah no we don't do that", "drop_in_offered"), Some(false));
}

#[test]
fn an_answer_that_opens_with_of_course_is_not_a_hold() {
    // "Of course, we get visitors all the time." heard with "a moment" in it: the agent said
    // "Sure, take your time" and waited 45 s on a hold nobody asked for (seed 103)
    assert_eq!(yes_no_answer("Of course, we get to win it a moment time.", "drop_in_offered"), Some(true));
}

#[test]
fn fillers_before_a_yes_or_no_do_not_hide_it() {
    // "Um, absolutely, come on by." heard word for word was not taken as a yes (seed 100)
    assert_eq!(yes_no_answer("Um, absolutely. Come on by.", "drop_in_offered"), Some(true));
    assert_eq!(yes_no_answer("uh well no we don't", "drop_in_offered"), Some(false));
    assert_eq!(yes_no_answer("oh yep you can just come in and train", "drop_in_offered"), Some(true));
}

#[test]
fn asked_for_a_fee_a_no_in_words_the_rules_do_not_know_is_none_read_back() {
    // the mat fee's name misheard in every reply: "there's no mat fee" as "There's no messy.",
    // "There's no Matthew.", "Okay, so there is no mapie.", "No, no extra fee for the mask."; the
    // question was asked until the agent gave up (seeds 101, 104, 107, 108)
    for text in
        ["There's no messy.", "There's no Matthew.", "Okay, so there is no mapie.", "No, no extra fee for the mask."]
    {
        let found = value_of(&gym(), text, "mat_fee", "mat_fee");
        let (status, value) = found.unwrap_or_else(|| panic!("nothing from {text:?}"));
        assert_eq!(status, FieldStatus::Known, "{text}");
        assert_eq!(value["amount"], json!(0.0), "{text}");
    }
    // not an answer of none: not knowing, or a refusal
    assert_eq!(value_of(&gym(), "I don't know the cost, sorry", "mat_fee", "mat_fee").map(|(s, _)| s), None);
    assert_eq!(value_of(&gym(), "there's no way I can tell you that", "mat_fee", "mat_fee"), None);
}

#[test]
fn a_hold_phrase_before_an_answer_is_a_filler() {
    use crate::extract::intent::{intents, Intent};
    use crate::extract::text::normalised;
    // "Let me see, ten dollars for the mat fee." was taken as a hold: "Sure, take your time",
    // then 45 s of silence on both sides (seed 103)
    for text in [
        "No, sorry, I'm dropping in 1750. Let me see, 10,000,000,000,000,000,000.",
        "let me see it's forty five quid no sorry forty pounds right no there's no extra fee for the mats",
    ] {
        assert!(!intents(&normalised(text)).contains(&Intent::Hold), "{text}");
    }
    for text in ["Hang on, let me grab the schedule.", "one moment please", "hold on let me check with the manager"] {
        assert!(intents(&normalised(text)).contains(&Intent::Hold), "{text}");
    }
}

#[test]
fn a_fee_and_a_price_in_one_reply_without_punctuation_go_to_their_own_fields() {
    // "Okay so nope, nothing on top. Right, we charge seventeen fifty dollars for a drop in."
    // as Whisper wrote it: the drop-in was noted as free and the mat fee as 17.50 (seed 200)
    let text = "Okay, so no nothing on top right we charge $17.50 for a drop-in";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(17.5));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(0.0));
    // still: a negated fee after an amount is not that amount's field
    assert_eq!(amount("fifteen dollars and no mat fee", "drop_in_price", "drop_in_price"), Some(15.0));
    assert_eq!(amount("fifteen dollars and no mat fee", "drop_in_price", "mat_fee"), Some(0.0));
}

#[test]
fn a_price_written_as_one_four_digit_number_is_dollars_and_cents() {
    // "seventeen fifty" written "1750": read back as "1750 dollars" (seed 200)
    assert_eq!(amount("No, sorry, the drop in the 1750.", "drop_in_price", "drop_in_price"), Some(17.5));
    assert_eq!(amount("No, it's 1750.", "drop_in_price", "drop_in_price"), Some(17.5));
    assert_eq!(amount("It's 2250 dollars.", "drop_in_price", "drop_in_price"), Some(22.5));
    assert_eq!(amount("It's $25.", "drop_in_price", "drop_in_price"), Some(25.0));
}

#[test]
fn gi_as_the_recogniser_writes_it_is_still_a_gi() {
    // "bring your own gi" came back as "bring your own key" and "a G, we're G only"; the
    // requirement was asked again and dropped (seeds 203, 209, 214, 215)
    for text in ["You will need to bring your own key.", "Right, you just need to have a G, we're G only."] {
        let (_, value) = value_of(&gym(), text, "requirements", "requirements").unwrap();
        assert_eq!(value, json!(["gi"]), "{text}");
    }
}

#[test]
fn a_rank_said_by_its_bound_and_beforehand_in_two_words_are_requirements() {
    // tuning seeds 335 and 304 (espeak-ng en-us), as heard: the belt colour misheard, the bound
    // ("or higher") was not; "beforehand" written as two words
    let gym = gym();
    let requirements = |text: &str| {
        extract(&gym, text, Some("requirements")).into_iter().find(|e| e.field == "requirements").map(|e| e.value)
    };
    assert_eq!(requirements("Um, you need to be a blue male or higher."), Some(json!(["rank"])));
    assert_eq!(
        requirements("You'll need to bring a gi, a blue belt, or higher end test, just before hand."),
        Some(json!(["gi", "rank", "booking_ahead"]))
    );
}

#[test]
fn nothing_said_only_by_negating_an_option_is_read_back() {
    // tuning seed 532 (espeak-ng en-us+f2): "You just need to let us know in advance." heard as
    // below was noted in passing as nothing needed
    let found = extract(&gym(), "You not need to let us know in the man's.", Some("requirements"))
        .into_iter()
        .find(|e| e.field == "requirements")
        .unwrap();
    assert_eq!(found.value, json!([]));
    assert!(found.confidence < gym().confirm_below, "read back, not noted: {found:?}");
    // tuning seed 303: "You just need to be at least a blue belt." the same way
    let found = extract(&gym(), "You not need to be at least a blue bell.", Some("requirements"))
        .into_iter()
        .find(|e| e.field == "requirements")
        .unwrap();
    assert!(found.value == json!([]) && found.confidence < gym().confirm_below, "{found:?}");
    // a plain "nothing" is still noted
    let found = extract(&gym(), "no nothing special just show up", Some("requirements"))
        .into_iter()
        .find(|e| e.field == "requirements");
    assert!(found.is_some_and(|e| e.confidence >= gym().confirm_below));
}
