#!/usr/bin/env bash
# Regenerates the callee utterances the load generator plays by default: espeak-ng's en-us voice
# (Debian package espeak-ng), deliberately not the agent's own flite voice, so the recogniser
# hears a different speaker than the one it is tuned on. 22050 Hz 16-bit mono WAV, as espeak-ng
# writes it; the generator resamples to 8 kHz with the speech crate's band-limited resampler.
set -euo pipefail
cd "$(dirname "$0")"
command -v espeak-ng >/dev/null || { echo "needs espeak-ng (apt-get install espeak-ng)" >&2; exit 1; }
espeak-ng -v en-us -s 150 -w callee-1-drop-in.wav "Yes, we do drop ins for visitors."
espeak-ng -v en-us -s 150 -w callee-2-price.wav "A drop in class is thirty dollars."
espeak-ng -v en-us -s 150 -w callee-3-schedule.wav "We train Monday and Wednesday at six in the evening."
