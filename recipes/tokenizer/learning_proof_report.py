"""Learning-proof report: training curves of stages I-III (from each run's tb/metrics.jsonl) and a
markdown summary of the reconstruction eval (eval/ results.json) with per-stage wall-clock.

    python recipes/tokenizer/learning_proof_report.py --exp-dir EXP --eval-dir EXP/eval_test \
        --png docs/tokenizer_learning_curve.png --md docs/tokenizer_learning_proof.md --command "..."
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

STAGES = ("stage1", "stage2", "stage3")
CURVES = ("g/mel", "g/adv", "g/fm", "d/total", "g/kl", "g/wavlm", "g/xvector", "g/lm")
STOI_TARGET, WER_RATIO_TARGET = 0.85, 1.5


def read_metrics(run: Path) -> list[dict]:
    path = run / "tb" / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_step = {r["step"]: r for r in rows if "train/g/mel" in r}  # a resumed run may rewrite steps: keep the last
    return [by_step[s] for s in sorted(by_step)]


def stage_times(path: Path) -> dict[str, float]:
    """`stageN start|end UNIX` lines -> seconds per stage (summed over restarts; resumes included)."""
    total: dict[str, float] = {}
    start: dict[str, int] = {}
    if not path.exists():
        return total
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("start", "end"):
            name, what, t = parts[0], parts[1], int(parts[2])
            if what == "start":
                start[name] = t
            elif name in start:
                total[name] = total.get(name, 0.0) + t - start.pop(name)
        elif len(parts) == 2 and parts[0] == "killed":  # an interrupted stage: count up to the kill
            for name, t0 in list(start.items()):
                total[name] = total.get(name, 0.0) + int(parts[1]) - t0
                start.pop(name)
    return total


def plot(runs: dict[str, list[dict]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    offset, bounds = 0, []
    for name, rows in runs.items():
        if not rows:
            continue
        steps = [offset + r["step"] for r in rows]
        for ax, keys in zip(axes.flat, (("g/mel",), ("g/adv", "g/fm", "d/total"), ("g/kl",), ("g/wavlm", "g/xvector", "g/lm"))):
            for key in keys:
                vals = [r.get(f"train/{key}") for r in rows]
                if any(v for v in vals):
                    ax.plot(steps, vals, label=f"{name} {key}", lw=1)
        offset = steps[-1]
        bounds.append(offset)
    titles = ("multi-scale mel L1 (x45 in the loss)", "GAN: adv / fm / discriminator", "KL (flow prior)", "distillation / LM supervision")
    for ax, title in zip(axes.flat, titles):
        for b in bounds[:-1]:
            ax.axvline(b, color="grey", ls="--", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("global step (stage I | II | III)")
        if ax.lines:
            ax.legend(fontsize=7)
    axes.flat[2].set_yscale("symlog")
    fig.suptitle("HoliTok tiny tokenizer: learning proof (2-core CPU)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exp-dir", required=True, type=Path)
    p.add_argument("--eval-dir", required=True, type=Path)
    p.add_argument("--png", required=True, type=Path)
    p.add_argument("--md", required=True, type=Path)
    p.add_argument("--command", default="bash recipes/tokenizer/learning_proof.sh")
    p.add_argument("--tokenizer", default="")
    a = p.parse_args(argv)
    runs = {name: read_metrics(a.exp_dir / name) for name in STAGES}
    plot(runs, a.png)
    res = json.loads((a.eval_dir / "results.json").read_text())
    m = res.get("metrics", res)
    times = stage_times(a.exp_dir / "stage_times.txt")
    stoi, wo, wr = m.get("stoi"), m.get("wer_orig"), m.get("wer_recon")
    ratio = wr / wo if wo else float("inf")
    ok_stoi, ok_wer = stoi is not None and stoi >= STOI_TARGET, wr is not None and wo is not None and wr <= WER_RATIO_TARGET * wo
    lines = [
        "# HoliTok tiny tokenizer: learning proof",
        "",
        f"Command: `{a.command}`  ",
        f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores (shared with other jobs), training with "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}.  ",
        f"Verdict: {'PASS' if ok_stoi and ok_wer else 'TARGETS MISSED'} (STOI >= {STOI_TARGET}; "
        f"WER recon <= {WER_RATIO_TARGET} x WER orig).  ",
        f"Exported stage-III tokenizer: `{a.tokenizer}`",
        "",
        "| stage | steps | final mel L1 | wall-clock |",
        "|---|---|---|---|",
    ]
    for name in STAGES:
        rows = runs[name]
        last = rows[-1] if rows else {}
        lines.append(f"| {name} | {last.get('step', 0)} | {last.get('train/g/mel', float('nan')):.3f} | {times.get(name, float('nan')) / 60:.1f} min |")
    total = sum(times.get(n, 0.0) for n in ("stage0", *STAGES))
    lines += [f"| total | | | {total / 60:.1f} min (target <= 45) |", "",
              f"Reconstruction of the held-out test split ({m.get('utterances')} utterances), judges: "
              f"{json.dumps(res.get('judges', {}))}", "",
              "| metric | value | target | pass |", "|---|---|---|---|",
              f"| STOI | {stoi:.3f} | >= {STOI_TARGET} | {'yes' if ok_stoi else 'NO'} |",
              f"| WER originals (%) | {wo:.2f} | | |",
              f"| WER reconstructions (%) | {wr:.2f} | <= {WER_RATIO_TARGET} x orig = {WER_RATIO_TARGET * wo:.2f} | {'yes' if ok_wer else 'NO'} |",
              f"| WER ratio recon/orig | {ratio:.2f} | <= {WER_RATIO_TARGET} | {'yes' if ok_wer else 'NO'} |"]
    for k in ("pesq_wb", "pesq_nb", "mel_l1", "sim"):
        if k in m:
            lines.append(f"| {k} | {m[k]:.3f} | | |")
    lines += ["", f"Curves: `{a.png}`. Full eval report: `{a.eval_dir}/results.md`.", ""]
    a.md.parent.mkdir(parents=True, exist_ok=True)
    a.md.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
