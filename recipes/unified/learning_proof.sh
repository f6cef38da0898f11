#!/usr/bin/env bash
# Learning proof (issue 5 item 6) on 2 CPU cores, ~35-45 min: tiny TTS-only (stage 2) then joint
# TTS:ASR (stage 3, DiT initialised from stage 2) on the embedded corpus's latents, then the test-split
# report: held-out flow loss trained vs init, ASR greedy WER (RUN/report.json).
# Needs the latents (recipes/unified/run.sh stage 0, or LAT pointing at extract outputs).
#   LAT=exp/unified_tiny/latents EXP=exp/learning_proof bash recipes/unified/learning_proof.sh [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
LAT=${LAT:-exp/unified_tiny/latents}
EXP=${EXP:-exp/learning_proof}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
common=("data.train_manifest=$LAT/train/cuts_with_latents.jsonl.gz" "data.dev_manifest=$LAT/dev/cuts_with_latents.jsonl.gz"
        "data.latent_stats=$LAT/train/latent_stats.json" "cpu=true")
start=$(date +%s)
"$BIN/holitok-train" unified recipes/unified/conf/tiny_tts_only.yaml "exp_dir=$EXP/tts_only" "${common[@]}" "$@"
"$BIN/holitok-train" unified recipes/unified/conf/tiny_joint.yaml "exp_dir=$EXP/joint" "init.checkpoint=$EXP/tts_only" "${common[@]}" "$@"
"$BIN/python" -m unified_lm.train.report --run "$EXP/joint" --manifest "$LAT/test/cuts_with_latents.jsonl.gz"  # the whole test split
echo "learning proof: $(( $(date +%s) - start )) s; dev evals in $EXP/*/metrics.jsonl"
"$BIN/python" -m unified_lm.train.curves --run "$EXP/tts_only" --run "$EXP/joint" --png "$EXP/curves.png"
