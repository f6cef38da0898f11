#!/usr/bin/env bash
# Learning proof (issue 5 item 6) on 2 CPU cores, ~35-45 min: tiny TTS-only (stage 2) then joint
# TTS:ASR (stage 3, DiT initialised from stage 2) on the embedded corpus's latents, then the test-split
# report: held-out flow loss trained vs init, ASR greedy WER (RUN/report.json).
# Needs the latents: LAT pointing at extract outputs (recipes/unified/run.sh stage 0, recipes/tiny/run.sh
# stage 2), or TOKENIZER_DIR (a trained tokenizer folder) + DATA_DIR (the corpus), from which this
# script extracts them into LAT first (not counted as training time).
#   LAT=exp/unified_tiny/latents EXP=exp/learning_proof bash recipes/unified/learning_proof.sh [key=value ...]
#   TOKENIZER_DIR=exp/tiny/tokenizer/stage3/step-000060/tokenizer DATA_DIR=data/corpus LAT=exp/lp/latents \
#     EXP=exp/lp bash recipes/unified/learning_proof.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
LAT=${LAT:-exp/unified_tiny/latents}
EXP=${EXP:-exp/learning_proof}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# The TTS text pointer (on in the tiny configs since session 9) trains on aligned cuts: the CTC
# aligner is trained and run once below (ALIGN_STEPS, 1000 as in recipes/tiny/run.sh; timed apart).
POINTER=$("$BIN/python" -m unified_lm.train.pointer_flag recipes/unified/conf/tiny_tts_only.yaml \
  recipes/unified/conf/tiny_joint.yaml "$@")
CUTS=cuts_with_latents.jsonl.gz
if [ "$POINTER" = 1 ]; then CUTS=cuts_aligned.jsonl.gz; fi
common=("data.train_manifest=$LAT/train/$CUTS" "data.dev_manifest=$LAT/dev/$CUTS"
        "data.latent_stats=$LAT/train/latent_stats.json" "cpu=true")
if [ ! -f "$LAT/train/cuts_with_latents.jsonl.gz" ]; then
  if [ -z "${TOKENIZER_DIR:-}" ] || [ -z "${DATA_DIR:-}" ]; then
    echo "learning_proof: no latents in $LAT; set LAT to extracted latents, or TOKENIZER_DIR and DATA_DIR to extract them" >&2
    exit 2
  fi
  for split in train dev test; do
    [ -f "$DATA_DIR/cuts_$split.jsonl.gz" ] || { echo "learning_proof: missing $DATA_DIR/cuts_$split.jsonl.gz" >&2; exit 2; }
    "$BIN/holitok-tokenizer" extract --model "$TOKENIZER_DIR" --manifest "$DATA_DIR/cuts_$split.jsonl.gz" --out-dir "$LAT/$split"
  done
fi
if [ "$POINTER" = 1 ]; then
  if [ ! -f "$LAT/train/$CUTS" ] || [ ! -f "$LAT/dev/$CUTS" ] || [ ! -f "$LAT/test/$CUTS" ]; then
    astart=$(date +%s)
    "$BIN/holitok-align" train --manifest "$LAT/train/cuts_with_latents.jsonl.gz" --out "$EXP/aligner" \
      --steps "${ALIGN_STEPS:-1000}"
    for split in train dev test; do  # the report's held-out flow loss needs the test alignments too
      "$BIN/holitok-align" extract --aligner "$EXP/aligner" --manifest "$LAT/$split/cuts_with_latents.jsonl.gz" \
        --out "$LAT/$split/$CUTS"
    done
    echo "learning proof: aligner trained and run in $(( $(date +%s) - astart )) s"
  fi
fi
start=$(date +%s)
"$BIN/holitok-train" unified recipes/unified/conf/tiny_tts_only.yaml "exp_dir=$EXP/tts_only" "${common[@]}" "$@"
"$BIN/holitok-train" unified recipes/unified/conf/tiny_joint.yaml "exp_dir=$EXP/joint" "init.checkpoint=$EXP/tts_only" "${common[@]}" "$@"
"$BIN/python" -m unified_lm.train.report --run "$EXP/joint" --manifest "$LAT/test/$CUTS"  # the whole test split
echo "learning proof: $(( $(date +%s) - start )) s; dev evals in $EXP/*/metrics.jsonl"
"$BIN/python" -m unified_lm.train.curves --run "$EXP/tts_only" --run "$EXP/joint" --png "$EXP/curves.png"
