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
# Longer answers, with pauses at the commas (the end of speech -> transcript figure covers 2-15 s
# answers; the default set above is 2-4 s).
espeak-ng -v en-us -s 150 -w callee-4-requirements.wav "Bring a clean gi and a belt, sign the waiver at the front desk when you get here, and please show up ten minutes early for your first class."
espeak-ng -v en-us -s 150 -w callee-5-week.wav "So on weekdays we have the fundamentals class at noon and the advanced class at seven in the evening, on Saturday there is an open mat from ten to twelve, and on Sunday we are closed, but check the website before you come."
