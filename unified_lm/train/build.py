"""Building a run's pieces from a UnifiedTrainConfig: text tokenizer, model, train unit, streams.

The entry point (trainer.train) decides the runtime once (holitok_common.train.setup_runtime) and
passes it here; nothing below names a device.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable

import torch

from holitok_common.config import ConfigError, validate
from holitok_common.train.checkpoint import DataPosition
from holitok_common.train.distributed import DeepSpeedUnit, Runtime, TorchUnit
from holitok_common.train.schedule import make_scheduler
from unified_lm.config import UnifiedConfig
from unified_lm.model import UnifiedLM
from unified_lm.text_tokenizer import (
    SentencePieceTextTokenizer, TextTokenizer, load_text_tokenizer, normalize_text, train_sentencepiece,
)
from unified_lm.train.config import UnifiedTrainConfig
from unified_lm.train.data import LatentCorpus, LatentMasker, Task, TaskStream
from unified_lm.train.units import UnifiedUnit


def text_tokenizer_path(cfg: UnifiedTrainConfig) -> Path:
    """Where the sentencepiece model trained on the train transcripts lives (tiny backbones)."""
    root = Path(cfg.data.text_tokenizer_dir) if cfg.data.text_tokenizer_dir else Path(cfg.exp_dir) / "text_tokenizer"
    return root / SentencePieceTextTokenizer.FILE


def seen_chars(texts: Iterable[str]) -> str:
    """The sorted distinct characters of `texts` after normalize_text (UnifiedConfig.text_tokenizer.seen_chars)."""
    return "".join(sorted(set().union(*(normalize_text(t) for t in texts))))


def prepare_text_tokenizer(cfg: UnifiedTrainConfig, runtime: Runtime, corpus: LatentCorpus) -> tuple[TextTokenizer, UnifiedConfig]:
    """The run's text tokenizer and the model config pointing at it (and at the latent stats).

    sentencepiece without a path: trained on the train transcripts by rank 0 (deterministic, so
    a TTS-only run and the joint run that follows it on the same data get the same model), reused
    if it already exists. hf: `model.text_tokenizer.path`, else `model.backbone.pretrained`.
    """
    m = cfg.model
    path = m.text_tokenizer.path
    if m.text_tokenizer.kind == "sentencepiece" and path is None:
        target = text_tokenizer_path(cfg)
        if runtime.is_main and not target.is_file():
            train_sentencepiece(corpus.texts(), target.with_suffix(""), m.text_tokenizer.vocab_size)
        runtime.barrier()
        path = str(target)
    if m.text_tokenizer.kind == "hf" and path is None:
        path = m.backbone.pretrained
        if path is None:
            raise ConfigError("an HF text tokenizer needs model.text_tokenizer.path=DIR or model.backbone.pretrained=DIR "
                              "(a local Qwen2.5-0.5B checkout, for the paper configs)")
    tok = load_text_tokenizer(m.text_tokenizer.kind, path, m.text_tokenizer.on_unknown)
    if not Path(cfg.data.latent_stats).is_file():
        raise FileNotFoundError(f"data.latent_stats {cfg.data.latent_stats!r} does not exist: it is written by "
                                "`holitok-tokenizer extract` next to the train manifest")
    model_cfg = dataclasses.replace(m, text_tokenizer=dataclasses.replace(m.text_tokenizer, path=path,
                                                                           seen_chars=seen_chars(corpus.texts())),
                                    latent_stats=str(cfg.data.latent_stats))
    return tok, validate(model_cfg)


def build_unit(model: UnifiedLM, cfg: UnifiedTrainConfig, runtime: Runtime) -> UnifiedUnit:
    """AdamW + warmup/exponential-decay schedule, as DDP/single-process or DeepSpeed ZeRO."""
    o = cfg.optim

    def scheduler(optimizer: torch.optim.Optimizer):
        return make_scheduler(optimizer, o.schedule, cfg.steps)

    if runtime.uses_deepspeed:
        inner = DeepSpeedUnit(model, runtime, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay,
                              scheduler_fn=scheduler, micro_batch_size=1)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
        inner = TorchUnit(model, optimizer, scheduler(optimizer), grad_clip=cfg.distributed.gradient_clipping,
                          runtime=runtime)
    return UnifiedUnit(inner, runtime.is_main)


def build_streams(cfg: UnifiedTrainConfig, corpus: LatentCorpus, tok: TextTokenizer, runtime: Runtime,
                  positions: dict[str, DataPosition]) -> dict[Task, TaskStream]:
    """One resumable stream per task with a non-zero weight (TTS-only: no ASR stream)."""
    weights = {"tts": cfg.task_mix.tts, "asr": cfg.task_mix.asr}
    d = cfg.data
    return {task: TaskStream(task, corpus, tok, max_frames=d.max_frames, max_prompt_frames=d.max_prompt_frames,
                             num_buckets=d.num_buckets, shuffle=d.shuffle, seed=cfg.seed,
                             world_size=runtime.world_size, rank=runtime.rank, frame_rate=cfg.model.frame_rate,
                             position=positions.get(task), masker=build_masker(cfg) if task == "asr" else None,
                             tts_units=cfg.model.text_tokenizer.tts_units, aligned=cfg.model.pointer.enabled)
            for task, w in weights.items() if w > 0}


def build_masker(cfg: UnifiedTrainConfig) -> LatentMasker | None:
    """The ASR input masker of `cfg.asr_augment` (None when it masks nothing)."""
    a = cfg.asr_augment
    if a.time_masks == 0 and a.channel_masks == 0:
        return None
    mean = json.loads(Path(cfg.data.latent_stats).read_text())["mean"]
    return LatentMasker(a.time_masks, a.time_mask_frames, a.channel_masks, a.channel_mask_dims,
                        torch.tensor(mean, dtype=torch.float32))
