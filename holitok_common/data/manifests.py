"""Building, saving and loading lhotse CutSets the project's way.

Each cut covers one whole recording and holds exactly one supervision with `text` and `speaker`;
extra fields (split, engine, voice, target_text ...) go to `cut.custom`. Manifests are
`*.jsonl.gz` files written deterministically (gzip header without timestamp or file name), so two
builds of the same data are byte-identical. Audio paths may be relative: they are then relative to
the manifest's folder, and `load_cuts` resolves them (lhotse's own `CutSet.from_file` does not).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, Iterable

from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from lhotse.audio import AudioSource

from holitok_common.audio import AudioInfo


class ManifestError(ValueError):
    """A manifest file is missing, unreadable or empty (or would be written empty)."""


def make_cut(
    cut_id: str,
    audio_path: str | Path,
    info: AudioInfo,
    text: str,
    speaker: str,
    language: str = "en",
    custom: dict[str, Any] | None = None,
) -> MonoCut:
    """One cut spanning the whole (mono) file; duration in seconds from `info`.

    `audio_path` is stored as given (absolute, or relative to the manifest folder).
    """
    duration = info.num_samples / info.sample_rate
    recording = Recording(
        id=cut_id,
        sources=[AudioSource(type="file", channels=[0], source=str(audio_path))],
        sampling_rate=info.sample_rate,
        num_samples=info.num_samples,
        duration=duration,
    )
    supervision = SupervisionSegment(
        id=cut_id, recording_id=cut_id, start=0.0, duration=duration, channel=0,
        text=text, speaker=speaker, language=language,
    )
    return MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, recording=recording,
                   supervisions=[supervision], custom=dict(custom) if custom else None)


def save_cuts(cuts: Iterable[MonoCut], path: str | Path) -> Path:
    """Write cuts as `*.jsonl.gz`, byte-for-byte reproducible (gzip mtime 0, no file name)."""
    path = Path(path)
    if not path.name.endswith(".jsonl.gz"):
        raise ManifestError(f"{path}: manifest names must end with .jsonl.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        for cut in cuts:
            gz.write((json.dumps(cut.to_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    path.write_bytes(buffer.getvalue())
    return path


def _absolute(cut: MonoCut, root: Path) -> MonoCut:
    for source in cut.recording.sources:
        if source.type == "file" and not Path(source.source).is_absolute():
            source.source = str(root / source.source)
    return cut


def load_cuts(path: str | Path) -> CutSet:
    """Load a manifest into memory, resolving relative audio paths against its folder.

    Raises ManifestError naming the path when it is missing, a directory, unreadable or empty.
    """
    path = Path(path)
    if path.is_dir():
        raise ManifestError(f"{path}: is a directory, not a manifest; pass the cuts_*.jsonl.gz file inside it")
    if not path.is_file():
        raise ManifestError(f"{path}: manifest does not exist (build it with `holitok-data ...`, "
                            "e.g. `holitok-data synth DIR` writes DIR/cuts_train.jsonl.gz)")
    try:
        loaded = CutSet.from_file(path)  # None for a file without a single cut
        cuts = None if loaded is None else loaded.to_eager()
    except Exception as exc:  # lhotse raises a mix of JSON/gzip/KeyError errors
        raise ManifestError(f"{path}: cannot read manifest ({type(exc).__name__}: {exc})") from exc
    if cuts is None or len(cuts) == 0:
        raise ManifestError(f"{path}: manifest has no cuts; rebuild it from a corpus with usable audio")
    root = path.resolve().parent
    return CutSet.from_cuts(_absolute(c, root) for c in cuts)


def cut_text(cut: MonoCut) -> str:
    """The transcript of a project cut (its single supervision)."""
    return cut.supervisions[0].text


def cut_speaker(cut: MonoCut) -> str:
    return cut.supervisions[0].speaker
