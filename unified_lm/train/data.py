"""Training data of the unified model: latent utterances, TTS / ASR examples, the task mix and
resumable length-bucketed batch streams.

Input: a manifest written by `holitok-tokenizer extract` (lhotse cuts whose custom fields hold
`latents_path` -> [T, D] float32 .npy at 25 Hz, and `num_frames` = T), with text and speaker in the
cut's supervision.

TTS prompt (SPEC 2, zero-shot TTS): a DIFFERENT utterance of the SAME speaker from the same split,
as in the sibling systems and in the Seed-TTS test lists, so training matches inference (a prompt
whose transcript is known, then the target). The prompt is drawn from (seed, epoch, target cut id)
only, so it is reproducible and resumes exactly; utterances longer than `max_prompt_frames` are
never prompts. A speaker with a single utterance gets no prompt (text + target only).

Batches: holitok_common.data's BucketSampler (lhotse DynamicBucketingSampler: length buckets by
duration = frames / 25 Hz, distributed-aware, deterministic in (seed, epoch)). Each task has its own
endless `EpochStream` whose position (epoch, batches consumed) is checkpointed: resume replays the
sampler over cut ids only. TTS batches get `max_frames / 2` of TARGET frames: prompts are
same-speaker utterances of about the same length distribution, so targets + prompts come to about
`max_frames` (the exact count of every batch is logged as throughput).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Optional, Sequence

import numpy as np
import torch

from holitok_common.data.loader import BucketSampler, SamplerConfig, load_cuts
from holitok_common.data.manifests import cut_speaker, cut_text
from holitok_common.train.checkpoint import DataPosition
from holitok_common.train.data_stream import EpochStream
from unified_lm.pointer import unit_offset
from unified_lm.sequences import Segment, asr_segments, tts_segments, tts_text
from unified_lm.text_tokenizer import TextTokenizer, TextUnits

Task = Literal["tts", "asr"]


@dataclass(frozen=True)
class Utterance:
    """One cut of a latent manifest. `num_frames` latent frames at 25 Hz."""

    cut_id: str
    text: str
    speaker: str
    latents_path: str
    num_frames: int
    unit_starts: Optional[tuple[int, ...]] = None  # per TTS text unit: its first latent frame (holitok-align)

    def latents(self) -> torch.Tensor:
        """[T, D] float32 raw latents (the tokenizer's scale)."""
        array = np.load(self.latents_path)
        if array.ndim != 2 or array.shape[0] != self.num_frames:
            raise ValueError(f"{self.latents_path}: expected [{self.num_frames}, D] latents, got {array.shape}; "
                             "re-run `holitok-tokenizer extract`")
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class LatentCorpus:
    """The utterances of one split, indexed by cut id and by speaker."""

    def __init__(self, manifest: str | Path):
        self.manifest = Path(manifest)
        self.cuts = load_cuts(self.manifest)
        self.utts: dict[str, Utterance] = {}
        for cut in self.cuts:
            custom = cut.custom or {}
            if "latents_path" not in custom or "num_frames" not in custom:
                raise ValueError(f"{self.manifest}: cut {cut.id} has no custom latents_path/num_frames; this must be "
                                 "a manifest written by `holitok-tokenizer extract` (cuts_with_latents.jsonl.gz)")
            starts = custom.get("unit_starts")
            self.utts[cut.id] = Utterance(cut.id, cut_text(cut), cut_speaker(cut), str(custom["latents_path"]),
                                          int(custom["num_frames"]), None if starts is None else tuple(starts))
        if not self.utts:
            raise ValueError(f"{self.manifest}: the manifest holds no cuts")
        self.by_speaker: dict[str, list[str]] = defaultdict(list)
        for utt in self.utts.values():
            self.by_speaker[utt.speaker].append(utt.cut_id)

    def __len__(self) -> int:
        return len(self.utts)

    def texts(self) -> list[str]:
        return [u.text for u in self.utts.values()]

    def prompt_for(self, cut_id: str, seed: int, epoch: int, max_frames: int) -> Utterance | None:
        """A different same-speaker utterance of at most `max_frames` frames, drawn from
        (seed, epoch, cut_id); None when the speaker has no such utterance."""
        speaker = self.utts[cut_id].speaker
        pool = [c for c in self.by_speaker[speaker] if c != cut_id and self.utts[c].num_frames <= max_frames]
        if not pool:
            return None
        return self.utts[random.Random(f"{seed}/{epoch}/{cut_id}").choice(sorted(pool))]


def tts_example(tok: TextTokenizer, target: Utterance, prompt: Utterance | None,
                units: TextUnits = "tokens", aligned: bool = False) -> list[Segment]:
    """<|tts|> prompt text + target text <|audio_start|> prompt patches, target patches (flow + stop).
    `units`: the model's text_tokenizer.tts_units (as the TTS engine encodes). `aligned` (the text
    pointer, pointer.py): the target carries its unit alignment (Utterance.unit_starts)."""
    prompt_text = prompt.text if prompt else ""
    ids = tok.encode(tts_text(prompt_text, target.text), units=units)
    starts, first = None, 0
    if aligned:
        if target.unit_starts is None:
            raise ValueError(f"cut {target.cut_id} has no unit_starts (text alignment) but pointer.enabled needs one: "
                             "train on the manifest `holitok-align extract` writes")
        first = unit_offset(tok, prompt_text, units)
        if first + len(target.unit_starts) != len(ids):
            raise ValueError(f"cut {target.cut_id}: its alignment has {len(target.unit_starts)} units but its text encodes "
                             f"to {len(ids) - first} {units}; the alignment was made for other text units")
        starts = target.unit_starts
    return tts_segments(tok.special, ids, prompt.latents() if prompt else None, target.latents(), starts, first)


@dataclass(frozen=True)
class LatentMasker:
    """SpecAugment-style masking of ASR input latents (training only; Park et al. 2019): `time_masks`
    spans of up to `time_max` frames (never more than a fifth of the utterance each) and
    `channel_masks` spans of up to `channel_max` latent dims are set to `fill` ([D], the train-set
    latent mean, i.e. zero after the model's normalisation). Deterministic in `key` (seed, epoch,
    cut id), so a resumed run masks exactly as an uninterrupted one."""

    time_masks: int
    time_max: int
    channel_masks: int
    channel_max: int
    fill: torch.Tensor

    def __call__(self, latents: torch.Tensor, key: str) -> torch.Tensor:
        rng = random.Random(key)
        out = latents.clone()
        frames, dims = out.shape
        fill = self.fill.to(out.dtype)
        for _ in range(self.time_masks):
            width = rng.randint(0, min(self.time_max, frames // 5))
            start = rng.randint(0, frames - width)
            out[start:start + width] = fill
        for _ in range(self.channel_masks):
            width = rng.randint(0, min(self.channel_max, dims))
            start = rng.randint(0, dims - width)
            out[:, start:start + width] = fill[start:start + width]
        return out


def asr_example(tok: TextTokenizer, utt: Utterance, latents: torch.Tensor | None = None) -> list[Segment]:
    """<|asr|> <|audio_start|> patches <|audio_end|> <|text_start|> transcript <|eos|> (CE on transcript).
    `latents`: the (e.g. masked) input to use instead of the utterance's own."""
    return asr_segments(tok.special, utt.latents() if latents is None else latents, tok.encode(utt.text))


def task_for_step(seed: int, micro_step: int, tts_probability: float) -> Task:
    """The task of a micro-step: a pure function of (seed, micro_step), identical on every rank."""
    if tts_probability >= 1.0:
        return "tts"
    if tts_probability <= 0.0:
        return "asr"
    return "tts" if random.Random(f"task/{seed}/{micro_step}").random() < tts_probability else "asr"


@dataclass
class TaskBatch:
    """One micro-batch of one task: the examples' segments and how many latent frames they hold."""

    task: Task
    examples: list[list[Segment]]
    cut_ids: list[str]
    frames: int


class TaskStream:
    """Endless length-bucketed batches of one task over a corpus, resumable by `position`."""

    def __init__(self, task: Task, corpus: LatentCorpus, tok: TextTokenizer, *, max_frames: int,
                 max_prompt_frames: int, num_buckets: int, shuffle: bool, seed: int, world_size: int, rank: int,
                 frame_rate: float, position: DataPosition | None = None, masker: LatentMasker | None = None,
                 tts_units: TextUnits = "tokens", aligned: bool = False):
        self.task, self.corpus, self.tok, self.seed, self.masker = task, corpus, tok, seed, masker
        self.tts_units, self.aligned = tts_units, aligned
        unaligned = [u.cut_id for u in corpus.utts.values() if u.unit_starts is None] if aligned and task == "tts" else []
        if unaligned:  # found now, not at the first batch that happens to draw one
            raise ValueError(f"{len(unaligned)} cut(s) of {corpus.manifest} have no unit_starts (e.g. {unaligned[0]}) but "
                             "model.pointer.enabled needs the text alignment: train on the manifest `holitok-align "
                             "extract` writes")
        self.max_prompt_frames = max_prompt_frames
        longest = max_frames - max_prompt_frames if task == "tts" else max_frames
        too_long = [u.cut_id for u in corpus.utts.values() if u.num_frames > longest]
        if too_long:  # never silently skipped: the user chooses a larger budget or filters the manifest
            raise ValueError(f"{len(too_long)} cut(s) of {corpus.manifest} are longer than {longest} frames, the "
                             f"longest {task} example data.max_frames allows (e.g. {too_long[0]}): raise "
                             "data.max_frames or filter the manifest")
        budget = max_frames / 2 if task == "tts" else max_frames  # TTS: targets + their prompts ~ 2 x targets
        cfg = SamplerConfig(max_duration=budget / frame_rate, num_buckets=num_buckets, shuffle=shuffle,
                            seed=seed, drop_last=False)
        self.sampler = BucketSampler(corpus.cuts, cfg, world_size=world_size, rank=rank)
        self.stream: EpochStream = EpochStream(self._epoch, position)

    def _epoch(self, epoch: int, skip: int) -> Iterable[tuple[int, list[str]]]:
        self.sampler.set_epoch(epoch)
        for index, (_, cuts) in enumerate(self.sampler):
            if index >= skip:
                yield epoch, [c.id for c in cuts]

    @property
    def position(self) -> DataPosition:
        return self.stream.position

    def next_batch(self) -> TaskBatch:
        epoch, cut_ids = next(self.stream)
        return self.build(cut_ids, epoch)

    def build(self, cut_ids: Sequence[str], epoch: int) -> TaskBatch:
        examples, frames = [], 0
        for cut_id in cut_ids:
            utt = self.corpus.utts[cut_id]
            frames += utt.num_frames
            if self.task == "asr":
                latents = self.masker(utt.latents(), f"mask/{self.seed}/{epoch}/{cut_id}") if self.masker else None
                examples.append(asr_example(self.tok, utt, latents))
                continue
            prompt = self.corpus.prompt_for(cut_id, self.seed, epoch, self.max_prompt_frames)
            frames += prompt.num_frames if prompt else 0
            examples.append(tts_example(self.tok, utt, prompt, self.tts_units, self.aligned))
        return TaskBatch(self.task, examples, list(cut_ids), frames)
