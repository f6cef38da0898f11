"""UnifiedConfig: presets load and validate, derived values, strict overrides, and the paper preset
builds offline (meta device) with the published parameter counts."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from holitok_common.config import ConfigError, from_dict, to_dict
from unified_lm.config import PRESETS, SHIPPED_CONFIGS, UnifiedConfig, load_unified_config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_roundtrips(name):
    cfg = load_unified_config(name)
    assert cfg.dit.cond_dim == cfg.backbone.hidden > 0
    # latent dims pair with the tokenizer presets: paper <-> holitok-48k (128), tiny <-> tiny (32)
    assert (cfg.dit.latent_dim, cfg.dit.patch_size) == (cfg.latent_dim, cfg.patch_size) == ({"paper": 128, "tiny": 32}[name], 4)
    assert cfg.max_patches == -(-cfg.max_audio_frames // 4) and cfg.max_seq_len == cfg.max_text_tokens + cfg.max_patches + 5
    assert to_dict(from_dict(UnifiedConfig, to_dict(cfg))) == to_dict(cfg)


def test_derived_values():
    tiny = load_unified_config("tiny")
    assert (tiny.backbone.hidden, tiny.backbone.vocab) == (128, 256)  # vocab from the sentencepiece size
    paper = load_unified_config("paper")
    assert (paper.backbone.hidden, paper.backbone.vocab, paper.dit.cond_dim) == (896, 151936, 896)
    assert paper.patch_rate == 6.25
    # the unified config is authoritative for the latent format; the DiT follows
    cfg = load_unified_config("tiny", overrides=["backbone.hidden_size=64", "backbone.num_heads=2", "patch_size=2"])
    assert (cfg.dit.cond_dim, cfg.dit.patch_size) == (64, 2)


def test_yaml_and_overrides_are_strict(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text("preset: tiny\nloss:\n  stop: 0.5\naudio_in:\n  layers: 3\n")
    cfg = load_unified_config(path=str(path), overrides=["loss.flow=2", "dit.depth=1"])
    assert (cfg.loss.stop, cfg.loss.flow, cfg.audio_in.layers, cfg.dit.depth) == (0.5, 2.0, 3, 1)
    with pytest.raises(ConfigError, match="unknown config key 'loss.flw'"):
        load_unified_config("tiny", overrides=["loss.flw=1"])
    with pytest.raises(ConfigError, match="not both"):
        load_unified_config("paper", overrides=["backbone.pretrained=/x"])
    with pytest.raises(ConfigError, match="not shipped"):
        load_unified_config("tiny", overrides=["backbone.config_name=nope"])
    with pytest.raises(ConfigError, match="needs a sentencepiece"):
        load_unified_config("tiny", overrides=["text_tokenizer.kind=hf"])
    with pytest.raises(ConfigError, match="label_smoothing must be in"):
        load_unified_config("tiny", overrides=["loss.label_smoothing=1"])
    with pytest.raises(ConfigError, match="attention_dropout must be in"):
        load_unified_config("tiny", overrides=["backbone.attention_dropout=-0.1"])
    with pytest.raises(ConfigError, match="inline .from-scratch. backbones only"):
        load_unified_config("paper", overrides=["backbone.attention_dropout=0.1"])
    with pytest.raises(ValueError, match="DiTConfig.width"):  # DiTConfig.validate runs first (children first)
        load_unified_config("tiny", overrides=["dit.heads=5"])


def test_shipped_qwen_config_is_the_real_one():
    from transformers import AutoConfig

    c = AutoConfig.for_model(**json.loads((SHIPPED_CONFIGS / "qwen2.5-0.5b.json").read_text()))
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads) == (896, 24, 14, 2)
    assert (c.intermediate_size, c.vocab_size, c.max_position_embeddings) == (4864, 151936, 32768)
    assert c.tie_word_embeddings and c.rms_norm_eps == 1e-6 and c.rope_parameters["rope_theta"] == 1e6


def test_paper_preset_builds_offline_with_published_sizes():
    from unified_lm.model import UnifiedLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no text tokenizer path in the bare preset
        with torch.device("meta"):
            model = UnifiedLM.from_preset("paper")
    counts = model.num_parameters()
    print(f"paper preset parameters: {counts}")
    assert abs(counts.backbone - 494_000_000) < 1_000_000  # Qwen2.5-0.5B: 494,032,768
    assert abs(counts.patch_encoder - 102_000_000) < 2_000_000  # paper: ~102M
    assert abs(counts.dit - 345_000_000) < 5_000_000  # paper: ~345M
    assert counts.stop_head == 897
    assert counts.total == counts.backbone + counts.patch_encoder + counts.dit + counts.stop_head
    assert model.backbone.config._attn_implementation in ("sdpa", "flash_attention_2")


def test_unite_audio_input_is_designed_in_but_not_available():
    from unified_lm.model import UnifiedLM

    cfg = load_unified_config("tiny", overrides=["audio_in.kind=unite"])
    with pytest.raises(NotImplementedError, match="needs the tokenizer's semantic encoder, not available yet"):
        UnifiedLM.from_config(cfg)
