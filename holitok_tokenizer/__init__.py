"""The HoliTok continuous speech tokenizer (48 kHz audio <-> 25 Hz x 128-dim latents).

Public interface: `HoliTok` (encode / decode / reconstruct, from_preset / from_pretrained /
save_pretrained), its typed outputs, and `TokenizerConfig` with its presets.
"""

from holitok_tokenizer.checks import TokenizerInputError
from holitok_tokenizer.config import PRESETS, TokenizerConfig, config_from_runtime
from holitok_tokenizer.model import DecodeOutput, EncodeOutput, HoliTok, ReconstructOutput

__all__ = [
    "PRESETS",
    "DecodeOutput",
    "EncodeOutput",
    "HoliTok",
    "ReconstructOutput",
    "TokenizerConfig",
    "TokenizerInputError",
    "config_from_runtime",
]
