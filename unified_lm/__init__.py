"""The unified AR+DiT speech model: an HF causal-LM backbone reading HoliTok latent patches and text.

    from unified_lm import UnifiedLM, UnifiedConfig

Both names are resolved lazily (PEP 562), so `import unified_lm` stays cheap and a submodule such as
`unified_lm.sequences` can be imported without building the model code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UnifiedLM", "UnifiedConfig"]


def __getattr__(name: str) -> Any:
    if name == "UnifiedLM":
        from unified_lm.model import UnifiedLM

        return UnifiedLM
    if name == "UnifiedConfig":
        from unified_lm.config import UnifiedConfig

        return UnifiedConfig
    raise AttributeError(f"module 'unified_lm' has no attribute {name!r}")
