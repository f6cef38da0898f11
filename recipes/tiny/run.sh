#!/usr/bin/env bash
# The embedded end-to-end run: corpus -> tiny tokenizer -> latents -> tiny unified model -> ASR and
# zero-shot TTS -> offline judges -> one report -> the shipped models (models/tiny). ~81 min on 2 CPU cores
# with the step counts of the tiny YAMLs (session 15: 76.9 min in one go on the idle VM with one TTS seed,
# + 4.1 min for TTS_SEEDS' three extra seeds; recipes/tiny/README.md); SMOKE=1
# runs every stage in a few minutes.
#
#   bash recipes/tiny/run.sh                                  # everything (stages 0-8)
#   bash recipes/tiny/run.sh --stage 4 --stop-stage 7         # decode + eval + report again
#   SMOKE=1 EXP_DIR=/tmp/tiny bash recipes/tiny/run.sh        # the wiring check (what tests/test_e2e_smoke.py runs)
#
# Stages: 0 corpora (holitok-data synth; reuses a folder whose corpus.json has the same settings, refuses others):
#           DATA_DIR with the base voices (the unified model's), TOK_DATA_DIR with TOK_VOICES (the tokenizer's)
#         1 tokenizer stages I, II, III on TOK_DATA_DIR (recipes/tokenizer/run.sh, CONF=tiny)
#         2 latents of train/dev/test/heldout, CTC aligner + aligned manifests (recipes/unified/run.sh stages 0-1)
#         3 unified TTS-only, then joint      (recipes/unified/run.sh stages 2-3, conf/tiny_*.yaml)
#         4 ASR of the test split             (holitok-asr --manifest)
#         5 zero-shot TTS of the held-out list (holitok-tts --meta DATA_DIR/heldout_seedtts.lst)
#         6 eval: ASR WER; TTS WER/SIM + SIM to other voices; judge WER/SIM on the real recordings and
#           on their tokenizer resyntheses (the TTS ceiling); tokenizer reconstruction STOI/PESQ of the test split
#         7 report                            (EXP_DIR/report.md)
#         8 export                            (MODELS_DIR/{tokenizer,unified,prompts}, <= MAX_MB)
# Environment: DATA_DIR (data/corpus), EXP_DIR (exp/tiny), MODELS_DIR (models/tiny), SYNTH_HOURS (6),
#   TOK_VOICES (extended: the base voices + 24 recorded identities; base = train the tokenizer on DATA_DIR),
#   TOK_DATA_DIR (DATA_DIR-tokenizer; DATA_DIR itself when TOK_VOICES=base), both SYNTH_HOURS,
#   LEXICON_FRACTION (0.1: a ~460-word read-speech task, see holitok_common/data/sentences.py),
#   ASR_JUDGE (whisper-base-offline), SIM_JUDGE (resemblyzer), MAX_TTS_ITEMS (60 lines round-robin
#   over the held-out voices, as the shipped run; 0 = the whole list, ~9x the stage 5-6 time),
#   TTS_SEEDS ("0 1 2 3": stage 5 synthesises the list once per sampling seed, ~1.3 min per extra seed;
#   the report's TTS criteria use the mean over the seeds, since one seed's judge WER and SIM margin
#   are noise-dominated, docs/tts_diagnosis.md session 15; the first seed writes decode/tts_heldout),
#   TOK_ARGS / UNI_ARGS (extra key=value overrides of the tokenizer / unified trainings),
#   TTS_ARGS / ASR_ARGS (extra holitok-tts / holitok-asr flags), MAX_MB (60), OMP_NUM_THREADS (2),
#   ALIGN_STEPS (1000: the CTC aligner's training steps), ASR_BEAM (4: holitok-asr --beam-size).
#   SMOKE=1 changes the defaults: EXP_DIR exp/tiny-smoke, DATA_DIR EXP_DIR/corpus, MODELS_DIR
#   EXP_DIR/models (a smoke run never touches models/tiny), TOK_DATA_DIR EXP_DIR/corpus-tokenizer, 0.02 h,
#   a few steps, 2 TTS lines.
# Each finished stage writes EXP_DIR/.done.stageN (delete it to rerun that stage); trainings resume
# from their newest checkpoint and decoding skips finished utterances, so a rerun continues.
set -euo pipefail

