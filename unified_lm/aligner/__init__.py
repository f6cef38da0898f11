"""A CTC character aligner on HoliTok latents: the per-unit alignments (`unit_starts`) the TTS text
pointer (unified_lm/pointer.py) trains on. `holitok-align train` / `holitok-align extract`."""

from unified_lm.aligner.model import AlignerConfig, CTCAligner, forced_align, unit_labels

__all__ = ["AlignerConfig", "CTCAligner", "forced_align", "unit_labels"]
