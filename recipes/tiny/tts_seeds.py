"""The TTS sampling seeds of recipes/tiny/run.sh (`TTS_SEEDS`): where each seed's decode and evaluation
live, and their judged metrics. Shared by report.py and export.py; run.sh's `tts_name` is the same
naming rule in bash."""

from __future__ import annotations

import json
import math
from pathlib import Path


def run_names(seeds: list[int]) -> list[str]:
    """decode/ and eval/ folder of each seed: the first seed's is tts_heldout, the others' tts_heldout_seed<N>."""
    return ["tts_heldout" if i == 0 else f"tts_heldout_seed{seed}" for i, seed in enumerate(seeds)]


def seed_results(exp: Path, seeds: list[int]) -> list[dict]:
    """Each seed's `holitok-eval seedtts` results.json (stage 6), in `seeds` order."""
    paths = [exp / "eval" / name / "results.json" for name in run_names(seeds)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"no TTS evaluation for every sampling seed {seeds} ({', '.join(missing)}): "
                                "rerun stage 6 with the same TTS_SEEDS")
    return [json.loads(path.read_text()) for path in paths]


def mean(values: list) -> float:
    """Mean of the numbers among `values` (None / NaN left out; NaN when none is left)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def per_voice(rows: list[dict]) -> dict[str, dict]:
    """Per held-out voice, from `holitok-eval seedtts --cross-sim` per_utt.jsonl rows (pooled over
    seeds): utterances, mean SIM to the own prompt, to the other voices' prompts, the margin, and how
    often each voice was the nearest one ({voice: count}). A mean margin > 0 can come from one voice
    that everything sounds like (a "hub"); this table shows whether each voice is its own."""
    voices: dict[str, dict] = {}
    for row in rows:
        if row.get("speaker") is None or row.get("sim") is None or row.get("sim_other") is None:
            continue
        v = voices.setdefault(row["speaker"], {"utterances": 0, "sim": 0.0, "sim_other": 0.0, "nearest": {}})
        v["utterances"] += 1
        v["sim"] += row["sim"]
        v["sim_other"] += row["sim_other"]
        near = row.get("nearest_speaker")
        v["nearest"][near] = v["nearest"].get(near, 0) + 1
    for v in voices.values():
        v["sim"] /= v["utterances"]
        v["sim_other"] /= v["utterances"]
        v["margin"] = v["sim"] - v["sim_other"]
    return dict(sorted(voices.items()))


def read_jsonl(path: Path, missing: str = "rerun stage 6") -> list[dict]:
    """The rows of a .jsonl file (per_utt.jsonl, metrics.jsonl); a missing file is an error that says
    what to run (`missing`)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing ({missing})")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def seed_rows(exp: Path, seeds: list[int]) -> list[dict]:
    """Every seed's per-utterance TTS rows, pooled."""
    return [row for name in run_names(seeds) for row in read_jsonl(exp / "eval" / name / "per_utt.jsonl")]
