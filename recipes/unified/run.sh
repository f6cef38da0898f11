#!/usr/bin/env bash
# Unified AR+DiT model, end to end (SPEC 2), stage-gated (icefall style):
#   0 latents   holitok-tokenizer extract on train/dev/test (+ the Seed-TTS-style held-out list's cuts)
#   1 stats     check latent_stats.json (written by extract) is complete; when the configs enable the
#               TTS text pointer (model.pointer.enabled): train the CTC aligner on the train latents
#               (holitok-align, ALIGN_STEPS=1500) and write cuts_aligned.jsonl.gz for train and dev
#   2 tts-only  holitok-train unified conf/${CONF}_tts_only.yaml
#   3 unified   holitok-train unified conf/${CONF}_joint.yaml, DiT + stop head initialised from stage 2
#   4 decode    holitok-asr on test; holitok-tts on the held-out Seed-TTS list
#   5 eval      holitok-eval librispeech (WER) + seedtts (WER, SIM)
# Usage: DATA_DIR=data/corpus TOKENIZER_DIR=exp/tokenizer-tiny/stage3/step-NNNNNN/tokenizer EXP_DIR=exp/unified CONF=tiny NGPU=1 \
#        bash recipes/unified/run.sh [--stage N] [--stop-stage M] [key=value ...]
# Extra key=value arguments are passed to both training stages. Paper size needs QWEN_DIR (a local
# Qwen2.5-0.5B checkout: real LM weights + its HF tokenizer). Each finished stage leaves a .done marker.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
DATA_DIR=${DATA_DIR:-data/corpus}
TOKENIZER_DIR=${TOKENIZER_DIR:-exp/tokenizer}
if [ ! -f "$TOKENIZER_DIR/meta.json" ]; then
  echo "run.sh: TOKENIZER_DIR=$TOKENIZER_DIR is not a tokenizer folder (no meta.json): set it to a trained one," \
       "e.g. exp/tokenizer-tiny/stage3/step-NNNNNN/tokenizer (recipes/tokenizer/run.sh) or models/tiny/tokenizer" >&2
  exit 2
fi
EXP_DIR=${EXP_DIR:-exp/unified_${CONF:-tiny}}
CONF=${CONF:-tiny}
NGPU=${NGPU:-1}
QWEN_DIR=${QWEN_DIR:-}
stage=0
stop_stage=5
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    *=*) overrides+=("$1"); shift ;;
    *) echo "run.sh: unknown argument $1 (expected --stage N, --stop-stage M, key=value)" >&2; exit 2 ;;
  esac
done
case "$CONF" in tiny|paper) ;; *) echo "run.sh: CONF must be tiny or paper, got $CONF" >&2; exit 2 ;; esac
LAT=$EXP_DIR/latents
mkdir -p "$EXP_DIR"
# 1 if both training configs (+ the command-line overrides) enable the TTS text pointer, else 0
POINTER=$("$BIN/python" -m unified_lm.train.pointer_flag \
  "recipes/unified/conf/${CONF}_tts_only.yaml" "recipes/unified/conf/${CONF}_joint.yaml" ${overrides[@]+"${overrides[@]}"})
CUTS=cuts_with_latents.jsonl.gz
if [ "$POINTER" = 1 ]; then CUTS=cuts_aligned.jsonl.gz; fi  # the pointer trains on the aligner's unit_starts

train() {  # train CONFIG_FILE EXP [key=value ...]
  local conf=$1 exp=$2; shift 2
  local args=(unified "$conf" "exp_dir=$exp" "data.train_manifest=$LAT/train/$CUTS"
              "data.dev_manifest=$LAT/dev/$CUTS" "data.latent_stats=$LAT/train/latent_stats.json"
              "model.tokenizer_ref=$TOKENIZER_DIR")
  if [ -n "$QWEN_DIR" ]; then args+=("model.backbone.pretrained=$QWEN_DIR" "model.backbone.config_name=null"); fi
  if [ "$NGPU" -gt 1 ]; then
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$BIN/torchrun" --nproc_per_node "$NGPU" -m unified_lm.cli.train "${args[@]}" "$@" "${overrides[@]}"
  else
    "$BIN/holitok-train" "${args[@]}" "$@" "${overrides[@]}"
  fi
}

