"""References and audio from lhotse manifests (holitok_common's loader resolves relative paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from holitok_common.data.manifests import load_cuts


@dataclass
class ManifestUtt:
    id: str
    text: str  # supervision texts joined by a space
    wav: torch.Tensor  # [S] mono float32
    sample_rate: int


def _text(cut) -> str:
    return " ".join(s.text for s in cut.supervisions if s.text).strip()


def manifest_refs(path: str | Path) -> dict[str, str]:
    """{cut id: transcript}; a cut without any supervision text is an error (it cannot be scored)."""
    refs = {}
    for cut in load_cuts(path):
        text = _text(cut)
        if not text:
            raise ValueError(f"{path}: cut {cut.id!r} has no supervision text; references need transcripts")
        refs[cut.id] = text
    return refs


def iter_manifest_audio(path: str | Path, max_utts: int | None = None) -> Iterator[ManifestUtt]:
    """Mono audio of each cut (channels averaged), in manifest order, at most `max_utts` cuts."""
    for n, cut in enumerate(load_cuts(path)):
        if max_utts is not None and n >= max_utts:
            break
        audio = torch.from_numpy(cut.load_audio()).to(torch.float32)  # [C, S]
        yield ManifestUtt(cut.id, _text(cut), audio.mean(dim=0), int(cut.sampling_rate))
