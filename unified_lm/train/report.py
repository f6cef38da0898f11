"""Learning-proof report: held-out flow loss of a trained model vs its initialisation, and ASR
greedy WER, on any latent manifest (e.g. the test split).

    python -m unified_lm.train.report --run EXP/joint --manifest LAT/test/cuts_with_latents.jsonl.gz

Evaluates the run's newest checkpoint (`model/`) and, as the baseline, a freshly initialised model
of the same config and seed (what training started from, before any init_from), on the same
examples with the same noise; prints one JSON line and writes it to RUN/report.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import torch

from holitok_common.config import from_dict
from holitok_common.train.checkpoint import latest, read_config_dict
from unified_lm.model import UnifiedLM
from unified_lm.train.config import UnifiedTrainConfig
from unified_lm.train.data import LatentCorpus
from unified_lm.train.evaluate import Evaluator
from unified_lm.train.units import EXPORT_DIR


def report(run_dir: Path, manifest: str, max_utts: int | None = None) -> dict:
    """`max_utts` None: every utterance of the manifest."""
    if max_utts is not None and max_utts <= 0:
        raise ValueError(f"--max-utts must be positive, got {max_utts}")
    ckpt = latest(run_dir / "checkpoints")
    if ckpt is None:
        raise FileNotFoundError(f"{run_dir}/checkpoints holds no checkpoint: train first")
    trained = UnifiedLM.from_pretrained(ckpt / EXPORT_DIR)
    cfg = from_dict(UnifiedTrainConfig, read_config_dict(ckpt))
    torch.manual_seed(cfg.seed)  # the trainer's seed_everything(seed) before building the model
    initial = UnifiedLM.from_config(trained.cfg, trained.text_tokenizer).eval()
    corpus = LatentCorpus(manifest)
    if max_utts is None:
        max_utts = len(corpus)
    evaluator = Evaluator(corpus, trained.text_tokenizer, num_tts=max_utts, num_asr=max_utts, seed=cfg.seed,
                          max_prompt_frames=cfg.data.max_prompt_frames, tts_units=trained.cfg.text_tokenizer.tts_units,
                          aligned=trained.cfg.pointer.enabled)
    after = evaluator.run(trained, contextlib.nullcontext)  # fp32 on CPU
    before = evaluator.run(initial, contextlib.nullcontext)
    result = {"checkpoint": str(ckpt), "manifest": manifest, "utterances": min(max_utts, len(corpus)),
              "flow_init": before.flow, "flow_trained": after.flow, "stop_init": before.stop, "stop_trained": after.stop,
              "wer_init": before.wer, "wer_trained": after.wer, "token_accuracy_trained": after.token_accuracy,
              "examples": after.examples}
    (run_dir / "report.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a training run directory (exp_dir)")
    parser.add_argument("--manifest", required=True, help="latent manifest to evaluate on (cuts_with_latents.jsonl.gz)")
    parser.add_argument("--max-utts", type=int, default=None,
                        help="evaluate the first N utterances only (default: the whole manifest)")
    args = parser.parse_args(argv)
    print(json.dumps(report(Path(args.run), args.manifest, args.max_utts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
