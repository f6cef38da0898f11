"""Seed-TTS-eval meta lists: `utt|prompt_text|prompt_wav|target_text[|gt_wav]`, one per line.

Paths in a list are relative to the list file's folder (absolute paths are kept). `parse_seedtts_list`
is pure (reads only the list) and returns typed records with resolved absolute paths; any malformed
line raises `SeedTTSListError` naming the file and line number. `write_seedtts_list` is its inverse.
As cuts (`seedtts_to_cuts`): recording = the prompt wav, supervision text = the prompt transcript,
custom = {utt, target_text, gt_wav}: the zero-shot TTS task "say target_text in this voice".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lhotse import CutSet

from holitok_common.data.manifests import make_cut
from holitok_common.data.validation import Guard, ImportReport, ValidationRules, check_audio, check_text

# What a prompt_wav / gt_wav field may name (what holitok_common.audio reads through soundfile).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3")


class SeedTTSListError(ValueError):
    """A malformed meta list line (the message names the file and line number)."""


@dataclass(frozen=True)
class SeedTTSItem:
    """One evaluation item; paths are absolute. `gt_wav` is the reference recording, if listed."""

    utt: str
    prompt_text: str
    prompt_wav: Path
    target_text: str
    gt_wav: Path | None = None


def _parse_line(line: str, base: Path, where: str) -> SeedTTSItem:
    fields = line.split("|")
    if len(fields) not in (4, 5):
        raise SeedTTSListError(f"{where}: expected 4 or 5 '|'-separated fields "
                               f"(utt|prompt_text|prompt_wav|target_text[|gt_wav]), got {len(fields)}")
    utt, prompt_text, prompt_wav, target_text = (f.strip() for f in fields[:4])
    if not utt:
        raise SeedTTSListError(f"{where}: empty utterance id")
    if "/" in utt or "\\" in utt or utt in (".", "..") or "\0" in utt:
        raise SeedTTSListError(f"{where}: utterance id {utt!r} is used as a file name (<utt>.wav): no '/', '\\' or '..'")
    if not prompt_wav:
        raise SeedTTSListError(f"{where}: empty prompt_wav path")
    if not target_text:
        raise SeedTTSListError(f"{where}: empty target text for {utt!r}")
    gt = fields[4].strip() if len(fields) == 5 else ""
    for name, value in (("prompt_wav", prompt_wav), ("gt_wav", gt)):
        if value and Path(value).suffix.lower() not in AUDIO_SUFFIXES:
            raise SeedTTSListError(f"{where}: {name} {value!r} is not an audio file name ({', '.join(AUDIO_SUFFIXES)}); "
                                   "is there a '|' inside a text field?")
    return SeedTTSItem(utt, prompt_text, (base / prompt_wav).resolve(), target_text,
                       (base / gt).resolve() if gt else None)


def parse_seedtts_list(path: str | Path) -> list[SeedTTSItem]:
    """Parse a meta list; blank lines are skipped, utterance ids must be unique."""
    path = Path(path)
    if not path.is_file():
        raise SeedTTSListError(f"{path}: meta list does not exist")
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise SeedTTSListError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    items, seen = [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse_line(line.rstrip("\r\n"), path.resolve().parent, f"{path}:{number}")
        if item.utt in seen:
            raise SeedTTSListError(f"{path}:{number}: duplicate utterance id {item.utt!r} (first at line {seen[item.utt]})")
        seen[item.utt] = number
        items.append(item)
    return items


def _relative(path: Path, base: Path) -> str:
    """`path` (absolute, or relative to the working directory) relative to `base`."""
    return os.path.relpath(Path(path).resolve(), base)


def write_seedtts_list(items: list[SeedTTSItem], path: str | Path) -> Path:
    """Write a meta list; absolute paths become relative to the list's folder."""
    path = Path(path)
    base = path.resolve().parent
    lines = []
    for item in items:
        for name, text in (("utt", item.utt), ("prompt_text", item.prompt_text), ("target_text", item.target_text)):
            if "|" in text or "\n" in text:
                raise SeedTTSListError(f"{item.utt}: {name} contains '|' or a newline: {text!r}")
        fields = [item.utt, item.prompt_text, _relative(item.prompt_wav, base), item.target_text]
        if item.gt_wav is not None:
            fields.append(_relative(item.gt_wav, base))
        lines.append("|".join(fields))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def seedtts_to_cuts(items: list[SeedTTSItem], rules: ValidationRules = ValidationRules(),
                    skip_bad: bool = False, source: str = "seedtts") -> tuple[CutSet, ImportReport]:
    """Items -> (cuts, report). Speaker is unknown in Seed-TTS lists: the prompt wav's stem is used."""
    report, cuts = ImportReport(source=source), []
    guard = Guard(report, skip_bad)
    for item in items:
        with guard:
            info = check_audio(item.prompt_wav, rules)
            text = check_text(item.prompt_text, f"{source}: prompt_text of {item.utt}")
            if item.gt_wav is not None:
                check_audio(item.gt_wav, rules)
            cuts.append(make_cut(item.utt, item.prompt_wav, info, text, item.prompt_wav.stem, custom={
                "corpus": "seedtts", "utt": item.utt, "target_text": item.target_text,
                "gt_wav": str(item.gt_wav) if item.gt_wav else None}))
    report.num_ok = len(cuts)
    return CutSet.from_cuts(cuts), report
