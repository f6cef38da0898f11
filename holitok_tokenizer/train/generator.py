"""The trainable generator side of a stage: HoliTok + the flow and the enrichment heads.

`TokenizerGenerator.forward` runs everything that needs generator parameters (so that DDP /
DeepSpeed see one forward per step) and returns a typed `GeneratorForward`.

Stage I bypass: a deterministic autoencoder, `decoder(audio_encoder(wav))`. In our graph (which
mirrors the official runtime) the encoder's output conv already produces D = latent_dim channels
at the frame rate and the decoder's conv_pre reads D channels, so "bypass" means skipping the
whole variational bottleneck: enc_mi_layer (LSTM stack), pre_proj (mean/log_std), sampling,
post_proj and dec_mi_layer. Those stay at their initial values in stage I and are the only part
stage II trains, learning to map the (frozen) encoder's latent space through a noisy, KL-
regularised channel back into what the (frozen) decoder already understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from holitok_tokenizer import HoliTok, checks
from holitok_tokenizer.train.ctc import CharCTCHead
from holitok_tokenizer.train.flow import LatentFlow, flow_kl
from holitok_tokenizer.train.supervision import FrameDistillHead, LMSupervision, UtteranceDistillHead

BOTTLENECK = ("enc_mi_layer", "pre_proj", "post_proj", "dec_mi_layer")
AUTOENCODER = ("audio_encoder", "decoder")


@dataclass
class GeneratorForward:
    """wav [B, S] reconstruction (zero beyond lengths); scalar losses (0 when inactive)."""

    wav: torch.Tensor
    kl: torch.Tensor
    wavlm: torch.Tensor
    xvector: torch.Tensor
    lm: torch.Tensor
    ctc: torch.Tensor


@dataclass
class TeacherTargets:
    """Frozen-teacher outputs for a batch: wavlm [B, T50, C] or None; xvector [B, E] or None."""

    wavlm: torch.Tensor | None = None
    xvector: torch.Tensor | None = None


def set_trainable(tokenizer: HoliTok, stage: str) -> None:
    """Freeze exactly what the stage does not train (requires_grad=False: no grads, no updates)."""
    trains = {"I": AUTOENCODER, "II": BOTTLENECK, "III": AUTOENCODER + BOTTLENECK}[stage]
    for name, child in tokenizer.named_children():
        child.requires_grad_(name in trains)


class TokenizerGenerator(nn.Module):
    """HoliTok plus training-only parts: `flow` (stages II/III), distill heads and LM supervision."""

    def __init__(
        self,
        tokenizer: HoliTok,
        stage: str,
        flow: LatentFlow | None = None,
        wavlm_head: FrameDistillHead | None = None,
        xvector_head: UtteranceDistillHead | None = None,
        lm_supervision: LMSupervision | None = None,
        ctc_head: CharCTCHead | None = None,
    ) -> None:
        super().__init__()
        self.tokenizer, self.stage = tokenizer, stage
        self.flow, self.wavlm_head, self.xvector_head = flow, wavlm_head, xvector_head
        self.lm_supervision, self.ctc_head = lm_supervision, ctc_head
        set_trainable(tokenizer, stage)

    def autoencode(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Stage I: decoder(audio_encoder(wav)) with the bottleneck bypassed. [B, S] -> [B, T * hop]."""
        return self._autoencode(wav, lengths)[0]

    def _autoencode(self, wav: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`autoencode`, also returning the encoder's latents [B, T, D] (zero beyond frame_lengths) and
        frame_lengths [B] (for the CTC head)."""
        tok = self.tokenizer
        wav, lengths = checks.check_wav(wav, lengths, tok.max_samples, tok.sample_rate)
        num_frames = tok.num_frames(wav.shape[1])
        frame_lengths = (lengths + tok.hop - 1) // tok.hop
        valid = torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]
        frame_mask = torch.arange(num_frames, device=wav.device)[None, :] < frame_lengths[:, None]  # [B, T]
        h = tok.audio_encoder((wav * valid.to(wav.dtype))[:, None, :], frame_mask)  # [B, D, T]
        h = h * frame_mask[:, None, :].to(h.dtype)
        return tok.decoder(h)[:, 0, :], h.transpose(1, 2), frame_lengths

    def forward(
        self,
        wav: torch.Tensor,
        lengths: torch.Tensor,
        teachers: TeacherTargets | None = None,
        labels: Mapping[str, Sequence[str | None]] | None = None,
    ) -> GeneratorForward:
        """wav [B, S] at the tokenizer's rate, lengths [B] samples."""
        zero = wav.new_zeros(())
        num_samples = wav.shape[1]
        valid = torch.arange(num_samples, device=wav.device)[None, :] < lengths[:, None]
        if self.stage == "I":
            out, latents, frame_lengths = self._autoencode(wav, lengths)
            out = out[:, :num_samples] * valid.to(wav.dtype)
            return GeneratorForward(out, zero, zero, zero, zero, self._ctc(latents, frame_lengths, labels, zero))
        enc = self.tokenizer.encode(wav, lengths, sample=True)
        dec = self.tokenizer.decode(enc.latents, enc.frame_lengths)
        out = dec.wav[:, :num_samples] * valid.to(dec.wav.dtype)
        frame_mask = torch.arange(enc.latents.shape[1], device=wav.device)[None, :] < enc.frame_lengths[:, None]
        kl = flow_kl(enc.latents, enc.mean, enc.log_std, self.flow, frame_mask) if self.flow is not None else zero
        teachers = teachers or TeacherTargets()
        wavlm = xvector = lm = zero
        if self.wavlm_head is not None and teachers.wavlm is not None:
            wavlm = self.wavlm_head(enc.latents, teachers.wavlm, frame_mask)
        if self.xvector_head is not None and teachers.xvector is not None:
            xvector = self.xvector_head(enc.latents, teachers.xvector, frame_mask)
        if self.lm_supervision is not None and labels:
            lm = self.lm_supervision(enc.latents, enc.frame_lengths, labels)
        ctc = self._ctc(enc.latents, enc.frame_lengths, labels, zero)
        return GeneratorForward(out, kl, wavlm, xvector, lm, ctc)

    def _ctc(self, latents: torch.Tensor, frame_lengths: torch.Tensor,
             labels: Mapping[str, Sequence[str | None]] | None, zero: torch.Tensor) -> torch.Tensor:
        """Character CTC on the latents against the ASR labels (None per cropped item); 0 without a head."""
        if self.ctc_head is None:
            return zero
        if not labels or "asr" not in labels:
            raise ValueError("loss.ctc > 0 needs the transcripts: the trainer passes labels when loss.ctc > 0")
        return self.ctc_head(latents, frame_lengths, labels["asr"])
