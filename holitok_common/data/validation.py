"""Checks every importer applies to an (audio, text) pair, and the bad-input report.

A bad input raises `BadInputError` naming the file and the reason. With `skip_bad`, an importer
records it in an `ImportReport` instead (counts per reason + the file list, printed and written as
JSON next to the manifest): nothing is ever dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from holitok_common.audio import AudioError, AudioInfo, audio_info, read_audio
from holitok_common.config import ConfigError

# Reasons a file can be rejected (the `reason` of BadInputError and the keys of the report).
MISSING_AUDIO = "missing_audio"
CORRUPT_AUDIO = "corrupt_audio"
EMPTY_AUDIO = "empty_audio"
BAD_CHANNELS = "bad_channels"
BAD_DURATION = "bad_duration"
MISSING_TEXT = "missing_text"
BAD_TEXT_ENCODING = "bad_text_encoding"
EMPTY_TEXT = "empty_text"
REASONS = (MISSING_AUDIO, CORRUPT_AUDIO, EMPTY_AUDIO, BAD_CHANNELS, BAD_DURATION,
           MISSING_TEXT, BAD_TEXT_ENCODING, EMPTY_TEXT)


class BadInputError(ValueError):
    """One input file is unusable. `path` names it, `reason` is one of REASONS."""

    def __init__(self, path: str | Path, reason: str, detail: str):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}: {detail} (fix or remove the file, or pass --skip-bad to skip it)")


@dataclass(frozen=True)
class ValidationRules:
    """What an importer accepts. Durations in seconds; `max_channels` 1 = strictly mono input.

    `full_decode` decodes every file (catches truncated files whose header is intact) instead of
    probing the header only; slower on large corpora.
    """

    min_duration: float = 0.1
    max_duration: float = 60.0
    max_channels: int = 1
    full_decode: bool = False

    def __post_init__(self) -> None:
        """Contradictory limits would reject every file and blame the files: refuse them up front."""
        if not 0 <= self.min_duration <= self.max_duration:  # also refuses nan
            raise ConfigError(f"duration limits [{self.min_duration}, {self.max_duration}] s are empty or negative; "
                              "use 0 <= --min-duration <= --max-duration")
        if self.max_channels < 1:
            raise ConfigError(f"max_channels must be at least 1, got {self.max_channels}")


def check_audio(path: str | Path, rules: ValidationRules) -> AudioInfo:
    """Probe one audio file and apply `rules`; returns its AudioInfo or raises BadInputError."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, MISSING_AUDIO, "audio file does not exist")
    try:
        info = audio_info(path)
    except AudioError as exc:
        raise BadInputError(path, CORRUPT_AUDIO, f"cannot decode ({exc.__cause__ or exc})") from exc
    if info.num_samples == 0:
        raise BadInputError(path, EMPTY_AUDIO, "audio has 0 samples")
    if info.channels > rules.max_channels:
        raise BadInputError(path, BAD_CHANNELS, f"{info.channels} channels, at most {rules.max_channels} accepted "
                            "(downmix it, e.g. `sox in.wav -c 1 out.wav`)")
    if not rules.min_duration <= info.duration <= rules.max_duration:
        raise BadInputError(path, BAD_DURATION, f"duration {info.duration:.3f} s outside "
                            f"[{rules.min_duration}, {rules.max_duration}] s")
    if rules.full_decode:
        try:
            read_audio(path, max_channels=rules.max_channels)
        except AudioError as exc:
            raise BadInputError(path, CORRUPT_AUDIO, str(exc)) from exc
    return info


def check_text(text: str | None, where: str | Path) -> str:
    """Normalise whitespace; raise BadInputError(EMPTY_TEXT) when nothing is left."""
    clean = " ".join((text or "").split())
    if not clean:
        raise BadInputError(where, EMPTY_TEXT, "transcript is empty")
    return clean


def read_text_file(path: str | Path) -> str:
    """Read a UTF-8 transcript file (e.g. `x.txt` next to `x.wav`) and check it is non-empty."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, MISSING_TEXT, "transcript file does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(path, BAD_TEXT_ENCODING, f"not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                            "re-encode it, e.g. `iconv -f latin1 -t utf-8`") from exc
    return check_text(text.lstrip("\ufeff"), path)


@dataclass
class ImportReport:
    """What an import kept and what it skipped (only non-empty skips when `skip_bad`)."""

    source: str
    num_ok: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, error: BadInputError) -> None:
        self.skipped.append({"path": error.path, "reason": error.reason, "detail": error.detail})

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s["reason"] for s in self.skipped).items()))

    def summary(self) -> str:
        lines = [f"{self.source}: {self.num_ok} kept, {len(self.skipped)} skipped"]
        lines += [f"  {reason}: {n}" for reason, n in self.counts.items()]
        lines += [f"  skipped {s['path']} ({s['reason']}: {s['detail']})" for s in self.skipped]
        return "\n".join(lines)

    def write(self, path: str | Path) -> None:
        data = {**asdict(self), "counts": self.counts}
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class Guard:
    """Run one per-item step: re-raise its BadInputError, or record it when `skip_bad`.

    Usage: `with guard: ...` around the work for one item; `guard.failed` says if it was skipped.
    """

    def __init__(self, report: ImportReport, skip_bad: bool):
        self.report = report
        self.skip_bad = skip_bad
        self.failed = False

    def __enter__(self) -> "Guard":
        self.failed = False
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        if self.skip_bad and issubclass(exc_type, BadInputError):
            self.report.add(exc)
            self.failed = True
            return True
        return False
