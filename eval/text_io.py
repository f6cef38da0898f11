"""Transcript files: JSONL (`{"id": ..., "text": ...}` per line) or Kaldi-style `id text` lines.

The format is detected per file from its first non-blank line (`{` -> JSONL). Blank lines carry no
record and are ignored. Every problem is raised as a TranscriptError naming the file, the line
number (1-based) and what to do; duplicate ids are errors, never "last one wins".
"""

from __future__ import annotations

import json
from pathlib import Path


class TranscriptError(ValueError):
    """A malformed transcript file (names the file and line)."""


def detect_format(path: Path, lines: list[str]) -> str:
    """Return "jsonl" or "kaldi" from the first non-blank line."""
    for line in lines:
        if line.strip():
            return "jsonl" if line.lstrip().startswith("{") else "kaldi"
    raise TranscriptError(f"{path}: file is empty; expected JSONL or Kaldi-style `id text` lines")


def _parse_jsonl_line(path: Path, lineno: int, line: str) -> tuple[str, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{path}:{lineno}: invalid JSON ({exc.msg}); expected {{\"id\": ..., \"text\": ...}}") from exc
    if not isinstance(record, dict):
        raise TranscriptError(f"{path}:{lineno}: expected a JSON object with 'id' and 'text', got {type(record).__name__}")
    for key in ("id", "text"):
        if key not in record:
            raise TranscriptError(f"{path}:{lineno}: missing field {key!r}; every line needs 'id' and 'text'")
    utt_id, text = record["id"], record["text"]
    if not isinstance(utt_id, (str, int)) or isinstance(utt_id, bool) or str(utt_id).strip() == "":
        raise TranscriptError(f"{path}:{lineno}: 'id' must be a non-empty string, got {utt_id!r}")
    if not isinstance(text, str):
        raise TranscriptError(f"{path}:{lineno}: 'text' must be a string (use \"\" for an empty transcript), got {text!r}")
    return str(utt_id), text


def _parse_kaldi_line(path: Path, lineno: int, line: str) -> tuple[str, str]:
    parts = line.strip().split(maxsplit=1)
    if len(parts) < 2:
        raise TranscriptError(
            f"{path}:{lineno}: line has an id ({parts[0]!r}) but no text; Kaldi-style lines are `id text`. "
            "Write empty transcripts as JSONL ({\"id\": ..., \"text\": \"\"})"
        )
    return parts[0], parts[1]


def read_transcripts(path: str | Path) -> dict[str, str]:
    """Read a JSONL or Kaldi transcript file into {id: text}, in file order."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"{path}: transcript file does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"{path}: not valid UTF-8 ({exc}); transcripts must be UTF-8 text") from exc
    fmt = detect_format(path, lines)
    parse = _parse_jsonl_line if fmt == "jsonl" else _parse_kaldi_line
    out: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        utt_id, text = parse(path, lineno, line)
        if utt_id in out:
            raise TranscriptError(f"{path}:{lineno}: duplicate id {utt_id!r} (first on line {first_seen[utt_id]}); ids must be unique")
        out[utt_id] = text
        first_seen[utt_id] = lineno
    return out


def write_jsonl(path: str | Path, items: dict[str, str]) -> None:
    """Write {id: text} as JSONL (UTF-8, non-ASCII kept readable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for utt_id, text in items.items():
            f.write(json.dumps({"id": utt_id, "text": text}, ensure_ascii=False) + "\n")
