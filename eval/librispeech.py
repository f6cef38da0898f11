"""LibriSpeech-style ASR scoring: references from a lhotse manifest, hypotheses from a file or from
decoding with `holitok-asr` first (a console command owned by unified_lm, called as a subprocess so
eval does not depend on its internals)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


class DecodeError(RuntimeError):
    """`holitok-asr` is missing, not built yet, or failed."""


def _asr_command() -> str:
    local = Path(sys.executable).parent / "holitok-asr"  # the same virtualenv as this process
    found = str(local) if local.is_file() else shutil.which("holitok-asr")
    if not found:
        raise DecodeError("the holitok-asr command is not installed; run `pip install -e .` in the repository")
    return found


def decode_with_holitok_asr(model: str | Path, manifest: str | Path, out: str | Path) -> Path:
    """Run `holitok-asr --model M --manifest CUTS --out hyp.jsonl`; return the hypothesis file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_asr_command(), "--model", str(model), "--manifest", str(manifest), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    tail = (proc.stderr or proc.stdout).strip()[-2000:]
    if proc.returncode != 0:
        if "not built yet" in tail or "unrecognized arguments" in tail:
            raise DecodeError(f"holitok-asr is not built yet ({tail.splitlines()[-1] if tail else 'stub'}); "
                              "decode elsewhere and pass --hyps HYPS.jsonl instead of --model")
        raise DecodeError(f"holitok-asr failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    if not out.is_file():
        raise DecodeError(f"holitok-asr exited 0 but wrote no {out}")
    return out
