"""CPU training-step cost in fp32 vs bf16 autocast (`distributed.mixed_precision=bf16` on a CPU with
native bf16: AVX-512 BF16 / AMX), for the two trainings of the tiny recipe.

    python bench/bench_cpu_bf16.py                       # both parts, 1 thread
    python bench/bench_cpu_bf16.py --threads 2 --part tokenizer
    python bench/bench_cpu_bf16.py --part unified --train-manifest LAT/train/cuts_aligned.jsonl.gz \
        --latent-stats LAT/train/latent_stats.json --config recipes/unified/conf/tiny_tts_only.yaml

tokenizer: stage-I forward + backward of the recipe's tiny tokenizer (tiny-stage1.yaml's encoder
widths and iSTFT decoder), 8 x 1 s of random audio, random weights; the mel loss and the optimizer
step run in fp32 either way and are not included (bench_tokenizer_train_step.py has the same setup).
unified: whole optimizer steps of `holitok-train unified` (trainer.train_step: batch building,
forward, backward, AdamW) on a given latent manifest and config, or on the fake latent corpus
(unified_lm/train/synthetic.py) with the tiny preset. Median of `--repeats` timed steps after
`--warmup` steps per precision, the precisions interleaved (A B A B) so machine noise hits both.
Prints one line per measurement and a JSON line; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
from pathlib import Path

import torch

from bench_tokenizer_train_step import DECODERS, RECIPE_ENCODER, _median_seconds  # bench/ is on sys.path
from holitok_common.train.distributed import cpu_has_native_bf16


def tokenizer_step(bf16: bool):
    from holitok_tokenizer.config import TokenizerConfig
    from holitok_tokenizer.model import HoliTok
    from holitok_tokenizer.train.generator import TokenizerGenerator

    cfg = TokenizerConfig.from_preset("tiny")
    for key, value in {"encoder_channels": RECIPE_ENCODER, **DECODERS["istft"]}.items():
        setattr(cfg, key, value)
    torch.manual_seed(0)
    gen = TokenizerGenerator(HoliTok(cfg), "I")
    wav, lengths = 0.1 * torch.randn(8, cfg.sample_rate), torch.full((8,), cfg.sample_rate)

    def step() -> None:
        gen.zero_grad(set_to_none=True)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            out = gen.autoencode(wav, lengths)
        out.float().pow(2).mean().backward()

    return step


def unified_step(bf16: bool, args: argparse.Namespace, tmp: Path):
    from unified_lm.train.config import load_train_config
    from unified_lm.train.synthetic import write_fake_corpus
    from unified_lm.train.trainer import Meter, setup, train_step

    if args.train_manifest:
        data = [f"data.train_manifest={args.train_manifest}", f"data.dev_manifest={args.train_manifest}",
                f"data.latent_stats={args.latent_stats}"]
    else:
        paths = write_fake_corpus(tmp / "latents", num_train=64, num_dev=4)
        data = [f"data.train_manifest={paths['train']}", f"data.dev_manifest={paths['dev']}",
                f"data.latent_stats={paths['stats']}"]
    precision = "bf16" if bf16 else "no"
    cfg = load_train_config(args.config, [*data, f"exp_dir={tmp / precision}", "eval.interval=0", "cpu=true",
                                          f"distributed.mixed_precision={precision}", "steps=100000"],
                            preset=None if args.config else "tiny")
    run = setup(cfg)

    def step() -> None:
        train_step(run, Meter())
        run.state.step += 1

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tokenizer", "unified", "both"], default="both")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--config", help="unified train config (YAML); default: the tiny preset")
    parser.add_argument("--train-manifest", help="latent manifest for the unified part (default: a fake corpus)")
    parser.add_argument("--latent-stats")
    args = parser.parse_args()
    if not cpu_has_native_bf16():
        raise SystemExit("this CPU has no native bf16 (AVX-512 BF16 / AMX): nothing to compare")
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        parts = ["tokenizer", "unified"] if args.part == "both" else [args.part]
        for part in parts:
            steps = {bf16: tokenizer_step(bf16) if part == "tokenizer" else unified_step(bf16, args, Path(tmp))
                     for bf16 in (False, True)}
            times = {False: [], True: []}
            for _ in range(2):  # interleaved halves: A B A B
                for bf16 in (False, True):
                    times[bf16].append(_median_seconds(steps[bf16], args.repeats, args.warmup))
            fp32, bf16 = statistics.mean(times[False]), statistics.mean(times[True])
            rows.append({"part": part, "fp32_s": round(fp32, 4), "bf16_s": round(bf16, 4), "speedup": round(fp32 / bf16, 2)})
            print(f"{part:9s} step: fp32 {fp32:.3f} s, bf16 autocast {bf16:.3f} s, speed-up {fp32 / bf16:.2f}x "
                  f"({args.threads} thread(s))")
    print(json.dumps({"threads": args.threads, "rows": rows}))


if __name__ == "__main__":
    main()
