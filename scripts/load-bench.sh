#!/usr/bin/env bash
# Load benchmark of the path users run, measured from the outside (README "Load benchmark"):
# builds release binaries, starts the fake OpenAI-compatible provider and `gymcall up` (dummy
# Twilio settings; calls ring in as inbound calls, so no Twilio REST is needed), runs
# gymcall-loadgen against it with the server's pid, prints the figures and stops everything.
#
#   scripts/load-bench.sh [--embedded] [steps]      e.g. scripts/load-bench.sh 1,10,50
#
# Production path (default): STT_PROVIDER=openai, TTS_PROVIDER=openai, BRAIN_POLICY=llm, all at
# the fake. --embedded: the embedded engines and the scripted brain (no fake; STT_PROVIDER,
# TTS_PROVIDER and BRAIN_POLICY are passed on when set). Both with ENDPOINT_SILENCE_MS=400;
# WHISPER_BEAM, WHISPER_WINDOW_S, WHISPER_DECODERS, WHISPER_THREADS, PIPER_WORKERS,
# PIPER_THREADS, PAUSE_MS and MALLOC_ARENA_MAX are passed on when set. The generator reads the
# server's log after each step and prints end of speech -> transcript for answers of 2-15 s (add
# LOADGEN_ARGS="--audio loadgen/audio/*.wav" for answers up to 14 s).
# Environment: CALL_SECONDS (60), LOAD_BENCH_PORT (18000),
# FAKE_PORT (18090), ENDPOINT_SILENCE_MS (400), LOADGEN_ARGS (more generator options),
# BENCH_PROFILE (release; `debug` reuses the test build for a quick before/after comparison,
# whose CPU figures are not the release ones).
# Figures also go to target/load-bench/<path>-<time>.json.
set -euo pipefail
cd "$(dirname "$0")/.."

path=production
if [ "${1:-}" = "--embedded" ]; then
  path=embedded
  shift
fi
steps="${1:-1,10,50}"
call_seconds="${CALL_SECONDS:-60}"
port="${LOAD_BENCH_PORT:-18000}"
fake_port="${FAKE_PORT:-18090}"
endpoint_silence_ms="${ENDPOINT_SILENCE_MS:-400}"
auth_token="load-bench-twilio-token"

if [ "$path" = embedded ]; then
  missing=$(for p in libpocketsphinx-dev pocketsphinx-en-us; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs -r echo)
  if [ -n "$missing" ]; then
    echo "the embedded path needs: $missing (scripts/demo.sh installs them)" >&2
    exit 1
  fi
fi

case "${BENCH_PROFILE:-release}" in
  release) cargo build --release -q -p gymcall -p loadgen -p piper-voice; bin=target/release ;;
  debug) cargo build -q -p gymcall -p loadgen -p piper-voice; bin=target/debug ;;
  *) echo "BENCH_PROFILE is release or debug" >&2; exit 1 ;;
esac
work=$(mktemp -d)
out_dir=target/load-bench
mkdir -p "$out_dir"
json="$out_dir/$path-$(date +%Y%m%d-%H%M%S).json"

fake_pid=""
up_pid=""
stop() {
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid"
    for _ in $(seq 1 400); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$up_pid" 2>/dev/null || true
  fi
  if [ -n "$fake_pid" ] && kill -0 "$fake_pid" 2>/dev/null; then
    kill -TERM "$fake_pid"
    wait "$fake_pid" 2>/dev/null || true
  fi
  if [ -f "$work/up.log" ]; then cp "$work/up.log" "${json%.json}.server.log"; fi
  rm -rf "$work"
}
trap stop EXIT

provider_env=()
fake_arg=()
# the engines' own settings, on either path, when the caller sets them
for name in WHISPER_BEAM WHISPER_WINDOW_S WHISPER_DECODERS WHISPER_THREADS PIPER_WORKERS PIPER_THREADS PAUSE_MS MALLOC_ARENA_MAX; do
  if [ -n "${!name:-}" ]; then provider_env+=("$name=${!name}"); fi
