//! Prices as new receptionists said them (issue 12): a mat fee without a drop-in price, a free
//! first class, amounts in words, an amount said digit by digit in a correction.

use super::*;
use playbook::PlaybookSet;
use serde_json::json;

fn gym() -> Playbook {
    PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone()
}

fn found(text: &str, asked: &str, field: &str) -> Option<Extraction> {
    extract(&gym(), text, Some(asked)).into_iter().find(|e| e.field == field)
}

fn amount(text: &str, asked: &str, field: &str) -> Option<f64> {
    found(text, asked, field).and_then(|e| e.value.get("amount").and_then(Value::as_f64))
}

#[test]
fn no_drop_in_price_is_not_no_drop_ins() {
    // "We don't really have a drop-in price, you just pay the fifteen dollar mat fee" was taken as
    // "no drop-ins" and wiped a confirmed yes
    for text in [
        "we don't really have a drop-in price, you just pay the fifteen dollar mat fee",
        "no drop-in price, you just pay the fifteen dollar mat fee",
    ] {
        for asked in ["drop_in_price", "mat_fee", "drop_in_offered"] {
            let offered = found(text, asked, "drop_in_offered");
            assert!(offered.as_ref().is_none_or(|e| e.value != Value::Bool(false)), "{asked}: {text:?} -> {offered:?}");
        }
        // a visitor pays the mat fee and nothing for the class
        assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(15.0), "{text}");
        assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(0.0), "{text}");
    }
    // still a no when drop-ins themselves are refused
    assert_eq!(found("we don't do drop ins", "drop_in_price", "drop_in_offered").map(|e| e.value), Some(json!(false)));
    // a price that is not given is not a price of zero
    let refused = found("sorry i can't give out the drop in price over the phone", "drop_in_price", "drop_in_price");
    assert_eq!(refused.map(|e| e.status), Some(FieldStatus::Refused));
}

#[test]
fn a_free_first_class_is_not_the_drop_in_price() {
    // "your first class is free, after that it's twenty": the drop-in is twenty (was: free)
    assert_eq!(
        amount("your first class is free and after that it's twenty dollars", "drop_in_price", "drop_in_price"),
        Some(20.0)
    );
    // only the free first class said: free, but read back rather than noted
    let only = found("the first class is free", "drop_in_price", "drop_in_price").unwrap();
    assert_eq!(only.value["amount"], json!(0.0));
    assert!(only.confidence < gym().confirm_below, "{}", only.confidence);
    // a plain "free" stays a confident free
    let free = found("it's free", "drop_in_price", "drop_in_price").unwrap();
    assert!(free.confidence >= gym().confirm_below);
}

#[test]
fn amounts_in_words() {
    assert_eq!(amount("it's twenty-two fifty", "drop_in_price", "drop_in_price"), Some(22.5));
    assert_eq!(amount("twenty two fifty for a drop in", "drop_in_price", "drop_in_price"), Some(22.5));
    // "one five": fifteen said digit by digit, as when correcting "fifty" read back
    assert_eq!(amount("no one five", "mat_fee", "mat_fee"), Some(15.0));
    assert_eq!(amount("one five dollars", "drop_in_price", "drop_in_price"), Some(15.0));
    // not a time, not "one or two", not a count
    assert!(found("at one five", "drop_in_price", "drop_in_price").is_none_or(|e| e.value["amount"] != json!(15.0)));
    assert_eq!(amount("twenty five dollars", "drop_in_price", "drop_in_price"), Some(25.0));
    // tuning seed 311: "seventeen fifty dollars for a class" written "$1750 for a class"
    assert_eq!(amount("Let me see, $1750 for a class.", "drop_in_price", "drop_in_price"), Some(17.5));
    assert_eq!(amount("it's 1750 dollars", "drop_in_price", "drop_in_price"), Some(17.5));
}

