"""Batches for tokenizer training: lhotse bucketing over cuts, then per-step deterministic crops.

Crops are drawn here (not in the collate) from a generator seeded by (seed, step, rank), so the
crop of step k is the same in an uninterrupted and a resumed run, whatever the DataLoader's
workers did before. The sampler resumes from its state (`BucketSampler.load_state_dict`).
"""

from __future__ import annotations

from typing import Iterator

import torch

from holitok_common.audio import resample
from holitok_common.data.loader import AudioBatch, AudioCollate, BucketSampler, CutBatchDataset, SamplerConfig, load_cuts


def make_sampler(path: str, max_duration: float, num_buckets: int, seed: int, world_size: int, rank: int) -> BucketSampler:
    cuts = load_cuts(path)
    cfg = SamplerConfig(max_duration=max_duration, num_buckets=num_buckets, shuffle=True, seed=seed)
    return BucketSampler(cuts, cfg, world_size=world_size, rank=rank)


def epoch_batches(sampler: BucketSampler, sample_rate: int, num_workers: int, seed: int) -> Iterator[AudioBatch]:
    """Endless AudioBatches (whole cuts at `sample_rate`), epoch after epoch, from the sampler's
    current position. The DataLoader gets a private generator: iterating a DataLoader otherwise
    draws its base seed from the global torch RNG, which would break exact resume."""
    loader = torch.utils.data.DataLoader(
        CutBatchDataset(AudioCollate(sample_rate)), sampler=sampler, batch_size=None, num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
    empty_epochs = 0
    while True:
        produced = False
        for batch in loader:
            produced = True
            yield batch
        empty_epochs = 0 if produced else empty_epochs + 1
        if empty_epochs > 1:
            raise RuntimeError("the training cuts produced no batch for a whole epoch: check data.train_cuts")
        sampler.set_epoch(sampler.epoch + 1)


def random_crop(
    wav: torch.Tensor, lengths: torch.Tensor, num_samples: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop every item of wav [B, S] (valid lengths [B]) to at most `num_samples` at a random offset
    drawn from torch.Generator(seed). Returns (wav [B, min(num_samples, max len)], new lengths)."""
    gen = torch.Generator().manual_seed(seed)
    new_lengths = lengths.clamp(max=num_samples)
    out = wav.new_zeros(wav.shape[0], int(new_lengths.max()))
    for i, (n, m) in enumerate(zip(lengths.tolist(), new_lengths.tolist())):
        offset = int(torch.randint(0, n - m + 1, (1,), generator=gen))
        out[i, :m] = wav[i, offset : offset + m]
    return out, new_lengths


def speed_perturb(
    wav: torch.Tensor, lengths: torch.Tensor, lo: float, hi: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Play every item of wav [B, S] (valid lengths [B]) at a speed drawn uniformly from [lo, hi]
    (torch.Generator(seed)), in steps of 1 %: band-limited resampling by round(100 * speed) / 100,
    so an item becomes ~length / speed samples long, its pitch and formants `speed` times higher.
    Returns (wav [B, new max len], new lengths)."""
    gen = torch.Generator().manual_seed(seed)
    speeds = torch.empty(wav.shape[0]).uniform_(lo, hi, generator=gen)
    items = [
        wav[i, :n] if round(100 * speed) == 100 else resample(wav[i, :n], round(100 * speed), 100)
        for i, (n, speed) in enumerate(zip(lengths.tolist(), speeds.tolist()))
    ]
    new_lengths = torch.tensor([len(x) for x in items], dtype=lengths.dtype)
    return torch.nn.utils.rnn.pad_sequence(items, batch_first=True), new_lengths


def crop_seed(seed: int, step: int, rank: int) -> int:
    """A distinct, reproducible crop seed per (run seed, step, rank)."""
    return (seed * 1_000_003 + step) * 4099 + rank


def perturb_seed(seed: int, step: int, rank: int) -> int:
    """The speed-perturbation seed of (run seed, step, rank): the crop seed moved by 2**62, so it never
    equals a crop seed (those stay below 2**62 for run seeds < 10**6)."""
    return crop_seed(seed, step, rank) + (1 << 62)
