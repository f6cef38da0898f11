"""Golden vectors of the public runtime (reduced width, random weights) and the official name list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from holitok_tokenizer.activations import kaiser_sinc_filter
from holitok_tokenizer.convert import (
    ConversionError,
    convert_official,
    load_official_state_dict,
    official_to_ours,
    unwrap_state_dict,
)
from holitok_tokenizer.model import HoliTok

ASSETS = Path(__file__).parent / "assets"
GOLDEN = ASSETS / "holitok_golden_w16"
SHAPES = ASSETS / "holitok_official_state_dict_shapes.json"


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def golden():
    model, report = convert_official(f"{GOLDEN}.model.pt", f"{GOLDEN}.config.json")
    return model, report, load_file(f"{GOLDEN}.io.safetensors")


def _check_outputs(model: HoliTok, io: dict) -> None:
    with torch.no_grad():
        enc = model.encode(io["input.audio"][:, 0], sample=False)  # [1, S] -> [1, T, D]
        posterior = torch.cat([enc.mean, enc.log_std], dim=-1).transpose(1, 2)  # [1, 2D, T]
        decoded = model.decode(enc.mean).wav[:, None]  # [1, 1, T * hop]
    assert posterior.shape == io["expected.posterior"].shape
    assert decoded.shape == io["expected.decoded"].shape
    assert _rel(posterior, io["expected.posterior"]) <= 1e-4
    assert _rel(decoded, io["expected.decoded"]) <= 1e-4


def test_golden_weight_norm_form(golden):
    model, report, io = golden
    assert model.has_weight_norm
    assert report.loaded == 1067 and report.ignored == 0
    _check_outputs(model, io)


def test_golden_folded_and_roundtrip(golden, tmp_path):
    model, _, io = golden
    model.save_pretrained(tmp_path / "wn")  # weight-norm form on disk
    folded = HoliTok.from_pretrained(tmp_path / "wn")
    assert not folded.has_weight_norm
    _check_outputs(folded, io)
    folded.save_pretrained(tmp_path / "plain")
    again = HoliTok.from_pretrained(tmp_path / "plain", weight_norm=True)
    assert again.has_weight_norm
    _check_outputs(again, io)


def test_filter_design_matches_checkpoint_buffers():
    state = unwrap_state_dict(torch.load(f"{GOLDEN}.model.pt", weights_only=True))
    ours = kaiser_sinc_filter(12, cutoff=0.25, half_width=0.3)
    filters = {k: v for k, v in state.items() if k.endswith(".filter")}
    assert len(filters) == 6 * 3 * 6 * 2 + 2
    for name, value in filters.items():
        assert torch.equal(value.reshape(-1, 12), ours.expand(value.shape[0], 12)), name


def _official_full_state(device: str) -> dict[str, torch.Tensor]:
    shapes = json.loads(SHAPES.read_text())["tensors"]
    return {name: torch.empty(shape, device=device) for name, shape in shapes.items()}


def test_official_names_map_one_to_one():
    with torch.device("meta"):
        model = HoliTok.from_preset("holitok-48k")
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    official = {official_to_ours(k): tuple(v.shape) for k, v in _official_full_state("meta").items()}
    assert ours == official


def test_convert_full_size_shape_list_with_training_keys():
    """The full 48k name list, wrapped and prefixed as released, loads with nothing missing."""
    state = _official_full_state("meta")
    training = {"flow.flows.0.weight": 3, "supervise_net.lm.layer.0.w": 2, "wavlm_proj.weight": 1, "gq.codebook": 1}
    for name, n in training.items():
        for i in range(n):
            state[f"{name}{i}"] = torch.empty(2, device="meta")
    wrapped = {"model": {f"module.{k}": v for k, v in state.items()}}
    with torch.device("meta"):
        model = HoliTok.from_preset("holitok-48k")
    report = load_official_state_dict(model, unwrap_state_dict(wrapped))
    assert report.loaded == 1067
    assert report.ignored_by_prefix == {"flow.": 3, "supervise_net.": 2, "wavlm_": 1, "gq.": 1}
    assert "ignored 7 training-only keys" in report.summary()


def test_convert_rejects_unknown_and_missing_keys():
    with torch.device("meta"):
        model = HoliTok.from_preset("holitok-48k")
    state = _official_full_state("meta")
    with pytest.raises(ConversionError, match="neither in the inference graph"):
        load_official_state_dict(model, {**state, "mystery.weight": torch.empty(1, device="meta")})
    del state["decoder.conv_post.weight_v"]
    with pytest.raises(ConversionError, match="lacks 1 tensors.*conv_post"):
        load_official_state_dict(model, state)


@pytest.mark.slow
def test_convert_full_size_checkpoint_file_roundtrip(tmp_path, capsys):
    """A random full-size checkpoint file (about 0.7 GB) through the CLI and back (no --config)."""
    from holitok_tokenizer.checkpoint import num_state_values
    from holitok_tokenizer.cli import main

    torch.manual_seed(0)
    state = {f"module.{k}": torch.randn(v.shape) for k, v in _official_full_state("meta").items()}
    state["module.flow.flows.0.weight"] = torch.zeros(3)
    torch.save({"model": state}, tmp_path / "model.pt")
    assert main(["convert-official", str(tmp_path / "model.pt"), "--out", str(tmp_path / "out")]) == 0
    assert "loaded 1067 tensors; ignored 1 training-only keys (flow.*: 1)" in capsys.readouterr().out
    model = HoliTok.from_pretrained(tmp_path / "out", weight_norm=True)
    assert num_state_values(model) == 180_900_989
    ours = model.state_dict()
    for name in ("enc_mi_layer.1.lstm.weight_hh_l3", "decoder.activation_post.upsample.filter", "pre_proj.bias"):
        assert torch.equal(ours[name], state[f"module.{name}"])