#[test]
fn digits_said_one_by_one_are_not_read_into_counts() {
    assert!(found("two three times a week", "drop_in_price", "drop_in_price")
        .is_none_or(|e| e.value["amount"] != json!(23.0)));
}

#[test]
fn an_amount_said_again_after_a_correction_word_replaces_the_first() {
    // tuning seed 329 (flite rms): "Uh, it's forty five quid, no sorry, forty pounds." heard as
    // below, and 45 pounds was kept
    let text = "But it's 45 quid, no sorry, 40 pounds.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(40.0));
    let corrected = found(text, "drop_in_price", "drop_in_price").unwrap();
    assert!(corrected.confidence < gym().confirm_below, "a corrected amount is read back: {corrected:?}");
    assert_eq!(amount("the mat fee is 20 dollars, sorry, I mean 25", "mat_fee", "mat_fee"), Some(25.0));
    // two fields' amounts with a "sorry" between them stay two
    let text = "it's 20 dollars, sorry, and the mat fee is 5";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(20.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(5.0));
}

#[test]
fn an_amount_right_before_a_fee_name_is_that_fees() {
    // tuning seed 337 (flite rms): "Um, yes, there's a twenty dollar mat fee. It's forty dollars."
    // heard as below: read as a 20 dollar drop-in and a 40 dollar mat fee
    let text = "Yes, there's a $20 mat fee, it's $40.";
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(20.0));
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(40.0));
    // an amount that leads into the fee's own sentence is still not the fee's
    let text = "twenty five, and the mat fee is ten";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(25.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(10.0));
}

#[test]
fn the_cents_said_after_the_currency_and_the_currency_after_the_cents() {
    // text eval, tuning seeds 408, 467, 476, 504, 514: "thirty seven euros fifty" was 37 euros,
    // "seventeen fifty pounds" 17.50 dollars
    assert_eq!(
        found("drop ins are thirty seven euros fifty", "drop_in_price", "drop_in_price").map(|e| e.value),
        Some(json!({ "amount": 37.5, "currency": "EUR" }))
    );
    assert_eq!(
        found("we charge seventeen fifty pounds for a drop in", "drop_in_price", "drop_in_price").map(|e| e.value),
        Some(json!({ "amount": 17.5, "currency": "GBP" }))
    );
    assert_eq!(amount("No, it's seventeen pounds fifty.", "drop_in_price", "drop_in_price"), Some(17.5));
    assert_eq!(
        amount("it's twenty seven euros fifty, no sorry, twenty two euros fifty", "drop_in_price", "drop_in_price"),
        Some(22.5)
    );
    assert_eq!(amount("twenty five dollars and fifty cents", "drop_in_price", "drop_in_price"), Some(25.5));
    // two amounts, a time or a count after the currency stay what they are
    let text = "ten dollars, fifteen dollars for the mat fee";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(10.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(15.0));
    assert_eq!(amount("twenty dollars, thirty minutes", "drop_in_price", "drop_in_price"), Some(20.0));
    assert_eq!(amount("twenty dollars twenty classes a month", "drop_in_price", "drop_in_price"), Some(20.0));
}

#[test]
fn a_mat_fee_said_twice_and_no_drop_in_price() {
    // text eval, tuning seeds 414, 439, 524: the mat fee said again at the end of the answer went
    // to the drop-in price
    for text in [
        "Uh, no drop in price, only the mat fee, which is ten dollars. And the mat fee is ten dollars.",
        "Uh, we don't really have a drop in price, you just pay the ten dollar mat fee. And the mat fee is ten dollars.",
    ] {
        assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(10.0), "{text}");
        assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(0.0), "{text}");
    }
    // the mat fee named, then free for the class (seeds 496, 653)
    for text in [
        "Ten dollars for the mat fee. So, it's free, we don't charge visitors.",
        "Oh, twenty pounds for the mat fee. It's free, we don't charge visitors.",
    ] {
        assert!(amount(text, "drop_in_price", "mat_fee").is_some_and(|a| a > 0.0), "{text}");
        assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(0.0), "{text}");
    }
}

