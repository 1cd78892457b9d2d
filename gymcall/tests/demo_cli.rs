//! `gymcall demo` as a user runs it: the binary, its exit code, its stdout and stderr.

use std::process::Command;

fn gymcall() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gymcall"));
    // The demo's default recogniser for the agent (PocketSphinx unless STT_PROVIDER says otherwise,
    // see gymcall/src/demo.rs): the tests run what a user runs.
    command.env_remove("PLAYBOOKS_DIR").env_remove("STT_PROVIDER").env("RUST_LOG", "warn");
    command
}

#[test]
fn malformed_persona_fails_fast_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-persona.yaml");
    std::fs::write(
        &path,
        "name: Broken\ngym_name: Broken Gym\ngreeting: Hello\nfacts:\n  drop_in_offered: true\n  drop_in_price: twenty-ish\n",
    )
    .unwrap();
    let output =
        gymcall().args(["demo", "--json", "--out"]).arg(dir.path()).arg("--persona").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a malformed persona must fail; stderr: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout when the demo fails");
    let expected = format!("{}:6: facts.drop_in_price", path.display());
    assert!(stderr.contains(&expected), "stderr should name {expected}: {stderr}");
}

#[test]
fn malformed_playbook_fails_fast_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks/gym-dropin.yaml")).unwrap();
    let broken = shipped.replacen("type: money", "type: monye", 1);
    let line = broken.lines().position(|l| l.contains("type: monye")).unwrap() + 1;
    let path = dir.path().join("bad-playbook.yaml");
    std::fs::write(&path, broken).unwrap();
    let output =
        gymcall().args(["demo", "--json", "--out"]).arg(dir.path()).arg("--playbook").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a malformed playbook must fail; stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{}:{line}", path.display())),
        "stderr should name the file and line {line}: {stderr}"
    );
    assert!(
        stderr.contains("type") && stderr.contains("monye"),
        "stderr should name the field and the bad value: {stderr}"
    );
}

#[test]
fn missing_persona_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        gymcall().args(["demo", "--persona", "/nonexistent/persona.yaml", "--out"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("/nonexistent/persona.yaml") && stderr.contains("cannot read"), "{stderr}");
}

/// The first thing a new user runs: a whole call, and a result matching the default persona.
#[test]
fn demo_json_prints_a_result_matching_the_default_persona() {
    let dir = tempfile::tempdir().unwrap();
    let output = gymcall().args(["demo", "--json", "--out"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("stderr:\n{stderr}");
    assert!(output.status.success(), "gymcall demo failed: {stderr}");
    let result: protocol::results::CallResult =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one result JSON ({e}):\n{stdout}"));
    let playbooks = playbook::PlaybookSet::built_in().unwrap();
    let persona = simulator::persona::Persona::load(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../personas/atlas-bjj.yaml"),
        &playbooks,
    )
    .unwrap();
    let graded = simulator::persona::grade::grade(&persona, playbooks.get("gym-dropin").unwrap(), &result);
    println!("{graded}");
    let (correct, total) = graded.required_score();
    assert!(correct * 10 >= total * 9, "only {correct}/{total} required fields match the persona:\n{graded}");
    // the demo says where it wrote the recording and the result
    assert!(stderr.contains("result.json"), "{stderr}");
    let written = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(written > 0, "nothing written under --out");
}