run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] && [ ! -f "$EXP_DIR/.stage$1.done" ]; }
done_stage() { touch "$EXP_DIR/.stage$1.done"; echo "run.sh: stage $1 done"; }

if run_stage 0; then
  for split in train dev test heldout; do
    [ -f "$DATA_DIR/cuts_$split.jsonl.gz" ] || { [ "$split" = heldout ] && continue; echo "missing $DATA_DIR/cuts_$split.jsonl.gz" >&2; exit 1; }
    "$BIN/holitok-tokenizer" extract --model "$TOKENIZER_DIR" --manifest "$DATA_DIR/cuts_$split.jsonl.gz" --out-dir "$LAT/$split"
  done
  done_stage 0
fi

if run_stage 1; then
  "$BIN/python" - "$LAT/train/latent_stats.json" <<'PY'
import json, math, sys
s = json.load(open(sys.argv[1]))
d = s["latent_dim"]
assert len(s["mean"]) == d == len(s["std"]) and s["count"] > 0, "latent_stats.json is incomplete: re-run stage 0"
assert all(math.isfinite(v) for v in s["mean"] + s["std"]) and min(s["std"]) > 0, "latent_stats.json has bad values"
print(f"stats: {s['count']} frames, D={d}, {s['frame_rate']} Hz, std in [{min(s['std']):.3g}, {max(s['std']):.3g}]")
PY
  if [ "$POINTER" = 1 ]; then
    "$BIN/holitok-align" train --manifest "$LAT/train/cuts_with_latents.jsonl.gz" --out "$EXP_DIR/aligner" \
      --steps "${ALIGN_STEPS:-1500}"
    for split in train dev; do
      "$BIN/holitok-align" extract --aligner "$EXP_DIR/aligner" --manifest "$LAT/$split/cuts_with_latents.jsonl.gz" \
        --out "$LAT/$split/cuts_aligned.jsonl.gz"
    done
  fi
  done_stage 1
fi

if run_stage 2; then
  train "recipes/unified/conf/${CONF}_tts_only.yaml" "$EXP_DIR/tts_only"
  done_stage 2
fi

if run_stage 3; then
  train "recipes/unified/conf/${CONF}_joint.yaml" "$EXP_DIR/joint" "init.checkpoint=$EXP_DIR/tts_only"
  done_stage 3
fi

MODEL=$("$BIN/python" -c "from unified_lm.train.units import resolve_model_dir as r; print(r('$EXP_DIR/joint'))" 2>/dev/null || true)
if run_stage 4; then
  [ -n "$MODEL" ] || { echo "run.sh: no joint checkpoint under $EXP_DIR/joint (run stage 3)" >&2; exit 1; }
  "$BIN/holitok-asr" --model "$MODEL" --tokenizer "$TOKENIZER_DIR" --manifest "$DATA_DIR/cuts_test.jsonl.gz" --out "$EXP_DIR/decode/asr_test.jsonl"
  if [ -f "$DATA_DIR/heldout_seedtts.lst" ]; then
    "$BIN/holitok-tts" --model "$MODEL" --tokenizer "$TOKENIZER_DIR" --meta "$DATA_DIR/heldout_seedtts.lst" --out-dir "$EXP_DIR/decode/tts_heldout"
  fi
  done_stage 4
fi

if run_stage 5; then
  "$BIN/holitok-eval" librispeech --manifest "$DATA_DIR/cuts_test.jsonl.gz" --hyps "$EXP_DIR/decode/asr_test.jsonl" --out-dir "$EXP_DIR/eval/asr_test"
  if [ -d "$EXP_DIR/decode/tts_heldout" ]; then
    "$BIN/holitok-eval" seedtts --meta "$DATA_DIR/heldout_seedtts.lst" --wav-dir "$EXP_DIR/decode/tts_heldout" --lang en --out-dir "$EXP_DIR/eval/seedtts_heldout"
  fi
  done_stage 5
fi