#[test]
fn a_price_not_said_on_the_phone_is_refused() {
    // text eval, tuning seed 403: "You'd have to ask at the front desk, I can't say on the phone."
    let refused =
        found("You'd have to ask at the front desk, I can't say on the phone.", "drop_in_price", "drop_in_price");
    assert_eq!(refused.map(|e| e.status), Some(FieldStatus::Refused));
}

#[test]
fn a_price_after_a_free_first_class_with_its_currency_misheard() {
    // tuning seed 312 (espeak-ng en-gb+f4), what Whisper wrote for "Yeah, so your first class is
    // free, and after that it's twenty five euros."
    let text = "Yes, so your first class in free and after now, it's twenty five your own.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(25.0));
    // the same answer two sessions later, with "first" heard as "third": the "after" says the
    // free was an offer and the twenty five the price (was: free for a drop-in, got it)
    let text = "Yeah, so your third class in free and after now, it's twenty five your own.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(25.0));
    // a free with nothing after it stays free
    assert_eq!(amount("it's free after all", "drop_in_price", "drop_in_price"), Some(0.0));
    // and a refusal heard as "I can't pay on the phone" (seeds 313, 331)
    let refused =
        found("You can't look at the front desk. I can't pay on the phone.", "drop_in_price", "drop_in_price");
    assert_eq!(refused.map(|e| e.status), Some(FieldStatus::Refused));
    // a phone mentioned without a refusal is none
    assert!(found("you can book on the phone, it's twenty", "drop_in_price", "drop_in_price")
        .is_some_and(|e| e.status == FieldStatus::Known));
}

#[test]
fn a_fee_said_to_be_none_in_the_sentence_before_is_not_the_next_amounts() {
    // text eval, tuning seeds 728, 483: the fifteen went to the mat fee
    for text in
        ["No, no mat fee. Fifteen pounds for a class.", "No, no mat fee. Hmm, thirty seven fifty pounds for a class."]
    {
        assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(0.0), "{text}");
        assert!(amount(text, "drop_in_price", "drop_in_price").is_some_and(|a| a > 10.0), "{text}");
    }
    // a fee named, then its amount in the next sentence, is still that fee's
    assert_eq!(amount("There's a mat fee. It's ten dollars.", "mat_fee", "mat_fee"), Some(10.0));
}

#[test]
fn a_pound_or_euro_sign_names_the_currency_and_a_bare_amount_takes_the_one_named_beside_it() {
    let value = |text: &str, field: &str| found(text, "drop_in_price", field).map(|e| e.value);
    // tuning seed 364: "It's forty five pounds, no sorry, forty quid" heard as "It's £49, no
    // sorry, £40." was read back as 40 dollars: a sign was matched by its length in bytes
    assert_eq!(value("It's £49, no sorry, £40.", "drop_in_price"), Some(json!({ "amount": 40.0, "currency": "GBP" })));
    assert_eq!(value("A drop-in is €15.", "drop_in_price"), Some(json!({ "amount": 15.0, "currency": "EUR" })));
    // tuning seed 344: "A drop in is thirty quid. Oh, there's a ten pound mat fee" heard without
    // the "quid"
    let heard = "A drop-in is 30, oh, there's a 10-pound mat fee, but only if you stay for open mat.";
    assert_eq!(value(heard, "drop_in_price"), Some(json!({ "amount": 30.0, "currency": "GBP" })));
    assert_eq!(value(heard, "mat_fee"), Some(json!({ "amount": 10.0, "currency": "GBP" })));
    // two currencies named: a bare amount is left as it was
    let mixed = "a drop in is 30, the mat fee is 10 pounds or 12 euros";
    assert_eq!(value(mixed, "drop_in_price").and_then(|v| v.get("currency").cloned()), Some(json!("USD")));
}

