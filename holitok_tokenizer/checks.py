"""Input validation for `HoliTok.encode` / `decode`: user errors fail early with a clear message."""

from __future__ import annotations

import torch


class TokenizerInputError(ValueError):
    """A waveform, latent or length tensor that the tokenizer cannot process."""


def _check_tensor(x: torch.Tensor, name: str, shape_doc: str, rank: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TokenizerInputError(f"{name} must be a torch.Tensor {shape_doc}, got {type(x).__name__}")
    if x.dim() != rank:
        hint = f" (for one item use {name}[None])" if x.dim() == rank - 1 else ""
        raise TokenizerInputError(f"{name} must have shape {shape_doc}, got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise TokenizerInputError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.numel() == 0:
        raise TokenizerInputError(f"{name} is empty (shape {tuple(x.shape)})")


def _check_finite(x: torch.Tensor, name: str) -> None:
    """Last, after the cheap shape checks: this one reads every value."""
    if not bool(torch.isfinite(x).all()):
        raise TokenizerInputError(f"{name} contains NaN or infinite values")


def _check_lengths(lengths: torch.Tensor | None, batch: int, limit: int, name: str, unit: str, device) -> torch.Tensor:
    """[B] integer lengths in [1, limit]; None means every item is `limit` long."""
    if lengths is None:
        return torch.full((batch,), limit, dtype=torch.long, device=device)
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1 or lengths.shape[0] != batch:
        shape = tuple(lengths.shape) if isinstance(lengths, torch.Tensor) else type(lengths).__name__
        raise TokenizerInputError(f"{name} must be a 1-D tensor of {batch} {unit} counts, got {shape}")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise TokenizerInputError(f"{name} must hold integers ({unit}), got {lengths.dtype}")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > limit:
        raise TokenizerInputError(f"{name} must lie in [1, {limit}] {unit} (the padded size), got min {lo}, max {hi}")
    return lengths.to(device=device, dtype=torch.long)


def check_wav(
    wav: torch.Tensor, lengths: torch.Tensor | None, max_samples: int, sample_rate: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate wav [B, S] and lengths [B] (samples); return (wav, lengths as long)."""
    _check_tensor(wav, "wav", "[B, S] (batch, samples)", 2)
    if wav.shape[1] > max_samples:
        raise TokenizerInputError(
            f"wav has {wav.shape[1]} samples ({wav.shape[1] / sample_rate:.1f} s at {sample_rate} Hz), more than "
            f"the limit {max_samples / sample_rate:.0f} s (config max_seconds); split the audio into chunks"
        )
    lengths = _check_lengths(lengths, wav.shape[0], wav.shape[1], "lengths", "samples", wav.device)
    _check_finite(wav, "wav")
    return wav, lengths


def check_latents(
    latents: torch.Tensor, frame_lengths: torch.Tensor | None, latent_dim: int, max_frames: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate latents [B, T, D] and frame_lengths [B] (frames); return (latents, lengths as long)."""
    _check_tensor(latents, "latents", f"[B, T, D={latent_dim}] (channel-last)", 3)
    if latents.shape[2] != latent_dim:
        raise TokenizerInputError(
            f"latents have {latents.shape[2]} channels but this tokenizer's latent_dim is {latent_dim}; "
            f"expected [B, T, {latent_dim}] (channel-last)"
        )
    if latents.shape[1] > max_frames:
        raise TokenizerInputError(f"latents have {latents.shape[1]} frames, more than the limit {max_frames}")
    frame_lengths = _check_lengths(frame_lengths, latents.shape[0], latents.shape[1], "frame_lengths", "frames", latents.device)
    _check_finite(latents, "latents")
    return latents, frame_lengths
