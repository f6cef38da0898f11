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
