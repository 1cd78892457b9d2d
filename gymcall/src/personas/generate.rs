//! Random receptionists: facts over the gym playbook's fields (schedules of 2-6 classes, prices
//! in three currencies, mat fees, requirements, sometimes no drop-ins, a free first class, only a
//! mat fee, a conditional fee, refusals, holds) and several phrasings of each answer from
//! [`super::grammar`], with a random voice that is not the agent's. One seed, one persona.

use super::grammar::{self, capitalized, with_filler};
use serde_json::{json, Map, Value};
use simulator::persona::rng::SplitMix64;

/// Voices a generated persona speaks with (never flite's kal, the agent's).
pub const VOICES: &[&str] = &[
    "espeak-ng:en-us+f2",
    "espeak-ng:en-us+f3",
    "espeak-ng:en-us+m3",
    "espeak-ng:en-us+m7",
    "espeak-ng:en-gb+f4",
    "espeak-ng:en-gb+m2",
    "espeak-ng:en-gb-x-rp+f1",
    "flite:slt",
    "flite:rms",
    "flite:awb",
];

const GYM_WORDS: &[&str] = &[
    "Harbor",
    "Granite",
    "Cedar",
    "Northside",
    "Red Oak",
    "Lionheart",
    "Tidewater",
    "Ironclad",
    "Bluewater",
    "Foxhill",
    "Kestrel",
    "Maple",
    "Riverbend",
    "Stonebridge",
    "Wolfpack",
    "Copper",
    "Pinecrest",
    "Highland",
];
const GYM_KINDS: &[&str] = &["Jiu Jitsu", "BJJ", "Grappling", "Martial Arts", "Brazilian Jiu Jitsu", "MMA"];
const NAMES: &[&str] =
    &["Jess", "Mike", "Priya", "Tom", "Ana", "Carlos", "Beth", "Sam", "Dana", "Luis", "Kate", "Omar", "Mia", "Rob"];
const CLASS_TYPES: &[&str] = &["gi", "no-gi", "open mat", "fundamentals", "all levels", "advanced", "kids"];
/// Start times (minutes after midnight) a class plausibly starts at, by part of the day.
const STARTS: &[u32] = &[
    6 * 60,
    6 * 60 + 30,
    7 * 60,
    9 * 60 + 30,
    10 * 60,
    11 * 60,
    12 * 60,
    12 * 60 + 15,
    17 * 60 + 30,
    18 * 60,
    18 * 60 + 30,
    19 * 60,
    19 * 60 + 15,
    19 * 60 + 30,
    20 * 60,
];
const CONDITIONS: &[&str] = &[
    "if you're not from an affiliated gym",
    "if you stay for open mat",
    "if you don't have your own insurance",
    "on weekends",
];

/// How the drop-in is priced.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pricing {
    Price,
    FirstClassFree,
    OnlyMatFee,
    Free,
}

