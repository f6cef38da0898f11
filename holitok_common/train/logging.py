"""Run logging on rank 0: TensorBoard scalars, mel-spectrogram images and audio; a tqdm bar.

Every method is a no-op on other ranks, so trainers call them unconditionally. TensorBoard and
matplotlib are imported lazily (matplotlib with the headless Agg backend).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import torch


class RunLogger:
    """TensorBoard writer + progress bar. `log_dir` receives the event files.

    The progress bar counts optimizer steps from `initial_step` to `total_steps` and shows rate
    (steps/s) and ETA; `postfix` scalars are shown next to it. Scalars are also appended to
    `log_dir/metrics.jsonl` ({"step": N, "train/loss": ...} per call; after a resume, steps logged
    after the checkpoint appear again: the last line for a step wins).
    """

    def __init__(self, log_dir: str | Path, *, enabled: bool, total_steps: int, initial_step: int = 0) -> None:
        self.enabled = enabled
        self.writer = None
        self.bar = None
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.jsonl = Path(log_dir) / "metrics.jsonl"
        self.writer = SummaryWriter(str(log_dir))
        self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True, smoothing=0.1)

    def scalars(self, values: Mapping[str, float | torch.Tensor], step: int, prefix: str = "train/") -> None:
        if not self.enabled:
            return
        record = {"step": step}
        for name, value in values.items():
            self.writer.add_scalar(prefix + name, float(value), step)
            record[prefix + name] = float(value)
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def progress(self, n: int = 1, postfix: Mapping[str, float] | None = None) -> None:
        if not self.enabled:
            return
        if postfix:
            self.bar.set_postfix({k: f"{float(v):.4g}" for k, v in postfix.items()}, refresh=False)
        self.bar.update(n)

    def audio(self, tag: str, wav: torch.Tensor, sample_rate: int, step: int) -> None:
        """wav: [S] samples in [-1, 1]."""
        if not self.enabled:
            return
        self.writer.add_audio(tag, wav.detach().float().cpu().clamp(-1, 1).unsqueeze(0), step, sample_rate=sample_rate)

    def mel_image(self, tag: str, mels: Mapping[str, torch.Tensor], step: int) -> None:
        """mels: name -> log-mel [n_mels, frames]; drawn one above the other in a single figure."""
        if not self.enabled:
            return
        self.writer.add_figure(tag, mel_figure(mels), step)

    def text(self, tag: str, value: str, step: int) -> None:
        if self.enabled:
            self.writer.add_text(tag, value, step)

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.writer.flush()
            self.writer.close()


def mel_figure(mels: Mapping[str, torch.Tensor]):
    """A matplotlib figure with one log-mel panel per entry (frames on x, mel bins on y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(mels), 1, figsize=(10, 2.5 * len(mels)), squeeze=False)
    for ax, (name, mel) in zip(axes[:, 0], mels.items()):
        ax.imshow(mel.detach().float().cpu().numpy(), origin="lower", aspect="auto", interpolation="none")
        ax.set_title(name)
        ax.set_ylabel("mel bin")
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    return fig
