#!/usr/bin/env bash
# HoliTok tokenizer recipe: data -> stage I -> stage II -> stage III -> latents -> reconstruction eval.
#
#   CONF=tiny bash recipes/tokenizer/run.sh --stage 0 --stop-stage 5
#   CONF=holitok-48k NGPU=8 DATA_DIR=/data/holitok EXP_DIR=/exp/holitok bash recipes/tokenizer/run.sh --stage 1
#
# Stages: 0 data (holitok-data synth; reuses a corpus it built with the same settings; refuses other settings
#           and manifests it did not build: start at --stage 1 for an imported corpus)
#         1 stage I (AE)   2 stage II (VAE bottleneck)   3 stage III (enrichment)
#         4 latent extraction (holitok-tokenizer extract)   5 reconstruction eval (holitok-eval)
# Environment: CONF=tiny|holitok-48k, DATA_DIR, EXP_DIR, NGPU (processes per node; >1 uses torchrun),
# SYNTH_HOURS (stage 0, default 6), LEXICON_FRACTION (stage 0, default 0.1), TRAIN_ARGS (extra key=value overrides for stages 1-3, e.g. "steps=200").
# Each finished stage writes EXP_DIR/.done.stageN; delete it to rerun. Training resumes by itself.
set -euo pipefail

stage=0
stop_stage=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (use --stage N --stop-stage M)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONF="${CONF:-tiny}"
DATA_DIR="${DATA_DIR:-$ROOT/data/corpus}"
EXP_DIR="${EXP_DIR:-$ROOT/exp/tokenizer-$CONF}"
NGPU="${NGPU:-1}"
SYNTH_HOURS="${SYNTH_HOURS:-6}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
PYTHON="${PYTHON:-$( [[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python3)}"
CONF_DIR="$ROOT/recipes/tokenizer/conf"
case "$CONF" in tiny|holitok-48k) ;; *) echo "CONF must be tiny or holitok-48k, got $CONF" >&2; exit 2 ;; esac
mkdir -p "$EXP_DIR"

run() { echo "+ $*" >&2; "$@"; }
done_marker() { echo "$EXP_DIR/.done.stage$1"; }
want() { [[ $stage -le $1 && $stop_stage -ge $1 && ! -f "$(done_marker "$1")" ]]; }
finish() { touch "$(done_marker "$1")"; echo "stage $1 done" >&2; }
latest_tokenizer() {
  "$PYTHON" -c "import sys; from holitok_common.train.checkpoint import latest; p = latest(sys.argv[1]); \
print(p / 'tokenizer' if p else sys.exit('no checkpoint in ' + sys.argv[1]))" "$1"
}
train() {  # train STAGE_NUMBER [key=value ...]
  local n="$1"; shift
  local launch=("$PYTHON" -m unified_lm.cli.train)
  if [[ "$NGPU" -gt 1 ]]; then
    launch=("$PYTHON" -m torch.distributed.run --nproc_per_node "$NGPU" -m unified_lm.cli.train)
  fi
  # shellcheck disable=SC2086  # TRAIN_ARGS is a list of key=value words
  run "${launch[@]}" tokenizer "$CONF_DIR/$CONF-stage$n.yaml" \
    "data.train_cuts=$DATA_DIR/cuts_train.jsonl.gz" "out_dir=$EXP_DIR/stage$n" "$@" $TRAIN_ARGS
}

if want 0; then
  # reuses DATA_DIR when it already holds a corpus built with these settings, refuses other settings
  run "$PYTHON" -m holitok_common.data.cli synth "$DATA_DIR" --hours "$SYNTH_HOURS" --lexicon-fraction "${LEXICON_FRACTION:-0.1}"
  finish 0
fi
if want 1; then train 1; finish 1; fi
if want 2; then train 2 "init_from=$EXP_DIR/stage1"; finish 2; fi
if want 3; then train 3 "init_from=$EXP_DIR/stage2"; finish 3; fi
if want 4; then
  tok="$(latest_tokenizer "$EXP_DIR/stage3")"
  for split in train dev; do
    if [[ -f "$DATA_DIR/cuts_$split.jsonl.gz" ]]; then
      run "$PYTHON" -m holitok_tokenizer.cli extract --model "$tok" --manifest "$DATA_DIR/cuts_$split.jsonl.gz" \
        --out-dir "$EXP_DIR/latents/$split"
    fi
  done
  finish 4
fi
if want 5; then
  tok="$(latest_tokenizer "$EXP_DIR/stage3")"
  manifest="$DATA_DIR/cuts_test.jsonl.gz"
  [[ -f "$manifest" ]] || manifest="$DATA_DIR/cuts_dev.jsonl.gz"
  run "$PYTHON" -m eval.cli reconstruction --tokenizer "$tok" --manifest "$manifest" --out-dir "$EXP_DIR/eval_reconstruction"
  finish 5
fi
