"""UnifiedLM: HF causal-LM backbone + causal PatchEncoder (audio in) + DiT flow head (audio out)
+ stop head, trained jointly on TTS (flow + stop) and ASR (text cross-entropy).

Composition: the model receives its parts (`UnifiedLM(cfg, backbone, audio_in, latent_norm, head,
stop_head, text_tokenizer)`); `from_config` builds them. The training forward takes a
`SequenceBatch` (sequences.py documents every alignment) and returns a typed `UnifiedOutput`.
Generation is NOT a mode of forward: it lives in its own module and uses the pieces exposed here
(`embed_segments`, `embed`, `embed_audio`, `step`, `predict_stop`, `head`, `latent_norm`).
Checkpoint directories are handled in checkpoint.py (`save_pretrained` / `from_pretrained`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dit_head.head import DiTHead
from holitok_common.config import merge, validate
from unified_lm.align import attention_modules, capture_attention, guided_attention_loss
from unified_lm.backbone import Backbone, BackboneOutput, build_hf_causal_lm
from unified_lm.checkpoint import load_unified, save_unified
from unified_lm.config import PRESETS, UnifiedConfig
from unified_lm.patch_encoder import LatentNorm, PatchEncoder
from unified_lm.pointer import TextPointer, row_units
from unified_lm.sequences import IGNORE_INDEX, Segment, SequenceBatch, build_batch, tts_text_spans
from unified_lm.text_tokenizer import TextTokenizer, load_text_tokenizer
from unified_lm.voice import PromptVoice


@dataclass
class LossCounts:
    """How many items each loss averaged over in this batch."""

    text_tokens: int
    flow_patches: int
    stop_positions: int
    ctc_utterances: int = 0
    align_rows: int = 0
    ctc_tts_rows: int = 0
    advance_positions: int = 0


@dataclass
class UnifiedOutput:
    """loss = w_text * text_ce + w_flow * flow + w_stop * stop + w_ctc * ctc + w_align * align
    + w_ctc_tts * ctc_tts + w_advance * advance (weights from cfg.loss). Each part is a float32
    scalar: the mean over its items (0 when the batch has none, see `counts`)."""

    loss: torch.Tensor
    text_ce: torch.Tensor
    flow: torch.Tensor
    stop: torch.Tensor
    counts: LossCounts
    ctc: torch.Tensor  # auxiliary CTC (cfg.loss.ctc > 0 and ASR rows in the batch), else 0
    align: torch.Tensor  # guided attention (cfg.loss.align > 0 and TTS rows in the batch), else 0
    ctc_tts: torch.Tensor  # CTC of the TTS text on TTS rows' audio (cfg.loss.ctc_tts > 0), else 0
    advance: torch.Tensor  # CE of the text pointer's advance head (cfg.pointer.enabled), else 0


@dataclass
class FlowInputs:
    """The DiT head's inputs for N target patches (row-major order of SequenceBatch.patch_is_target)."""

    target: torch.Tensor  # [N, P, D] normalised clean patches
    cond: torch.Tensor  # [N, C] condition (hidden state, + the text pointer's window and advance, + the voice)
    history: Optional[torch.Tensor]  # [N, K*P, D] normalised previous patches, or None
    history_mask: Optional[torch.Tensor]  # [N, K*P] bool, or None
    frame_mask: torch.Tensor  # [N, P] bool real frames
    frame_cond: Optional[torch.Tensor]  # [N, P, W] per-frame condition (pointer.frame_units), or None


@dataclass
class ParameterCounts:
    backbone: int
    patch_encoder: int
    dit: int
    stop_head: int
    total: int


