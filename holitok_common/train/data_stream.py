"""A resumable, epoch-aware stream of batches with an exact position (`DataPosition`).

Resuming by position (epoch, batches consumed in that epoch) rather than by restoring a sampler's
internal state is exact even when a DataLoader prefetches: the sampler is re-created for the
epoch (samplers are deterministic in (seed, epoch)) and the consumed batches are skipped at the
sampler level, i.e. without loading any audio.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from holitok_common.train.checkpoint import DataPosition

B = TypeVar("B")


class SkipBatches:
    """Wrap a batch sampler (an iterable of index lists or lhotse CutSets): set its epoch, then
    drop the first `skip` batches. Pass it to a DataLoader as `sampler=` with `batch_size=None`."""

    def __init__(self, sampler: Any, epoch: int, skip: int) -> None:
        self.sampler, self.epoch, self.skip = sampler, epoch, skip

    def __iter__(self) -> Iterator[Any]:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)
        return itertools.islice(iter(self.sampler), self.skip, None)


class EpochStream(Generic[B]):
    """Endless batches: `make_epoch(epoch, skip)` returns the batches of `epoch` after the first
    `skip` ones; epochs follow each other. `position` always names the next batch to be drawn."""

    def __init__(self, make_epoch: Callable[[int, int], Iterable[B]], position: DataPosition | None = None) -> None:
        self.make_epoch = make_epoch
        self.position = DataPosition(**vars(position)) if position is not None else DataPosition()
        self._iter: Iterator[B] | None = None

    def __iter__(self) -> "EpochStream[B]":
        return self

    def __next__(self) -> B:
        for _ in range(2):  # an epoch may end right at the resume point: try the next one once
            if self._iter is None:
                self._iter = iter(self.make_epoch(self.position.epoch, self.position.batches))
            try:
                batch = next(self._iter)
            except StopIteration:
                self._iter = None
                self.position = DataPosition(epoch=self.position.epoch + 1, batches=0)
                continue
            self.position = DataPosition(epoch=self.position.epoch, batches=self.position.batches + 1)
            return batch
        raise RuntimeError("the data stream produced an empty epoch: check the manifests and max_duration")
