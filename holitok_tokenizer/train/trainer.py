"""The tokenizer training loop: one generator step and one discriminator step per batch.

    runtime = setup_runtime(cfg.distributed)          # the entry point picks device / processes
    result = TokenizerTrainer(cfg, runtime).train()

Per step (HiFi-GAN order): generator forward -> discriminator update on (real, fake.detach())
-> generator update on mel x45 + adv + fm x2 (+ KL x beta + distillation + LM supervision).
Before `adv_start_step` (default 0) the step is mel-only: no discriminator update, adv = fm = 0.
During the generator update the discriminator is called unwrapped (not through DDP) with its
parameters frozen, so DDP's reducer only ever sees the discriminator's own backward.

Resume: if `out_dir` holds a checkpoint the run continues from the newest one and produces the
same losses as an uninterrupted run (same world size; bit-exact on CPU). `init_from` instead
starts a new stage from a previous stage's weights (fresh optimizers, step 0).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torchaudio

from holitok_common.train.checkpoint import (
    DataPosition,
    TrainState,
    latest,
    load_checkpoint,
    load_rng_state,
    save_checkpoint,
)
from holitok_common.train.distributed import DeepSpeedUnit, Runtime, TorchUnit, frozen
from holitok_common.train.logging import RunLogger
from holitok_common.train.schedule import make_scheduler
from holitok_tokenizer import HoliTok
from holitok_tokenizer.train.config import TokenizerTrainConfig
from holitok_tokenizer.train.data import (
    crop_seed,
    epoch_batches,
    make_sampler,
    perturb_seed,
    random_crop,
    speed_perturb,
)
from holitok_tokenizer.train.discriminators import Discriminators
from holitok_tokenizer.train.generator import GeneratorForward, TeacherTargets, TokenizerGenerator
from holitok_tokenizer.train.losses import (
    MultiScaleMelLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from holitok_tokenizer.train.build import Teachers, build_generator, init_from

TEACHER_RATE = 16000


@dataclass
class GeneratorLosses:
    """Weighted total and the unweighted terms of one generator step (floats)."""

    total: float
    mel: float
    adv: float
    fm: float
    kl: float
    wavlm: float
    xvector: float
    lm: float
    ctc: float


@dataclass
class StepLosses:
    generator: GeneratorLosses
    discriminator: float


@dataclass
class TrainResult:
    """Per-step losses of this process's run (from the first step it ran) and the last checkpoint."""

    losses: list[StepLosses] = field(default_factory=list)
    checkpoint: Path | None = None


