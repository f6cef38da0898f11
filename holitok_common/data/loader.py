"""Loading and batching cuts for training: the small API the other packages use.

    cuts = load_cuts("data/corpus/cuts_train.jsonl.gz")
    sampler = BucketSampler(cuts, SamplerConfig(max_duration=60.0), world_size=W, rank=R)
    loader = make_dataloader(sampler, AudioCollate(sample_rate=48000, crop_s=2.0, seed=0))
    for batch in loader:               # batch: AudioBatch, wav [B, S] at 48 kHz
        ...; train_state["data"] = sampler.state_dict(batch.position)

Exact resume: every batch carries its `position` (epoch, batches already yielded in that epoch),
so `sampler.state_dict(batch.position)` is exact even when DataLoader workers prefetch ahead.
`load_state_dict` replays the lhotse sampler (cut ids only, no audio) up to that point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterator

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler

from holitok_common.audio import read_audio
from holitok_common.data.manifests import ManifestError, cut_speaker, cut_text, load_cuts

__all__ = ["load_cuts", "ManifestError", "SamplerConfig", "BucketSampler", "AudioBatch", "AudioCollate",
           "CutBatchDataset", "make_dataloader"]


@dataclass(frozen=True)
class SamplerConfig:
    """`max_duration`: seconds of whole cuts per batch (per rank; a trainer that crops them afterwards
    sees less audio); `num_buckets`: length buckets."""

    max_duration: float = 120.0
    num_buckets: int = 10
    shuffle: bool = True
    seed: int = 0
    drop_last: bool = False


@dataclass(frozen=True)
class BatchPosition:
    epoch: int
    index: int  # batches of this epoch yielded before this one, on this rank


class BucketSampler:
    """Length-bucketed, distributed-aware batches of cuts (lhotse DynamicBucketingSampler).

    Iterating yields (BatchPosition, CutSet). With world_size > 1 each rank gets its own batches.
    """

    def __init__(self, cuts: CutSet, cfg: SamplerConfig = SamplerConfig(), world_size: int = 1, rank: int = 0):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} must be in [0, world_size={world_size})")
        self.cuts, self.cfg, self.world_size, self.rank = cuts, cfg, world_size, rank
        self.epoch, self._skip = 0, 0

    def _lhotse(self) -> DynamicBucketingSampler:
        with warnings.catch_warnings():  # eager CutSets are fine at our manifest sizes
            warnings.filterwarnings("ignore", message=".*eagerly read CutSet.*")
            s = DynamicBucketingSampler(self.cuts, max_duration=self.cfg.max_duration,
                                        num_buckets=self.cfg.num_buckets,
                                        shuffle=self.cfg.shuffle, drop_last=self.cfg.drop_last, seed=self.cfg.seed,
                                        world_size=self.world_size, rank=self.rank)
        s.set_epoch(self.epoch)
        return s

    def set_epoch(self, epoch: int) -> None:
        """Start `epoch` from its beginning (reshuffles with seed + epoch)."""
        self.epoch, self._skip = epoch, 0

    def __iter__(self) -> Iterator[tuple[BatchPosition, CutSet]]:
        skip, self._skip = self._skip, 0
        for index, batch in enumerate(self._lhotse()):
            if index >= skip:
                yield BatchPosition(self.epoch, index), batch

    def state_dict(self, position: BatchPosition | None = None) -> dict:
        """Resume point just after `position` (the last batch consumed), or the epoch start."""
        done = 0 if position is None else position.index + 1
        epoch = self.epoch if position is None else position.epoch
        return {"epoch": epoch, "batches_done": done, "world_size": self.world_size, "rank": self.rank,
                "seed": self.cfg.seed, "max_duration": self.cfg.max_duration, "num_buckets": self.cfg.num_buckets}

    def load_state_dict(self, state: dict) -> None:
        """The next iteration continues exactly after the saved batch (same config required)."""
        for key, mine in (("world_size", self.world_size), ("rank", self.rank), ("seed", self.cfg.seed),
                          ("max_duration", self.cfg.max_duration), ("num_buckets", self.cfg.num_buckets)):
            if state[key] != mine:
                raise ValueError(f"sampler state has {key}={state[key]!r} but this sampler has {mine!r}; "
                                 "exact resume needs the same data configuration")
        self.epoch, self._skip = int(state["epoch"]), int(state["batches_done"])


@dataclass
class AudioBatch:
    """wav [B, S] float32 zero-padded; lengths [B] in samples; sample_rate in Hz."""

    wav: torch.Tensor
    lengths: torch.Tensor
    sample_rate: int
    texts: list[str]
    speakers: list[str]
    cut_ids: list[str]
    position: BatchPosition | None = None


class AudioCollate:
    """Cuts -> AudioBatch at `sample_rate` (resampled when a file's rate differs).

    `crop_s`: random crop of longer cuts to this many seconds (tokenizer training); shorter cuts
    are kept whole. Crops are drawn from `generator` (or a fresh one seeded with `seed`), so they
    are reproducible.
    """

    def __init__(self, sample_rate: int, crop_s: float | None = None, seed: int = 0,
                 generator: torch.Generator | None = None):
        self.sample_rate, self.crop_s = sample_rate, crop_s
        self.generator = generator or torch.Generator().manual_seed(seed)

    def load(self, cut) -> torch.Tensor:
        """One cut's audio, [S] float32 at self.sample_rate, honouring cut.start/duration."""
        path = cut.recording.sources[0].source
        wav, _ = read_audio(path, target_sr=self.sample_rate)
        start = round(cut.start * self.sample_rate)
        return wav[start:start + round(cut.duration * self.sample_rate)]

    def _crop(self, wav: torch.Tensor) -> torch.Tensor:
        n = round(self.crop_s * self.sample_rate)
        if wav.numel() <= n:
            return wav
        offset = int(torch.randint(0, wav.numel() - n + 1, (1,), generator=self.generator))
        return wav[offset:offset + n]

    def __call__(self, cuts: CutSet, position: BatchPosition | None = None) -> AudioBatch:
        cuts = list(cuts)
        if not cuts:
            raise ValueError("cannot collate an empty batch of cuts")
        wavs = [self.load(c) for c in cuts]
        if self.crop_s is not None:
            wavs = [self._crop(w) for w in wavs]
        lengths = torch.tensor([w.numel() for w in wavs], dtype=torch.long)
        out = torch.zeros(len(wavs), int(lengths.max()), dtype=torch.float32)  # [B, S]
        for i, w in enumerate(wavs):
            out[i, : w.numel()] = w
        return AudioBatch(out, lengths, self.sample_rate, [cut_text(c) for c in cuts],
                          [cut_speaker(c) for c in cuts], [c.id for c in cuts], position)


class CutBatchDataset(torch.utils.data.Dataset):
    """Map-style dataset whose "indices" are the sampler's (position, CutSet) items."""

    def __init__(self, collate: AudioCollate):
        self.collate = collate

    def __getitem__(self, item: tuple[BatchPosition, CutSet]) -> AudioBatch:
        position, cuts = item
        return self.collate(cuts, position)


def make_dataloader(sampler: BucketSampler, collate: AudioCollate, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader over `sampler`'s batches (batching is the sampler's job: batch_size=None).

    With workers, each worker has its own copy of `collate` (and of its crop generator): crops are
    reproducible for a fixed num_workers.
    """
    return torch.utils.data.DataLoader(CutBatchDataset(collate), sampler=sampler, batch_size=None,
                                       num_workers=num_workers, persistent_workers=False)