/// The persona of `seed`, as the YAML document a persona file holds.
pub fn persona(seed: u64) -> Value {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let gym_name = format!("{} {}", rng.pick(GYM_WORDS), rng.pick(GYM_KINDS));
    let receptionist = *rng.pick(NAMES);
    let currency = *rng.pick(&["USD", "USD", "USD", "USD", "USD", "GBP", "GBP", "EUR"]);
    let timezone = match currency {
        "GBP" => "Europe/London",
        "EUR" => "Europe/Dublin",
        _ => *rng.pick(&["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]),
    };
    let offered = !rng.chance(0.15);
    let mut facts = Map::new();
    let mut answers = Map::new();
    let mut terms = Map::new();
    let mut together = Vec::new();
    let mut behaviour = Map::new();
    facts.insert("drop_in_offered".into(), json!(offered));
    answers.insert("drop_in_offered".into(), json!(phrasings(&mut rng, 3, |r| offered_answer(r, offered))));
    if currency != "USD" {
        terms.insert("currency".into(), json!(currency));
    }
    if offered {
        let pricing = *rng.pick(&[
            Pricing::Price,
            Pricing::Price,
            Pricing::Price,
            Pricing::Price,
            Pricing::Price,
            Pricing::FirstClassFree,
            Pricing::OnlyMatFee,
            Pricing::Free,
        ]);
        let mut price = f64::from(rng.range(3, 8) * 5);
        if rng.chance(0.15) {
            // "twenty two fifty"
            price -= 2.5;
        }
        let mut mat_fee = if rng.chance(0.6) { 0.0 } else { f64::from(rng.range(1, 4) * 5) };
        match pricing {
            Pricing::OnlyMatFee => {
                price = 0.0;
                if mat_fee == 0.0 {
                    mat_fee = f64::from(rng.range(1, 4) * 5);
                }
                terms.insert("no_drop_in_price".into(), json!(true));
            }
            Pricing::FirstClassFree => {
                terms.insert("first_class_free".into(), json!(true));
            }
            Pricing::Free => price = 0.0,
            Pricing::Price => {}
        }
        let condition =
            (mat_fee > 0.0 && pricing != Pricing::OnlyMatFee && rng.chance(0.25)).then(|| *rng.pick(CONDITIONS));
        if let Some(condition) = condition {
            terms.insert("mat_fee_condition".into(), json!(condition));
        }
        facts.insert("drop_in_price".into(), json!(price));
        facts.insert("mat_fee".into(), json!(mat_fee));
        let refuses_price = pricing == Pricing::Price && rng.chance(0.08);
        if refuses_price {
            behaviour.insert("refuse".into(), json!(["drop_in_price"]));
        } else {
            answers.insert(
                "drop_in_price".into(),
                json!(phrasings(&mut rng, 3, |r| price_answer(r, pricing, price, mat_fee, currency))),
            );
        }
        answers.insert(
            "mat_fee".into(),
            json!(phrasings(&mut rng, 3, |r| mat_fee_answer(r, mat_fee, currency, condition))),
        );
        if !refuses_price && pricing != Pricing::OnlyMatFee && rng.chance(0.35) {
            let say = phrasings(&mut rng, 2, |r| {
                let fee = mat_fee_answer(r, mat_fee, currency, condition);
                let class = price_answer(r, pricing, price, mat_fee, currency);
                if r.chance(0.5) {
                    format!("{fee} {class}")
                } else {
                    format!("{class} {fee}")
                }
            });
            together.push(json!({ "fields": ["mat_fee", "drop_in_price"], "say": say }));
        }
        let classes = schedule(&mut rng);
        let entries: Vec<Value> = classes
            .iter()
            .flat_map(|(class, days, start, end)| {
                days.iter().map(move |&day| {
                    json!({ "day": DAY_KEYS[day], "start": hh_mm(*start), "end": hh_mm(*end), "class_type": class })
                })
            })
            .collect();
        facts.insert("class_schedule".into(), Value::Array(entries));
        answers.insert("class_schedule".into(), json!(phrasings(&mut rng, 3, |r| schedule_answer(r, &classes))));
        let requirements: Vec<String> = ["gi", "waiver", "rank", "booking_ahead"]
            .iter()
            .filter(|_| rng.chance(0.4))
            .map(|s| s.to_string())
            .collect();
        facts.insert("requirements".into(), json!(requirements));
        answers.insert(
            "requirements".into(),
            json!(phrasings(&mut rng, 3, |r| grammar::requirements_sentence(r, &requirements))),
        );
        if rng.chance(0.3) {
            let info = *rng.pick(&["Parking is free out back.", "We have showers.", "Bring flip flops."]);
            facts.insert("other_info".into(), json!(info));
        }
    }
    if rng.chance(0.2) {
        behaviour.insert("hold".into(), json!(true));
    }
    if rng.chance(0.25) {
        behaviour.insert("partial".into(), json!(true));
    }
    let mut document = Map::new();
    document.insert("name".into(), json!(format!("generated {seed}: {gym_name}")));
    document.insert("gym_name".into(), json!(gym_name));
    document.insert("playbook".into(), json!("gym-dropin"));
    document.insert("timezone".into(), json!(timezone));
    document.insert("seed".into(), json!(seed));
    document.insert("voice".into(), json!(rng.pick(VOICES)));
    if rng.chance(0.3) {
        document.insert("line_noise_snr_db".into(), json!(rng.range(20, 40)));
    }
    document.insert("greeting".into(), json!(phrasings(&mut rng, 2, |r| greeting(r, &gym_name, receptionist))));
    document.insert("facts".into(), Value::Object(facts));
    if !terms.is_empty() {
        document.insert("terms".into(), Value::Object(terms));
    }
    document.insert("answers".into(), Value::Object(answers));
    if !together.is_empty() {
        document.insert("together".into(), Value::Array(together));
    }
    document.insert("lines".into(), lines(&mut rng));
    if !behaviour.is_empty() {
        document.insert("behaviour".into(), Value::Object(behaviour));
    }
    Value::Object(document)
}

const DAY_KEYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

fn hh_mm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `count` different phrasings (fewer when the grammar keeps giving the same one).
fn phrasings(rng: &mut SplitMix64, count: usize, mut make: impl FnMut(&mut SplitMix64) -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for _ in 0..count * 4 {
        let phrasing = make(rng);
        if !out.contains(&phrasing) {
            out.push(phrasing);
        }
        if out.len() == count {
            break;
        }
    }
    out
}

/// 2-6 classes in 1-3 groups, each a class type on some days at one time; no two classes on one
/// day overlap (one mat: a timetable with two classes at once is one a gym does not run, and the
/// agent rightly doubts it).
fn schedule(rng: &mut SplitMix64) -> Vec<(String, Vec<usize>, u32, u32)> {
    let total = rng.range(2, 6) as usize;
    let mut groups: Vec<(String, Vec<usize>, u32, u32)> = Vec::new();
    let mut used: Vec<(usize, u32, u32)> = Vec::new();
    let mut left = total;
    while left > 0 && groups.len() < 3 {
        let days_in_group = if groups.len() == 2 { left } else { rng.range(1, left.min(3) as u32) as usize };
        let weekend = rng.chance(0.2);
        let start = if weekend { *rng.pick(&[9 * 60 + 30, 10 * 60, 11 * 60, 12 * 60]) } else { *rng.pick(STARTS) };
        let end = start + *rng.pick(&[60, 60, 90, 90, 120]);
        let pool: Vec<usize> = if weekend { vec![5, 6] } else { (0..5).collect() };
        let mut days: Vec<usize> = Vec::new();
        for _ in 0..days_in_group * 6 {
            let day = *rng.pick(&pool);
            let overlaps = used.iter().any(|&(d, s, e)| d == day && start < e && s < end);
            if !days.contains(&day) && !overlaps {
                days.push(day);
            }
            if days.len() == days_in_group {
                break;
            }
        }
        if days.is_empty() {
            break;
        }
        days.sort_unstable();
        used.extend(days.iter().map(|&d| (d, start, end)));
        left -= days.len();
        let class = rng.pick(CLASS_TYPES).to_string();
        groups.push((class, days, start, end));
    }
    groups
}

fn schedule_answer(rng: &mut SplitMix64, classes: &[(String, Vec<usize>, u32, u32)]) -> String {
    let mut order: Vec<usize> = (0..classes.len()).collect();
    if rng.chance(0.4) {
        order.reverse();
    }
    let clauses: Vec<String> = order
        .iter()
        .map(|&i| {
            let (class, days, start, end) = &classes[i];
            grammar::schedule_clause(rng, class, days, *start, *end)
        })
        .collect();
    let joined = match rng.below(3) {
        0 => clauses.join(", and "),
        1 => clauses.join(". Also, "),
        _ => clauses.iter().map(|c| capitalized(c)).collect::<Vec<_>>().join(". "),
    };
    with_filler(rng, &format!("{}.", capitalized(&joined)))
}

fn offered_answer(rng: &mut SplitMix64, offered: bool) -> String {
    let yes = [
        "Yeah, anyone can come try a class.",
        "Sure, visitors are always welcome.",
        "Yes, we take drop ins.",
        "Yep, you can just come in and train.",
        "Of course, we get visitors all the time.",
        "Yeah, drop ins are fine.",
        "Absolutely, come on by.",
    ];
    let no = [
        "No, sorry, we're members only.",
        "We don't do drop ins, it's members only, sorry.",
        "Unfortunately not, you'd have to sign up for a membership.",
        "No, we don't take visitors at the moment.",
    ];
    let sentence = if offered { *rng.pick(&yes) } else { *rng.pick(&no) };
    with_filler(rng, sentence)
}

fn price_answer(rng: &mut SplitMix64, pricing: Pricing, price: f64, mat_fee: f64, currency: &str) -> String {
    let amount = grammar::money(rng, price, currency);
    let sentence = match pricing {
        Pricing::Price if rng.chance(0.15) => {
            // a self-correction: a wrong amount first
            let wrong = grammar::money(rng, price + 5.0, currency);
            format!("It's {wrong}, no sorry, {amount}.")
        }
        Pricing::Price => {
            let forms = [
                "It's {m}.",
                "A drop in is {m}.",
                "{m} for a class.",
                "{m} per class.",
                "We charge {m} for a drop in.",
                "Drop ins are {m}.",
            ];
            capitalized(&rng.pick(&forms).replace("{m}", &amount))
        }
        Pricing::FirstClassFree => {
            let forms = [
                "Your first class is free, and after that it's {m}.",
                "First one's free, then it's {m} a class.",
                "The first visit is on us, after that {m}.",
            ];
            rng.pick(&forms).replace("{m}", &amount)
        }
        Pricing::OnlyMatFee => {
            let fee = grammar::money(rng, mat_fee, currency);
            let fee_before_noun = grammar::money_before_noun(rng, mat_fee, currency);
            match rng.below(3) {
                0 => format!("We don't really have a drop in price, you just pay the {fee_before_noun} mat fee."),
                1 => format!("There's no charge for the class as such, just a {fee_before_noun} mat fee."),
                _ => format!("No drop in price, only the mat fee, which is {fee}."),
            }
        }
        Pricing::Free => {
            let forms =
                ["Drop ins are free.", "It's free, we don't charge visitors.", "Nothing, it's free to come train."];
            rng.pick(&forms).to_string()
        }
    };
    with_filler(rng, &sentence)
}

fn mat_fee_answer(rng: &mut SplitMix64, mat_fee: f64, currency: &str, condition: Option<&str>) -> String {
    if mat_fee == 0.0 {
        let forms = [
            "No, no mat fee.",
            "There's no mat fee.",
            "Nope, nothing on top.",
            "No, there's no extra fee for the mats.",
        ];
        let sentence = *rng.pick(&forms);
        return with_filler(rng, sentence);
    }
    let fee = grammar::money(rng, mat_fee, currency);
    let fee_before_noun = grammar::money_before_noun(rng, mat_fee, currency);
    let sentence = match condition {
        Some(condition) => format!("There's a {fee_before_noun} mat fee, but only {condition}."),
        None => match rng.below(4) {
            0 => format!("Yes, there's a {fee_before_noun} mat fee."),
            1 => format!("The mat fee is {fee}."),
            2 => capitalized(&format!("{fee} for the mat fee.")),
            _ => format!("There's a mat fee of {fee} on top."),
        },
    };
    with_filler(rng, &sentence)
}

fn greeting(rng: &mut SplitMix64, gym_name: &str, receptionist: &str) -> String {
    let forms = [
        "{g}, this is {n}.",
        "Thanks for calling {g}, {n} speaking.",
        "Hello, {g}.",
        "{g}, how can I help?",
        "Hi, {g}, {n} here.",
    ];
    rng.pick(&forms).replace("{g}", gym_name).replace("{n}", receptionist)
}

fn lines(rng: &mut SplitMix64) -> Value {
    let mut pick =
        |options: &[&str], count: usize| -> Vec<String> { phrasings(rng, count, |r| r.pick(options).to_string()) };
    json!({
        "goodbye": pick(&["Bye!", "Cheers, bye.", "No problem, bye now.", "Thanks, bye!", "Okay, take care, bye.", "You're welcome, bye."], 2),
        "hold": pick(&["Can you hold on a sec?", "One moment, let me check.", "Hang on, let me grab the schedule.", "Just a second, please."], 2),
        "back": pick(&["Sorry about that, what did you need?", "Okay, I'm back. Go ahead.", "Thanks for holding. What was it?"], 2),
        "refusal": pick(&["Sorry, I can't give that out over the phone.", "You'd have to ask at the front desk, I can't say on the phone.", "I'm not allowed to quote prices over the phone, sorry."], 1),
        "say_again": pick(&["Sorry, what was that?", "Sorry, say again?", "Pardon?", "Sorry, it's loud in here, can you repeat that?"], 2),
        "unsure": pick(&["Hmm, I'm not sure about that one.", "I don't know, sorry.", "Not sure, you'd have to ask the coach."], 1),
    })
}
