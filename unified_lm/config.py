"""UnifiedConfig: the unified AR+DiT model's typed config and its named presets.

One nested dataclass tree (holitok_common.config semantics: preset <- YAML <- key=value, strict
keys). `UnifiedConfig.validate()` is the one place derived values are computed:

- `backbone.hidden` / `backbone.vocab`: read from whichever backbone source is chosen (a local
  `pretrained` checkpoint's config.json, a shipped config JSON in `unified_lm/configs/`, or the
  inline tiny Qwen2-style dims);
- `dit.cond_dim` = backbone hidden size; `dit.latent_dim` / `dit.patch_size` = ours (the unified
  config is authoritative for the latent format, the DiT copies it);
- `max_patches` / `max_seq_len` from the max lengths.

Presets: `tiny` (from-scratch tiny Qwen2-style backbone + sentencepiece text tokenizer, for tests
and CPU smoke runs) and `paper` (Qwen2.5-0.5B, 18-layer DiT, 8-layer ~102M PatchEncoder).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from dit_head.config import DiTConfig
from holitok_common.config import ConfigError, load_config

SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"


@dataclass
class BackboneConfig:
    """Which HF causal LM to use. Exactly one source: `pretrained`, `config_name`, or inline dims.

    - `pretrained`: a local directory (or hub id, for users who have a hub) loaded with real weights
      by `AutoModelForCausalLM.from_pretrained`.
    - `config_name`: a config JSON shipped in `unified_lm/configs/` (e.g. "qwen2.5-0.5b"), built
      with random weights by `from_config` (offline).
    - neither: a from-scratch Qwen2-style model with the inline dims below (tiny backbones).
    """

    kind: Literal["hf"] = "hf"
    pretrained: Optional[str] = None
    config_name: Optional[str] = None
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 384
    vocab_size: int = 0  # inline only; 0 = the text tokenizer's vocab_size
    max_position_embeddings: int = 4096
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True
    attention_dropout: float = 0.0  # inline only: HF attention-probability dropout (training only)
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    gradient_checkpointing: bool = False
    hidden: int = field(default=0, init=False)  # derived: hidden size of the chosen source
    vocab: int = field(default=0, init=False)  # derived: embedding rows of the chosen source (0 = unknown yet)

    def hf_config_dict(self) -> Optional[dict[str, Any]]:
        """The HF config as a plain dict for `config_name` / inline sources; None for `pretrained`."""
        if self.pretrained is not None:
            return None
        if self.config_name is not None:
            path = SHIPPED_CONFIGS / f"{self.config_name}.json"
            if not path.is_file():
                known = sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.json"))
                raise ConfigError(f"backbone.config_name {self.config_name!r} is not shipped; known: {known}")
            return json.loads(path.read_text())
        return {
            "model_type": "qwen2",
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "intermediate_size": self.intermediate_size,
            "vocab_size": self.vocab,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_dropout": self.attention_dropout,
        }

    def _pretrained_config(self) -> dict[str, Any]:
        local = Path(self.pretrained) / "config.json"
        if local.is_file():
            return json.loads(local.read_text())
        from transformers import AutoConfig  # a hub id: only users with a hub get here

        return AutoConfig.from_pretrained(self.pretrained).to_dict()

    def validate(self) -> None:
        if self.pretrained is not None and self.config_name is not None:
            raise ConfigError("backbone: set either `pretrained` (real weights) or `config_name` (random init), not both")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise ConfigError(f"backbone.attention_dropout must be in [0, 1), got {self.attention_dropout}")
        if self.attention_dropout and (self.pretrained is not None or self.config_name is not None):
            raise ConfigError("backbone.attention_dropout applies to inline (from-scratch) backbones only; "
                              "a pretrained or shipped config keeps its own attention_dropout")
        if self.pretrained is None and self.config_name is None:
            if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
                raise ConfigError(
                    f"backbone: hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads}) "
                    f"and num_heads by num_kv_heads ({self.num_kv_heads})"
                )
            self.hidden, self.vocab = self.hidden_size, self.vocab_size
            return
        source = self._pretrained_config() if self.pretrained is not None else self.hf_config_dict()
        if "hidden_size" not in source or "vocab_size" not in source:
            raise ConfigError(f"backbone {self.pretrained or self.config_name!r}: its config has no hidden_size/vocab_size "
                              f"at top level; the backbone must be a plain causal LM")
        self.hidden, self.vocab = int(source["hidden_size"]), int(source["vocab_size"])


@dataclass
class AudioInConfig:
    """The audio front-end. "base": our causal PatchEncoder over latent patches (documented in
    patch_encoder.py). "unite": the tokenizer's fine-tuned causal semantic encoder (designed in,
    not available yet: building it raises NotImplementedError)."""

    kind: Literal["base", "unite"] = "base"
    layers: int = 2
    width: int = 64
    heads: int = 4
    ffn: int = 256
    dropout: float = 0.0
    # ASR rows (sequences starting with <|asr|>) encode their audio bidirectionally: the whole
    # utterance is known before any text is generated, so no causality is lost, and a from-scratch
    # encoder learns to read speech much faster with right context. TTS rows (prompts, generated
    # patches) stay causal, so TTS generation is unchanged. Off: ASR is causal too (streamable).
    asr_bidirectional: bool = False
    # Training only: Gaussian noise (std in normalised latent units) added to TTS *target* patches
    # where they are inputs (the PatchEncoder, i.e. the backbone's context, and the DiT history); the
    # flow-matching targets stay clean. At inference those inputs are the model's own samples, not
    # ground truth; the noise makes training see imperfect inputs too (exposure bias). 0 = off.
    tts_input_noise: float = 0.0

    def validate(self) -> None:
        if self.tts_input_noise < 0:
            raise ConfigError(f"audio_in.tts_input_noise must be >= 0, got {self.tts_input_noise}")
        if self.width % self.heads:
            raise ConfigError(f"audio_in.width ({self.width}) must be divisible by audio_in.heads ({self.heads})")
        if self.layers <= 0 or self.ffn <= 0:
            raise ConfigError("audio_in.layers and audio_in.ffn must be positive")


@dataclass
class TextTokenizerConfig:
    """`hf`: AutoTokenizer from `path` (None = backbone.pretrained) + our special tokens added.
    `sentencepiece`: a model trained by `train_sentencepiece` (`path` = the .model file) of exactly
    `vocab_size` pieces, for from-scratch backbones."""

    kind: Literal["hf", "sentencepiece"] = "sentencepiece"
    path: Optional[str] = None
    vocab_size: int = 256  # sentencepiece only: the trained size (the inline backbone's vocab)
    on_unknown: Literal["raise", "unk"] = "raise"  # characters the tokenizer cannot encode
    # How the TTS text is fed: "tokens" (the tokenizer's segmentation, as ASR emits it) or "chars"
    # (one id per character, the tokenizer's single-character pieces; sentencepiece only). A small
    # from-scratch TTS must learn every token's sound from its own examples; with characters the
    # ~70 symbols are shared by all words (the classic small-data TTS input). ASR always uses tokens.
    tts_units: Literal["tokens", "chars"] = "tokens"
    # The characters of the training transcripts (after normalize_text), recorded by `holitok-train
    # unified`: TTS refuses text with any other character (a model cannot know how to speak a
    # symbol it never heard; holitok-tts first maps case and punctuation to ones it knows). None: not
    # recorded (checkpoints from before it existed), nothing is checked.
    seen_chars: Optional[str] = None

    def validate(self) -> None:
        if self.kind == "sentencepiece" and self.vocab_size <= 0:
            raise ConfigError("text_tokenizer.vocab_size must be positive for a sentencepiece tokenizer")
        if self.tts_units == "chars" and self.kind != "sentencepiece":
            raise ConfigError("text_tokenizer.tts_units='chars' needs kind='sentencepiece' (per-character pieces); "
                              "an HF tokenizer feeds TTS its own tokens (tts_units='tokens')")


@dataclass
class PointerConfig:
    """The TTS text pointer (unified_lm/pointer.py): explicit text-to-audio alignment for small
    from-scratch TTS. Needs per-unit alignments in the training manifest (`unit_starts`, written by
    `holitok-align`) and text_tokenizer.tts_units='chars' (the aligner's units). Off (paper preset):
    the model must learn the alignment through attention."""

    enabled: bool = False
    before: int = 2  # window units before the pointer
    after: int = 6  # window units from the pointer on
    max_advance: int = 7  # the advance head's classes 0..max_advance (larger advances are clipped)
    # Frame-level text conditioning of the DiT head (FastSpeech's length regulator, per patch): each
    # of a patch's P frames also gets the units it speaks (the one current at that frame and its two
    # neighbours), added to its DiT token. Without it the head knows only which units START within
    # the patch, not at which frame, and has to model that timing itself.
    frame_units: bool = False

    def validate(self) -> None:
        if self.frame_units and not self.enabled:
            raise ConfigError("pointer.frame_units=true needs pointer.enabled=true (the frames' units come from the "
                              "text pointer's alignment); to train without the pointer set both "
                              "model.pointer.enabled=false and model.pointer.frame_units=false")
        if self.before < 0 or self.after < 1 or self.max_advance < 1:
            raise ConfigError(f"pointer: need before >= 0, after >= 1, max_advance >= 1; got {self.before}, "
                              f"{self.after}, {self.max_advance}")


@dataclass
class VoiceConfig:
    """A global voice condition of the DiT head from the voice prompt (unified_lm/voice.py): the
    mean and standard deviation of the prompt's normalised latents, projected to the backbone's
    width and added to the DiT condition of every target patch of the row. The in-context prompt
    reaches the head only through the backbone's hidden state and the last K prompt patches of its
    history (which generated patches soon replace); this gives every patch the prompt's timbre
    directly (a global voice vector, as x-vector / reference-encoder conditioning). Off (paper
    preset, shipped models before it existed): the prompt is context only."""

    enabled: bool = False


@dataclass
class LossWeights:
    """Weights of the training losses. `ctc` > 0 adds an auxiliary CTC head on the backbone's
    hidden states at ASR audio positions (hybrid CTC/attention, Watanabe et al. 2017; see
    UnifiedLM._ctc_loss): it teaches a from-scratch backbone to read the audio long before the
    text decoder alone would, and is not used at inference. 0 (paper preset): no CTC head at all."""

    text_ce: float = 1.0
    flow: float = 1.0
    stop: float = 1.0
    ctc: float = 0.0
    # Label smoothing of the text CE (ASR), a regulariser against memorising the transcripts;
    # the logged text_ce then includes the smoothing term.
    label_smoothing: float = 0.0
    # Guided attention on TTS rows (unified_lm/align.py): weight of a diagonal text-speech prior on
    # the attention of the first `align_heads` heads (0 = all) of backbone layers `align_layers`;
    # `align_sigma` is the width of the band in normalised position. Training only; needs
    # backbone.attn_implementation=eager (the attention probabilities). 0 = off (paper preset).
    align: float = 0.0
    align_sigma: float = 0.2
    align_layers: list[int] = field(default_factory=lambda: [1])
    align_heads: int = 0
    # CTC of the TTS text (prompt transcript + target text) on TTS rows' audio (prompt + target),
    # through the same frame-level CTC head as `ctc` (UnifiedLM._ctc_loss): the TTS states learn
    # which part of the text has been spoken so far. Training only; 0 = off.
    ctc_tts: float = 0.0
    # Cross-entropy of the text pointer's advance head (pointer.enabled only).
    advance: float = 1.0

    def validate(self) -> None:
        if self.align_sigma <= 0:
            raise ConfigError(f"loss.align_sigma must be > 0, got {self.align_sigma}")
        if self.align > 0 and not self.align_layers:
            raise ConfigError("loss.align > 0 needs at least one layer in loss.align_layers")
        if self.align_heads < 0:
            raise ConfigError(f"loss.align_heads must be >= 0 (0 = all heads), got {self.align_heads}")
        for name in ("text_ce", "flow", "stop", "ctc", "align", "ctc_tts", "advance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"loss.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"loss.label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass
class UnifiedConfig:
    """The whole unified model. Lengths: frames at `frame_rate` Hz, patches of `patch_size` frames."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    audio_in: AudioInConfig = field(default_factory=AudioInConfig)
    dit: DiTConfig = field(default_factory=lambda: DiTConfig.from_preset("tiny"))
    text_tokenizer: TextTokenizerConfig = field(default_factory=TextTokenizerConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    pointer: PointerConfig = field(default_factory=PointerConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    latent_dim: int = 128  # D: channels of a HoliTok latent frame
    patch_size: int = 4  # P: frames per patch (the LM sees audio at frame_rate / P Hz)
    frame_rate: float = 25.0  # latent frames per second
    max_text_tokens: int = 512  # per sequence, special tokens excluded
    max_audio_frames: int = 1500  # per sequence, all audio segments together (60 s at 25 Hz)
    tokenizer_ref: Optional[str] = None  # path/name of the HoliTok tokenizer the latents come from
    latent_stats: Optional[str] = None  # latent_stats.json to initialise the latent normaliser
    max_patches: int = field(default=0, init=False)  # derived
    max_seq_len: int = field(default=0, init=False)  # derived

    def validate(self) -> None:
        if self.latent_dim <= 0 or self.patch_size <= 0:
            raise ConfigError("latent_dim and patch_size must be positive")
        if self.loss.align > 0 and self.backbone.attn_implementation != "eager":
            raise ConfigError("loss.align > 0 reads the backbone's attention probabilities: set "
                              f"backbone.attn_implementation=eager (got {self.backbone.attn_implementation!r})")
        if self.loss.align > 0 and self.backbone.gradient_checkpointing:
            raise ConfigError("loss.align > 0 does not support backbone.gradient_checkpointing (the captured "
                              "attention would be recomputed); turn one of them off")
        if self.pointer.enabled and self.text_tokenizer.tts_units != "chars":
            raise ConfigError("pointer.enabled aligns characters (the aligner's units): set text_tokenizer.tts_units=chars")
        if self.backbone.vocab == 0:
            if self.text_tokenizer.kind != "sentencepiece":
                raise ConfigError("backbone.vocab_size = 0 (inline) needs a sentencepiece text tokenizer to take it from")
            self.backbone.vocab = self.text_tokenizer.vocab_size
        self.dit = dataclasses.replace(
            self.dit, cond_dim=self.backbone.hidden, latent_dim=self.latent_dim, patch_size=self.patch_size
        )
        try:
            self.dit.validate()
        except ValueError as exc:
            raise ConfigError(f"dit: {exc}") from exc
        self.max_patches = math.ceil(self.max_audio_frames / self.patch_size)
        # 5 special tokens at most per sequence (task, audio start/end, text start, eos); see sequences.py
        self.max_seq_len = self.max_text_tokens + self.max_patches + 5

    @property
    def patch_rate(self) -> float:
        """Patches per second seen by the LM (6.25 Hz for 25 Hz latents and P=4)."""
        return self.frame_rate / self.patch_size


def tiny() -> UnifiedConfig:
    """From-scratch tiny model (~1M parameters): tests and CPU smoke runs. Pairs with the `tiny`
    tokenizer preset, whose latents are 32-dim (holitok_tokenizer/config.py)."""
    return UnifiedConfig(
        latent_dim=32,
        backbone=BackboneConfig(hidden_size=128, num_layers=4, num_heads=4, num_kv_heads=2, intermediate_size=384),
        audio_in=AudioInConfig(layers=2, width=64, heads=4, ffn=256),
        dit=DiTConfig.from_preset("tiny", cond_dim=128),
        text_tokenizer=TextTokenizerConfig(kind="sentencepiece", vocab_size=256),
        max_text_tokens=256,
        max_audio_frames=750,
    )


def paper() -> UnifiedConfig:
    """Paper size: Qwen2.5-0.5B (494M; random init unless `backbone.pretrained` is set), 18-layer
    DiT (~345M), PatchEncoder 8 layers x width 1024 x FFN 4096 (~102M: 8 x 12.6M blocks + in/out
    projections 0.5M + 0.9M; the paper gives only "8 layers, ~102M")."""
    return UnifiedConfig(
        backbone=BackboneConfig(config_name="qwen2.5-0.5b"),
        audio_in=AudioInConfig(layers=8, width=1024, heads=16, ffn=4096),
        dit=DiTConfig.from_preset("paper"),
        text_tokenizer=TextTokenizerConfig(kind="hf"),
    )


PRESETS: dict[str, Callable[[], UnifiedConfig]] = {"tiny": tiny, "paper": paper}


def load_unified_config(name: Optional[str] = None, path: Optional[str] = None, overrides=()) -> UnifiedConfig:
    """preset `name` (or the file's `preset:` key) <- YAML `path` <- `key=value` overrides, validated."""
    return load_config(UnifiedConfig, path, overrides, presets=PRESETS, preset=name)
