"""UnifiedTrainConfig: everything a joint TTS + ASR training run needs, as one typed dataclass tree.

Layering (holitok_common.config): preset (`tiny` | `paper`) <- YAML (`recipes/unified/conf/*.yaml`,
which may start with `preset: NAME`) <- `key=value` overrides, strict keys. `validate()` is the one
place where cross-field constraints are checked.

Units: batch budgets are in latent FRAMES per rank per micro-batch (25 Hz; a patch = P frames), so
`data.max_frames=1500` means one minute of target audio per micro-batch on each rank.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

from holitok_common.config import ConfigError, load_config
from holitok_common.train.distributed import DistributedConfig
from holitok_common.train.schedule import ScheduleConfig
from unified_lm.config import UnifiedConfig
from unified_lm.config import paper as paper_model
from unified_lm.config import tiny as tiny_model


@dataclass
class DataConfig:
    """Manifests written by `holitok-tokenizer extract` (cuts with custom latents_path/num_frames).

    `text_tokenizer_dir`: where a sentencepiece model trained on the train transcripts is written
    (tiny backbones; None = `<exp_dir>/text_tokenizer`). Ignored when model.text_tokenizer.path is set
    or the tokenizer is an HF one.
    """

    train_manifest: str = ""
    dev_manifest: str = ""
    latent_stats: str = ""
    text_tokenizer_dir: Optional[str] = None
    max_frames: int = 1500  # per rank per micro-batch: ASR audio frames, or TTS target + prompt frames
    max_prompt_frames: int = 250  # TTS prompts longer than this (10 s) are not chosen
    num_buckets: int = 10
    shuffle: bool = True

    def validate(self) -> None:
        if self.max_frames <= 0 or self.max_prompt_frames <= 0:
            raise ConfigError("data.max_frames and data.max_prompt_frames must be positive")
        if self.max_prompt_frames >= self.max_frames:
            raise ConfigError(f"data.max_prompt_frames ({self.max_prompt_frames}) must be < data.max_frames "
                              f"({self.max_frames}): a TTS example is prompt + target")


@dataclass
class AsrAugmentConfig:
    """SpecAugment-style masking of the ASR input latents during training (unified_lm.train.data.
    LatentMasker); 0 masks = off. Masked values are the train-set latent mean (data.latent_stats)."""

    time_masks: int = 0
    time_mask_frames: int = 5  # at most this many 40 ms frames per mask (and <= 1/5 of the utterance)
    channel_masks: int = 0
    channel_mask_dims: int = 4

    def validate(self) -> None:
        if min(self.time_masks, self.time_mask_frames, self.channel_masks, self.channel_mask_dims) < 0:
            raise ConfigError("asr_augment values must be >= 0")


@dataclass
class TaskMixConfig:
    """Relative weights of the tasks: each micro-step is one task, drawn from (seed, micro-step)."""

    tts: float = 5.0
    asr: float = 1.0

    def validate(self) -> None:
        if self.tts < 0 or self.asr < 0 or self.tts + self.asr <= 0:
            raise ConfigError(f"task_mix weights must be >= 0 and not both 0, got tts={self.tts} asr={self.asr}")

    @property
    def tts_probability(self) -> float:
        return self.tts / (self.tts + self.asr)


@dataclass
class InitConfig:
    """Initialise (parts of) the model from a previous run before training (ignored on resume).

    `checkpoint`: a run directory (its newest checkpoint), a `step-XXXXXX` checkpoint directory, or
    a `save_pretrained` directory. `parts`: parameter-name prefixes to copy (`head` = the DiT, as in
    the paper's TTS-only -> joint recipe; `stop_head`, `audio_in`, `backbone`), or ["all"].
    """

    checkpoint: Optional[str] = None
    parts: list[str] = field(default_factory=lambda: ["head", "stop_head"])

    def validate(self) -> None:
        if not self.parts:
            raise ConfigError("init.parts must name at least one prefix (e.g. [head]) or be [all]")


@dataclass
class OptimConfig:
    """AdamW; the LR warms up linearly then decays exponentially to schedule.final_lr."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.01
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(final_lr=1e-6, warmup_steps=1000))

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.lr}")