class TokenizerTrainer:
    def __init__(self, cfg: TokenizerTrainConfig, runtime: Runtime) -> None:
        self.cfg, self.rt = cfg, runtime
        torch.manual_seed(cfg.seed)  # identical init on every rank
        generator, self.teachers = build_generator(cfg)
        if cfg.init_from:
            init_from(generator, cfg.init_from)
        elif cfg.stage != "I":
            warnings.warn(f"stage {cfg.stage} without init_from: training from random weights")
        self.generator = self._wrap_generator(generator.to(runtime.device))
        self.teachers.to(runtime.device)
        disc = Discriminators(generator.tokenizer.sample_rate, cfg.discriminator).to(runtime.device)
        opt = torch.optim.AdamW(disc.parameters(), cfg.optim.disc_lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)
        sched = make_scheduler(opt, cfg.optim.schedule, cfg.steps)
        self.disc = TorchUnit(disc, opt, sched, grad_clip=cfg.optim.disc_grad_clip, runtime=runtime)
        self.mel = MultiScaleMelLoss(generator.tokenizer.sample_rate, cfg.mel).to(runtime.device)
        self.sample_rate = generator.tokenizer.sample_rate
        self.sampler = make_sampler(
            cfg.data.train_cuts, cfg.data.max_duration, cfg.data.num_buckets, cfg.seed, runtime.world_size, runtime.rank
        )
        self.state = TrainState()
        self._resume_from: Path | None = None

    def _wrap_generator(self, generator: TokenizerGenerator):
        cfg, params = self.cfg, [p for p in generator.parameters() if p.requires_grad]
        if self.rt.uses_deepspeed:
            schedule = lambda opt: make_scheduler(opt, cfg.optim.schedule, cfg.steps)  # noqa: E731
            return DeepSpeedUnit(generator, self.rt, lr=cfg.optim.lr, betas=cfg.optim.betas,
                                 weight_decay=cfg.optim.weight_decay, scheduler_fn=schedule)
        opt = torch.optim.AdamW(params, cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)
        sched = make_scheduler(opt, cfg.optim.schedule, cfg.steps)
        return TorchUnit(generator, opt, sched, grad_clip=cfg.distributed.gradient_clipping, runtime=self.rt)

    @property
    def units(self) -> dict:
        return {"generator": self.generator, "discriminator": self.disc}

    def resume_if_possible(self) -> bool:
        """Continue from the newest checkpoint in out_dir (RNG restored last, by the caller's order)."""
        ckpt = latest(self.cfg.out_dir)
        if ckpt is None:
            return False
        self.state = load_checkpoint(ckpt, self.units, restore_rng=False)
        if self.state.sampler is not None:
            self.sampler.load_state_dict(self.state.sampler)
        self._resume_from = ckpt
        return True

    def train(self) -> TrainResult:
        cfg, rt = self.cfg, self.rt
        resumed = self.resume_if_possible()
        batches = epoch_batches(self.sampler, self.sample_rate, cfg.data.num_workers, cfg.seed)
        log = RunLogger(Path(cfg.out_dir) / "tb", enabled=rt.is_main, total_steps=cfg.steps, initial_step=self.state.step)
        if resumed:  # last, so that nothing after this point draws from the RNGs differently
            load_rng_state(self._resume_from)
        result, tic = TrainResult(), time.perf_counter()
        while self.state.step < cfg.steps:
            batch = next(batches)
            step = self.state.step
            losses, fake, real = self.train_step(batch, step)
            result.losses.append(losses)
            self.state.step = step + 1
            pos = batch.position
            self.state.data = DataPosition(epoch=pos.epoch, batches=pos.index + 1)
            self.state.sampler = self.sampler.state_dict(pos)
            self._log(log, losses, real, fake, time.perf_counter() - tic)
            tic = time.perf_counter()
            if self.state.step % cfg.ckpt_every == 0 or self.state.step == cfg.steps:
                result.checkpoint = self.save()
        log.close()
        return result

    def train_step(self, batch, step: int) -> tuple[StepLosses, torch.Tensor, torch.Tensor]:
        """One discriminator and one generator update. Returns (losses, fake [B, S], real [B, S])."""
        cfg, rt = self.cfg, self.rt
        num = round(cfg.data.crop_seconds * self.sample_rate)
        wav, lengths = batch.wav, batch.lengths
        if cfg.data.speed_perturb:
            wav, lengths = speed_perturb(wav, lengths, *cfg.data.speed_perturb, perturb_seed(cfg.seed, step, rt.rank))
        uncropped = (lengths <= num).tolist()
        wav, lengths = random_crop(wav, lengths, num, crop_seed(cfg.seed, step, rt.rank))
        wav, lengths = wav.to(rt.device), lengths.to(rt.device)
        targets = self._teacher_targets(wav, lengths)
        labels = lm_labels(batch, uncropped) if cfg.loss.lm > 0 or cfg.loss.ctc > 0 else None
        with rt.autocast():
            out: GeneratorForward = self.generator.module(wav, lengths, targets, labels)
        fake = out.wav.float()
        adversarial = step >= cfg.adv_start_step  # mel-only warm-up before (same on every rank)
        d_loss = self._discriminator_step(wav, fake) if adversarial else 0.0
        g_losses = self._generator_step(wav, fake, out, adversarial)
        return StepLosses(g_losses, d_loss), fake.detach(), wav

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        batch = real.shape[0]
        with self.rt.autocast():
            both = self.disc.module(torch.cat([real, fake.detach()]))  # one DDP forward per backward
        loss = discriminator_loss([x[:batch] for x in both.logits], [x[batch:] for x in both.logits])
        self.disc.backward(loss)
        self.disc.step()
        return float(self.rt.all_mean(loss.detach()))

    def _generator_step(self, real: torch.Tensor, fake: torch.Tensor, out: GeneratorForward,
                        adversarial: bool = True) -> GeneratorLosses:
        w = self.cfg.loss
        mel = self.mel(fake, real)
        if adversarial:
            disc = self.disc.unwrapped
            with frozen(disc), self.rt.autocast():
                with torch.no_grad():
                    d_real = disc(real)
                d_fake = disc(fake)
            adv = generator_adversarial_loss(d_fake.logits)
            fm = feature_matching_loss(d_real.features, d_fake.features)
        else:  # warm-up: the discriminator is not run at all
            adv = fm = mel.new_zeros(())
        total = w.mel * mel + w.adv * adv + w.fm * fm + w.kl * out.kl + w.wavlm * out.wavlm
        total = total + w.xvector * out.xvector + w.lm * out.lm + w.ctc * out.ctc
        self.generator.backward(total)
        self.generator.step()
        terms = [total, mel, adv, fm, out.kl, out.wavlm, out.xvector, out.lm, out.ctc]
        return GeneratorLosses(*[float(self.rt.all_mean(t.detach().float())) for t in terms])

    @torch.no_grad()
    def _teacher_targets(self, wav: torch.Tensor, lengths: torch.Tensor) -> TeacherTargets | None:
        t: Teachers = self.teachers
        if t.wavlm is None and t.xvector is None:
            return None
        wav16 = torchaudio.functional.resample(wav, self.sample_rate, TEACHER_RATE)
        len16 = (lengths * TEACHER_RATE + self.sample_rate - 1) // self.sample_rate
        return TeacherTargets(
            wavlm=t.wavlm(wav16, len16) if t.wavlm is not None else None,
            xvector=t.xvector(wav16, len16) if t.xvector is not None else None,
        )

    def _log(self, log: RunLogger, losses: StepLosses, real, fake, seconds: float) -> None:
        step = self.state.step
        g = losses.generator
        log.progress(1, {"g": g.total, "mel": g.mel, "d": losses.discriminator})
        if step % self.cfg.log_every == 0:
            scalars = {f"g/{k}": v for k, v in asdict(g).items()}
            scalars.update({"d/total": losses.discriminator, "lr/generator": self.generator.lr(),
                            "lr/discriminator": self.disc.lr(), "sec_per_step": seconds})
            log.scalars(scalars, step)
        if step % self.cfg.audio_every == 0:
            mid = len(self.mel.mels) // 2
            log.mel_image("mel", {"real": self.mel.log_mels(real[:1])[mid][0], "fake": self.mel.log_mels(fake[:1])[mid][0]}, step)
            log.audio("audio/real", real[0], self.sample_rate, step)
            log.audio("audio/fake", fake[0], self.sample_rate, step)

    def save(self) -> Path:
        """Checkpoint directory (collective) with the exported tokenizer in `tokenizer/`."""
        return save_checkpoint(self.cfg.out_dir, self.units, self.state, self.cfg, self.cfg.keep_last, export=self._export)

    def _export(self, directory: Path) -> None:
        """save_pretrained of the bare tokenizer (inference-ready dir for stage 4 / `holitok-tokenizer`)."""
        weights = self.generator.weights()  # collective under ZeRO-3
        if not self.rt.is_main:
            return
        with torch.random.fork_rng(devices=[]):  # building a model must not move the training RNG
            tok = HoliTok(self.generator.unwrapped.tokenizer.config)
        tok.load_state_dict({k[len("tokenizer."):]: v for k, v in weights.items() if k.startswith("tokenizer.")})
        tok.save_pretrained(directory / "tokenizer", extra_meta={"stage": self.cfg.stage, "step": self.state.step})


# LM-supervision tasks beyond ASR: task -> AudioBatch attribute (one label or None per item).
LABEL_FIELDS = {"emotion": "emotions", "caption": "captions", "sound": "sound_events"}


def lm_labels(batch, uncropped: list[bool]) -> dict[str, list[str | None]]:
    """Task -> per-item target text. ASR always (the transcripts); other tasks only when the batch
    carries them. Items that were cropped get None: their labels describe the whole utterance."""
    labels = {"asr": list(batch.texts)}
    for task, attr in LABEL_FIELDS.items():
        values = getattr(batch, attr, None)
        if values is not None:
            labels[task] = list(values)
    return {task: [v if keep else None for v, keep in zip(values, uncropped)] for task, values in labels.items()}


def train(cfg: TokenizerTrainConfig, runtime: Runtime) -> TrainResult:
    """Run (or resume) one stage as configured."""
    return TokenizerTrainer(cfg, runtime).train()