def history_windows(patches: torch.Tensor, frame_mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The previous k patches of every patch, oldest first (the DiT head's history input).

    patches [B, Na, P, D], frame_mask [B, Na, P] -> history [B, Na, k*P, D], history_mask
    [B, Na, k*P] (False before the row's first patch and on padded frames).
    """
    b, n, p, d = patches.shape
    padded = F.pad(patches, (0, 0, 0, 0, k, 0))  # [B, k + Na, P, D]
    mask = F.pad(frame_mask, (0, 0, k, 0), value=False)  # [B, k + Na, P]
    history = torch.stack([padded[:, j:j + n] for j in range(k)], dim=2)  # [B, Na, k, P, D]
    history_mask = torch.stack([mask[:, j:j + n] for j in range(k)], dim=2)  # [B, Na, k, P]
    return history.reshape(b, n, k * p, d), history_mask.reshape(b, n, k * p)


class UnifiedLM(nn.Module):
    """Backbone + PatchEncoder (`audio_in`) + LatentNorm + DiT head + stop head (+ text tokenizer ref).

    Shapes: B rows, L positions, H backbone hidden, Na patches per row, P frames per patch, D latent dim.
    """

    def __init__(self, cfg: UnifiedConfig, backbone: Backbone, audio_in: PatchEncoder, latent_norm: LatentNorm,
                 head: DiTHead, stop_head: nn.Linear, text_tokenizer: Optional[TextTokenizer] = None):
        super().__init__()
        self.cfg = cfg
        self.backbone, self.audio_in, self.latent_norm = backbone, audio_in, latent_norm
        self.head, self.stop_head = head, stop_head
        # Training-only auxiliary CTC head (cfg.loss.ctc or ctc_tts > 0): P frame-level label distributions over
        # the text vocabulary + blank (index V) per audio position.
        self.ctc_head = nn.Linear(backbone.hidden_size, cfg.patch_size * (backbone.vocab_size + 1)) \
            if cfg.loss.ctc > 0 or cfg.loss.ctc_tts > 0 else None
        self.text_tokenizer = text_tokenizer  # a reference, not a module: saved as files by checkpoint.py
        # Guided attention (cfg.loss.align > 0): the attention modules whose probabilities the loss reads.
        self._align_modules = attention_modules(backbone.lm, cfg.loss.align_layers) if cfg.loss.align > 0 else []
        # The TTS text pointer (cfg.pointer.enabled; pointer.py), else None.
        pc = cfg.pointer
        self.pointer = TextPointer(backbone.hidden_size, pc.before, pc.after, pc.max_advance,
                                   cfg.dit.width if pc.frame_units else None) if pc.enabled else None
        # The global voice vector of each TTS row from its prompt (cfg.voice.enabled; voice.py), else None.
        self.voice = PromptVoice(cfg.latent_dim, backbone.hidden_size) if cfg.voice.enabled else None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg: UnifiedConfig, text_tok: Optional[TextTokenizer] = None,
                    hf_config_dir: Optional[Path] = None) -> "UnifiedLM":
        """Build every part from `cfg` (random init; real backbone weights if backbone.pretrained).

        The text tokenizer is `text_tok`, else loaded from cfg.text_tokenizer.path (hf kind:
        falls back to backbone.pretrained), else None with a warning. Works under
        `with torch.device("meta"):`. `hf_config_dir` (checkpoint loading) overrides the backbone source.
        """
        validate(cfg)
        if cfg.audio_in.kind == "unite":
            raise NotImplementedError(
                "audio_in.kind='unite' needs the tokenizer's semantic encoder, not available yet; use audio_in.kind='base'"
            )
        tok = text_tok if text_tok is not None else _configured_tokenizer(cfg)
        backbone = Backbone(build_hf_causal_lm(cfg.backbone, hf_config_dir))
        _check_vocab(cfg, backbone, tok)
        a = cfg.audio_in
        audio_in = PatchEncoder(cfg.latent_dim, cfg.patch_size, a.width, a.layers, a.heads, a.ffn,
                                out_dim=backbone.hidden_size, dropout=a.dropout)
        latent_norm = LatentNorm(cfg.latent_dim, cfg.frame_rate)
        if cfg.latent_stats is not None:
            latent_norm.load_stats_file(cfg.latent_stats)
        stop_head = nn.Linear(backbone.hidden_size, 1)
        return cls(cfg, backbone, audio_in, latent_norm, DiTHead(cfg.dit), stop_head, tok)

    @classmethod
    def from_preset(cls, name: str, text_tok: Optional[TextTokenizer] = None, **overrides: Any) -> "UnifiedLM":
        """A named preset with nested-mapping config overrides, e.g.
        `from_preset("tiny", text_tok=tok, loss={"flow": 0.5}, backbone={"num_layers": 2})`."""
        if name not in PRESETS:
            raise ValueError(f"unknown UnifiedLM preset {name!r}; known presets: {sorted(PRESETS)}")
        return cls.from_config(validate(merge(PRESETS[name](), overrides)), text_tok)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "UnifiedLM":
        """Load a directory written by `save_pretrained` (see checkpoint.py); eval mode."""
        return load_unified(cls, directory)

    def save_pretrained(self, directory: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> Path:
        """Write a self-describing checkpoint directory (see checkpoint.py); returns it. `state_dict`
        overrides the weights written (full weights gathered from DeepSpeed shards)."""
        return save_unified(self, directory, state_dict)

    def num_parameters(self) -> ParameterCounts:
        """Parameters per part (shared/tied tensors counted once)."""
        return ParameterCounts(_count(self.backbone), _count(self.audio_in), _count(self.head),
                               _count(self.stop_head), _count(self))

    # ------------------------------------------------------------------ pieces (training + generation)
    def embed_audio(self, patches: torch.Tensor, frame_mask: torch.Tensor,
                    bidirectional: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Raw latent patches [B, Na, P, D] + frame_mask [B, Na, P] -> embeddings [B, Na, H] in the
        PatchEncoder's dtype (normalised, padded frames zeroed, causal PatchEncoder except rows
        flagged in `bidirectional` [B]). float32 latents are cast to the encoder's weight dtype
        (inside PatchEncoder, shared with its cached `step`), so a bf16 model runs without autocast."""
        return self.audio_in(self.latent_norm.normalize(patches), frame_mask, bidirectional)

    def bidirectional_rows(self, batch: SequenceBatch) -> Optional[torch.Tensor]:
        """[B] bool: the ASR rows (first token <|asr|>) when cfg.audio_in.asr_bidirectional, else None.
        Training and the ASR engine both embed through `embed`, so they encode ASR audio alike."""
        if not self.cfg.audio_in.asr_bidirectional or self.text_tokenizer is None or batch.input_ids.shape[1] == 0:
            return None
        return batch.input_ids[:, 0] == self.text_tokenizer.special.asr

    def embed(self, batch: SequenceBatch) -> torch.Tensor:
        """Input embeddings [B, L, H]: token embeddings, with patch embeddings at the audio slots."""
        tokens = self.backbone.embed_tokens(batch.input_ids)  # [B, L, H]
        if batch.patches.shape[1] == 0:
            return tokens
        audio = self.embed_audio(batch.patches, batch.frame_mask, self.bidirectional_rows(batch)).to(tokens.dtype)  # [B, Na, H]
        index = batch.patch_index.clamp(min=0)[..., None].expand(-1, -1, tokens.shape[-1])  # [B, L, H]
        audio_at = audio.gather(1, index)  # [B, L, H]: patch patch_index[b, i] at (b, i)
        return torch.where(batch.audio_slot[..., None], audio_at, tokens)

    def build(self, examples: Sequence[Sequence[Segment]], max_len: Optional[int] = None) -> SequenceBatch:
        """build_batch with this model's patch size, latent dim and pad id (needs a text tokenizer)."""
        if self.text_tokenizer is None:
            raise ValueError("this model has no text tokenizer attached: call sequences.build_batch with an explicit pad_id")
        return build_batch(examples, self.cfg.patch_size, self.cfg.latent_dim, self.text_tokenizer.special.pad,
                           max_len=self.cfg.max_seq_len if max_len is None else max_len)

    def embed_segments(self, examples: Sequence[Sequence[Segment]],
                       max_len: Optional[int] = None) -> tuple[SequenceBatch, torch.Tensor]:
        """Examples -> (right-padded SequenceBatch on the model's device, inputs_embeds [B, L, H])."""
        batch = self.build(examples, max_len).to(self.stop_head.weight.device)
        return batch, self.embed(batch)

    def step(self, inputs_embeds: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
             position_ids: Optional[torch.Tensor] = None, past_key_values: Any = None, use_cache: bool = False,
             logits_mask: Optional[torch.Tensor] = None, compute_logits: bool = True) -> BackboneOutput:
        """One backbone call (prefill or incremental with a KV cache); see Backbone.forward."""
        return self.backbone(inputs_embeds, attention_mask, position_ids, past_key_values, use_cache,
                             logits_mask, compute_logits)

    def predict_stop(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [..., H] -> stop logits [...] (sigmoid > 0.5: no more patches)."""
        return self.stop_head(hidden).squeeze(-1)

    def prompt_voice(self, batch: SequenceBatch, z: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """The voice vector [B, H] of every row from its prompt patches (the audio that is not a
        target: a TTS row's prompt; in generation's prefix every patch), added to the DiT condition
        of the row's target patches; None when cfg.voice is off. `z`: batch.patches already
        normalised by the caller (else normalised here)."""
        if self.voice is None:
            return None
        frames = batch.frame_mask & (batch.patch_valid & ~batch.patch_is_target)[..., None]  # [B, Na, P]
        return self.voice(self.latent_norm.normalize(batch.patches) if z is None else z, frames)

    # ------------------------------------------------------------------ training forward
    def forward(self, batch: SequenceBatch, generator: Optional[torch.Generator] = None) -> UnifiedOutput:
        """Joint loss of a SequenceBatch. `generator` drives the DiT's noise/time draws."""
        text_mask = batch.text_targets != IGNORE_INDEX  # [B, L]
        n_text = int(text_mask.sum())
        inputs = self._noisy_targets(batch, generator)  # the batch as the model's inputs see it
        embeds = self.embed(inputs)  # [B, L, H]
        window = frame_cond = None
        if self.pointer is not None:
            embeds, window, frame_cond = self._add_pointer(embeds, batch)
        with capture_attention(self._align_modules) as attentions:
            out = self.step(embeds, batch.attention_mask, batch.position_ids,
                            logits_mask=text_mask, compute_logits=n_text > 0)
        zero = out.hidden.new_zeros((), dtype=torch.float32)
        align, n_align = zero, 0
        if attentions:
            align, n_align = guided_attention_loss(attentions, batch, self.cfg.loss.align_heads,
                                                   self.cfg.loss.align_sigma)
        text_ce = zero
        if n_text:
            text_ce = F.cross_entropy(out.logits.float(), batch.text_targets[text_mask],  # [N, V]
                                      label_smoothing=self.cfg.loss.label_smoothing)
        flow, n_flow = self._flow_loss(out.hidden, batch, generator, zero, inputs.patches, window, frame_cond)
        advance, n_advance = zero, 0
        if window is not None and n_flow:
            target = batch.advance[batch.flow_mask].clamp(max=self.pointer.max_advance)  # [N]
            advance = F.cross_entropy(self.pointer.advance_logits(out.hidden[batch.flow_mask]).float(), target)
            n_advance = n_flow
        stop_mask = batch.stop_mask  # [B, L]
        n_stop = int(stop_mask.sum())
        stop = zero
        if n_stop:
            logits = self.predict_stop(out.hidden[stop_mask]).float()  # [N]
            stop = F.binary_cross_entropy_with_logits(logits, batch.stop_targets[stop_mask].float())
        w = self.cfg.loss
        ctc, n_ctc = self._ctc_loss(out.hidden, batch, *self._asr_ctc_rows(batch, text_mask)) if w.ctc > 0 else (zero, 0)
        ctc_tts, n_ctc_tts = self._ctc_loss(out.hidden, batch, *self._tts_ctc_rows(batch)) if w.ctc_tts > 0 else (zero, 0)
        loss = (w.text_ce * text_ce + w.flow * flow + w.stop * stop + w.ctc * ctc + w.align * align
                + w.ctc_tts * ctc_tts + w.advance * advance)
        counts = LossCounts(n_text, n_flow, n_stop, n_ctc, n_align, n_ctc_tts, n_advance)
        return UnifiedOutput(loss, text_ce, flow, stop, counts, ctc, align, ctc_tts, advance)

    def _add_pointer(self, embeds: torch.Tensor, batch: SequenceBatch
                     ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Add the text pointer's window (pointer.py) to the input embedding at every flow_mask
        position; returns (embeds, window [B, L, H] zero elsewhere, the per-frame DiT condition of
        the flow positions' patches [N, P, W] in flow_mask order or None without pointer.frame_units),
        or (embeds, None, None) for a batch without TTS rows. Every TTS row must carry its alignment
        (batch.pointer)."""
        spans = tts_text_spans(batch)
        if not spans:
            return embeds, None, None
        flow = batch.flow_mask  # [B, L]
        if bool((batch.pointer[flow] < 0).any()):
            raise ValueError("pointer.enabled but a TTS row has no text alignment (unit_starts): train on a manifest "
                             "written by `holitok-align` (unified_lm/aligner)")
        ids, counts = row_units(batch.input_ids, spans, self.text_tokenizer.special.pad if self.text_tokenizer else 0)
        unit_embeds = self.backbone.embed_tokens(ids)  # [R, U, H]
        row_of = torch.full((batch.input_ids.shape[0],), -1, dtype=torch.long, device=ids.device)
        row_of[torch.tensor([b for b, _ in spans], device=ids.device)] = torch.arange(len(spans), device=ids.device)
        rows = row_of[:, None].expand_as(flow)[flow]  # [N]: each flow position's span row
        vectors = self.pointer.window(unit_embeds, counts, batch.pointer[flow], rows)  # [N, H]
        window = torch.zeros_like(embeds)
        window[flow] = vectors.to(embeds.dtype)
        frame_cond = None
        if self.pointer.frame_proj is not None:  # the per-frame DiT condition of the flow positions' patches
            frame_cond = self.pointer.frame_condition(unit_embeds, counts, batch.frame_units[flow], rows)  # [N, P, W]
        return embeds + window, window, frame_cond

    def _asr_ctc_rows(self, batch: SequenceBatch, text_mask: torch.Tensor) -> tuple[list[int], list[torch.Tensor]]:
        """ASR rows (audio and text targets; TTS rows have no text loss) and their transcripts: the
        row's text targets without the final <|eos|> (the ASR loss segment always ends with it)."""
        rows = (text_mask.any(1) & batch.audio_slot.any(1)).nonzero().flatten().tolist()
        return rows, [batch.text_targets[b][text_mask[b]][:-1] for b in rows]

    def _tts_ctc_rows(self, batch: SequenceBatch) -> tuple[list[int], list[torch.Tensor]]:
        """TTS rows (rows with target patches) and their whole text (prompt transcript + target
        text: the tokens between <|tts|> and <|audio_start|>, sequences.tts_segments), which the
        row's audio (prompt + target) speaks."""
        spans = tts_text_spans(batch)
        return [b for b, _ in spans], [batch.input_ids[b, text] for b, text in spans]

    def _ctc_loss(self, hidden: torch.Tensor, batch: SequenceBatch, rows: list[int],
                  targets: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Auxiliary CTC of `targets` (token ids per row) on the audio positions of `rows`. Each
        audio position emits P frame-level distributions (one per latent frame of its patch: 25 Hz,
        enough for word pieces or characters, which a 6.25 Hz patch rate is not); padded frames
        (a partial last patch, of a prompt or of the row) are left out. Mean over rows of the
        per-token-normalised loss (F.ctc_loss 'mean'); 0 for no rows or empty targets.

        ASR rows (cfg.loss.ctc) teach the backbone to read audio. TTS rows (cfg.loss.ctc_tts) ask
        the same of the TTS states: which part of the text the audio so far has spoken, i.e. where
        the next patch is in the text (the alignment a zero-shot TTS must track)."""
        zero = hidden.new_zeros((), dtype=torch.float32)
        keep = [(b, t) for b, t in zip(rows, targets) if t.numel() > 0]
        if not keep:
            return zero, 0
        blank = self.backbone.vocab_size
        p = self.cfg.patch_size
        logps, in_lens, tgt_lens = [], [], []
        for b, target in keep:
            slots = batch.audio_slot[b]
            logits = self.ctc_head(hidden[b][slots]).float().reshape(-1, p, blank + 1)  # [Na_b, P, V + 1]
            frames = batch.frame_mask[b][batch.patch_valid[b]]  # [Na_b, P]
            logps.append(logits[frames].log_softmax(-1))  # [T_b, V + 1]
            in_lens.append(int(frames.sum()))
            tgt_lens.append(target.numel())
        padded = nn.utils.rnn.pad_sequence(logps)  # [T, N, V + 1]
        loss = F.ctc_loss(padded, torch.cat([t for _, t in keep]), torch.tensor(in_lens), torch.tensor(tgt_lens),
                          blank=blank, reduction="mean", zero_infinity=True)
        return loss, len(keep)

    def _noisy_targets(self, batch: SequenceBatch, generator: Optional[torch.Generator]) -> SequenceBatch:
        """`batch` with audio_in.tts_input_noise added to its TTS target patches (training only;
        the batch itself when off). Noise is drawn in normalised units and applied in raw units."""
        std = self.cfg.audio_in.tts_input_noise
        if not self.training or std == 0 or not bool(batch.patch_is_target.any()):
            return batch
        patches = batch.patches  # [B, Na, P, D] raw
        eps = torch.randn(patches.shape, generator=generator, device=patches.device, dtype=torch.float32)
        scale = self.latent_norm.std.to(torch.float32)  # [D]: normalised -> raw units
        where = (batch.patch_is_target[..., None] & batch.frame_mask)[..., None]  # [B, Na, P, 1]
        noisy = patches + (std * eps * scale * where).to(patches.dtype)
        return replace(batch, patches=noisy)

    def _flow_loss(self, hidden: torch.Tensor, batch: SequenceBatch, generator: Optional[torch.Generator],
                   zero: torch.Tensor, input_patches: Optional[torch.Tensor] = None,
                   window: Optional[torch.Tensor] = None, frame_cond: Optional[torch.Tensor] = None
                   ) -> tuple[torch.Tensor, int]:
        """Flow matching on the target patches, conditioned on the hidden state one position before.
        `input_patches` [B, Na, P, D] raw: what the DiT history is cut from (default: batch.patches;
        training passes the noised inputs of audio_in.tts_input_noise); the targets are always clean.
        `frame_cond` [N, P, W]: the text pointer's per-frame condition (pointer.frame_units) or None."""
        n_flow = int(batch.patch_is_target.sum())
        if n_flow == 0:
            return zero, 0
        f = self._flow_inputs(hidden, batch, input_patches, window, frame_cond)
        result = self.head(f.target, f.cond, f.history, f.history_mask, f.frame_mask, generator=generator,
                           frame_cond=f.frame_cond)
        return result.loss, n_flow

    def _flow_inputs(self, hidden: torch.Tensor, batch: SequenceBatch, input_patches: Optional[torch.Tensor],
                     window: Optional[torch.Tensor], frame_cond: Optional[torch.Tensor]) -> "FlowInputs":
        """What the DiT head gets for every target patch of `batch` (see `_flow_loss`)."""
        targets = batch.patch_is_target  # [B, Na]
        z = self.latent_norm.normalize(batch.patches)  # [B, Na, P, D]
        z_in = z if input_patches is None or input_patches is batch.patches else \
            self.latent_norm.normalize(input_patches)  # [B, Na, P, D]
        cond = hidden[batch.flow_mask]  # [N, H], row-major = target patch order
        if window is not None:  # the text pointer: + window + the patch's advance (teacher-forced)
            cond = self.pointer.condition(cond, window[batch.flow_mask], batch.advance[batch.flow_mask])
        voice = self.prompt_voice(batch, z)  # [B, H] or None
        if voice is not None:  # + the row's voice vector
            cond = cond + voice[batch.flow_mask.nonzero()[:, 0]].to(cond.dtype)
        k = self.cfg.dit.history_patches
        history = history_mask = None
        if k > 0:
            hist, hist_mask = history_windows(z_in, batch.frame_mask, k)  # [B, Na, k*P, D], [B, Na, k*P]
            history, history_mask = hist[targets], hist_mask[targets]  # [N, k*P, D], [N, k*P]
        return FlowInputs(z[targets], cond, history, history_mask, batch.frame_mask[targets], frame_cond)

    @torch.no_grad()
    def teacher_forced_flow_inputs(self, batch: SequenceBatch) -> "FlowInputs":
        """The DiT head's inputs for every target patch of `batch` with everything before it taken
        from the data (backbone inputs, DiT history, the text pointer's alignment): what the flow
        loss trains on, for diagnostics (`eval.tts_probe`: sample each patch from them with
        `head.sample` and compare with free-running generation). Eval-mode semantics (no input noise)."""
        embeds = self.embed(batch)  # [B, L, H]
        window = frame_cond = None
        if self.pointer is not None:
            embeds, window, frame_cond = self._add_pointer(embeds, batch)
        hidden = self.step(embeds, batch.attention_mask, batch.position_ids, compute_logits=False).hidden
        return self._flow_inputs(hidden, batch, None, window, frame_cond)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _configured_tokenizer(cfg: UnifiedConfig) -> Optional[TextTokenizer]:
    t = cfg.text_tokenizer
    path = t.path if t.path is not None or t.kind != "hf" else cfg.backbone.pretrained
    if path is None:
        warnings.warn("no text tokenizer path configured (text_tokenizer.path): the model has no text tokenizer attached",
                      stacklevel=3)
        return None
    return load_text_tokenizer(t.kind, path, t.on_unknown)


def _check_vocab(cfg: UnifiedConfig, backbone: Backbone, tok: Optional[TextTokenizer]) -> None:
    """The tokenizer's ids must fit the embedding; an HF backbone grows for added special tokens."""
    if tok is None:
        return
    if cfg.text_tokenizer.kind == "sentencepiece" and tok.vocab_size != cfg.text_tokenizer.vocab_size:
        raise ValueError(f"the sentencepiece model has {tok.vocab_size} pieces but text_tokenizer.vocab_size is "
                         f"{cfg.text_tokenizer.vocab_size}: set them equal (the inline backbone's vocab follows it)")
    if tok.vocab_size > backbone.vocab_size:
        if cfg.backbone.pretrained is None and cfg.backbone.config_name is None:
            raise ValueError(f"the text tokenizer has {tok.vocab_size} ids, the backbone embeds {backbone.vocab_size}")
        backbone.resize_vocab(tok.vocab_size)

