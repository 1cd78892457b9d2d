#!/usr/bin/env bash
# Runs one whole call offline: installs the system packages the embedded speech engines need
# (Debian/Ubuntu, when missing) and the models (scripts/install-models.sh: Whisper, the agent's
# Piper voice and the sherpa-onnx libraries the build links against), builds gymcall
# and runs `gymcall demo` with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=$(for p in libpocketsphinx-dev pocketsphinx-en-us espeak-ng cmake; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs -r echo)
if [ -n "$missing" ]; then
  echo "installing $missing ..." >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # shellcheck disable=SC2086
  $sudo_cmd apt-get install -y -qq --no-install-recommends $missing
fi

./scripts/install-models.sh

cargo build --release -q -p gymcall
exec ./target/release/gymcall demo "$@"
