"""Scoring transcripts under a pinned protocol. Transcription lives elsewhere (eval/judges).

Two aggregations exist and are both reported:
- per-utterance mean: mean over utterances of (S+D+I)/N_utt; the Seed-TTS headline.
- corpus WER: sum(S+D+I) / sum(N); the LibriSpeech headline.
Ids of the references missing from the hypotheses are counted and listed; `wer_with_missing` scores
each missing utterance as all deletions (per-utterance WER 100%) under the headline aggregation.
Hypotheses whose id is not in the references are listed as `extra` and not scored. No hypotheses,
or none whose id is a reference id (e.g. ids from another split or naming scheme), is an error.
An utterance whose reference is empty after normalisation has no per-utterance WER; it is counted
(`empty_refs`) and left out of the per-utterance mean, while its insertions count in the corpus WER.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from eval.normalize import raw_upper_tokens, seedtts_tokens, to_simplified, whisper_tokens


@dataclass(frozen=True)
class Protocol:
    name: str
    headline: str  # "mean_per_utt" or "corpus"
    unit: str  # "word" or "char" (what `wer` counts)
    description: str
    ref_tokens: Callable[[str], list[str]]
    hyp_tokens: Callable[[str], list[str]]


PROTOCOLS: dict[str, Protocol] = {
    "seedtts-en": Protocol(
        "seedtts-en", "mean_per_utt", "word",
        "Seed-TTS-eval en: punctuation except the apostrophe deleted, spaces collapsed, lowercase; "
        "headline = mean of per-utterance WER",
        lambda t: seedtts_tokens(t, "en"), lambda t: seedtts_tokens(t, "en"),
    ),
    "seedtts-zh": Protocol(
        "seedtts-zh", "mean_per_utt", "char",
        "Seed-TTS-eval zh: hypothesis traditional->simplified (zhconv zh-cn), punctuation except the "
        "apostrophe deleted, one token per character (CER); headline = mean of per-utterance CER",
        lambda t: seedtts_tokens(t, "zh"), lambda t: seedtts_tokens(to_simplified(t), "zh"),
    ),
    "librispeech": Protocol(
        "librispeech", "corpus", "word",
        "LibriSpeech, Open ASR Leaderboard convention: Whisper EnglishTextNormalizer on both sides; "
        "headline = corpus WER",
        whisper_tokens, whisper_tokens,
    ),
    "librispeech-raw": Protocol(
        "librispeech-raw", "corpus", "word",
        "LibriSpeech, icefall convention: raw text uppercased, whitespace-split, no other "
        "normalisation; headline = corpus WER",
        raw_upper_tokens, raw_upper_tokens,
    ),
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name]


@dataclass
class UttScore:
    id: str
    ref_len: int
    substitutions: int
    deletions: int
    insertions: int
    ref: str  # normalised, tokens joined by spaces
    hyp: str

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """Per-utterance error rate (fraction); None when the normalised reference is empty."""
        return self.errors / self.ref_len if self.ref_len else None


@dataclass
class ScoreResult:
    protocol: str
    headline: str
    unit: str
    wer: float  # headline, percent
    corpus_wer: float  # percent
    mean_utt_wer: float  # percent
    wer_with_missing: float  # headline aggregation, missing scored as all deletions, percent
    utterances: int  # scored
    references: int
    missing: int
    missing_ids: list[str]
    extra: int
    extra_ids: list[str]
    empty_refs: int
    ref_tokens: int
    substitutions: int
    deletions: int
    insertions: int
    per_utt: list[UttScore] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """Per-utterance table: id, error counts, error rate (percent) and the normalised texts."""
        return [
            {"id": u.id, "wer": None if u.wer is None else 100.0 * u.wer, "ref_len": u.ref_len,
             "sub": u.substitutions, "del": u.deletions, "ins": u.insertions, "ref": u.ref, "hyp": u.hyp}
            for u in self.per_utt
        ]

    def summary(self) -> dict:
        """Everything but the per-utterance table (for --json and results.json)."""
        out = {k: v for k, v in self.__dict__.items() if k != "per_utt"}
        out["description"] = PROTOCOLS[self.protocol].description
        return out


def align(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of the minimum-edit alignment (jiwer)."""
    if not ref:
        return 0, 0, len(hyp)
    if not hyp:
        return 0, len(ref), 0
    import jiwer

    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions, out.deletions, out.insertions


def score_utterance(protocol: Protocol, utt_id: str, ref_text: str, hyp_text: str) -> UttScore:
    ref, hyp = protocol.ref_tokens(ref_text), protocol.hyp_tokens(hyp_text)
    s, d, i = align(ref, hyp)
    return UttScore(utt_id, len(ref), s, d, i, " ".join(ref), " ".join(hyp))


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else float("nan")


def _check_ids_overlap(refs: Mapping[str, str], hyps: Mapping[str, str]) -> None:
    """Some missing hypotheses are a result (reported); none matching at all is a user error."""
    if not hyps:
        raise ValueError(f"no hypotheses to score against {len(refs)} reference(s); give a transcript per reference id")
    if not any(k in refs for k in hyps):
        raise ValueError(f"no hypothesis id matches a reference id (references e.g. {next(iter(refs))!r}, "
                         f"hypotheses e.g. {next(iter(hyps))!r}); key the hypotheses by the reference ids")


def score(protocol_name: str, refs: Mapping[str, str], hyps: Mapping[str, str]) -> ScoreResult:
    """Score hyps against refs ({id: text}); never drops an id silently."""
    protocol = get_protocol(protocol_name)
    if not refs:
        raise ValueError("no references to score against")
    _check_ids_overlap(refs, hyps)
    per_utt = [score_utterance(protocol, k, refs[k], hyps[k]) for k in refs if k in hyps]
    missing_ids = [k for k in refs if k not in hyps]
    extra_ids = [k for k in hyps if k not in refs]
    missing_tokens = sum(len(protocol.ref_tokens(refs[k])) for k in missing_ids)
    sub = sum(u.substitutions for u in per_utt)
    dele = sum(u.deletions for u in per_utt)
    ins = sum(u.insertions for u in per_utt)
    n_tok = sum(u.ref_len for u in per_utt)
    rates = [u.wer for u in per_utt if u.wer is not None]
    corpus = _pct(sub + dele + ins, n_tok)
    mean_utt = _pct(sum(rates), len(rates))
    # Missing utterances are all deletions: per-utterance 100% (an empty missing ref adds nothing).
    n_missing_scorable = sum(1 for k in missing_ids if protocol.ref_tokens(refs[k]))
    if protocol.headline == "mean_per_utt":
        headline = mean_utt
        with_missing = _pct(sum(rates) + n_missing_scorable, len(rates) + n_missing_scorable)
    else:
        headline = corpus
        with_missing = _pct(sub + dele + ins + missing_tokens, n_tok + missing_tokens)
    return ScoreResult(
        protocol=protocol.name, headline=protocol.headline, unit=protocol.unit,
        wer=headline, corpus_wer=corpus, mean_utt_wer=mean_utt, wer_with_missing=with_missing,
        utterances=len(per_utt), references=len(refs), missing=len(missing_ids), missing_ids=missing_ids,
        extra=len(extra_ids), extra_ids=extra_ids, empty_refs=len(per_utt) - len(rates),
        ref_tokens=n_tok, substitutions=sub, deletions=dele, insertions=ins, per_utt=per_utt,
    )
