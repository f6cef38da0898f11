"""Tokenizer config: presets, derived values, validation, the runtime config dict, parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from holitok_common.config import ConfigError, from_dict, load_config, to_dict
from holitok_tokenizer.checkpoint import num_state_values
from holitok_tokenizer.config import PRESETS, TokenizerConfig, config_from_runtime
from holitok_tokenizer.model import HoliTok

GOLDEN_CONFIG = Path(__file__).parent / "assets" / "holitok_golden_w16.config.json"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_roundtrips(name):
    cfg = TokenizerConfig.from_preset(name)
    assert cfg.frame_rate == 25.0
    assert from_dict(TokenizerConfig, to_dict(cfg)) == cfg
    assert load_config(TokenizerConfig, presets=PRESETS, preset=name) == cfg


def test_paper_preset_is_spec_section_1():
    cfg = TokenizerConfig.from_preset("holitok-48k")
    assert (cfg.sample_rate, cfg.hop, cfg.latent_dim, cfg.bottleneck_hidden) == (48000, 1920, 128, 512)
    assert cfg.decoder_channels == [1536, 768, 384, 192, 96, 48, 24]
    assert cfg.encoder_channels == [12, 24, 48, 96, 192, 384, 768]


def test_tiny_preset():
    cfg = TokenizerConfig.from_preset("tiny")
    assert (cfg.sample_rate, cfg.hop, cfg.latent_dim) == (16000, 640, 32)


def test_paper_parameter_counts():
    """180,900,989 state-dict values in weight-norm form (= the official shape list); 180,849,416 folded."""
    with torch.device("meta"):
        model = HoliTok.from_preset("holitok-48k")
    assert num_state_values(model) == 180_900_989
    # nn.Parameters exclude the 2,592 fixed filter taps of the AMP-block activations (buffers)
    assert sum(p.numel() for p in model.parameters()) == 180_900_989 - 2_592
    parts = {
        "encoder": num_state_values(model.audio_encoder),
        "bottleneck": sum(num_state_values(m) for m in (model.enc_mi_layer, model.pre_proj, model.post_proj, model.dec_mi_layer)),
        "decoder": num_state_values(model.decoder),
    }
    assert parts == {"encoder": 35_790_412, "bottleneck": 17_122_944, "decoder": 127_987_633}
    model.fold_weight_norm()  # drops one magnitude per output channel of every conv (51,573 values)
    assert num_state_values(model) == 180_849_416


def test_tiny_parameter_count():
    model = HoliTok.from_preset("tiny")
    assert num_state_values(model) == 1_720_985
    assert num_state_values(model.fold_weight_norm()) == 1_717_456


def test_validate_rejects_inconsistent_hop():
    with pytest.raises(ConfigError, match="must equal the encoder hop"):
        load_config(TokenizerConfig, presets=PRESETS, preset="tiny", overrides=["decoder_upsample_rates=[10,8,4,4]"])
    with pytest.raises(ConfigError, match="encoder_channels needs"):
        load_config(TokenizerConfig, overrides=["encoder_channels=[12,24]"])
    with pytest.raises(ConfigError, match="lookahead"):
        load_config(TokenizerConfig, overrides=["encoder_lookahead=9"])


def test_runtime_config_golden():
    data = json.loads(GOLDEN_CONFIG.read_text())
    cfg = config_from_runtime(data)
    # downsample_channels are literal widths: first conv, then one per stage
    assert cfg.encoder_channels == [12, 4, 4, 6, 12, 24, 48]
    assert (cfg.latent_dim, cfg.bottleneck_hidden, cfg.bottleneck_layers) == (16, 64, 4)
    assert cfg.decoder_channels == [96, 48, 24, 12, 6, 3, 1]
    assert (cfg.encoder_lookahead, cfg.decoder_lookahead, cfg.hop) == (2, 2, 1920)


@pytest.mark.parametrize("key,value", [("use_vq", True), ("causal", False), ("use_tanh_at_final", True)])
def test_runtime_config_rejects_unsupported(key, value):
    data = json.loads(GOLDEN_CONFIG.read_text())
    data[key] = value
    with pytest.raises(ConfigError, match=key):
        config_from_runtime(data)


def test_runtime_config_unknown_keys():
    data = {**json.loads(GOLDEN_CONFIG.read_text()), "mystery_option": 3}
    with pytest.raises(ConfigError, match="mystery_option"):
        config_from_runtime(data)
    assert config_from_runtime(data, strict=False).latent_dim == 16
