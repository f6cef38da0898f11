"""Training the CTC aligner on a latent manifest, and extracting `unit_starts` into a manifest.

Training is short (minutes on a CPU) and deterministic in `seed`: length-sorted batches of about
`max_frames` latent frames, drawn at random; AdamW with warm-up and cosine decay. It is not
resumable: an interrupted run is simply run again.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from holitok_common.data.manifests import save_cuts
from unified_lm.aligner.model import BLANK, AlignerConfig, CTCAligner, forced_align, unit_labels
from unified_lm.train.data import LatentCorpus, Utterance

log = logging.getLogger(__name__)


def _batches(utts: list[Utterance], max_frames: int) -> list[list[Utterance]]:
    batches, current, frames = [], [], 0
    for utt in sorted(utts, key=lambda u: (u.num_frames, u.cut_id)):
        if current and frames + utt.num_frames > max_frames:
            batches.append(current)
            current, frames = [], 0
        current.append(utt)
        frames += utt.num_frames
    return batches + [current] if current else batches


def train_aligner(manifest: str | Path, out: str | Path, *, steps: int = 1500, lr: float = 2e-3,
                  max_frames: int = 2500, seed: int = 0, log_every: int = 100) -> CTCAligner:
    """Train on `manifest` (cuts_with_latents.jsonl.gz; latent_stats.json beside it); save to `out`."""
    torch.manual_seed(seed)
    corpus = LatentCorpus(manifest)
    stats_file = Path(manifest).parent / "latent_stats.json"
    if not stats_file.is_file():
        raise FileNotFoundError(f"{stats_file} is missing: the aligner normalises latents with the statistics "
                                "`holitok-tokenizer extract` writes next to the manifest")
    stats = json.loads(stats_file.read_text())
    first = next(iter(corpus.utts.values())).latents()
    model = CTCAligner(AlignerConfig(first.shape[1]), torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    batches = _batches(list(corpus.utts.values()), max_frames)
    labels = {u.cut_id: torch.tensor(unit_labels(u.text)) for u in corpus.utts.values()}
    empty = [c for c, y in labels.items() if y.numel() == 0]
    if empty:
        raise ValueError(f"{len(empty)} cut(s) of {manifest} have empty text (e.g. {empty[0]}); filter them out")
    cache: dict[str, torch.Tensor] = {}
    rng, start, up = random.Random(seed), time.perf_counter(), model.cfg.upsample
    model.train()
    for step in range(1, steps + 1):
        scale = min(1.0, step / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr * scale
        batch = rng.choice(batches)
        xs = [cache.setdefault(u.cut_id, u.latents()) for u in batch]
        ys = [labels[u.cut_id] for u in batch]
        log_probs = model(nn.utils.rnn.pad_sequence(xs, batch_first=True))  # [B, T*up, C]
        loss = F.ctc_loss(log_probs.transpose(0, 1), torch.cat(ys), torch.tensor([up * len(x) for x in xs]),
                          torch.tensor([len(y) for y in ys]), blank=BLANK, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % log_every == 0 or step == steps:
            log.info("aligner step %d/%d: CTC %.3f per unit, lr %.2e, %.0f s", step, steps, loss.item(),
                     lr * scale, time.perf_counter() - start)
    model.eval()
    model.save(out)
    return model


@torch.no_grad()
def extract_alignments(aligner: CTCAligner, manifest: str | Path, out_manifest: str | Path) -> dict[str, float]:
    """Write `out_manifest`: the cuts of `manifest` with custom["unit_starts"] (the latent frame at
    which each text unit starts). Returns summary statistics (mean per-unit log-probability of the
    alignment, units per second). Raises for a cut that cannot be aligned (never skipped)."""
    corpus = LatentCorpus(manifest)
    up = aligner.cfg.upsample
    scores, units, frames, cuts = [], 0, 0, []
    for cut in corpus.cuts:
        utt = corpus.utts[cut.id]
        labels = unit_labels(utt.text)
        log_probs = aligner(utt.latents()[None])[0].numpy()  # [T*up, C]
        try:
            starts = forced_align(log_probs, labels)
        except ValueError as exc:
            raise ValueError(f"cut {cut.id} ({utt.num_frames} frames, text {utt.text[:60]!r}): {exc}") from exc
        scores.append(float(np.mean([log_probs[s, lab] for s, lab in zip(starts, labels)])))
        units, frames = units + len(labels), frames + utt.num_frames
        cuts.append(cut.with_custom("unit_starts", [s // up for s in starts]))
    save_cuts(cuts, out_manifest)
    return {"cuts": len(cuts), "mean_unit_logprob": float(np.mean(scores)), "units_per_frame": units / max(frames, 1)}
