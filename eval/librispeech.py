"""LibriSpeech-style ASR scoring: references from a lhotse manifest, hypotheses from a file or from
decoding with `holitok-asr` first (a console command owned by unified_lm, called as a subprocess so
eval does not depend on its internals).

`holitok-asr --manifest M --out hyp.jsonl` exits 0 (all decoded), 1 (SOME cuts failed: the rest are
in hyp.jsonl, the failures in hyp.jsonl.failures.json) or 2 (bad invocation). Exit 1 is a partial
decode: we score what was decoded (the failed cuts are absent from hyp.jsonl, so they count as
missing) and carry the failures file into the report. Any other outcome is a DecodeError.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

EXIT_PARTIAL = 1  # holitok-asr: some inputs failed, the others were written


class DecodeError(RuntimeError):
    """`holitok-asr` is missing, not built yet, or failed."""


@dataclass
class DecodeResult:
    """hyps: the hypotheses file; failures: the content of `hyps.failures.json` when holitok-asr
    reported failed cuts (exit 1), else None; failed_ids: the ids listed there."""

    hyps: Path
    failures: Optional[dict] = None
    failed_ids: list[str] = field(default_factory=list)


def _asr_command() -> str:
    local = Path(sys.executable).parent / "holitok-asr"  # the same virtualenv as this process
    found = str(local) if local.is_file() else shutil.which("holitok-asr")
    if not found:
        raise DecodeError("the holitok-asr command is not installed; run `pip install -e .` in the repository")
    return found


def failures_path(out: Path) -> Path:
    """Where holitok-asr lists the cuts it could not decode into `out`."""
    return out.with_name(out.name + ".failures.json")


def _mtime(path: Path) -> Optional[int]:
    return path.stat().st_mtime_ns if path.is_file() else None


def decode_with_holitok_asr(model: str | Path, manifest: str | Path, out: str | Path) -> DecodeResult:
    """Run `holitok-asr --model M --manifest CUTS --out hyp.jsonl`; exit 0 or 1 (partial) -> DecodeResult."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report_path = failures_path(out)
    report_before = _mtime(report_path)  # a crash also exits 1: only a freshly written report means "partial"
    cmd = [_asr_command(), "--model", str(model), "--manifest", str(manifest), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    tail = (proc.stderr or proc.stdout).strip()[-2000:]
    failures = None
    if proc.returncode == EXIT_PARTIAL and _mtime(report_path) not in (None, report_before):
        failures = _read_failures(report_path)
    elif proc.returncode != 0:
        if "not built yet" in tail or "unrecognized arguments" in tail:
            raise DecodeError(f"holitok-asr is not built yet ({tail.splitlines()[-1] if tail else 'stub'}); "
                              "decode elsewhere and pass --hyps HYPS.jsonl instead of --model")
        raise DecodeError(f"holitok-asr failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    if not out.is_file() or not out.read_text(encoding="utf-8").strip():
        why = f"every cut failed, see {report_path}" if failures is not None else f"exit {proc.returncode}"
        raise DecodeError(f"holitok-asr wrote no hypotheses to {out} ({why})")
    failed_ids = [] if failures is None else [str(f["id"]) for f in failures.get("failures", [])]
    return DecodeResult(out, failures, failed_ids)


def _read_failures(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"holitok-asr exited 1 (some cuts failed) but {path} is unreadable ({exc})") from exc
    items = report.get("failures", []) if isinstance(report, dict) else None
    if not isinstance(items, list) or not all(isinstance(f, dict) and "id" in f for f in items):
        raise DecodeError(f"{path}: expected {{\"failures\": [{{\"id\", \"reason\"}}], ...}} from holitok-asr")
    return report
