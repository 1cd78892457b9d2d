//! Persona format v2: the file using every new key loads and plays as written (phrasings picked
//! per call, its own lines, two facts in one answer, money terms), a v1 file loads unchanged, bad
//! v2 values are refused with their field, and a persona's own voice speaks through its program.

use simulator::persona::mouth::{CommandVoice, VoiceSpec};
use simulator::persona::{Persona, PersonaAction, Phrasings, Responder};
use speech::{TtsChunk, TtsProvider};

fn personas_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../personas"))
}

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

fn responder(persona: &Persona, seed: u64) -> Responder {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let playbook = playbooks.get(&persona.playbook).unwrap().clone();
    Responder::new(persona.clone(), playbook).with_seed(Some(seed))
}

fn thistle() -> Persona {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    Persona::load(personas_dir().join("thistle-v2-every-feature.yaml"), &playbooks).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_v2_persona_loads_with_every_new_key() {
    let persona = thistle();
    assert_eq!(persona.greeting.all().len(), 2);
    assert!(matches!(persona.answers["drop_in_offered"], Phrasings::Many(ref many) if many.len() == 2));
    assert_eq!(persona.voice.as_deref(), Some("flite:rms"));
    assert_eq!(persona.line_noise_snr_db, Some(40.0));
    assert_eq!(persona.terms.currency(), "GBP");
    assert!(persona.terms.first_class_free && persona.terms.no_drop_in_price);
    assert_eq!(persona.together[0].fields, vec!["mat_fee", "drop_in_price"]);
    assert!(!persona.lines.goodbye.is_empty() && !persona.lines.say_again.is_empty());
}

#[test]
fn a_v1_persona_still_loads_as_one_phrasing_each() {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let persona = Persona::load(personas_dir().join("atlas-bjj.yaml"), &playbooks).unwrap();
    assert_eq!(persona.greeting, Phrasings::One("Thanks for calling Atlas Jiu Jitsu, this is Jess.".into()));
    assert_eq!(persona.answers["drop_in_price"], Phrasings::One("A drop in is {value}.".into()));
    assert_eq!((persona.voice.clone(), persona.terms.currency()), (None, "USD"));
    let mut r = responder(&persona, 1);
    assert_eq!(said(&r.answer()), "Thanks for calling Atlas Jiu Jitsu, this is Jess.");
    assert_eq!(said(&r.on_agent_said("how much does a drop in class cost")), "A drop in is thirty dollars.");
}

#[test]
fn phrasings_vary_by_call_seed_and_repeat_for_the_same_seed() {
    let persona = thistle();
    let greetings: std::collections::BTreeSet<String> =
        (0..20).map(|seed| said(&responder(&persona, seed).answer())).collect();
    assert_eq!(greetings.len(), 2, "{greetings:?}");
    assert_eq!(said(&responder(&persona, 7).answer()), said(&responder(&persona, 7).answer()));
}

#[test]
fn two_facts_in_one_answer_in_pounds_and_its_own_lines() {
    let mut persona = thistle();
    persona.behaviour.hold = false;
    let mut r = responder(&persona, 3);
    r.answer();
    let price = said(&r.on_agent_said("how much is a drop in and is there a mat fee"));
    assert!(price.contains("five pounds") && price.contains("first class is free"), "{price}");
    assert!(price.contains("no drop in price"), "{price}");
    // both were given: the mat fee is not asked about again as if new
    let schedule = said(&r.on_agent_said("which days and times are your classes"));
    assert!(schedule.contains("Tuesday") && schedule.contains("Thursday"), "{schedule}");
    let again = said(&r.on_agent_said("what was the thing about the blah"));
    assert!(persona.lines.say_again.contains(&again), "{again}");
    let bye = r.on_agent_said("that's all i needed thanks so much have a great day");
    assert!(persona.lines.goodbye.contains(&said(&bye)), "{bye:?}");
    // it waits for the caller to hang up before it does
    assert!(matches!(bye[1], PersonaAction::Pause { ms } if ms >= 2000), "{bye:?}");
    assert_eq!(bye.last(), Some(&PersonaAction::Hangup));
}

#[test]
fn hold_refusal_partial_and_a_conditional_fee() {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let yaml = r#"
name: t
gym_name: Test Gym
greeting: Hi
facts: { drop_in_offered: true, drop_in_price: 20, mat_fee: 10 }
terms: { mat_fee_condition: if you stay for open mat }
lines: { hold: [Hold please.], back: ["Back, go on."], refusal: [Can't say.] }
behaviour: { hold: true, partial: true, refuse: [drop_in_price] }
"#;
    let persona = Persona::from_yaml("t.yaml", yaml, &playbooks).unwrap();
    let mut r = responder(&persona, 1);
    r.answer();
    let held = r.on_agent_said("how much is a drop in and is there a mat fee");
    assert_eq!(said(&held), "Hold please. Back, go on.");
    // partial: only the first part of the two-part question; refused in its own words
    assert_eq!(said(&r.on_agent_said("how much is a drop in and is there a mat fee")), "Can't say.");
    let fee = said(&r.on_agent_said("is there a mat fee on top of that"));
    assert_eq!(fee, "There's a ten dollars mat fee, but only if you stay for open mat.");
}

#[test]
fn bad_v2_values_name_their_field() {
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let base = "name: t\ngym_name: G\ngreeting: Hi\nfacts: { drop_in_offered: true, drop_in_price: 20 }\n";
    for (extra, field) in [
        ("voice: flite:kal\n", "voice"),
        ("voice: say:alex\n", "voice"),
        ("line_noise_snr_db: -5\n", "line_noise_snr_db"),
        ("terms: { currency: JPY }\n", "currency"),
        ("terms: { no_drop_in_price: true }\n", "no_drop_in_price"),
        ("together: [ { fields: [drop_in_prize], say: [x] } ]\n", "together"),
        ("lines: { goodby: [bye] }\n", "lines"),
    ] {
        let error = Persona::from_yaml("t.yaml", &format!("{base}{extra}"), &playbooks).unwrap_err();
        assert!(error.to_string().contains(field), "{extra}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persona_voice_speaks_through_its_program_at_8_khz() {
    for spec in ["espeak-ng:en-us+f2", "flite:slt"] {
        let voice = CommandVoice::new(VoiceSpec::parse(spec).unwrap());
        let mut chunks = voice.synthesize("Drop ins are twenty dollars.".into());
        let (mut bytes, mut done_ms) = (0usize, None);
        while let Some(chunk) = chunks.recv().await {
            match chunk {
                Ok(TtsChunk::Audio(audio)) => bytes += audio.len(),
                Ok(TtsChunk::Done { total_ms }) => done_ms = Some(total_ms),
                Err(error) => panic!("{spec}: {error}"),
            }
        }
        // about 1-4 s of 8 kHz μ-law (one byte a sample)
        assert!((8_000..32_000).contains(&bytes), "{spec}: {bytes} bytes");
        assert_eq!(done_ms, Some(bytes as u64 / 8), "{spec}");
    }
}
