"""References and audio from lhotse manifests (holitok_common's loader resolves relative paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from holitok_common.audio import AudioError
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


def _audio_files(cut) -> list[Path]:
    if not cut.has_recording:
        raise AudioError(f"cut {cut.id!r} has no recording; every cut needs audio")
    return [Path(s.source) for s in cut.recording.sources if s.type == "file"]


def check_manifest_audio(path: str | Path, max_utts: int | None = None) -> int:
    """Fail before any model loads when the manifest has no cuts or a cut's audio file is missing.
    Returns the number of cuts that `iter_manifest_audio(path, max_utts)` will yield."""
    cuts = list(load_cuts(path))[:max_utts]
    if not cuts:
        raise ValueError(f"{path}: the manifest has no cuts")
    missing = [(cut.id, f) for cut in cuts for f in _audio_files(cut) if not f.is_file()]
    if missing:
        cut_id, file = missing[0]
        raise AudioError(f"{path}: {len(missing)} audio file(s) do not exist, e.g. cut {cut_id!r}: {file}; "
                         "fix the paths (relative ones are relative to the manifest's folder)")
    return len(cuts)


def _load_mono(cut) -> torch.Tensor:
    """[S] float32; a missing, undecodable, empty or non-finite file is an AudioError naming the cut and file."""
    where = f"cut {cut.id!r} ({', '.join(map(str, _audio_files(cut))) or 'no file source'})"
    try:
        audio = torch.from_numpy(cut.load_audio()).to(torch.float32)  # [C, S]
    except Exception as exc:  # lhotse raises a mix of FileNotFoundError/AudioLoadingError/RuntimeError
        raise AudioError(f"{where}: cannot load audio ({type(exc).__name__}: {exc}); "
                         "check the file exists and is WAV/FLAC/OGG") from exc
    if audio.numel() == 0:
        raise AudioError(f"{where}: audio is empty (0 samples)")
    if not torch.isfinite(audio).all():
        raise AudioError(f"{where}: audio contains NaN or infinite samples")
    return audio.mean(dim=0)


def iter_manifest_audio(path: str | Path, max_utts: int | None = None) -> Iterator[ManifestUtt]:
    """Mono audio of each cut (channels averaged), in manifest order, at most `max_utts` cuts."""
    for n, cut in enumerate(load_cuts(path)):
        if max_utts is not None and n >= max_utts:
            break
        yield ManifestUtt(cut.id, _text(cut), _load_mono(cut), int(cut.sampling_rate))
