"""Frozen teacher models and the LM decoder, built through transformers (imported lazily here only).

A teacher "path" is a local Hugging Face directory (or hub id where a hub is reachable), or the
string "tiny-random": a tiny randomly initialised model built with `from_config` (tests and CPU
smoke runs; no downloads). Teachers run in eval mode without gradients; the LM decoder is
returned trainable or frozen as the caller decides.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

TINY = "tiny-random"


class WavLMTeacher(nn.Module):
    """wav16k [B, S] -> hidden states of one layer [B, T50, C] (50 Hz for WavLM/HuBERT)."""

    def __init__(self, path: str, layer: int, normalize: bool = True) -> None:
        super().__init__()
        from transformers import AutoModel, WavLMConfig

        if path == TINY:
            cfg = WavLMConfig(
                hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                conv_dim=(16, 16, 16, 16, 16, 16, 16), num_buckets=16, num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2, do_stable_layer_norm=True, feat_extract_norm="layer",
            )
            from transformers import WavLMModel

            self.model = WavLMModel(cfg)
        else:
            self.model = AutoModel.from_pretrained(path)
        n = self.model.config.num_hidden_layers
        if not 0 <= layer <= n:
            raise ValueError(f"teacher layer {layer} out of range: {path} has hidden states 0..{n}")
        self.layer, self.normalize = layer, normalize
        self.dim = self.model.config.hidden_size
        self.model.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, wav16k: torch.Tensor, lengths16k: torch.Tensor) -> torch.Tensor:
        wav = _normalize(wav16k, lengths16k) if self.normalize else wav16k
        mask = _sample_mask(wav, lengths16k)
        out = self.model(wav, attention_mask=mask.long(), output_hidden_states=True)
        return out.hidden_states[self.layer]


class SpeakerTeacher(nn.Module):
    """wav16k [B, S] -> utterance embedding [B, E]. Wraps WavLMForXVector (its `.embeddings`) or
    any module returning a tensor [B, E] (pass it as `module`)."""

    def __init__(self, path: str | None = None, module: nn.Module | None = None) -> None:
        super().__init__()
        if module is None:
            from transformers import AutoModelForAudioXVector, WavLMConfig, WavLMForXVector

            if path == TINY:
                cfg = WavLMConfig(
                    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    conv_dim=(16, 16, 16, 16, 16, 16, 16), num_buckets=16, num_conv_pos_embeddings=16,
                    num_conv_pos_embedding_groups=2, tdnn_dim=(16, 16, 16, 16, 32), xvector_output_dim=24,
                )
                module = WavLMForXVector(cfg)
            else:
                module = AutoModelForAudioXVector.from_pretrained(path)
        self.model = module.eval().requires_grad_(False)
        config = getattr(module, "config", None)
        self.dim = getattr(config, "xvector_output_dim", None) or getattr(module, "embedding_dim")

    @torch.no_grad()
    def forward(self, wav16k: torch.Tensor, lengths16k: torch.Tensor) -> torch.Tensor:
        mask = _sample_mask(wav16k, lengths16k)
        try:
            out = self.model(wav16k, attention_mask=mask.long())
        except TypeError:  # a plain module without attention_mask
            out = self.model(wav16k)
        return out.embeddings if hasattr(out, "embeddings") else out


def build_causal_lm(path: str, trainable: bool) -> tuple[nn.Module, Any]:
    """(AutoModelForCausalLM, text tokenizer). "tiny-random" = a tiny Qwen2 + a byte tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    if path == TINY:
        cfg = Qwen2Config(
            vocab_size=ByteTokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024, tie_word_embeddings=True,
        )
        lm, tokenizer = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa"), ByteTokenizer()
    else:
        lm = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa")
        tokenizer = AutoTokenizer.from_pretrained(path)
    lm.requires_grad_(trainable)
    return lm, tokenizer


class ByteTokenizer:
    """UTF-8 bytes + 3 (0 pad, 1 bos, 2 eos): the tokenizer of the tiny random LM."""

    vocab_size = 259
    eos_token_id = 2

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [b + 3 for b in text.encode("utf-8")]


def _sample_mask(wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, S] bool, True on valid samples."""
    return torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]


def _normalize(wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per item over its valid samples (WavLM-Large's feature extractor)."""
    mask = _sample_mask(wav, lengths).to(wav.dtype)
    n = mask.sum(1, keepdim=True).clamp(min=1)
    mean = (wav * mask).sum(1, keepdim=True) / n
    var = (((wav - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return (wav - mean) / (var + 1e-7).sqrt() * mask
