"""The LLM backbone: any Hugging Face causal LM, fed `inputs_embeds`, exposing hidden states.

We call the decoder stack (`get_decoder()`) and the output embedding (`get_output_embeddings()`)
ourselves instead of the CausalLM forward, so that (a) the hidden state before the LM head is
available to the DiT and stop heads, and (b) logits can be computed only where text is predicted
(the 151,936-way projection is the most expensive op of a 0.5B model on long audio sequences).

The attention backend is chosen once, in `select_attn_implementation` (flash-attn is an optional
extra, imported lazily and only when CUDA is present).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from unified_lm.config import BackboneConfig


def select_attn_implementation(requested: str = "auto") -> str:
    """The one place the attention backend is decided.

    "auto": "flash_attention_2" only when CUDA is available AND `flash_attn` is importable, else
    "sdpa" (transformers raises ImportError if asked for flash_attention_2 without the package).
    An explicit request is honoured, except flash_attention_2 without CUDA/flash_attn, which
    fails here with a message instead of deep inside transformers.
    """
    flash_ok = torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None
    if requested == "auto":
        return "flash_attention_2" if flash_ok else "sdpa"
    if requested == "flash_attention_2" and not flash_ok:
        raise ImportError(
            "attn_implementation='flash_attention_2' needs a CUDA device and the flash-attn package "
            "(pip install 'holitok[gpu]'); use 'auto' or 'sdpa' instead"
        )
    if requested not in ("sdpa", "eager", "flash_attention_2"):
        raise ValueError(f"unknown attn_implementation {requested!r}; use auto, sdpa, eager or flash_attention_2")
    return requested


def build_hf_causal_lm(cfg: BackboneConfig, hf_config_dir: Optional[Path] = None) -> nn.Module:
    """An HF causal LM from `cfg`: real weights for `pretrained`, random init otherwise (offline).

    `hf_config_dir` (a directory with an HF config.json) overrides the source: random init from
    that config (checkpoint loading fills the weights afterwards). Respects an enclosing
    `with torch.device("meta"):` for fast shape-only builds.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    attn = select_attn_implementation(cfg.attn_implementation)
    if hf_config_dir is not None:
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(hf_config_dir)), attn_implementation=attn)
    elif cfg.pretrained is not None:
        model = AutoModelForCausalLM.from_pretrained(cfg.pretrained, attn_implementation=attn)
    else:
        hf_cfg = AutoConfig.for_model(**cfg.hf_config_dict())
        model = AutoModelForCausalLM.from_config(hf_cfg, attn_implementation=attn)
    if cfg.gradient_checkpointing:
        # transformers >= 5.2x renamed it (the GPU image has 5.17): use whichever exists.
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


@dataclass
class BackboneOutput:
    """hidden [B, L, H] (last layer, after the final norm, before the LM head); logits [B, L, V],
    or [N, V] for the N True positions of `logits_mask` (row-major), or None; past_key_values: the
    HF cache (a `transformers.Cache`) when use_cache=True, else None."""

    hidden: torch.Tensor
    logits: Optional[torch.Tensor]
    past_key_values: Optional[Any]


class Backbone(nn.Module):
    """Wraps an HF causal LM (composition: it receives the model; see `build_hf_causal_lm`)."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm  # the only registered child: decoder / LM head are looked up, not re-registered
        if lm.get_output_embeddings() is None:
            raise ValueError(f"{type(lm).__name__} has no output embeddings: the backbone must be a causal LM")

    @property
    def config(self) -> Any:
        """The HF model config."""
        return self.lm.config

    @property
    def hidden_size(self) -> int:
        return self.lm.config.hidden_size

    @property
    def vocab_size(self) -> int:
        """Rows of the input embedding (ids must be < this)."""
        return self.lm.get_input_embeddings().num_embeddings

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """input_ids [B, L] (long) -> embeddings [B, L, H]."""
        return self.lm.get_input_embeddings()(input_ids)

    def resize_vocab(self, vocab_size: int) -> None:
        """Grow the embedding (and untied LM head) to hold `vocab_size` ids (new special tokens)."""
        if vocab_size > self.vocab_size:
            self.lm.resize_token_embeddings(vocab_size)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        past_key_values: Optional[Any] = None,
        use_cache: bool = False,
        logits_mask: Optional[torch.Tensor] = None,
        compute_logits: bool = True,
    ) -> BackboneOutput:
        """inputs_embeds [B, L, H]; attention_mask [B, L_past + L] (1 = real token); position_ids
        [B, L]; past_key_values: a cache from a previous call (its length is L_past).

        logits: all positions [B, L, V] by default, only `logits_mask` [B, L] (bool) positions
        ([N, V]) if given, none if compute_logits=False.
        """
        out = self.lm.get_decoder()(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        hidden = out.last_hidden_state  # [B, L, H]
        logits = None
        if compute_logits:
            lm_head = self.lm.get_output_embeddings()
            logits = lm_head(hidden if logits_mask is None else hidden[logits_mask])  # [B, L, V] | [N, V]
        return BackboneOutput(hidden=hidden, logits=logits, past_key_values=out.past_key_values if use_cache else None)
