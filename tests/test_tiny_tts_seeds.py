"""recipes/tiny/tts_seeds.py: the per-voice SIM table's numbers (a hub voice that everything sounds
like gives a positive mean margin while another voice's own margin is negative)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "tiny"))
from tts_seeds import per_voice, read_jsonl, seed_rows  # noqa: E402


def rows():
    return [
        {"id": "a1", "speaker": "a", "sim": 0.9, "sim_other": 0.5, "nearest_speaker": "a"},
        {"id": "a2", "speaker": "a", "sim": 0.7, "sim_other": 0.5, "nearest_speaker": "a"},
        {"id": "b1", "speaker": "b", "sim": 0.5, "sim_other": 0.6, "nearest_speaker": "a"},
        {"id": "c1", "speaker": "c", "sim": None, "sim_other": None, "nearest_speaker": None},  # not scored
    ]


def test_per_voice_means_margins_and_nearest_counts():
    table = per_voice(rows())
    assert list(table) == ["a", "b"]
    assert table["a"]["utterances"] == 2 and table["a"]["margin"] == pytest.approx(0.3)
    assert table["a"]["nearest"] == {"a": 2}
    assert table["b"]["margin"] == pytest.approx(-0.1) and table["b"]["nearest"] == {"a": 1}


def test_rows_pool_the_seeds_and_a_missing_file_is_an_error(tmp_path):
    for name in ("tts_heldout", "tts_heldout_seed3"):
        (tmp_path / "eval" / name).mkdir(parents=True)
        (tmp_path / "eval" / name / "per_utt.jsonl").write_text("\n".join(json.dumps(r) for r in rows()) + "\n")
    assert len(seed_rows(tmp_path, [0, 3])) == 8
    assert per_voice(seed_rows(tmp_path, [0, 3]))["a"]["utterances"] == 4
    with pytest.raises(FileNotFoundError, match="rerun stage 6"):
        read_jsonl(tmp_path / "eval" / "nothing" / "per_utt.jsonl")
