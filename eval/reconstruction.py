"""Tokenizer reconstruction quality: original -> tokenizer -> reconstruction, then PESQ NB/WB,
STOI, log-mel L1, speaker similarity (reconstruction vs original), and the ASR judge's WER on the
reconstructions next to its WER on the originals (same judge, protocol `librispeech`).

The tokenizer is any object with HoliTok's interface: `sample_rate`, `frame_rate`, `latent_dim`,
and `reconstruct(wav [B,S], lengths [B], sample=False) -> .wav [B,S'], .lengths [B]` (or
`encode`/`decode` with the same shapes). The reference signal for every metric is the input as the
tokenizer saw it: the file resampled to `tok.sample_rate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch

from eval.judges import AsrJudge, SpeakerJudge, speaker_similarity
from eval.manifest import ManifestUtt
from eval.metrics import Bitrates, bitrates, common_length, log_mel, mel_config_dict, mel_distance, pesq_score, stoi_score
from eval.report import Report
from eval.scoring import ScoreResult, get_protocol, score
from holitok_common.audio import resample

METRICS = ("pesq_nb", "pesq_wb", "stoi", "mel_l1", "sim")


@dataclass
class UttRecon:
    id: str
    duration: float  # seconds
    values: dict[str, float] = field(default_factory=dict)  # metric -> value (absent = failed)
    hyp_orig: str | None = None
    hyp_recon: str | None = None


@dataclass
class ReconstructionResult:
    utts: list[UttRecon]
    means: dict[str, float]  # metric -> mean over utterances where it succeeded
    counts: dict[str, int]
    failures: dict[str, list[str]]  # metric -> ["utt: reason", ...]
    wer_recon: ScoreResult | None
    wer_orig: ScoreResult | None
    rates: Bitrates


@torch.inference_mode()
def reconstruct(tok, wav: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """[S] at tok.sample_rate -> reconstruction [S'] (trimmed to its reported length)."""
    batch, lengths = wav[None].to(device), torch.tensor([wav.shape[-1]], device=device)
    if hasattr(tok, "reconstruct"):
        out = tok.reconstruct(batch, lengths, sample=False)
    else:
        enc = tok.encode(batch, lengths, sample=False)
        out = tok.decode(enc.latents, enc.frame_lengths)
    return out.wav[0, : int(out.lengths[0])].float().cpu()


def _measure(utt: UttRecon, ref, rec, sr: int, sim: SpeakerJudge | None, failures: dict) -> None:
    fns: dict[str, Callable[[], float]] = {
        "pesq_nb": lambda: pesq_score(ref, rec, sr, "nb"),
        "pesq_wb": lambda: pesq_score(ref, rec, sr, "wb"),
        "stoi": lambda: stoi_score(ref, rec, sr),
        "mel_l1": lambda: mel_distance(ref, rec, sr),
    }
    if sim is not None:
        fns["sim"] = lambda: speaker_similarity(sim, rec, sr, ref, sr)
    for name, fn in fns.items():
        try:
            utt.values[name] = fn()
        except Exception as exc:  # e.g. PESQ's "no utterances detected" on silence: reported, not hidden
            failures.setdefault(name, []).append(f"{utt.id}: {type(exc).__name__}: {exc}")


def evaluate_reconstruction(tok, items: Iterable[ManifestUtt], asr: AsrJudge | None, sim: SpeakerJudge | None,
                            plot_dir: Path | None = None, n_plots: int = 3, device="cpu",
                            log: Callable[[str], None] = lambda _: None) -> ReconstructionResult:
    sr = int(tok.sample_rate)
    utts, failures, refs, plotted = [], {}, {}, 0
    for n, item in enumerate(items, start=1):
        ref = resample(item.wav, item.sample_rate, sr)
        rec = reconstruct(tok, ref, device)
        utt = UttRecon(item.id, ref.shape[-1] / sr)
        _measure(utt, ref, rec, sr, sim, failures)
        if asr is not None:
            refs[item.id] = item.text
            utt.hyp_orig, utt.hyp_recon = asr.transcribe(ref, sr), asr.transcribe(rec, sr)
        if plot_dir is not None and plotted < n_plots:
            plot_mels(ref, rec, sr, Path(plot_dir) / f"mel_{plotted:02d}_{_safe(item.id)}.png", item.id)
            plotted += 1
        utts.append(utt)
        if n % 20 == 0:
            log(f"reconstruction: {n} utterances")
    if not utts:
        raise ValueError("no utterances to reconstruct (empty manifest?)")
    means, counts = {}, {}
    for name in METRICS:
        vals = [u.values[name] for u in utts if name in u.values]
        counts[name], means[name] = len(vals), (sum(vals) / len(vals) if vals else math.nan)
    wer_recon = wer_orig = None
    if asr is not None:
        wer_recon = score("librispeech", refs, {u.id: u.hyp_recon for u in utts})
        wer_orig = score("librispeech", refs, {u.id: u.hyp_orig for u in utts})
    return ReconstructionResult(utts, means, counts, failures, wer_recon, wer_orig,
                                bitrates(sr, float(tok.frame_rate), int(tok.latent_dim)))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


def plot_mels(ref: torch.Tensor, rec: torch.Tensor, sr: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, rec = common_length(ref, rec)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for ax, wav, label in zip(axes, (ref, rec), ("original", "reconstruction")):
        ax.imshow(log_mel(wav, sr).numpy(), origin="lower", aspect="auto", cmap="magma")
        ax.set_ylabel(f"{label}\nmel bin")
    axes[0].set_title(f"{title} ({sr} Hz, log10 mel)")
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def reconstruction_report(res: ReconstructionResult, tokenizer: str, asr: AsrJudge | None, sim: SpeakerJudge | None) -> Report:
    metrics: dict = {f"{k}": v for k, v in res.means.items() if k != "sim" or sim is not None}
    if res.wer_recon is not None and res.wer_orig is not None:
        metrics.update(wer_recon=res.wer_recon.wer, wer_orig=res.wer_orig.wer)
    metrics.update(utterances=len(res.utts), tokens_per_s=res.rates.tokens_per_s,
                   compression_ratio=res.rates.compression_ratio, input_kbps=res.rates.input_bits_per_s / 1000,
                   latent_kbps=res.rates.latent_bits_per_s / 1000)
    metrics.update({f"{k}_count": v for k, v in res.counts.items() if k != "sim" or sim is not None})
    judges = {}
    if asr is not None:
        judges["asr"] = asr.describe()
    if sim is not None:
        judges["sim"] = sim.describe()
    details = {
        "tokenizer": tokenizer,
        "definitions": "PESQ NB at 8 kHz / WB at 16 kHz (pesq package); STOI classic at 16 kHz (pystoi); "
                       "mel_l1 = mean |log10 mel| difference; sim = cosine(recon, original) at 16 kHz; "
                       "wer_* = corpus WER (%) under protocol librispeech (Whisper normaliser); "
                       "compression_ratio = 16-bit PCM bits/s / (frame_rate x latent_dim x 32-bit floats)",
        "mel_config": str(mel_config_dict()),
        **{f"{k}_failed": v for k, v in res.failures.items()},
    }
    rows = [{"id": u.id, "duration": u.duration, **u.values, "hyp_orig": u.hyp_orig, "hyp_recon": u.hyp_recon} for u in res.utts]
    protocol = get_protocol("librispeech")
    return Report("reconstruction", protocol.name, protocol.description, metrics, judges, details, rows)
