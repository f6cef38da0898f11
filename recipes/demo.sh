#!/usr/bin/env bash
# `make demo`: zero-shot TTS with the shipped tiny models, then our own ASR on the result.
#
#   bash recipes/demo.sh [--text "..."] [--prompt voice.wav --prompt-text "its transcript"]
#
# Default: a sentence in the voice of the shipped held-out prompt (models/tiny/prompts/). Writes
# demo-output/tts.wav, transcribes it back with holitok-asr (the same unified model), prints both
# texts and the timings. Environment: MODELS (models/tiny), OUT (demo-output).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
MODELS=${MODELS:-models/tiny}
OUT=${OUT:-demo-output}
TEXT="The boat to Paris leaves at eight fifteen."
PROMPT=""
PROMPT_TEXT=""
USER_INPUT=0  # 1 when the user asked for their own sentence/voice (then models are required)
while [ $# -gt 0 ]; do
  case "$1" in
    --text) TEXT="$2"; USER_INPUT=1; shift 2 ;;
    --prompt) PROMPT="$2"; USER_INPUT=1; shift 2 ;;
    --prompt-text) PROMPT_TEXT="$2"; shift 2 ;;
    *) echo "demo: unknown option $1 (expected --text T --prompt WAV --prompt-text T)" >&2; exit 2 ;;
  esac
done

if [ ! -f "$MODELS/unified/meta.json" ] || [ ! -f "$MODELS/tokenizer/meta.json" ]; then
  cat >&2 <<EOF
demo: the trained tiny models are not in $MODELS/ (expected $MODELS/tokenizer and $MODELS/unified).
      They are produced by the embedded end-to-end recipe (about 90 minutes on 2 CPU cores):

          bash recipes/tiny/run.sh

      which builds the corpus, trains the tokenizer and the unified model, evaluates them
      (exp/tiny/report.md) and exports them into $MODELS/ (stage 8). Then run 'make demo' again.
EOF
  if [ "$USER_INPUT" = 1 ]; then exit 1; fi
  # Without models the main job is the data smoke: a small slice of the embedded corpus, offline.
  echo "demo: running the data smoke instead (embedded corpus slice -> $OUT/corpus)" >&2
  start=$(date +%s)
  "$BIN/holitok-data" synth "$OUT/corpus" --hours 0.02 --seed 0
  echo "demo: corpus smoke built in $(( $(date +%s) - start )) s under $OUT/corpus"
  exit 0
fi
if [ -z "${TEXT//[[:space:]]/}" ]; then echo "demo: TEXT is empty; give a sentence to speak" >&2; exit 2; fi
if [ -n "$PROMPT" ]; then
  [ -f "$PROMPT" ] || { echo "demo: PROMPT=$PROMPT does not exist" >&2; exit 2; }
  if [ -z "$PROMPT_TEXT" ]; then
    echo "demo: PROMPT needs its transcript: make demo PROMPT=$PROMPT PROMPT_TEXT=\"what is said in it\"" >&2
    exit 2
  fi
else
  [ -z "$PROMPT_TEXT" ] || { echo "demo: PROMPT_TEXT was given without PROMPT (the wav it transcribes)" >&2; exit 2; }
  PROMPT=$(ls "$MODELS"/prompts/*.wav 2>/dev/null | head -n 1 || true)
  [ -n "$PROMPT" ] && [ -f "${PROMPT%.wav}.txt" ] || {
    echo "demo: $MODELS/prompts/ has no <name>.wav + <name>.txt prompt; re-export with recipes/tiny/run.sh --stage 8" >&2
    exit 1; }
  PROMPT_TEXT=$(cat "${PROMPT%.wav}.txt")
fi

mkdir -p "$OUT"
now() { date +%s.%N; }
t0=$(now)
"$BIN/holitok-tts" --model "$MODELS/unified" --prompt-wav "$PROMPT" --prompt-text "$PROMPT_TEXT" \
  --text "$TEXT" --out "$OUT/tts.wav"
t1=$(now)
HEARD=$("$BIN/holitok-asr" --model "$MODELS/unified" "$OUT/tts.wav" | cut -f2-)
t2=$(now)
echo
echo "prompt:       $PROMPT (\"$PROMPT_TEXT\")"
echo "asked to say: $TEXT"
echo "ASR heard:    $HEARD"
echo "audio:        $OUT/tts.wav"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "timings:      TTS %.1f s, ASR %.1f s (each including model loading)\n", b - a, c - b }'
