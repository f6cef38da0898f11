"""Seed-TTS-eval: transcribe `<wav_dir>/<utt>.wav` with an ASR judge, score under seedtts-{en,zh},
and SIM = cosine of speaker embeddings of the generated wav vs the PROMPT wav (both at 16 kHz).

Unlike the official scripts, nothing is skipped silently: generated wavs that are missing or
unreadable, transcriptions that fail and SIM computations that fail are counted and listed. The
WER headline covers the transcribed utterances; `wer_with_missing` scores the rest as 100%. A run in
which no item could be transcribed (no wav found, all unreadable) is an error, not a report of nans.

Two additions to the protocol (reported under their own names, never mixed into the headline):
- `ground_truth=True` judges the list's own recordings (`gt_wav`, the 5th field) instead of generated
  wavs: the judge's WER on real speech and SIM(real recording, prompt), the toplines a TTS result is
  compared with ("TTS WER <= 2x real").
- `speakers` (utt -> speaker) adds the cross-speaker contrast of `eval.cross_sim`: SIM to the prompt
  vs to the prompts of OTHER voices, and closed-set speaker identification accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from holitok_common.audio import AudioError, read_audio
from holitok_common.data.seedtts import SeedTTSItem, parse_seedtts_list

from eval.cross_sim import CrossSimResult, cross_speaker_similarity
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
    embeddings: dict[str, torch.Tensor] = field(default_factory=dict)  # utt -> [E] of the judged wav
    prompt_embeddings: dict[str, torch.Tensor] = field(default_factory=dict)  # utt -> [E] of its prompt


@dataclass
class SeedTTSResult:
    score: ScoreResult
    run: SeedTTSRun
    sim: float  # mean cosine over utterances with a SIM, nan if none
    sim_utterances: int
    items: int
    source: str = "generated"  # generated | ground_truth (the list's gt_wav recordings)
    cross: CrossSimResult | None = None
    cross_error: str | None = None  # why the cross-speaker SIM could not be computed (e.g. < 2 speakers left)


def _embed_cached(judge: SpeakerJudge, cache: dict, path: Path):
    if path not in cache:
        wav, sr = read_audio(path)
        cache[path] = judge.embed(wav, sr)
    return cache[path]


def judged_wavs(items: list[SeedTTSItem], wav_dir: str | Path | None, ground_truth: bool) -> dict[str, Path]:
    """utt -> the wav to judge: `<wav_dir>/<utt>.wav`, or the item's own recording (gt_wav)."""
    if ground_truth:
        lacking = [item.utt for item in items if item.gt_wav is None]
        if lacking:
            raise ValueError(f"ground-truth scoring needs the 5th field (gt_wav) on every line; "
                             f"{len(lacking)} item(s) lack it, e.g. {lacking[:3]}")
        wavs = {item.utt: item.gt_wav for item in items if item.gt_wav is not None}
        fix = "check the gt_wav paths (5th field, relative to the list's folder)"
    else:
        if wav_dir is None or not Path(wav_dir).is_dir():
            raise FileNotFoundError(f"{wav_dir}: generated-wav directory does not exist (expected <utt>.wav files)")
        wavs = {item.utt: Path(wav_dir) / f"{item.utt}.wav" for item in items}
        fix = "--wav-dir must hold one <utt>.wav per list item"
    if wavs and not any(path.is_file() for path in wavs.values()):
        raise FileNotFoundError(f"none of the {len(wavs)} wav(s) to judge exists, e.g. {next(iter(wavs.values()))}; {fix}")
    return wavs


def run_judges(items: list[SeedTTSItem], wavs: dict[str, Path], asr: AsrJudge, sim: SpeakerJudge | None,
               log: Callable[[str], None] = lambda _: None) -> SeedTTSRun:
    """Transcribe and embed `wavs[item.utt]` for every item; record each failure with its reason."""
    run, prompt_cache = SeedTTSRun(), {}
    for n, item in enumerate(items, start=1):
        path = wavs[item.utt]
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
                judged, prompt = sim.embed(wav, sr), _embed_cached(sim, prompt_cache, item.prompt_wav)
            except Exception as exc:
                run.sim_failed[item.utt] = f"{type(exc).__name__}: {exc}"
            else:
                run.embeddings[item.utt], run.prompt_embeddings[item.utt] = judged, prompt
                run.sims[item.utt] = cosine(judged, prompt)
        if n % 50 == 0:
            log(f"seedtts: {n}/{len(items)} utterances judged")
    return run


