"""Reports: results.json (numbers + protocol + judges + versions + command line), results.md,
per_utt.jsonl and plots (matplotlib, Agg backend). Every command writes the same layout."""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

VERSIONED = (
    "holitok", "torch", "torchaudio", "transformers", "jiwer", "faster-whisper", "ctranslate2",
    "resemblyzer", "pesq", "pystoi", "zhconv", "lhotse", "funasr",
)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass
class Report:
    command: str  # score | seedtts | librispeech | reconstruction
    protocol: str
    protocol_description: str
    metrics: dict  # headline numbers (floats/ints), shown in the Markdown table
    judges: dict = field(default_factory=dict)  # role -> judge.describe()
    details: dict = field(default_factory=dict)  # lists (missing/failed ids ...) and definitions
    per_utt: list[dict] = field(default_factory=list)

    def to_json(self, argv: list[str] | None = None) -> dict:
        return {
            "command": self.command, "protocol": self.protocol, "protocol_description": self.protocol_description,
            "metrics": self.metrics, "judges": self.judges, "details": self.details,
            "versions": versions(), "argv": list(sys.argv if argv is None else argv),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def to_markdown(report: Report) -> str:
    lines = [f"# holitok-eval {report.command}", "", f"Protocol: **{report.protocol}** - {report.protocol_description}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report.metrics.items()]
    lines += ["", "## Judges", ""]
    for role, desc in report.judges.items():
        extra = "; ".join(f"{k}: {v}" for k, v in desc.items() if k != "name")
        lines.append(f"- **{role}**: `{desc.get('name')}` ({extra})")
    if not report.judges:
        lines.append("- none (scored from given transcripts)")
    for key, value in report.details.items():
        if isinstance(value, list):
            shown = ", ".join(map(str, value[:50])) + (f" ... (+{len(value) - 50})" if len(value) > 50 else "")
            lines += ["", f"**{key}** ({len(value)}): {shown or '-'}"]
        else:
            lines += ["", f"**{key}**: {value}"]
    return "\n".join(lines) + "\n"


def plot_histogram(values: list[float], path: Path, xlabel: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(values, bins=min(50, max(5, len(values) // 4)), color="#4477aa")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("utterances")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out_dir: str | Path, report: Report, argv: list[str] | None = None,
                 wer_values: list[float] | None = None) -> Path:
    """Write results.json, results.md, per_utt.jsonl and the per-utterance WER histogram."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report.to_json(argv), indent=2, ensure_ascii=False, allow_nan=True) + "\n")
    (out / "results.md").write_text(to_markdown(report), encoding="utf-8")
    with (out / "per_utt.jsonl").open("w", encoding="utf-8") as f:
        for row in report.per_utt:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if wer_values:
        plot_histogram(wer_values, out / "wer_hist.png", "per-utterance error rate (%)", f"{report.protocol}: per-utterance WER")
    return out