stage=0
stop_stage=8
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (use --stage N --stop-stage M)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
abspath() { realpath -m "$1"; }
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
  EXP_DIR="$(abspath "${EXP_DIR:-exp/tiny-smoke}")"
  DATA_DIR="$(abspath "${DATA_DIR:-$EXP_DIR/corpus}")"
  MODELS_DIR="$(abspath "${MODELS_DIR:-$EXP_DIR/models}")"
  SYNTH_HOURS="${SYNTH_HOURS:-0.02}"
  MAX_TTS_ITEMS="${MAX_TTS_ITEMS:-2}"
  # A few steps per training; checkpoints at the last step; no periodic dev evaluation.
  TOK_ARGS="steps=2 log_every=1 audio_every=2 ckpt_every=2 ${TOK_ARGS:-}"
  UNI_ARGS="steps=2 log_interval=1 ckpt_interval=2 eval.interval=0 ${UNI_ARGS:-}"
  TTS_ARGS="--steps 2 --max-seconds 1.5 ${TTS_ARGS:-}"
  ALIGN_STEPS="${ALIGN_STEPS:-3}"
  TTS_SEEDS="${TTS_SEEDS-0 1}"
  ASR_ARGS="--max-tokens 12 ${ASR_ARGS:-}"
else
  EXP_DIR="$(abspath "${EXP_DIR:-exp/tiny}")"
  DATA_DIR="$(abspath "${DATA_DIR:-data/corpus}")"
  MODELS_DIR="$(abspath "${MODELS_DIR:-models/tiny}")"
  SYNTH_HOURS="${SYNTH_HOURS:-6}"
  MAX_TTS_ITEMS="${MAX_TTS_ITEMS:-60}"
  TOK_ARGS="${TOK_ARGS:-}"
  UNI_ARGS="${UNI_ARGS:-}"
  TTS_ARGS="${TTS_ARGS:-}"
  ASR_ARGS="${ASR_ARGS:-}"
  ALIGN_STEPS="${ALIGN_STEPS:-1000}"
  TTS_SEEDS="${TTS_SEEDS-0 1 2 3}"