@dataclass
class EvalConfig:
    """Held-out evaluation on the dev manifest every `interval` steps (0 = never): flow/stop loss
    on `num_tts` TTS examples and greedy-decoding WER + teacher-forced token accuracy on `num_asr`."""

    interval: int = 1000
    num_tts: int = 32
    num_asr: int = 16
    at_start: bool = True  # also evaluate the initial model (the "vs init" baseline)


@dataclass
class UnifiedTrainConfig:
    """A joint training run. `exp_dir` receives checkpoints/, tensorboard/ and text_tokenizer/."""

    model: UnifiedConfig = field(default_factory=tiny_model)
    data: DataConfig = field(default_factory=DataConfig)
    asr_augment: AsrAugmentConfig = field(default_factory=AsrAugmentConfig)
    task_mix: TaskMixConfig = field(default_factory=TaskMixConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    exp_dir: str = "exp/unified"
    steps: int = 100_000
    grad_accum: int = 1
    seed: int = 0
    log_interval: int = 50
    ckpt_interval: int = 2000
    keep_last: int = 3
    resume: Literal["auto", "never"] = "auto"  # auto: continue from exp_dir's newest checkpoint
    cpu: bool = False  # force CPU even where CUDA exists

    def validate(self) -> None:
        if self.steps <= 0 or self.grad_accum <= 0:
            raise ConfigError("steps and grad_accum must be positive")
        if self.log_interval <= 0 or self.ckpt_interval <= 0:
            raise ConfigError("log_interval and ckpt_interval must be positive")
        if self.eval.interval < 0:
            raise ConfigError("eval.interval must be >= 0 (0 = no evaluation)")
        if self.distributed.zero_stage > 0 and self.grad_accum != 1:
            raise ConfigError("grad_accum > 1 is not supported with DeepSpeed (holitok_common.train's DeepSpeedUnit "
                              "runs gradient_accumulation_steps=1): raise data.max_frames or use more ranks")


def tiny() -> UnifiedTrainConfig:
    """CPU-sized joint run on the embedded corpus (tiny model, sentencepiece text tokenizer)."""
    return UnifiedTrainConfig(
        model=tiny_model(),
        data=DataConfig(max_frames=1200, max_prompt_frames=150, num_buckets=4),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01,
                          schedule=ScheduleConfig(final_lr=1e-5, warmup_steps=50)),
        eval=EvalConfig(interval=200, num_tts=16, num_asr=8),
        exp_dir="exp/unified_tiny",
        steps=1000,
        log_interval=10,
        ckpt_interval=200,
    )


def paper() -> UnifiedTrainConfig:
    """Paper size (Qwen2.5-0.5B + 18-layer DiT + 8-layer PatchEncoder), DeepSpeed ZeRO-2, bf16 on GPU.

    Needs `model.backbone.pretrained=DIR` (a local Qwen2.5-0.5B) or `model.text_tokenizer.path=DIR`
    (its HF tokenizer): the HF text tokenizer comes from there.
    """
    model = paper_model()
    model = dataclasses.replace(model, backbone=dataclasses.replace(model.backbone, gradient_checkpointing=True))
    return UnifiedTrainConfig(
        model=model,
        data=DataConfig(max_frames=6000, max_prompt_frames=250, num_buckets=20),
        optim=OptimConfig(lr=1e-4, betas=(0.9, 0.95), weight_decay=0.01,
                          schedule=ScheduleConfig(final_lr=1e-6, warmup_steps=2000)),
        distributed=DistributedConfig(zero_stage=2, mixed_precision="auto"),
        eval=EvalConfig(interval=2000, num_tts=64, num_asr=32),
        exp_dir="exp/unified_paper",
        steps=200_000,
        log_interval=50,
        ckpt_interval=5000,
    )


PRESETS: dict[str, Callable[[], UnifiedTrainConfig]] = {"tiny": tiny, "paper": paper}


def load_train_config(path: Optional[str] = None, overrides=(), preset: Optional[str] = None) -> UnifiedTrainConfig:
    """preset (or the YAML's `preset:` key; default: dataclass defaults) <- YAML <- overrides, validated."""
    return load_config(UnifiedTrainConfig, path, overrides, presets=PRESETS, preset=preset)