/// Tuning seed 306 (espeak-ng en-gb+m2): "We don't really have a drop in price, you just pay the
/// twenty dollar mat fee" heard as "... You just pay the $20 max." The amount named no field and
/// went to the price asked, the one the answer says does not exist: "20 dollars for a drop-in,
/// got it". It is the other price, read back for a yes.
#[test]
fn an_amount_beside_a_price_said_not_to_exist_is_the_other_price_read_back() {
    let heard = "We don't really have a drop in price. You just pay the $20 max.";
    assert_eq!(amount(heard, "drop_in_price", "drop_in_price"), Some(0.0));
    let fee = found(heard, "drop_in_price", "mat_fee").expect("the amount is the mat fee");
    assert_eq!(fee.value["amount"], json!(20.0));
    assert!(fee.confidence < gym().confirm_below, "read back: {}", fee.confidence);
    // the other way round
    let heard = "There's no mat fee. You just pay $15.";
    assert_eq!(amount(heard, "mat_fee", "mat_fee"), Some(0.0));
    assert_eq!(amount(heard, "mat_fee", "drop_in_price"), Some(15.0));
    // a bare number is not moved: it answers nothing
    assert_eq!(amount("We don't really have a drop in price. You just pay twenty.", "drop_in_price", "mat_fee"), None);
    // an amount whose field is named keeps it, and the asked price not denied keeps a bare amount
    assert_eq!(amount(heard.replace("You just pay", "A drop-in is").as_str(), "mat_fee", "drop_in_price"), Some(15.0));
    assert_eq!(amount("It's $25.", "drop_in_price", "drop_in_price"), Some(25.0));
}

#[test]
fn an_amount_said_again_after_a_bare_no_replaces_the_first() {
    // tuning seeds 504, 537, 521 (espeak-ng en-us+f2, en-us+f3, en-us+m3): "X, no sorry, Y" with
    // "sorry" heard as another word; the first amount was noted each time
    let text = "Yes, it's £17.50. No far, it £12.50. There's no mat fee.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(12.5));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(0.0));
    let text = "So, no, there's no next repeat for the mat. Okay, so it's $45, no salary, $40.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(40.0));
    let text = "Right, it's twenty five dollars, no hurry, twenty dollars.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(20.0));
    let corrected = found(text, "drop_in_price", "drop_in_price").unwrap();
    assert!(corrected.confidence < gym().confirm_below, "a corrected amount is read back: {corrected:?}");
    // a "no" that says there is nothing more is no correction of the amount
    assert_eq!(amount("it's twenty dollars, no, nothing else", "drop_in_price", "drop_in_price"), Some(20.0));
    // nor one before another field's amount
    let text = "twenty dollars, no, the mat fee is ten";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(20.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(10.0));
}

/// Tuning seed 561: "How much is a drop-in, and is there a mat fee?" answered "No, there's no
/// extra fee for the mats. Okay, so drop-ins are $20." (heard right) was noted as a free drop-in:
/// the none took the price asked about and the $20 said with its name was lost.
#[test]
fn an_amount_said_with_its_fields_name_beats_an_unnamed_one_for_the_field_asked() {
    let text = "No, there's no extra fee for the mats. Okay, so drop-ins are $20.";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(20.0));
    // the none is the other price the question asked about, read back
    let mat = found(text, "drop_in_price", "mat_fee").expect("the none goes to the mat fee");
    assert_eq!(mat.value.get("amount").and_then(Value::as_f64), Some(0.0));
    assert!(mat.confidence < 0.7, "read back: {mat:?}");
    // an amount said again for the field named is no second price
    let text = "drop ins are twenty dollars, twenty dollars";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(20.0));
    assert_eq!(found(text, "drop_in_price", "mat_fee"), None);
    // as before: an unnamed amount answers the question asked, a named one its field
    let text = "it's twenty five, and the mat fee is ten";
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(25.0));
    assert_eq!(amount(text, "drop_in_price", "mat_fee"), Some(10.0));
}

