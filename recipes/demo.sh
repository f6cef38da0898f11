#!/usr/bin/env bash
# `make demo`: the project's main job on a fresh machine.
# Until the trained tiny models ship (issue "embedded end-to-end run"), the demo builds a small
# slice of the embedded corpus offline and prints its summary: the data smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${OUT:-demo-output}
TEXT=""
PROMPT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --text) TEXT="$2"; shift 2 ;;
    --prompt) PROMPT="$2"; shift 2 ;;
    *) echo "demo.sh: unknown option $1 (expected --text T --prompt WAV)" >&2; exit 2 ;;
  esac
done
if [ -n "$TEXT" ] || [ -n "$PROMPT" ]; then
  echo "demo: TEXT/PROMPT need the shipped TTS model, which is not built yet (see README 'Status')." >&2
fi
mkdir -p "$OUT"
start=$(date +%s)
"$BIN/holitok-data" synth "$OUT/corpus" --hours 0.02 --seed 0
echo "demo: corpus smoke built in $(( $(date +%s) - start )) s under $OUT/corpus"
