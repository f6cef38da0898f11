"""`TokenizerTrainConfig`: one typed config for all three stages (stages are configs, not forks).

Stage III crops are longer than stage I/II's: LM supervision (ASR etc.) only uses utterances that
were not cropped, since a transcript describes the whole utterance.

Presets: tiny-stage1/2/3 (16 kHz tiny model, tiny random teachers, CPU-sized) and
holitok-48k-stage1/2/3 (SPEC.md section 1). YAML files under recipes/tokenizer/conf/ start
from a preset and override fields; `key=value` overrides come last.

| stage | trains (rest frozen exactly) | losses |
|---|---|---|
| I   | encoder + decoder (bottleneck bypassed) | mel x45 + adv x1 + fm x2 |
| II  | bottleneck (+ the KL flow) | + KL x0.1 |
| III | everything (+ flow, distill heads, LM supervision) | + KL x7 + WavLM + x-vector + LM |

Distillation weights are not published; ours (WavLM 5, x-vector 5, LM 1, against mel 45) keep
each enrichment term at a few percent of the reconstruction gradient at initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from holitok_common.config import ConfigError, load_config, merge
from holitok_common.train.distributed import DistributedConfig
from holitok_common.train.schedule import ScheduleConfig
from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.train.discriminators import DiscriminatorConfig
from holitok_tokenizer.train.flow import FlowConfig
from holitok_tokenizer.train.losses import MelLossConfig
from holitok_tokenizer.train.supervision import LMSupervisionConfig

Stage = Literal["I", "II", "III"]


@dataclass
class ModelSection:
    """Tokenizer architecture: a preset name plus field overrides (keys of TokenizerConfig)."""

    preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)

    def build_config(self) -> TokenizerConfig:
        cfg = merge(TokenizerConfig.from_preset(self.preset), self.overrides, "model.overrides")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        self.build_config()


@dataclass
class DataSection:
    """lhotse cuts; random crops of `crop_seconds`; `max_duration` seconds of (uncropped) audio per
    batch and rank (lhotse bucketing). `speed_perturb: [lo, hi]` plays every utterance at a random
    speed in [lo, hi] (resampling: pitch and formants move together, like a different speaker's
    vocal tract) before the crop; [] = off. More voices for an autoencoder that must reconstruct
    voices it never heard (measured on the tiny corpus: docs/tts_diagnosis.md, session 8)."""

    train_cuts: str = "data/corpus/cuts_train.jsonl.gz"
    crop_seconds: float = 1.0
    max_duration: float = 8.0
    num_buckets: int = 4
    num_workers: int = 0
    speed_perturb: list[float] = field(default_factory=list)

    def validate(self) -> None:
        if self.crop_seconds <= 0 or self.max_duration <= 0:
            raise ConfigError("data.crop_seconds and data.max_duration must be positive")
        sp = self.speed_perturb
        if sp and (len(sp) != 2 or not 0.5 <= sp[0] <= sp[1] <= 2.0):
            raise ConfigError(f"data.speed_perturb must be [] (off) or [lo, hi] with 0.5 <= lo <= hi <= 2.0, "
                              f"got {sp}")


@dataclass
class LossWeights:
    mel: float = 45.0
    adv: float = 1.0
    fm: float = 2.0
    kl: float = 0.0
    wavlm: float = 0.0
    xvector: float = 0.0
    lm: float = 0.0
    ctc: float = 0.0  # character CTC on the latents (holitok_tokenizer/train/ctc.py; not in the paper)


@dataclass
class CTCSection:
    """The training-only CTC head of `loss.ctc`: conv width and character slots per latent frame."""

    hidden: int = 256
    upsample: int = 2

    def validate(self) -> None:
        if self.hidden < 1 or self.upsample < 1:
            raise ConfigError(f"ctc.hidden and ctc.upsample must be >= 1, got {self.hidden}, {self.upsample}")


@dataclass
class TeacherSection:
    """Paths (HF dirs / hub ids, or "tiny-random"); None disables the term's teacher."""

    wavlm: str | None = None
    wavlm_layer: int = 23
    wavlm_normalize: bool = True
    xvector: str | None = None
    lm: str | None = None


@dataclass
class OptimSection:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    disc_lr: float = 1e-4
    disc_grad_clip: float = 1000.0  # BigVGAN clips both nets at 1000 (only catches blow-ups)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


