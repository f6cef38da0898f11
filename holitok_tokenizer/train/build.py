"""Build a stage's generator (HoliTok + flow + heads + LM supervision) and its frozen teachers,
and initialise it from the previous stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from holitok_common.train.checkpoint import latest, load_weights
from holitok_tokenizer import HoliTok
from holitok_tokenizer.train.config import TokenizerTrainConfig
from holitok_tokenizer.train.ctc import CharCTCHead
from holitok_tokenizer.train.flow import LatentFlow
from holitok_tokenizer.train.generator import TokenizerGenerator
from holitok_tokenizer.train.supervision import FrameDistillHead, LMSupervision, UtteranceDistillHead


@dataclass
class Teachers:
    """Frozen teachers, kept outside the generator so they are neither optimised nor checkpointed."""

    wavlm: torch.nn.Module | None = None
    xvector: torch.nn.Module | None = None

    def to(self, device: torch.device) -> "Teachers":
        for name in ("wavlm", "xvector"):
            module = getattr(self, name)
            if module is not None:
                setattr(self, name, module.to(device))
        return self


def build_generator(cfg: TokenizerTrainConfig) -> tuple[TokenizerGenerator, Teachers]:
    """The trainable generator of `cfg.stage` and the teachers its losses need (weights > 0)."""
    tokenizer = HoliTok(cfg.model.build_config(), weight_norm=True)
    dim = tokenizer.latent_dim
    flow = LatentFlow(dim, cfg.flow) if cfg.stage != "I" else None
    teachers = Teachers()
    wavlm_head = xvector_head = lm_sup = None
    if cfg.loss.wavlm > 0:
        from holitok_tokenizer.train.teachers import WavLMTeacher

        teachers.wavlm = WavLMTeacher(cfg.teachers.wavlm, cfg.teachers.wavlm_layer, cfg.teachers.wavlm_normalize)
        wavlm_head = FrameDistillHead(dim, teachers.wavlm.dim)
    if cfg.loss.xvector > 0:
        from holitok_tokenizer.train.teachers import SpeakerTeacher

        teachers.xvector = SpeakerTeacher(cfg.teachers.xvector)
        xvector_head = UtteranceDistillHead(dim, teachers.xvector.dim)
    if cfg.loss.lm > 0:
        from holitok_tokenizer.train.teachers import build_causal_lm

        lm, text_tokenizer = build_causal_lm(cfg.teachers.lm, trainable=cfg.lm_supervision.train_lm)
        lm_sup = LMSupervision(dim, cfg.lm_supervision, lm, text_tokenizer)
    ctc_head = CharCTCHead(dim, cfg.ctc.hidden, cfg.ctc.upsample) if cfg.loss.ctc > 0 else None
    generator = TokenizerGenerator(tokenizer, cfg.stage, flow, wavlm_head, xvector_head, lm_sup, ctc_head)
    return generator, teachers


def resolve_checkpoint(path: str | Path) -> Path:
    """A step-XXXXXX directory, or a run directory (its newest checkpoint)."""
    path = Path(path)
    if (path / "train_state.json").is_file():
        return path
    found = latest(path)
    if found is None:
        raise FileNotFoundError(f"init_from={str(path)!r}: no checkpoint there (run the previous stage first)")
    return found


def init_from(generator: TokenizerGenerator, path: str | Path) -> list[str]:
    """Load the previous stage's generator weights: every tokenizer weight is required; other
    parts (flow, heads) are taken when present with the same shape. Returns the keys left at init."""
    ckpt = resolve_checkpoint(path)
    weights = load_weights(ckpt / "generator.safetensors")
    own = generator.state_dict()
    missing_tok = [k for k in own if k.startswith("tokenizer.") and k not in weights]
    if missing_tok:
        raise ValueError(f"{ckpt}: generator weights lack {len(missing_tok)} tokenizer tensors, e.g. {missing_tok[:3]}")
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    generator.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))
