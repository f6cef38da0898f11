"""Loader API: manifest errors, exact sampler resume, distributed split, collate padding/resampling/crop."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from holitok_common.audio import AudioInfo
from holitok_common.data.loader import (
    AudioCollate, BucketSampler, ManifestError, SamplerConfig, load_cuts, make_dataloader,
)
from holitok_common.data.manifests import make_cut, save_cuts


def toy_cuts(n=40):
    """Cuts with varied durations (no audio needed for sampling)."""
    return [make_cut(f"c{i:03d}", f"/nowhere/{i}.wav", AudioInfo(16000, 1, 16000 * (1 + i % 7)), f"text {i}", f"s{i % 3}")
            for i in range(n)]


def ids(batches):
    return [[c.id for c in b] for _, b in batches]


def test_load_cuts_missing(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        load_cuts(tmp_path / "nope.jsonl.gz")


def test_relative_paths_resolved(tmp_path):
    save_cuts(toy_cuts(2)[:1], tmp_path / "m.jsonl.gz")
    cut = make_cut("r", "audio/a.flac", AudioInfo(16000, 1, 160), "t", "s")
    save_cuts([cut], tmp_path / "sub" / "m.jsonl.gz")
    assert load_cuts(tmp_path / "sub" / "m.jsonl.gz")[0].recording.sources[0].source == str(tmp_path / "sub/audio/a.flac")


def test_sampler_resume_is_exact():
    from lhotse import CutSet

    cuts = CutSet.from_cuts(toy_cuts())
    cfg = SamplerConfig(max_duration=12.0, num_buckets=3, shuffle=True, seed=7)
    full = list(BucketSampler(cuts, cfg))
    assert len(full) > 5 and sorted(sum(ids(full), [])) == sorted(c.id for c in cuts)
    first = BucketSampler(cuts, cfg)
    it = iter(first)
    consumed = [next(it) for _ in range(3)]
    state = first.state_dict(consumed[-1][0])
    resumed = BucketSampler(cuts, cfg)
    resumed.load_state_dict(state)
    assert ids(consumed) + ids(resumed) == ids(full)
    # a new epoch reshuffles; the same epoch replays
    s = BucketSampler(cuts, cfg); s.set_epoch(1)
    assert ids(s) != ids(full)
    with pytest.raises(ValueError, match="seed"):
        BucketSampler(cuts, SamplerConfig(max_duration=12.0, num_buckets=3, seed=8)).load_state_dict(state)


def test_sampler_ranks_are_disjoint():
    from lhotse import CutSet

    cuts = CutSet.from_cuts(toy_cuts())
    cfg = SamplerConfig(max_duration=12.0, num_buckets=3, seed=1)
    r0, r1 = (sum(ids(BucketSampler(cuts, cfg, world_size=2, rank=r)), []) for r in (0, 1))
    assert r0 and r1 and not set(r0) & set(r1)


def write_tone(path, seconds, sr):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sr)
    return make_cut(path.stem, path, AudioInfo(sr, 1, int(seconds * sr)), f"say {path.stem}", "spk")


def test_collate_pads_and_resamples(tmp_path):
    cuts = [write_tone(tmp_path / "a.wav", 0.5, 16000), write_tone(tmp_path / "b.wav", 0.25, 8000)]
    batch = AudioCollate(sample_rate=24000)(cuts)
    assert batch.wav.shape == (2, 12000) and batch.wav.dtype == torch.float32
    assert batch.lengths.tolist() == [12000, 6000] and batch.sample_rate == 24000
    assert torch.all(batch.wav[1, 6000:] == 0) and batch.wav[1, :6000].abs().max() > 0.2
    assert batch.texts == ["say a", "say b"] and batch.cut_ids == ["a", "b"] and batch.speakers == ["spk", "spk"]


def test_collate_crop_is_deterministic(tmp_path):
    cuts = [write_tone(tmp_path / "a.wav", 1.0, 16000), write_tone(tmp_path / "b.wav", 0.2, 16000)]
    b1 = AudioCollate(16000, crop_s=0.5, seed=3)(cuts)
    b2 = AudioCollate(16000, crop_s=0.5, generator=torch.Generator().manual_seed(3))(cuts)
    assert b1.lengths.tolist() == [8000, 3200] and torch.equal(b1.wav, b2.wav)


def test_dataloader_yields_positions(tmp_path):
    from lhotse import CutSet

    cuts = CutSet.from_cuts([write_tone(tmp_path / f"t{i}.wav", 0.2 + 0.1 * i, 16000) for i in range(6)])
    sampler = BucketSampler(cuts, SamplerConfig(max_duration=1.0, num_buckets=2, shuffle=False))
    batches = list(make_dataloader(sampler, AudioCollate(16000)))
    assert [b.position.index for b in batches] == list(range(len(batches)))
    assert sorted(sum((b.cut_ids for b in batches), [])) == sorted(c.id for c in cuts)
