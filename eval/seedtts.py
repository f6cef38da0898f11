"""Seed-TTS-eval: transcribe `<wav_dir>/<utt>.wav` with an ASR judge, score under seedtts-{en,zh},
and SIM = cosine of speaker embeddings of the generated wav vs the PROMPT wav (both at 16 kHz).

Unlike the official scripts, nothing is skipped silently: generated wavs that are missing or
unreadable, transcriptions that fail and SIM computations that fail are counted and listed. The
WER headline covers the transcribed utterances; `wer_with_missing` scores the rest as 100%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from holitok_common.audio import AudioError, read_audio
from holitok_common.data.seedtts import SeedTTSItem, parse_seedtts_list

from eval.judges import OFFICIAL_JUDGES, AsrJudge, SpeakerJudge, cosine
from eval.report import Report
from eval.scoring import ScoreResult, get_protocol, score


@dataclass
class SeedTTSRun:
    hyps: dict[str, str] = field(default_factory=dict)
    sims: dict[str, float] = field(default_factory=dict)
    missing_wavs: list[str] = field(default_factory=list)
    asr_failed: dict[str, str] = field(default_factory=dict)  # utt -> reason
    sim_failed: dict[str, str] = field(default_factory=dict)


@dataclass
class SeedTTSResult:
    score: ScoreResult
    run: SeedTTSRun
    sim: float  # mean cosine over utterances with a SIM, nan if none
    sim_utterances: int
    items: int


def _embed_cached(judge: SpeakerJudge, cache: dict, path: Path):
    if path not in cache:
        wav, sr = read_audio(path)
        cache[path] = judge.embed(wav, sr)
    return cache[path]


def run_judges(items: list[SeedTTSItem], wav_dir: Path, asr: AsrJudge, sim: SpeakerJudge | None,
               log: Callable[[str], None] = lambda _: None) -> SeedTTSRun:
    """Transcribe and embed every item; record each failure with its reason."""
    run, prompt_cache = SeedTTSRun(), {}
    for n, item in enumerate(items, start=1):
        path = wav_dir / f"{item.utt}.wav"
        if not path.is_file():
            run.missing_wavs.append(item.utt)
            continue
        try:
            wav, sr = read_audio(path)
        except AudioError as exc:
            run.asr_failed[item.utt] = str(exc)
            continue
        try:
            run.hyps[item.utt] = asr.transcribe(wav, sr)
        except Exception as exc:  # a judge crash on one file must not end the run; it is reported
            run.asr_failed[item.utt] = f"{type(exc).__name__}: {exc}"
        if sim is not None:
            try:
                run.sims[item.utt] = cosine(sim.embed(wav, sr), _embed_cached(sim, prompt_cache, item.prompt_wav))
            except Exception as exc:
                run.sim_failed[item.utt] = f"{type(exc).__name__}: {exc}"
        if n % 50 == 0:
            log(f"seedtts: {n}/{len(items)} utterances judged")
    return run


def evaluate_seedtts(meta: str | Path, wav_dir: str | Path, lang: str, asr: AsrJudge,
                     sim: SpeakerJudge | None, log: Callable[[str], None] = lambda _: None) -> SeedTTSResult:
    items = parse_seedtts_list(meta)
    if not items:
        raise ValueError(f"{meta}: the meta list has no items")
    wav_dir = Path(wav_dir)
    if not wav_dir.is_dir():
        raise FileNotFoundError(f"{wav_dir}: generated-wav directory does not exist (expected <utt>.wav files)")
    run = run_judges(items, wav_dir, asr, sim, log)
    refs = {item.utt: item.target_text for item in items}
    result = score(f"seedtts-{lang}", refs, run.hyps)
    sims = list(run.sims.values())
    mean_sim = sum(sims) / len(sims) if sims else math.nan
    return SeedTTSResult(result, run, mean_sim, len(sims), len(items))


def seedtts_report(res: SeedTTSResult, asr: AsrJudge, sim: SpeakerJudge | None) -> Report:
    s, protocol = res.score, get_protocol(res.score.protocol)
    metrics = {
        "wer": s.wer, "corpus_wer": s.corpus_wer, "wer_with_missing": s.wer_with_missing,
        "sim": res.sim, "items": res.items, "utterances": s.utterances, "missing": s.missing,
        "missing_wavs": len(res.run.missing_wavs), "asr_failed": len(res.run.asr_failed),
        "sim_utterances": res.sim_utterances, "sim_failed": len(res.run.sim_failed),
        "substitutions": s.substitutions, "deletions": s.deletions, "insertions": s.insertions,
        "ref_tokens": s.ref_tokens, "empty_refs": s.empty_refs,
    }
    judges = {"asr": asr.describe()}
    judges["asr"]["protocol_judge"] = OFFICIAL_JUDGES[s.protocol]
    if sim is not None:
        judges["sim"] = {**sim.describe(), "protocol_judge": OFFICIAL_JUDGES["sim"]}
    details = {
        "wer_definition": f"headline wer = mean of per-utterance {protocol.unit} error rates (percent); "
                          "corpus_wer = total errors / total reference tokens",
        "sim_definition": "mean cosine(speaker embedding of generated wav, of prompt wav), both resampled to 16 kHz",
        "missing_wavs": res.run.missing_wavs,
        "asr_failed": [f"{k}: {v}" for k, v in res.run.asr_failed.items()],
        "sim_failed": [f"{k}: {v}" for k, v in res.run.sim_failed.items()],
    }
    rows = s.rows()
    for row in rows:
        row["sim"] = res.run.sims.get(row["id"])
    return Report("seedtts", s.protocol, protocol.description, metrics, judges, details, rows)
