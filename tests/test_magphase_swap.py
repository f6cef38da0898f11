"""recipes/tiny/magphase_swap.py: the magnitude/phase swap diagnostic (docs/tts_diagnosis.md, session 13)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "magphase_swap.py"
_spec = importlib.util.spec_from_file_location("magphase_swap", SCRIPT)
magphase_swap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(magphase_swap)


def _speechlike(n=8000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 140 * t) * torch.sin(2 * torch.pi * 3 * t) + 0.01 * torch.randn(n, generator=g)


def test_swapping_a_signal_with_itself_returns_it():
    x = _speechlike()
    a, b = magphase_swap.swap(x, x, 512, 128)
    torch.testing.assert_close(a, x, atol=1e-4, rtol=0)
    torch.testing.assert_close(b, x, atol=1e-4, rtol=0)


def test_each_output_takes_its_magnitude_and_phase_from_the_named_side():
    real, cand = _speechlike(seed=0), -2.0 * _speechlike(seed=0)  # same phase + pi, twice the magnitude
    a, b = magphase_swap.swap(real, cand[:-100], 512, 128)  # cut to the shorter
    assert a.numel() == b.numel() == real.numel() - 100
    torch.testing.assert_close(a, -real[:-100], atol=1e-4, rtol=0)  # real magnitude, candidate phase
    torch.testing.assert_close(b, 2.0 * real[:-100], atol=1e-4, rtol=0)  # candidate magnitude, real phase


def test_too_short_signals_are_refused():
    with pytest.raises(ValueError, match="shorter than one STFT window"):
        magphase_swap.swap(torch.zeros(100), torch.zeros(300), 512, 128)


def test_cli_writes_both_folders_and_names_a_missing_candidate(tmp_path):
    for name in ("p", "r1", "r2"):
        sf.write(tmp_path / f"{name}.wav", _speechlike(seed=len(name)).numpy(), 16000)
    (tmp_path / "list.lst").write_text("u1|hello there|p.wav|hi|r1.wav\nu2|hello there|p.wav|yo|r2.wav\n")
    cand = tmp_path / "cand"
    cand.mkdir()
    sf.write(cand / "u1.wav", np.zeros(8000, np.float32), 16000)
    cmd = [sys.executable, str(SCRIPT), "--meta", str(tmp_path / "list.lst"), "--wav-dir", str(cand),
           "--out-dir", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0 and "u2: no u2.wav in" in proc.stderr
    sf.write(cand / "u2.wav", _speechlike(seed=5).numpy(), 16000)
    subprocess.run(cmd, check=True, capture_output=True)
    for folder in ("realmag_candphase", "candmag_realphase"):
        assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == ["u1.wav", "u2.wav"]
    silent_phase, sr = sf.read(tmp_path / "out" / "candmag_realphase" / "u1.wav")
    assert sr == 16000 and np.abs(silent_phase).max() < 1e-6  # the silent candidate's magnitude is zero
