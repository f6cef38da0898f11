"""Importers from on-disk corpora to project manifests: LibriSpeech and a plain folder.

Every (audio, text) pair passes `validation.check_audio` / `check_text`. A bad pair raises
`BadInputError`; with `skip_bad=True` it is recorded in the returned `ImportReport` instead.
Audio paths are stored absolute (the corpus lives outside the manifest folder).
"""

from __future__ import annotations

from pathlib import Path

from lhotse import CutSet

from holitok_common.data.manifests import make_cut
from holitok_common.data.validation import (
    BAD_TEXT_ENCODING, MISSING_AUDIO, MISSING_TEXT, BadInputError, Guard, ImportReport, ValidationRules,
    check_audio, check_text, read_text_file,
)

LIBRISPEECH_PARTS = ("dev-clean", "dev-other", "test-clean", "test-other",
                     "train-clean-100", "train-clean-360", "train-other-500")
AUDIO_SUFFIXES = (".wav", ".flac")


def _read_transcripts(path: Path) -> dict[str, tuple[str, int]]:
    """`SPK-CHAP.trans.txt` -> {utt_id: (raw text, line number)}; raises on non-UTF-8."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise BadInputError(path, BAD_TEXT_ENCODING, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    out = {}
    for number, line in enumerate(lines, start=1):
        if line.strip():
            utt, _, text = line.strip().partition(" ")
            out[utt] = (text, number)
    return out


def _chapter_items(chapter: Path) -> list[tuple[str, Path, str | None, str]]:
    """(utt id, audio path, raw text or None, where the text came from) for one chapter folder."""
    spk, chap = chapter.parent.name, chapter.name
    trans_path = chapter / f"{spk}-{chap}.trans.txt"
    texts = _read_transcripts(trans_path) if trans_path.is_file() else {}
    audio = {p.stem: p for p in chapter.glob("*.flac")}
    items = []
    for utt in sorted(set(texts) | set(audio)):
        text, line = texts.get(utt, (None, 0))
        items.append((utt, audio.get(utt, chapter / f"{utt}.flac"), text, f"{trans_path}:{line}"))
    return items


def import_librispeech_part(part_dir: str | Path, rules: ValidationRules = ValidationRules(),
                            skip_bad: bool = False) -> tuple[CutSet, ImportReport]:
    """One LibriSpeech part (`PART/SPK/CHAP/*.flac` + `SPK-CHAP.trans.txt`) -> (cuts, report).

    Cut id = utterance id (`SPK-CHAP-NNNN`), speaker = SPK, custom = {corpus, part, chapter}.
    """
    part_dir = Path(part_dir)
    if not part_dir.is_dir():
        raise FileNotFoundError(f"{part_dir}: LibriSpeech part folder does not exist")
    report, cuts = ImportReport(source=str(part_dir)), []
    guard = Guard(report, skip_bad)
    for chapter in sorted(p for p in part_dir.glob("*/*") if p.is_dir()):
        items = []
        with guard:
            items = _chapter_items(chapter)
        for utt, audio, text, where in items:
            with guard:
                if text is None:
                    raise BadInputError(audio, MISSING_TEXT, f"no line for {utt} in {chapter.parent.name}-{chapter.name}.trans.txt")
                if not audio.is_file():
                    raise BadInputError(audio, MISSING_AUDIO, f"listed at {where} but the file does not exist")
                info = check_audio(audio, rules)
                clean = check_text(text, where)
                cuts.append(make_cut(utt, audio.resolve(), info, clean, chapter.parent.name,
                                     custom={"corpus": "librispeech", "part": part_dir.name, "chapter": chapter.name}))
    report.num_ok = len(cuts)
    return CutSet.from_cuts(cuts), report


def import_folder(folder: str | Path, speaker: str | None = None, rules: ValidationRules = ValidationRules(),
                  skip_bad: bool = False) -> tuple[CutSet, ImportReport]:
    """A folder tree of `x.wav`/`x.flac` + `x.txt` pairs -> (cuts, report).

    Speaker = `speaker` if given, else the audio file's parent folder name. Cut id = the path
    relative to `folder` without suffix, with `/` -> `_`. A `.txt` without audio is reported too.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder does not exist")
    audio = {p.with_suffix(""): p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES}
    texts = {p.with_suffix("") for p in folder.rglob("*.txt")}
    report, cuts = ImportReport(source=str(folder)), []
    guard = Guard(report, skip_bad)
    for stem in sorted(set(audio) | texts):
        with guard:
            wav = audio.get(stem)
            if wav is None:
                raise BadInputError(stem.with_suffix(".wav"), MISSING_AUDIO, f"{stem.with_suffix('.txt')} has no audio next to it")
            info = check_audio(wav, rules)
            text = read_text_file(stem.with_suffix(".txt"))
            cut_id = str(stem.relative_to(folder)).replace("/", "_")
            cuts.append(make_cut(cut_id, wav.resolve(), info, text, speaker or wav.parent.name,
                                 custom={"corpus": folder.name}))
    report.num_ok = len(cuts)
    return CutSet.from_cuts(cuts), report