/// Tuning seed 574: "we charge twenty five dollars for a drop in" heard "we charge 20 $5 for a
/// drop-in" was noted as 20 dollars.
#[test]
fn twenty_five_dollars_written_twenty_then_five_dollars_is_twenty_five() {
    assert_eq!(amount("Let me see, we charge 20 $5 for a drop-in.", "drop_in_price", "drop_in_price"), Some(25.0));
}

/// Tuning seed 610 (ev580a): "Saturday, from eleven a m to twelve, that's gi." heard "From 11 to
/// 12, Mat fee." in a schedule answer gave a mat fee of 12 dollars, read back later over the free
/// one noted before. The end of a time range is a time, not an amount.
#[test]
fn the_end_of_a_time_range_is_no_amount() {
    for asked in ["class_schedule", "mat_fee"] {
        assert_eq!(amount("From 11 to 12, Mat fee.", asked, "mat_fee"), None, "{asked}");
        assert_eq!(amount("between six and seven, mat fee", asked, "mat_fee"), None, "{asked}");
    }
    // an amount after a range of amounts is still one
    assert_eq!(amount("the mat fee is ten to twelve dollars", "mat_fee", "mat_fee"), Some(10.0));
    assert_eq!(amount("mat fee is 12", "mat_fee", "mat_fee"), Some(12.0));
}

/// Tuning seed 611 (ev580b): "Let me see, no drop in price, only the mat fee, which is twenty
/// euros." heard "Let me see no drop-in price, only the mat fee, which is when to your own." was
/// noted as a free drop-in and a free mat fee. "Only the mat fee" says there is one; its amount
/// was not heard.
#[test]
fn only_the_mat_fee_is_no_free_mat_fee() {
    let text = "Let me see no drop-in price, only the mat fee, which is when to your own.";
    for asked in ["drop_in_price", "mat_fee"] {
        let fee = found(text, asked, "mat_fee");
        assert!(
            fee.as_ref().is_none_or(|e| e.status != FieldStatus::Known || amount(text, asked, "mat_fee") != Some(0.0)),
            "{asked}: {fee:?}"
        );
    }
    // the drop-in itself is free
    assert_eq!(amount(text, "drop_in_price", "drop_in_price"), Some(0.0));
    // with the amount heard, it is the mat fee
    assert_eq!(
        amount("no drop-in price, only the mat fee, which is twenty euros", "drop_in_price", "mat_fee"),
        Some(20.0)
    );
}

#[test]
fn euros_heard_as_years_after_an_amount_are_euros() {
    // tuning seed 634 (espeak-ng en-us+f3): "It's forty five euros, no sorry, forty euros." heard
    // so twice, the drop-in price given up
    let price = |text: &str| {
        found(text, "drop_in_price", "drop_in_price").map(|e| (e.value["amount"].clone(), e.value["currency"].clone()))
    };
    assert_eq!(price("It's 45-year long, no sorry, 40-year long."), Some((json!(40.0), json!("EUR"))));
    // the correction word itself misheard: two prices for one, read back for a yes
    let heard = found("It's 45-year long, low target, 40-year long.", "drop_in_price", "drop_in_price").unwrap();
    assert_eq!(heard.value["currency"], json!("EUR"));
    assert!(heard.confidence < gym().confirm_below, "{heard:?}");
    // tuning seeds 580 and 500: the cents after the currency
    assert_eq!(price("No, it's 22 year long 50."), Some((json!(22.5), json!("EUR"))));
    assert_eq!(price("We charged 22-year-old 50 for a drop-in."), Some((json!(22.5), json!("EUR"))));
    assert_eq!(price("No, it's 22 on your own 50."), Some((json!(22.5), json!("EUR"))));
    // "your own" too (tuning seed 312: "twenty five euros")
    assert_eq!(
        price("Yes, so your first class in free and after now, it's twenty five your own."),
        Some((json!(25.0), json!("EUR")))
    );
    // an age stays an age
    assert_eq!(found("a 5 year old can join the kids class", "drop_in_price", "drop_in_price"), None);
}
