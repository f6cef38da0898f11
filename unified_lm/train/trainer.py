"""The joint TTS + ASR training loop of the unified model (SPEC 2), on holitok_common.train.

Each micro-step is ONE task, drawn from (seed, micro-step) with probability tts / (tts + asr)
(5:1 by default), identical on every rank so all ranks run the same sub-graph; its batch comes
from that task's length-bucketed stream. TTS: flow + stop loss on the target patches; ASR: text
cross-entropy. Logged (TensorBoard + `<exp>/metrics.jsonl`, rank 0): loss, text_ce, flow, stop
(each averaged over the items it covers since the last log), lr, grad norm, tokens/s (LM positions)
and frames/s; held-out evaluation every `eval.interval` steps (evaluate.py).

Exact resume: the checkpoint holds the model, optimizer, scheduler, every rank's RNG, and each
task stream's position; the task of a micro-step and the DiT's noise (a generator seeded from
(seed, micro-step, rank)) are pure functions of the step. For a fixed world size, N steps
straight == N/2, resume, N/2 (tested on CPU).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from holitok_common.train.checkpoint import DataPosition, TrainState, latest, load_checkpoint, load_rng_state, save_checkpoint
from holitok_common.train.distributed import Runtime, seed_everything, setup_runtime
from holitok_common.train.logging import RunLogger
from unified_lm.model import UnifiedLM
from unified_lm.train.build import build_streams, build_unit, prepare_text_tokenizer
from unified_lm.train.config import UnifiedTrainConfig
from unified_lm.train.data import LatentCorpus, TaskStream, task_for_step
from unified_lm.train.evaluate import Evaluator
from unified_lm.train.units import UnifiedUnit, init_from_checkpoint

METRIC_NAMES = ("text_ce", "flow", "stop", "ctc", "align", "ctc_tts", "advance")


@dataclass
class Meter:
    """Sums since the last log: each loss part weighted by the items it averaged over."""

    sums: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in METRIC_NAMES})
    counts: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in METRIC_NAMES})
    loss: float = 0.0
    micro_steps: int = 0
    positions: int = 0
    frames: int = 0
    start: float = field(default_factory=time.perf_counter)

    def add(self, out, positions: int, frames: int) -> None:
        counts = (out.counts.text_tokens, out.counts.flow_patches, out.counts.stop_positions, out.counts.ctc_utterances,
                  out.counts.align_rows, out.counts.ctc_tts_rows, out.counts.advance_positions)
        for name, n in zip(METRIC_NAMES, counts):
            if n == 0:
                continue
            self.sums[name] += float(getattr(out, name).detach()) * n
            self.counts[name] += n
        self.loss += float(out.loss.detach())
        self.micro_steps += 1
        self.positions, self.frames = self.positions + positions, self.frames + frames

    def summary(self, world_size: int) -> dict[str, float]:
        """Means over all ranks (a collective when distributed)."""
        keys = list(METRIC_NAMES)
        values = torch.tensor([self.sums[k] for k in keys] + [self.counts[k] for k in keys]
                              + [self.loss, self.micro_steps, self.positions, self.frames], dtype=torch.float64)
        if world_size > 1:
            dist.all_reduce(values)
        n = len(keys)
        result = {k: float(values[i] / values[n + i]) for i, k in enumerate(keys) if values[n + i] > 0}
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        result.update(loss=float(values[2 * n] / values[2 * n + 1]), tokens_per_s=float(values[2 * n + 2]) / elapsed,
                      frames_per_s=float(values[2 * n + 3]) / elapsed)
        return result


@dataclass
class Run:
    """Everything the loop touches."""

    cfg: UnifiedTrainConfig
    runtime: Runtime
    model: UnifiedLM
    unit: UnifiedUnit
    streams: dict[str, TaskStream]
    evaluator: Evaluator | None
    logger: RunLogger
    state: TrainState


def _positions(state: TrainState) -> dict[str, DataPosition]:
    saved = state.extra.get("positions", {})
    return {task: DataPosition(**pos) for task, pos in saved.items()}


def setup(cfg: UnifiedTrainConfig) -> Run:
    """Runtime, data, tokenizer, model (init_from or resume), unit, streams, evaluator, logger."""
    runtime = setup_runtime(dataclasses.replace(cfg.distributed, find_unused_parameters=True), cpu=cfg.cpu)
    seed_everything(cfg.seed)  # identical initial weights on every rank
    corpus = LatentCorpus(cfg.data.train_manifest)
    tok, model_cfg = prepare_text_tokenizer(cfg, runtime, corpus)
    model = UnifiedLM.from_config(model_cfg, tok)
    resume_from = latest(Path(cfg.exp_dir) / "checkpoints") if cfg.resume == "auto" else None
    if resume_from is None and cfg.init.checkpoint:
        copied = init_from_checkpoint(model, cfg.init.checkpoint, cfg.init.parts)
        if runtime.is_main:
            print(f"init: copied {len(copied)} tensors ({', '.join(cfg.init.parts)}) from {cfg.init.checkpoint}")
    model.to(runtime.device).train()
    unit = build_unit(model, cfg, runtime)
    state = TrainState()
    if resume_from is not None:
        state = load_checkpoint(resume_from, {"model": unit}, restore_rng=False)
        if runtime.is_main:
            print(f"resume: {resume_from} (step {state.step})")
    streams = build_streams(cfg, corpus, tok, runtime, _positions(state))
    evaluator = None
    if cfg.eval.interval > 0 and cfg.data.dev_manifest:
        num_asr = cfg.eval.num_asr if cfg.task_mix.asr > 0 else 0  # a TTS-only model cannot transcribe
        evaluator = Evaluator(LatentCorpus(cfg.data.dev_manifest), tok, num_tts=cfg.eval.num_tts, num_asr=num_asr,
                              seed=cfg.seed, max_prompt_frames=cfg.data.max_prompt_frames,
                              tts_units=cfg.model.text_tokenizer.tts_units, aligned=cfg.model.pointer.enabled)
    logger = RunLogger(Path(cfg.exp_dir) / "tensorboard", enabled=runtime.is_main, total_steps=cfg.steps,
                       initial_step=state.step)
    if resume_from is not None:
        load_rng_state(resume_from)  # last, after everything that might draw random numbers
    return Run(cfg, runtime, model, unit, streams, evaluator, logger, state)


def train_step(run: Run, meter: Meter) -> float:
    """One optimizer step over grad_accum micro-batches; returns the grad norm."""
    cfg, runtime = run.cfg, run.runtime
    for micro in range(cfg.grad_accum):
        micro_step = run.state.step * cfg.grad_accum + micro
        task = task_for_step(cfg.seed, micro_step, cfg.task_mix.tts_probability)
        batch_in = run.streams[task].next_batch()
        batch = run.model.build(batch_in.examples).to(runtime.device)
        seed = (cfg.seed * 1_000_003 + micro_step) * 4096 + runtime.rank
        generator = torch.Generator(device=runtime.device).manual_seed(seed)
        with runtime.autocast():
            out = run.unit.module(batch, generator=generator)
        run.unit.backward(out.loss / cfg.grad_accum)
        meter.add(out, int(batch.lengths.sum()), batch_in.frames)
    return float(run.unit.step())


def _record(run: Run, values: dict, prefix: str) -> None:
    run.logger.scalars({k: v for k, v in values.items() if isinstance(v, float)}, run.state.step, prefix=prefix)
    if run.runtime.is_main:
        with open(Path(run.cfg.exp_dir) / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps({"step": run.state.step, "kind": prefix.rstrip("/"), **values}) + "\n")


def evaluate(run: Run) -> None:
    result = run.evaluator.run(run.unit.unwrapped, run.runtime.autocast)
    values = {"flow": result.flow, "stop": result.stop, "token_accuracy": result.token_accuracy}
    if run.evaluator.asr:
        values["wer"] = result.wer
        run.logger.text("eval/asr", "\n\n".join(f"REF: {r}  \nHYP: {h}" for r, h in result.examples), run.state.step)
    _record(run, values, "eval/")


def checkpoint(run: Run) -> Path:
    positions = {task: vars(s.position) for task, s in run.streams.items()}
    state = TrainState(step=run.state.step, data=run.streams[next(iter(run.streams))].position,
                       extra={"positions": positions})
    return save_checkpoint(Path(run.cfg.exp_dir) / "checkpoints", {"model": run.unit}, state, config=run.cfg,
                           keep_last=run.cfg.keep_last)


def train(cfg: UnifiedTrainConfig) -> Run:
    """Run (or continue) training to cfg.steps; returns the finished Run (its model is trained)."""
    run = setup(cfg)
    if run.runtime.is_main:
        Path(cfg.exp_dir).mkdir(parents=True, exist_ok=True)
    if run.evaluator is not None and cfg.eval.at_start and run.state.step == 0:
        evaluate(run)
    meter = Meter()
    while run.state.step < cfg.steps:
        grad_norm = train_step(run, meter)
        run.state.step += 1
        step = run.state.step
        if step % cfg.log_interval == 0 or step == cfg.steps:
            values = {**meter.summary(run.runtime.world_size), "lr": run.unit.lr(), "grad_norm": grad_norm}
            _record(run, values, "train/")
            run.logger.progress(0, {k: values[k] for k in ("loss", *METRIC_NAMES) if k in values})
            meter = Meter()
        run.logger.progress(1)
        if run.evaluator is not None and (step % cfg.eval.interval == 0 or step == cfg.steps):
            evaluate(run)
        if step % cfg.ckpt_interval == 0 or step == cfg.steps:
            checkpoint(run)
    run.logger.close()
    run.runtime.barrier()
    return run
