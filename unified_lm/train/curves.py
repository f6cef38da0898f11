"""Learning curves of unified runs from their `metrics.jsonl` files, as one PNG.

    python -m unified_lm.train.curves --run EXP/tts_only --run EXP/joint --png docs/unified_curves.png

Used by recipes/unified/learning_proof.sh and the end-to-end report (recipes/tiny/report.py).

Top row: training losses (text CE, CTC, flow, stop; a moving average over `--smooth` logged
points), one line per run and loss, the runs placed one after another on the step axis. Bottom row:
the held-out evaluations (flow loss, teacher-forced token accuracy, greedy WER) on the same axis.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TRAIN_KEYS = ("text_ce", "ctc", "flow", "stop")
EVAL_KEYS = ("flow", "token_accuracy", "wer")


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {run} a training run directory (exp_dir)?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def moving_average(values: list[float], width: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - width] if i >= width else 0.0)
        out.append(total / min(i + 1, width))
    return out


def plot(runs: list[Path], png: Path, smooth: int = 20) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    offset = 0
    for run in runs:
        rows = read_metrics(run)
        train = [r for r in rows if r.get("kind") == "train"]
        evals = [r for r in rows if r.get("kind") == "eval"]
        for key in TRAIN_KEYS:
            points = [(r["step"], r[key]) for r in train if key in r]
            if points:
                steps, values = zip(*points)
                axes[0].plot([offset + s for s in steps], moving_average(list(values), smooth), label=f"{run.name} {key}")
        for key in EVAL_KEYS:
            points = [(r["step"], r[key]) for r in evals if key in r]
            if points and any(v for _, v in points):  # all zero: the run did not evaluate this (e.g. no ASR)
                steps, values = zip(*points)
                axes[1].plot([offset + s for s in steps], values, marker="o", label=f"{run.name} dev {key}")
        offset += max((r["step"] for r in rows), default=0)
        axes[0].axvline(offset, color="grey", lw=0.5)
        axes[1].axvline(offset, color="grey", lw=0.5)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("held-out (dev)")
    axes[1].set_ylim(0, 1.2)
    axes[1].set_xlabel("step (runs one after another)")
    for ax in axes:
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, type=Path, help="run directory (repeatable)")
    parser.add_argument("--png", required=True, type=Path)
    parser.add_argument("--smooth", type=int, default=20, help="moving-average width in logged points")
    args = parser.parse_args(argv)
    plot(args.run, args.png, args.smooth)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
