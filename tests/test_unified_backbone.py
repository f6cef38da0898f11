"""Backbone wrapper: parity with the plain HF model (tiny random Qwen2, no downloads), logits only
where needed, KV cache == recompute, pretrained-path loading, one attention-backend decision."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen2Config

from unified_lm import backbone as backbone_mod
from unified_lm.backbone import Backbone, build_hf_causal_lm, select_attn_implementation
from unified_lm.config import BackboneConfig


def tiny_qwen2(seed: int = 0, vocab: int = 97) -> torch.nn.Module:
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=False)
    return AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa").eval()


def inputs(b: int = 2, length: int = 7, hidden: int = 64):
    torch.manual_seed(1)
    embeds = torch.randn(b, length, hidden)  # [B, L, H]
    mask = torch.ones(b, length, dtype=torch.long)
    mask[1, 5:] = 0  # right padding in row 1
    return embeds, mask


def test_parity_with_plain_hf_model():
    hf = tiny_qwen2()
    ours = Backbone(hf)
    embeds, mask = inputs()
    with torch.no_grad():
        ref = hf(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
        out = ours(embeds, mask)
    valid = mask.bool()
    assert torch.equal(out.logits[valid], ref.logits[valid])
    assert torch.equal(out.hidden[valid], hf.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state[valid])
    assert torch.allclose(hf.lm_head(out.hidden), out.logits, atol=1e-6)  # hidden is pre-LM-head
    assert out.past_key_values is None and out.hidden.shape == (2, 7, 64) and out.logits.shape == (2, 7, 97)


def test_logits_only_where_needed():
    ours = Backbone(tiny_qwen2())
    embeds, mask = inputs()
    keep = torch.zeros(2, 7, dtype=torch.bool)
    keep[0, 2], keep[1, 4], keep[0, 6] = True, True, True
    with torch.no_grad():
        full = ours(embeds, mask)
        part = ours(embeds, mask, logits_mask=keep)
        none = ours(embeds, mask, compute_logits=False)
    assert part.logits.shape == (3, 97) and torch.allclose(part.logits, full.logits[keep], atol=1e-6)
    assert none.logits is None and torch.equal(none.hidden, full.hidden)


def test_kv_cache_equals_recompute():
    ours = Backbone(tiny_qwen2())
    embeds, _ = inputs(b=2, length=9)
    mask = torch.ones(2, 9, dtype=torch.long)
    with torch.no_grad():
        full = ours(embeds, mask)
        first = ours(embeds[:, :6], mask[:, :6], use_cache=True)
        pos = torch.arange(6, 9).expand(2, -1)  # [B, 3]
        rest = ours(embeds[:, 6:], mask, position_ids=pos, past_key_values=first.past_key_values, use_cache=True)
    assert torch.allclose(torch.cat([first.hidden, rest.hidden], 1), full.hidden, atol=1e-5)
    assert torch.allclose(rest.logits, full.logits[:, 6:], atol=1e-5)
    assert rest.past_key_values.get_seq_length() == 9


def test_build_from_local_pretrained_dir_and_shipped_config(tmp_path):
    hf = tiny_qwen2(seed=3)
    hf.save_pretrained(str(tmp_path / "lm"))
    cfg = BackboneConfig(pretrained=str(tmp_path / "lm"), attn_implementation="sdpa", gradient_checkpointing=True)
    cfg.validate()
    assert (cfg.hidden, cfg.vocab) == (64, 97)
    loaded = build_hf_causal_lm(cfg)
    assert any(getattr(m, "gradient_checkpointing", False) for m in loaded.modules())
    for (name, a), (_, b) in zip(hf.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    shipped = BackboneConfig(config_name="qwen2.5-0.5b")
    shipped.validate()
    assert (shipped.hidden, shipped.vocab) == (896, 151936)


def test_attention_backend_is_decided_in_one_place(monkeypatch):
    assert select_attn_implementation("sdpa") == "sdpa" and select_attn_implementation("eager") == "eager"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_attn_implementation("auto") == "sdpa"
    with pytest.raises(ImportError, match="flash-attn"):
        select_attn_implementation("flash_attention_2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(backbone_mod.importlib.util, "find_spec", lambda name: object() if name == "flash_attn" else None)
    assert select_attn_implementation("auto") == "flash_attention_2"
    with pytest.raises(ValueError, match="unknown attn_implementation"):
        select_attn_implementation("xformers")
