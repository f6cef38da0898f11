"""Per-step DiT flow-matching head (torch only). See dit_head/README.md."""

from dit_head.config import PRESETS, DiTConfig
from dit_head.head import DiTHead, FlowLoss
from dit_head.samplers import cfg_combine, euler, midpoint, with_cfg

__all__ = ["PRESETS", "DiTConfig", "DiTHead", "FlowLoss", "cfg_combine", "euler", "midpoint", "with_cfg"]