def _nothing_judged(run: SeedTTSRun, wavs: dict[str, Path]) -> str:
    """Why no item got a transcription: counts and one example of each kind of failure."""
    parts = []
    if run.missing_wavs:
        parts.append(f"{len(run.missing_wavs)} wav(s) missing (e.g. {wavs[run.missing_wavs[0]]})")
    if run.asr_failed:
        utt, reason = next(iter(run.asr_failed.items()))
        parts.append(f"{len(run.asr_failed)} unreadable or not transcribed (e.g. {utt}: {reason})")
    return (f"none of the {len(wavs)} item(s) could be judged: {'; '.join(parts)}; "
            "fix the wavs (or the ASR judge) and run again")


def evaluate_seedtts(meta: str | Path, wav_dir: str | Path | None, lang: str, asr: AsrJudge,
                     sim: SpeakerJudge | None, log: Callable[[str], None] = lambda _: None,
                     ground_truth: bool = False, speakers: dict[str, str] | None = None) -> SeedTTSResult:
    """Judge `<wav_dir>/<utt>.wav` (or, with `ground_truth`, each item's gt_wav). With `speakers`
    (utt -> speaker id, every item) and a SIM judge, also the cross-speaker contrast."""
    items = parse_seedtts_list(meta)
    if not items:
        raise ValueError(f"{meta}: the meta list has no items")
    if speakers is not None and sim is None:
        raise ValueError("cross-speaker SIM needs a speaker judge (--sim-judge), not none")
    wavs = judged_wavs(items, wav_dir, ground_truth)
    run = run_judges(items, wavs, asr, sim, log)
    if not run.hyps:
        raise ValueError(_nothing_judged(run, wavs))
    refs = {item.utt: item.target_text for item in items}
    result = score(f"seedtts-{lang}", refs, run.hyps)
    sims = list(run.sims.values())
    mean_sim = sum(sims) / len(sims) if sims else math.nan
    cross, cross_error = None, None
    if speakers is not None:
        # over the utterances with a SIM; their prompts are the "other voices" (SIM failures are listed)
        try:
            cross = cross_speaker_similarity(run.embeddings, run.prompt_embeddings, speakers)
        except ValueError as exc:
            cross_error = str(exc)
    return SeedTTSResult(result, run, mean_sim, len(sims), len(items),
                         "ground_truth" if ground_truth else "generated", cross, cross_error)


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
    if res.cross is not None:
        metrics.update({"sim_other": res.cross.sim_other, "sim_margin": res.cross.margin,
                        "speaker_id_acc": res.cross.speaker_id_acc, "num_speakers": res.cross.num_speakers})
    elif res.cross_error is not None:  # asked for, not computable: visible as nan + the reason in details
        metrics.update({"sim_other": math.nan, "sim_margin": math.nan, "speaker_id_acc": math.nan, "num_speakers": 0})
    judges = {"asr": asr.describe()}
    judges["asr"]["protocol_judge"] = OFFICIAL_JUDGES[s.protocol]
    if sim is not None:
        judges["sim"] = {**sim.describe(), "protocol_judge": OFFICIAL_JUDGES["sim"]}
    details = {
        "wer_definition": f"headline wer = mean of per-utterance {protocol.unit} error rates (percent); "
                          "corpus_wer = total errors / total reference tokens",
        "sim_definition": f"mean cosine(speaker embedding of the {'real recording (gt_wav)' if res.source == 'ground_truth' else 'generated wav'}, "
                          "of prompt wav), both resampled to 16 kHz",
        "judged_wavs": "the list's own recordings (gt_wav): judge toplines" if res.source == "ground_truth"
                       else "generated <utt>.wav files",
        "missing_wavs": res.run.missing_wavs,
        "asr_failed": [f"{k}: {v}" for k, v in res.run.asr_failed.items()],
        "sim_failed": [f"{k}: {v}" for k, v in res.run.sim_failed.items()],
    }
    rows = s.rows()
    if res.cross_error is not None:
        details["cross_sim_error"] = res.cross_error
    if res.cross is not None:
        details["cross_sim_definition"] = ("sim_other = mean over utterances of the speaker-balanced mean cosine to the "
                                           "prompts of OTHER speakers; sim_margin = sim - sim_other; speaker_id_acc = "
                                           f"nearest speaker is own (chance 1/{res.cross.num_speakers})")
    for row in rows:
        row["sim"] = res.run.sims.get(row["id"])
        if res.cross is not None and row["id"] in res.cross.per_utt:
            row["speaker"] = res.cross.per_utt[row["id"]]["speaker"]
            row["sim_other"] = res.cross.per_utt[row["id"]]["sim_other"]
            row["nearest_speaker"] = res.cross.per_utt[row["id"]]["nearest"]
    return Report("seedtts", s.protocol, protocol.description, metrics, judges, details, rows)
