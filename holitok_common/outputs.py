"""Output paths checked before any model loads: the one place every CLI asks "can I write there?".

A real write (a temporary file) decides, not `os.access`: root is told yes even where writes fail
(read-only mounts, /sys). Errors are `OutputPathError` (a ValueError): one line that says what to do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


class OutputPathError(ValueError):
    """An output file or folder that cannot be written; the message names it and what to do."""


def check_writable_dir(directory: Path) -> None:
    """`directory` accepts new files, or can be created (its nearest existing ancestor accepts them)."""
    existing = Path(directory)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"cannot create {directory}: {existing} is a file, not a folder; choose another output path")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OutputPathError(f"cannot write into {existing} ({exc.strerror or exc}); "
                              "choose another output location") from exc


def check_output_file(path: str | Path, suffixes: tuple[str, ...] = ()) -> Path:
    """An output file: not a folder, one of `suffixes` (any when empty), in a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path} is a directory; give an output file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputPathError(f"{path}: the output file must end in {' or '.join(suffixes)}")
    check_writable_dir(path.parent)
    return path


def check_output_dir(path: str | Path) -> Path:
    """An output folder: not an existing file, writable or creatable (not created here)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path} exists and is not a directory; give a folder for the outputs")
    check_writable_dir(path)
    return path