done
if [ "$path" = embedded ]; then
  # the defaults, unless the caller names an engine (e.g. STT_PROVIDER=pocketsphinx or whisper)
  for name in STT_PROVIDER TTS_PROVIDER BRAIN_POLICY; do
    if [ -n "${!name:-}" ]; then provider_env+=("$name=${!name}"); fi
  done
fi
if [ "$path" = production ]; then
  "$bin/gymcall-fake-openai" --listen "127.0.0.1:$fake_port" >"$work/fake.log" 2>&1 &
  fake_pid=$!
  fake_arg=(--fake-pid "$fake_pid")
  fake_url="http://127.0.0.1:$fake_port"
  provider_env+=(STT_PROVIDER=openai TTS_PROVIDER=openai OPENAI_API_KEY=fake-key OPENAI_BASE_URL="$fake_url"
    BRAIN_POLICY=llm LLM_BASE_URL="$fake_url" LLM_MODEL=fake-model)
fi

# only the variables below: a provider key in the caller's shell must not change the path measured.
# The hold filler is off: the load generator times the first agent sound after each answer, and an
# "Okay." 2 s after a late answer would hide the reply's own delay.
env -i PATH="$PATH" HOME="${HOME:-/tmp}" RUST_LOG="${RUST_LOG:-warn,reply_stages=debug}" \
  LISTEN_ADDR="127.0.0.1:$port" PUBLIC_BASE_URL="http://127.0.0.1:$port" \
  TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN="$auth_token" \
  TWILIO_FROM_NUMBER=+15005550006 TWILIO_API_BASE=http://127.0.0.1:9 \
  API_TOKEN=load-bench-api-token-0123456789 GYMCALL_DATA_DIR="$work/data" \
  ENDPOINT_SILENCE_MS="$endpoint_silence_ms" HOLD_FILLER_MS=0 "${provider_env[@]}" \
  "$bin/gymcall" up >"$work/up.log" 2>&1 &
up_pid=$!

for _ in $(seq 1 300); do
  kill -0 "$up_pid" 2>/dev/null || { echo "gymcall up exited:" >&2; cat "$work/up.log" >&2; exit 1; }
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "gymcall up never became ready" >&2; exit 1; }

echo "load bench: $path path (${provider_env[*]:-engine defaults}), steps $steps, ${call_seconds} s per step, ENDPOINT_SILENCE_MS=$endpoint_silence_ms"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
"$bin/gymcall-loadgen" --gateway "http://127.0.0.1:$port" --auth-token "$auth_token" \
  --steps "$steps" --call-seconds "$call_seconds" --server-pid "$up_pid" "${fake_arg[@]}" \
  --server-log "$work/up.log" \
  --json "$json" ${LOADGEN_ARGS:-}
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Where the reply latency went, stage by stage (media time, 20 ms steps), from the media worker's
# `reply_stages` debug lines.
python3 - "$work/up.log" <<'PY' || true
import re, sys
stages = {}
for line in open(sys.argv[1], errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # the log's colours
    if "reply_stages" not in line:
        continue
    for name, value in re.findall(r"\b(reply|endpoint|stt|brain|tts|play|heard)_ms=(\d+)", line):
        stages.setdefault(name, []).append(int(value))
if stages.get("reply"):
    median = lambda values: sorted(values)[len(values) // 2]
    p95 = lambda values: sorted(values)[min(len(values) - 1, (len(values) * 95 + 99) // 100 - 1)]
    parts = ", ".join(f"{name} {median(values)}" for name, values in stages.items())
    print(f"reply stages on the server's media clock, median ms over {len(stages['reply'])} replies: {parts}")
    parts = ", ".join(f"{name} {p95(values)}" for name, values in stages.items())
    print(f"reply stages, p95 ms: {parts}")
PY
if [ -n "$fake_pid" ]; then
  echo "fake provider served: $(curl -fsS "http://127.0.0.1:$fake_port/stats" || echo '?')"
fi
warnings=$(grep -c -E ' (WARN|ERROR) ' "$work/up.log" || true)
echo "gymcall up logged $warnings warnings/errors; figures in $json, server log beside it"
grep -E ' (WARN|ERROR) ' "$work/up.log" | sed -E 's/^[^ ]+ +//' | cut -c1-160 | sort | uniq -c | sort -rn | head -5 || true
