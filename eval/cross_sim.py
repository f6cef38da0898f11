"""Speaker similarity to the prompt vs to OTHER voices: is the generated voice the prompt's, or
just "a voice"?

SIM alone (cosine to the prompt) has no floor: an untrained model that always produces the same
voice still scores whatever that voice's cosine to each prompt is. The contrast fixes that: for a
generated utterance i of speaker s_i,

    sim_own(i)   = cos(g_i, prompt_i)                          (the usual SIM)
    sim_other(i) = mean over speakers s != s_i of mean over s's prompts p of cos(g_i, p)

Speakers are weighted equally (a speaker with many prompts does not dominate the "other" side).
`speaker_id_acc` = fraction of utterances whose highest speaker-mean cosine is their own speaker's
(closed-set identification over the list's speakers; chance = 1 / number of speakers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from holitok_common.data.seedtts import SeedTTSItem


@dataclass
class CrossSimResult:
    sim_own: float  # mean cos(generated, own prompt) over scored utterances
    sim_other: float  # mean over utterances of the speaker-balanced mean cosine to other speakers' prompts
    speaker_id_acc: float  # fraction whose nearest speaker (mean cosine over its prompts) is their own
    num_speakers: int
    utterances: int
    per_utt: dict[str, dict] = field(default_factory=dict)  # utt -> {speaker, sim_own, sim_other, nearest}

    @property
    def margin(self) -> float:
        return self.sim_own - self.sim_other


def _unit(e: torch.Tensor) -> torch.Tensor:
    e = e.flatten().to(torch.float64)
    return e / e.norm().clamp_min(1e-12)


def cross_speaker_similarity(generated: dict[str, torch.Tensor], prompts: dict[str, torch.Tensor],
                             speakers: dict[str, str]) -> CrossSimResult:
    """generated: utt -> embedding [E] of the generated wav; prompts: utt -> embedding [E] of its
    prompt wav (every utt of `generated` must have one); speakers: utt -> speaker id (for every
    utt of `prompts`). Needs prompts from at least 2 speakers."""
    missing = sorted(set(prompts) - set(speakers))
    if missing:
        raise ValueError(f"cross-speaker SIM: no speaker for {len(missing)} utterance(s), e.g. {missing[:3]}")
    lacking = sorted(set(generated) - set(prompts))
    if lacking:
        raise ValueError(f"cross-speaker SIM: no prompt embedding for {len(lacking)} utterance(s), e.g. {lacking[:3]}")
    by_speaker: dict[str, list[torch.Tensor]] = {}
    for utt, emb in prompts.items():
        by_speaker.setdefault(speakers[utt], []).append(_unit(emb))
    if len(by_speaker) < 2:
        raise ValueError(f"cross-speaker SIM needs prompts from at least 2 speakers, got {sorted(by_speaker)}")
    names = sorted(by_speaker)
    per_utt = {}
    for utt, emb in sorted(generated.items()):
        g = _unit(emb)
        speaker_mean = {s: float((torch.stack(by_speaker[s]) @ g).mean()) for s in names}  # [N_s] -> mean
        own_speaker = speakers[utt]
        others = [speaker_mean[s] for s in names if s != own_speaker]
        per_utt[utt] = {"speaker": own_speaker, "sim_own": float(_unit(prompts[utt]) @ g),
                        "sim_other": sum(others) / len(others), "nearest": max(names, key=speaker_mean.get)}
    rows = list(per_utt.values())
    mean = (lambda key: sum(r[key] for r in rows) / len(rows)) if rows else (lambda key: math.nan)
    acc = sum(r["nearest"] == r["speaker"] for r in rows) / len(rows) if rows else math.nan
    return CrossSimResult(mean("sim_own"), mean("sim_other"), acc, len(names), len(rows), per_utt)


def speakers_by_prompt_dir(items: list[SeedTTSItem]) -> dict[str, str]:
    """utt -> the name of its prompt wav's folder (the corpus layout `audio/<voice>/<utt>.flac`)."""
    return {item.utt: item.prompt_wav.parent.name for item in items}


def read_speaker_map(path: str | Path, items: list[SeedTTSItem]) -> dict[str, str]:
    """Kaldi-style `utt speaker` lines (utt2spk); every item of the list must be covered."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: speaker map does not exist (expected `utt speaker` lines)")
    mapping = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{number}: expected `utt speaker`, got {line!r}")
        mapping[fields[0]] = fields[1]
    missing = [item.utt for item in items if item.utt not in mapping]
    if missing:
        raise ValueError(f"{path}: no speaker for {len(missing)} item(s) of the list, e.g. {missing[:3]}")
    return mapping