fi
read -r -a SEEDS <<< "$TTS_SEEDS"
[[ ${#SEEDS[@]} -ge 1 ]] || { echo "run.sh: TTS_SEEDS is empty; give at least one sampling seed, e.g. TTS_SEEDS=0" >&2; exit 2; }
for s in "${SEEDS[@]}"; do
  [[ "$s" =~ ^[0-9]+$ ]] || { echo "run.sh: TTS_SEEDS must be non-negative integers separated by spaces, got '$TTS_SEEDS'" >&2; exit 2; }
done
[[ $(printf '%s\n' "${SEEDS[@]}" | sort -u | wc -l) -eq ${#SEEDS[@]} ]] || {
  echo "run.sh: TTS_SEEDS repeats a seed ('$TTS_SEEDS')" >&2; exit 2; }
TOK_VOICES="${TOK_VOICES:-extended}"
if [[ "$TOK_VOICES" == base ]]; then
  TOK_DATA_DIR="$(abspath "${TOK_DATA_DIR:-$DATA_DIR}")"
else
  TOK_DATA_DIR="$(abspath "${TOK_DATA_DIR:-$DATA_DIR-tokenizer}")"
fi
[[ "$TOK_DATA_DIR" != "$DATA_DIR" || "$TOK_VOICES" == base ]] || {
  echo "run.sh: TOK_DATA_DIR=DATA_DIR needs TOK_VOICES=base (DATA_DIR holds the base voices)" >&2; exit 2; }
ASR_BEAM="${ASR_BEAM:-4}"
ASR_JUDGE="${ASR_JUDGE:-whisper-base-offline}"
SIM_JUDGE="${SIM_JUDGE:-resemblyzer}"
MAX_MB="${MAX_MB:-60}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
BIN="$ROOT/.venv/bin"
[[ -x "$BIN/python" ]] || { echo "run.sh: no $BIN/python; run 'make setup' first" >&2; exit 2; }
PY="$BIN/python"
TOK_EXP="$EXP_DIR/tokenizer"
UNI_EXP="$EXP_DIR/unified"
DECODE="$EXP_DIR/decode"
EVAL="$EXP_DIR/eval"
mkdir -p "$EXP_DIR"

run() { echo "+ $*" >&2; "$@"; }
want() { [[ $stage -le $1 && $stop_stage -ge $1 && ! -f "$EXP_DIR/.done.stage$1" ]]; }
finish() { touch "$EXP_DIR/.done.stage$1"; echo "run.sh: stage $1 done ($(( $(date +%s) - START )) s so far)" >&2; }
need() { [[ -e "$1" ]] || { echo "run.sh: $1 is missing: $2" >&2; exit 1; }; }
# decode/ and eval/ folder of one TTS sampling seed (the same rule as tts_seeds.py run_names)
tts_name() { if [[ "$1" == "${SEEDS[0]}" ]]; then echo tts_heldout; else echo "tts_heldout_seed$1"; fi; }
tokenizer_dir() {  # the inference-ready folder of stage III's newest checkpoint
  "$PY" -c "import sys; from holitok_common.train.checkpoint import latest; p = latest(sys.argv[1]); \
print(p / 'tokenizer' if p else sys.exit('run.sh: no tokenizer checkpoint in ' + sys.argv[1] + ' (run stage 1)'))" "$TOK_EXP/stage3"
}
unified_dir() {  # the UnifiedLM directory of the joint run's newest checkpoint
  "$PY" -c "import sys; from unified_lm.train.units import resolve_model_dir; print(resolve_model_dir(sys.argv[1]))" \
    "$UNI_EXP/joint" || { echo "run.sh: no joint checkpoint under $UNI_EXP/joint (run stage 3)" >&2; exit 1; }
}
unified_recipe() {  # the unified recipe on our paths; arguments: its stage flags and key=value overrides
  local tok
  tok="$(tokenizer_dir)"
  run env DATA_DIR="$DATA_DIR" TOKENIZER_DIR="$tok" EXP_DIR="$UNI_EXP" CONF=tiny ALIGN_STEPS="$ALIGN_STEPS" \
    bash "$ROOT/recipes/unified/run.sh" "$@"
}
TTS_LIST="$DECODE/heldout_seedtts.lst"  # the list decoded and judged (all of DATA_DIR's, or MAX_TTS_ITEMS lines)
START=$(date +%s)
if [[ ! -f "$EXP_DIR/recipe_commit.txt" ]]; then  # the commit this run started from (export.py records it)
  git -C "$ROOT" rev-parse HEAD > "$EXP_DIR/recipe_commit.txt" 2>/dev/null || echo unknown > "$EXP_DIR/recipe_commit.txt"
fi
echo "run.sh: SMOKE=$SMOKE DATA_DIR=$DATA_DIR TOK_DATA_DIR=$TOK_DATA_DIR EXP_DIR=$EXP_DIR MODELS_DIR=$MODELS_DIR stages $stage-$stop_stage" >&2

if want 0; then
  # reuses DATA_DIR when it already holds a corpus built with these settings, refuses other settings
  run "$BIN/holitok-data" synth "$DATA_DIR" --hours "$SYNTH_HOURS" --seed 0 --lexicon-fraction "${LEXICON_FRACTION:-0.1}"
  if [[ "$TOK_DATA_DIR" != "$DATA_DIR" ]]; then
    run "$BIN/holitok-data" synth "$TOK_DATA_DIR" --hours "$SYNTH_HOURS" --seed 0 \
      --lexicon-fraction "${LEXICON_FRACTION:-0.1}" --voices "$TOK_VOICES"
  fi
  finish 0
fi

if want 1; then
  need "$TOK_DATA_DIR/cuts_train.jsonl.gz" "run stage 0"
  run env CONF=tiny DATA_DIR="$TOK_DATA_DIR" EXP_DIR="$TOK_EXP" TRAIN_ARGS="$TOK_ARGS" PYTHON="$PY" \
    bash "$ROOT/recipes/tokenizer/run.sh" --stage 1 --stop-stage 3
  finish 1
fi

if want 2; then
  unified_recipe --stage 0 --stop-stage 1
  finish 2
fi

if want 3; then
  stats="$UNI_EXP/latents/train/latent_stats.json"
  need "$stats" "run stage 2"
  # The unified model's latent width always follows the tokenizer that made the latents.
  latent_dim=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['latent_dim'])" "$stats")
  # The sentencepiece model always includes every printable ASCII character (unified_lm/text_tokenizer.py),
  # so held-out texts with letters unseen in training still encode; anything else is a clear error.
  # shellcheck disable=SC2086  # UNI_ARGS is a list of key=value words
  unified_recipe --stage 2 --stop-stage 3 "model.latent_dim=$latent_dim" $UNI_ARGS
  finish 3
fi

if want 4; then
  need "$DATA_DIR/cuts_test.jsonl.gz" "run stage 0"
  model="$(unified_dir)"; tok="$(tokenizer_dir)"
  # shellcheck disable=SC2086
  run "$BIN/holitok-asr" --model "$model" --tokenizer "$tok" \
    --manifest "$DATA_DIR/cuts_test.jsonl.gz" --out "$DECODE/asr_test.jsonl" --beam-size "$ASR_BEAM" $ASR_ARGS
  finish 4
fi

if want 5; then
  need "$DATA_DIR/heldout_seedtts.lst" "the corpus has no held-out voices (rerun stage 0)"
  run "$PY" "$ROOT/recipes/tiny/subset_list.py" "$DATA_DIR/heldout_seedtts.lst" "$TTS_LIST" --max-items "$MAX_TTS_ITEMS"
  model="$(unified_dir)"; tok="$(tokenizer_dir)"
  for s in "${SEEDS[@]}"; do
    # shellcheck disable=SC2086
    run "$BIN/holitok-tts" --model "$model" --tokenizer "$tok" \
      --meta "$TTS_LIST" --out-dir "$DECODE/$(tts_name "$s")" --seed "$s" $TTS_ARGS
  done
  finish 5
fi

if want 6; then
  need "$DECODE/asr_test.jsonl" "run stage 4"
  for s in "${SEEDS[@]}"; do need "$DECODE/$(tts_name "$s")" "run stage 5 (TTS_SEEDS changed? delete .done.stage5)"; done
  judges=(--asr-judge "$ASR_JUDGE" --sim-judge "$SIM_JUDGE")
  run "$BIN/holitok-eval" librispeech --manifest "$DATA_DIR/cuts_test.jsonl.gz" --hyps "$DECODE/asr_test.jsonl" \
    --out-dir "$EVAL/asr_test"
  for s in "${SEEDS[@]}"; do
    run "$BIN/holitok-eval" seedtts --meta "$TTS_LIST" --wav-dir "$DECODE/$(tts_name "$s")" --cross-sim "${judges[@]}" \
      --out-dir "$EVAL/$(tts_name "$s")"
  done
  run "$BIN/holitok-eval" seedtts --meta "$TTS_LIST" --ground-truth --cross-sim "${judges[@]}" \
    --out-dir "$EVAL/real_heldout"
  # the same recordings through the tokenizer (audio -> latents -> audio): the best a TTS can do
  run "$PY" "$ROOT/recipes/tiny/resynth_list.py" --tokenizer "$(tokenizer_dir)" --meta "$TTS_LIST" \
    --out-dir "$DECODE/resynth_heldout"
  run "$BIN/holitok-eval" seedtts --meta "$TTS_LIST" --wav-dir "$DECODE/resynth_heldout" --cross-sim "${judges[@]}" \
    --out-dir "$EVAL/resynth_heldout"
  # tokenizer reconstruction of the test split: STOI / PESQ / mel L1 (the judges' WER/SIM are the tokenizer proof's)
  run "$BIN/holitok-eval" reconstruction --tokenizer "$(tokenizer_dir)" --manifest "$DATA_DIR/cuts_test.jsonl.gz" \
    --asr-judge none --sim-judge none --n-plots 0 --out-dir "$EVAL/tokenizer_test"
  finish 6
fi

if want 7; then
  need "$EVAL/tts_heldout/results.json" "run stage 6"
  run "$PY" "$ROOT/recipes/tiny/report.py" --exp-dir "$EXP_DIR" --data-dir "$DATA_DIR" \
    --tokenizer-data-dir "$TOK_DATA_DIR" --tts-seeds "${SEEDS[@]}" --out "$EXP_DIR/report.md"
  finish 7
fi

if want 8; then
  model="$(unified_dir)"; tok="$(tokenizer_dir)"
  run "$PY" "$ROOT/recipes/tiny/export.py" --tokenizer "$tok" --unified "$model" \
    --data-dir "$DATA_DIR" --exp-dir "$EXP_DIR" --out "$MODELS_DIR" --max-mb "$MAX_MB" --tts-seeds "${SEEDS[@]}"
  finish 8
fi
echo "run.sh: stages $stage-$stop_stage finished in $(( $(date +%s) - START )) s" >&2
