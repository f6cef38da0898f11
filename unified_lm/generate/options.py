"""Typed options of the generation engines (TTS and ASR), validated in one place.

Lengths: a *patch* is P latent frames (P=4 at 25 Hz: 160 ms). The TTS length cap of a row is the
smallest of (a) `max_seconds`, (b) the text-based cap `text_cap_base_s + text_cap_s_per_char *
len(target text)` (speech runs ~15 chars/s in English, ~4-5 in Chinese, so 0.5 s/char is at least
2x the slowest natural rate), and (c) the audio budget the model was trained for
(`UnifiedConfig.max_patches` minus the prompt's patches), and (d) when `prompt_rate_cap` > 0 and the
row has a voice prompt, that many times the duration the prompt's speaking rate predicts
(`prompt seconds * len(text) / len(prompt text)`, characters after normalisation; the estimate
F5-TTS uses as its total duration; never below `min_patches`). A row that reaches its cap ends with
`stopped=False`; one whose stop head fires ends with `stopped=True`, and so does, with the text
pointer and `stop_at_text_end`, one whose last patch moved its pointer to the end of its text (the
aligned training utterances all end in the patch where their last unit starts, so that patch is the
last; the tiny stop head alone, at p(stop) ~0.2-0.3 there, let rows run on to the cap:
docs/tts_diagnosis.md, session 11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dit_head.samplers import SOLVERS


class GenerationInputError(ValueError):
    """A request the engines refuse (empty or over-long text, a prompt without its transcript, audio
    longer than the model was trained for ...). The message names the utterance and says what to do."""


@dataclass(frozen=True)
class TTSOptions:
    """Sampling and stopping knobs of zero-shot TTS."""

    steps: int = 10  # ODE steps of the DiT head per patch
    cfg_scale: float = 1.2  # classifier-free guidance (1.0 = off)
    temperature: float = 1.0  # scale of the DiT's starting noise (< 1: closer to the mode, less drift)
    solver: str = "euler"  # dit_head.samplers.SOLVERS
    seed: int = 0  # per-row noise streams are seeded from (seed, utterance id)
    stop_threshold: float = 0.5  # stop when sigmoid(stop logit) > this
    min_patches: int = 1  # the stop head (and the text end) is not consulted before this many patches exist
    stop_at_text_end: bool = True  # text pointer models: end a row once its pointer reaches the end of its text
    max_seconds: float = 30.0  # hard cap on generated audio per row
    text_cap_base_s: float = 2.0
    text_cap_s_per_char: float = 0.5
    prompt_rate_cap: float = 0.0  # > 0: cap at this many times the prompt-rate duration estimate (0 = off)
    decode_with_prompt: bool = True  # decode prompt ++ generated latents, then drop the prompt's samples

    def validate(self) -> "TTSOptions":
        """Every knob in range; the `not x >= ...` forms also refuse NaN (and the finite checks inf)."""
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps <= 0:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose one of {sorted(SOLVERS)}")
        if not 0 < self.temperature < math.inf:
            raise ValueError(f"temperature must be > 0 and finite, got {self.temperature}")
        if not 0 <= self.cfg_scale < math.inf:
            raise ValueError(f"cfg_scale must be >= 0 and finite (1.0 = no guidance), got {self.cfg_scale}")
        if not 0.0 <= self.stop_threshold <= 1.0:
            raise ValueError(f"stop_threshold must be in [0, 1], got {self.stop_threshold}")
        if isinstance(self.min_patches, bool) or not isinstance(self.min_patches, int) or self.min_patches < 1:
            raise ValueError(f"min_patches must be an integer >= 1, got {self.min_patches!r}")
        if not 0 < self.max_seconds < math.inf:
            raise ValueError(f"max_seconds must be > 0 and finite, got {self.max_seconds}")
        if not 0 <= self.prompt_rate_cap < math.inf:
            raise ValueError(f"prompt_rate_cap must be >= 0 and finite (0 = off), got {self.prompt_rate_cap}")
        if not (0 <= self.text_cap_base_s < math.inf and 0 < self.text_cap_s_per_char < math.inf):
            raise ValueError("text_cap_base_s must be >= 0 and text_cap_s_per_char > 0 (both finite)")
        return self


@dataclass(frozen=True)
class ASROptions:
    """Decoding limits and search. A row's token budget is min(max_tokens, model max_text_tokens,
    ceil(tokens_per_second * audio seconds) + 8): a hallucination loop cannot run forever.
    beam_size 1 is greedy; > 1 is beam search (beam.py), ranked by sum log-prob / length **
    length_penalty."""

    max_tokens: int = 448
    tokens_per_second: float = 25.0
    beam_size: int = 1
    length_penalty: float = 1.0

    def validate(self) -> "ASROptions":
        if self.max_tokens <= 0 or not 0 < self.tokens_per_second < math.inf:
            raise ValueError("max_tokens and tokens_per_second must be positive")
        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, int) or self.beam_size < 1:
            raise ValueError(f"beam_size must be an integer >= 1 (1 = greedy), got {self.beam_size!r}")
        if not self.length_penalty >= 0:  # also refuses NaN
            raise ValueError(f"length_penalty must be >= 0 (0 = raw sum of log-probs), got {self.length_penalty}")
        return self
