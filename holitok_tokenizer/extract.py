"""`holitok-tokenizer extract`: latents for every cut of a lhotse CutSet, resumable, plus statistics.

Output directory layout (the contract with the unified model):
    D/latents/<cut_id>.npy         [T, D] float32, T = ceil(num_samples / hop) at the model's rate
    D/cuts_with_latents.jsonl.gz   the input cuts, each with custom["latents_path"] (absolute path)
                                   and custom["num_frames"] (T)
    D/latent_stats.json            {"mean": [D], "std": [D], "count": N_frames, "latent_dim": D,
                                    "frame_rate": Hz} over all frames of all cuts (population std)
Each .npy is written atomically (temp file + rename), so after a kill the run can simply be
started again: cuts whose file exists are skipped. The manifest and the statistics are rebuilt
from all files at the end of every run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from holitok_common.audio import AudioError, read_audio, resample
from holitok_common.data.manifests import load_cuts
from holitok_tokenizer.model import HoliTok


@dataclass
class ExtractSummary:
    encoded: int  # cuts encoded in this run
    skipped: int  # cuts whose latents already existed
    num_frames: int  # frames over all cuts
    manifest: Path
    stats: Path


def latent_file_name(cut_id: str) -> str:
    """A file name for a cut id (path separators replaced, so ids cannot escape the folder)."""
    safe = cut_id.replace(os.sep, "__").replace("/", "__")
    if safe.startswith("."):
        safe = "_" + safe
    return safe + ".npy"


def load_cut_audio(cut, sample_rate: int) -> torch.Tensor:
    """Mono float32 [S] of one cut at `sample_rate`; whole-file cuts go through holitok_common.audio."""
    rec = cut.recording
    whole = len(rec.sources) == 1 and rec.sources[0].type == "file" and cut.start == 0 and abs(cut.duration - rec.duration) < 1e-6
    if whole:
        wav, sr = read_audio(rec.sources[0].source)
    else:  # a slice of a longer recording, or a non-file source: lhotse reads just that part
        wav, sr = torch.from_numpy(np.asarray(cut.load_audio(), dtype=np.float32)).mean(dim=0), cut.sampling_rate
    if wav.numel() == 0:
        raise AudioError(f"cut {cut.id}: audio is empty")
    return resample(wav, sr, sample_rate)


def _batches(cuts: list, max_seconds: float) -> Iterator[list]:
    """Greedy batches of cuts (sorted by duration) whose total duration stays <= max_seconds."""
    batch, total = [], 0.0
    for cut in sorted(cuts, key=lambda c: c.duration):
        if batch and total + cut.duration > max_seconds:
            yield batch
            batch, total = [], 0.0
        batch.append(cut)
        total += cut.duration
    if batch:
        yield batch


@torch.no_grad()
def _encode_batch(model: HoliTok, wavs: list[torch.Tensor], sample: bool, generator) -> list[np.ndarray]:
    """Pad to [B, S_max], encode, return one [T_i, D] float32 array per item."""
    device = model.pre_proj.weight.device
    lengths = torch.tensor([w.numel() for w in wavs], device=device)
    padded = torch.zeros(len(wavs), int(lengths.max()), device=device)
    for i, w in enumerate(wavs):
        padded[i, : w.numel()] = w.to(device)
    out = model.encode(padded, lengths, sample=sample, generator=generator)
    latents = out.latents.float().cpu().numpy()
    return [latents[i, : int(n)] for i, n in enumerate(out.frame_lengths.tolist())]


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array, dtype=np.float32))
    os.replace(tmp, path)


def _finalise(cuts: list, paths: list[Path], model: HoliTok, out_dir: Path) -> tuple[Path, Path, int]:
    """Write the manifest with latent paths and the per-dim statistics over every frame."""
    from lhotse import CutSet

    total = np.zeros(model.latent_dim, dtype=np.float64)
    total_sq = np.zeros(model.latent_dim, dtype=np.float64)
    count = 0
    annotated = []
    for cut, path in zip(cuts, paths):
        z = np.load(path, mmap_mode="r").astype(np.float64)  # [T, D]
        if z.ndim != 2 or z.shape[1] != model.latent_dim:
            raise ValueError(f"{path}: latents of shape {z.shape}, expected [T, {model.latent_dim}]; delete it and rerun")
        total += z.sum(axis=0)
        total_sq += (z * z).sum(axis=0)
        count += z.shape[0]
        annotated.append(cut.with_custom("latents_path", str(path.resolve())).with_custom("num_frames", int(z.shape[0])))
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(total_sq / max(count, 1) - mean * mean, 0.0))
    manifest = out_dir / "cuts_with_latents.jsonl.gz"
    CutSet.from_cuts(annotated).to_file(str(manifest))
    stats = out_dir / "latent_stats.json"
    data = {"mean": mean.tolist(), "std": std.tolist(), "count": count, "latent_dim": model.latent_dim,
            "frame_rate": float(model.frame_rate)}
    stats.write_text(json.dumps(data) + "\n")
    return manifest, stats, count


def extract_latents(
    model: HoliTok,
    manifest: str | Path,
    out_dir: str | Path,
    batch_seconds: float = 60.0,
    sample: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> ExtractSummary:
    """Encode every cut of `manifest` into `out_dir` (see module docstring); resumable."""
    from tqdm import tqdm

    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: manifest does not exist")
    out_dir = Path(out_dir)
    (out_dir / "latents").mkdir(parents=True, exist_ok=True)
    cuts = list(load_cuts(manifest))  # resolves paths relative to the manifest (project convention)
    paths = [out_dir / "latents" / latent_file_name(c.id) for c in cuts]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{manifest}: duplicate cut ids (or ids equal after replacing '/'); make them unique")
    pending = [c for c, p in zip(cuts, paths) if not p.is_file()]
    by_id = dict(zip((c.id for c in cuts), paths))
    rates = sorted({c.sampling_rate for c in pending} - {model.sample_rate})
    if rates:
        print(f"note: resampling cuts at {rates} Hz to the tokenizer's {model.sample_rate} Hz")
    generator = None
    if sample:
        generator = torch.Generator(device=model.pre_proj.weight.device).manual_seed(seed)
    bar = tqdm(total=len(cuts), initial=len(cuts) - len(pending), unit="cut", disable=not progress)
    for batch in _batches(pending, batch_seconds):
        wavs = [load_cut_audio(c, model.sample_rate) for c in batch]
        for cut, latents in zip(batch, _encode_batch(model, wavs, sample, generator)):
            _save_npy(by_id[cut.id], latents)
        bar.update(len(batch))
    bar.close()
    manifest_out, stats, count = _finalise(cuts, paths, model, out_dir)
    return ExtractSummary(len(pending), len(cuts) - len(pending), count, manifest_out, stats)
