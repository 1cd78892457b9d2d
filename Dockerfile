# syntax=docker/dockerfile:1.7
# One image with every gym-call-agent binary: gateway, media-worker, brain-worker, dialer,
# simulator, gymcall. Pick one with the command (the Helm chart and docker-compose.yml do), or
# build a per-service target (`--target gateway`) whose default command is that binary.
#
# Multi-arch (Raspberry Pi 4 = linux/arm64):
#   docker buildx create --use --name gca   # once; QEMU binfmt must be installed for the foreign arch
#   docker buildx build --platform linux/arm64,linux/amd64 -t REGISTRY/gym-call-agent:TAG --push .
# The foreign architecture compiles under QEMU emulation (slow: expect tens of minutes); building
# natively on a Pi, or on an arm64 runner, is faster.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
# C toolchain pieces for the -sys crates: pocketsphinx (libpocketsphinx-dev via pkg-config),
# webrtc-vad (cc), bindgen (libclang), cmake for CTranslate2 (ct2rs, the embedded Whisper). The
# image carries no Whisper model: mount one and set WHISPER_MODEL_DIR (speech.whisper.modelDir). Versions come from the Debian release (no pins: Debian
# drops superseded security versions, so a pin breaks the build).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config clang libclang-dev libpocketsphinx-dev cmake python3-pip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The prebuilt sherpa-onnx libraries the piper-voice program links against (PyPI sherpa-onnx-core,
# sha256-checked; .cargo/config.toml points SHERPA_ONNX_LIB_DIR at them). They ship beside the
# binaries (rpath $ORIGIN); the media worker runs piper-voice (beside it) as child processes. The image carries no Piper voice: mount one and set PIPER_MODEL_DIR
# (speech.piper.modelDir), else the agent speaks with flite.
RUN ./scripts/install-voice.sh --runtime-only
ARG TARGETARCH
ARG BINARIES="gateway media-worker brain-worker dialer simulator gymcall piper-voice"
# hadolint ignore=SC2086
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=cargo-target-${TARGETARCH},target=/src/target,sharing=locked \
    set -eux; \
    pkgs=""; for b in ${BINARIES}; do pkgs="$pkgs -p $b"; done; \
    cargo build --release --locked --bins $pkgs; \
    mkdir -p /out; \
    for b in ${BINARIES}; do install -m 0755 "target/release/$b" /out/; done; \
    install -m 0644 models/sherpa-onnx/lib/*.so /out/

# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# Runtime libraries only: PocketSphinx and its US English model (embedded STT), espeak-ng (the
# Piper voice's phonemes), CA roots for the
# cloud providers and Twilio (rustls uses the webpki roots; the CA bundle serves anything else).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libpocketsphinx3 pocketsphinx-en-us espeak-ng \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gca \
 && useradd --system --uid 10001 --gid gca --home-dir /var/lib/gym-call-agent --create-home \
      --shell /usr/sbin/nologin gca \
 && install -d -o gca -g gca /var/lib/gym-call-agent/recordings
COPY --from=builder /out/ /usr/local/bin/
COPY playbooks/ /etc/gym-call-agent/playbooks/
WORKDIR /var/lib/gym-call-agent
USER 10001:10001
# gateway HTTP; workers' /healthz /readyz /metrics
EXPOSE 8000 9090
STOPSIGNAL SIGTERM
CMD ["gateway"]

# Per-service targets: same image, that binary as the default command.
FROM runtime AS gateway
CMD ["gateway"]
FROM runtime AS media-worker
CMD ["media-worker"]
FROM runtime AS brain-worker
CMD ["brain-worker"]
FROM runtime AS dialer
CMD ["dialer"]
FROM runtime AS simulator
CMD ["simulator"]
FROM runtime AS gymcall
ENTRYPOINT ["gymcall"]
CMD ["--help"]

# The default target (last stage) is the all-binaries image.
FROM runtime