@dataclass
class TokenizerTrainConfig:
    stage: Stage = "I"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    loss: LossWeights = field(default_factory=LossWeights)
    mel: MelLossConfig = field(default_factory=MelLossConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    teachers: TeacherSection = field(default_factory=TeacherSection)
    lm_supervision: LMSupervisionConfig = field(default_factory=LMSupervisionConfig)
    ctc: CTCSection = field(default_factory=CTCSection)
    optim: OptimSection = field(default_factory=OptimSection)
    distributed: DistributedConfig = field(default_factory=lambda: DistributedConfig(gradient_clipping=1000.0))
    init_from: str | None = None  # previous stage's run dir or step-XXXXXX dir
    out_dir: str = "exp/tokenizer/stage1"
    steps: int = 1000
    # Mel-only warm-up: no discriminator update and no adv/fm terms before this step (0 = GAN from
    # the start, as in the paper). The discriminator's optimizer/schedule only step once it trains.
    adv_start_step: int = 0
    log_every: int = 10
    audio_every: int = 500
    ckpt_every: int = 500
    keep_last: int = 3
    seed: int = 0

    def validate(self) -> None:
        if self.stage == "I" and (self.loss.kl or self.loss.wavlm or self.loss.xvector or self.loss.lm):
            raise ConfigError("stage I bypasses the bottleneck: loss.kl/wavlm/xvector/lm must be 0 (use stage II/III)")
        if self.stage == "II" and (self.loss.wavlm or self.loss.xvector or self.loss.lm):
            raise ConfigError("stage II trains the bottleneck only: distillation/LM weights must be 0 (use stage III)")
        for term, path in (("wavlm", self.teachers.wavlm), ("xvector", self.teachers.xvector), ("lm", self.teachers.lm)):
            if getattr(self.loss, term) > 0 and not path:
                raise ConfigError(f"loss.{term} > 0 needs teachers.{term} (a HF path, or 'tiny-random' for smoke runs)")
        for name in ("steps", "log_every", "audio_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.adv_start_step < 0:
            raise ConfigError(f"adv_start_step must be >= 0, got {self.adv_start_step}")
        if self.loss.ctc < 0:
            raise ConfigError(f"loss.ctc must be >= 0, got {self.loss.ctc}")


def _stage(cfg: TokenizerTrainConfig, stage: Stage, steps: int, kl: float, out: str) -> TokenizerTrainConfig:
    cfg.stage, cfg.steps, cfg.loss.kl, cfg.out_dir = stage, steps, kl, out
    return cfg


def _tiny(stage: Stage) -> TokenizerTrainConfig:
    cfg = TokenizerTrainConfig()
    cfg.discriminator = DiscriminatorConfig(mpd_channels=[8, 16, 32, 32, 32], mrd_channels=8)
    cfg.flow = FlowConfig(hidden=64, layers=2)
    cfg.lm_supervision = LMSupervisionConfig(layers=2, width=64, ffn=128, heads=4)
    cfg.log_every, cfg.audio_every, cfg.ckpt_every = 10, 200, 200
    root = "exp/tokenizer-tiny"
    if stage == "I":
        return _stage(cfg, "I", 2000, 0.0, f"{root}/stage1")
    if stage == "II":
        cfg.init_from = f"{root}/stage1"
        return _stage(cfg, "II", 500, 0.1, f"{root}/stage2")
    cfg.init_from = f"{root}/stage2"
    cfg.data.crop_seconds = 6.5  # whole corpus utterances (<= 6.2 s): LM supervision needs them uncropped
    cfg.teachers = TeacherSection(wavlm="tiny-random", wavlm_layer=2, xvector="tiny-random", lm="tiny-random")
    cfg.loss.wavlm, cfg.loss.xvector, cfg.loss.lm = 5.0, 5.0, 1.0
    return _stage(cfg, "III", 1000, 7.0, f"{root}/stage3")


def _paper(stage: Stage) -> TokenizerTrainConfig:
    cfg = TokenizerTrainConfig(model=ModelSection(preset="holitok-48k"))
    cfg.data = DataSection(crop_seconds=9.6, max_duration=9.6 * 8, num_buckets=10, num_workers=4)
    cfg.log_every, cfg.audio_every, cfg.ckpt_every = 100, 5000, 5000
    root = "exp/tokenizer-48k"
    if stage == "I":
        return _stage(cfg, "I", 500_000, 0.0, f"{root}/stage1")
    if stage == "II":
        cfg.init_from = f"{root}/stage1"
        return _stage(cfg, "II", 50_000, 0.1, f"{root}/stage2")
    cfg.init_from = f"{root}/stage2"
    cfg.data.crop_seconds = 20.0  # LM supervision uses uncropped utterances only (their transcripts)
    cfg.data.max_duration = 20.0  # ~batch 1 per GPU (SPEC)
    cfg.teachers = TeacherSection(
        wavlm="microsoft/wavlm-large", wavlm_layer=23, xvector="microsoft/wavlm-base-plus-sv", lm="Qwen/Qwen2.5-0.5B"
    )
    cfg.loss.wavlm, cfg.loss.xvector, cfg.loss.lm = 5.0, 5.0, 1.0
    cfg.distributed.zero_stage = 2
    return _stage(cfg, "III", 200_000, 7.0, f"{root}/stage3")


PRESETS: dict[str, Callable[[], TokenizerTrainConfig]] = {
    f"{size}-stage{n}": (lambda fn=fn, s=s: fn(s))
    for size, fn in (("tiny", _tiny), ("holitok-48k", _paper))
    for n, s in ((1, "I"), (2, "II"), (3, "III"))
}


def load_train_config(path: str | None = None, overrides: tuple[str, ...] | list[str] = (), preset: str | None = None) -> TokenizerTrainConfig:
    """preset <- YAML (may name `preset:`) <- key=value overrides; strict keys."""
    return load_config(TokenizerTrainConfig, path, overrides, presets=PRESETS, preset=preset)
