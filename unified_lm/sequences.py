"""Sequence formats of the unified model, as pure functions (no model, no tokenizer).

A sequence is a list of segments: `TextSegment` (token ids) and `AudioSegment` (latent frames,
one LM position per patch of P frames). The two tasks (SPEC 2):

    TTS: <|tts|> text <|audio_start|> [prompt patches] [target patches ... until stop]
         text = prompt transcript + " " + target text (`tts_text`); no text loss.
    ASR: <|asr|> <|audio_start|> [audio patches] <|audio_end|> <|text_start|> transcript <|eos|>
         cross-entropy on the transcript tokens and <|eos|>.

`build_batch` turns examples into right-padded tensors. Right padding because training sequences
are processed whole: positions are 0..len-1 in every row, real tokens never attend to padding
under the causal mask, and the per-position targets below need no shifting per row. (Batched
generation of prefixes of different lengths is the generation module's business.)

Alignment conventions (position i is a row index in [0, L)):
- input_ids[i]: the token at i; at audio slots the placeholder `pad_id` (its embedding is replaced
  by the PatchEncoder output of the patch `patch_index[i]` of the same row).
- text_targets[i] = input_ids[i+1] if token i+1 belongs to a loss text segment, else -100: the
  hidden state at i predicts the NEXT token (targets are already shifted; no shift in the loss).
- flow_mask[i]: True iff position i+1 holds a TARGET patch; the hidden state at i conditions the
  DiT that generates that patch. For TTS the first such position is the last prompt patch (or
  <|audio_start|> when there is no prompt). Prompt patches are context only (no flow loss).
- stop_mask[i] / stop_targets[i]: at every flow_mask position the stop label is 0 ("another patch
  follows"); at the position holding the LAST target patch it is 1 ("no more patches").
- In each row, the k-th True of audio_slot is patch k of that row; the k-th True of flow_mask
  predicts the k-th target patch (`patch_is_target`) of that row: row-major masked selections of
  [B, L] and [B, Na] tensors line up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch

from unified_lm.patch_encoder import patchify
from unified_lm.text_tokenizer import SpecialTokens

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TextSegment:
    """Token ids; `loss`: each of these tokens is a CE target (predicted from the position before)."""

    ids: tuple[int, ...]
    loss: bool = False


@dataclass(frozen=True, eq=False)
class AudioSegment:
    """latents [T, D] (raw, un-normalised, T >= 1 frames). `target`: generated patches (flow + stop
    losses); otherwise context (prompt or ASR input).

    `unit_starts` (target segments, the TTS text pointer, pointer.py): the latent frame at which
    each text unit the segment speaks starts (non-decreasing, from a forced aligner), and
    `unit_first`: the index of its first unit in the row's TTS text units (prompt transcript units
    + the space between them come first)."""

    latents: torch.Tensor
    target: bool = False
    unit_starts: Optional[tuple[int, ...]] = None
    unit_first: int = 0


Segment = Union[TextSegment, AudioSegment]


def tts_text(prompt_text: str, target_text: str) -> str:
    """The TTS text: prompt transcript + " " + target text (either may be empty)."""
    return " ".join(t for t in (prompt_text.strip(), target_text.strip()) if t)


def tts_segments(special: SpecialTokens, text_ids: Sequence[int], prompt_latents: Optional[torch.Tensor] = None,
                 target_latents: Optional[torch.Tensor] = None, unit_starts: Optional[Sequence[int]] = None,
                 unit_first: int = 0) -> list[Segment]:
    """<|tts|> text <|audio_start|> [prompt] [target]. Without `target_latents` this is the
    generation prefix (the next patch is predicted from the last position). `unit_starts` /
    `unit_first`: the target's text alignment (AudioSegment)."""
    segments: list[Segment] = [TextSegment((special.tts, *text_ids, special.audio_start))]
    if prompt_latents is not None:
        segments.append(AudioSegment(prompt_latents, target=False))
    if target_latents is not None:
        starts = None if unit_starts is None else tuple(int(x) for x in unit_starts)
        if starts is not None and unit_first + len(starts) > len(text_ids):
            raise ValueError(f"the target's text alignment covers units {unit_first}..{unit_first + len(starts) - 1} "
                             f"but the TTS text has {len(text_ids)} units")
        segments.append(AudioSegment(target_latents, target=True, unit_starts=starts, unit_first=unit_first))
    return segments


def asr_segments(special: SpecialTokens, audio_latents: torch.Tensor,
                 transcript_ids: Optional[Sequence[int]] = None) -> list[Segment]:
    """<|asr|> <|audio_start|> audio <|audio_end|> <|text_start|> [transcript <|eos|>]. Without
    `transcript_ids` this is the generation prefix (ending at <|text_start|>)."""
    segments: list[Segment] = [
        TextSegment((special.asr, special.audio_start)),
        AudioSegment(audio_latents, target=False),
        TextSegment((special.audio_end, special.text_start)),
    ]
    if transcript_ids is not None:
        segments.append(TextSegment((*transcript_ids, special.eos), loss=True))
    return segments


@dataclass
class SequenceBatch:
    """Right-padded batch. B rows, L positions, Na patches (max per row), P frames, D channels."""

    input_ids: torch.Tensor  # [B, L] long; pad_id at audio slots and padding
    attention_mask: torch.Tensor  # [B, L] long; 1 = real position
    position_ids: torch.Tensor  # [B, L] long; 0..len-1, 0 on padding
    audio_slot: torch.Tensor  # [B, L] bool; position holds a patch embedding
    patch_index: torch.Tensor  # [B, L] long; which patch of the row (-1: not an audio slot)
    patches: torch.Tensor  # [B, Na, P, D] raw latents, zero-padded
    frame_mask: torch.Tensor  # [B, Na, P] bool; real frames
    patch_valid: torch.Tensor  # [B, Na] bool; real patches
    patch_is_target: torch.Tensor  # [B, Na] bool; target patches (flow loss)
    text_targets: torch.Tensor  # [B, L] long; next-token targets, -100 = no CE
    flow_mask: torch.Tensor  # [B, L] bool; hidden state here predicts the target patch at i+1
    stop_mask: torch.Tensor  # [B, L] bool; positions with a stop label
    stop_targets: torch.Tensor  # [B, L] float; 1 at the last target patch, 0 elsewhere
    lengths: torch.Tensor  # [B] long; real positions per row
    # The TTS text pointer (only where the target segment has `unit_starts`, else -1): at a
    # flow_mask position, the index (in the row's TTS text units) of the first unit not yet started
    # when the patch it conditions begins, and how many units start within that patch.
    pointer: torch.Tensor  # [B, L] long
    advance: torch.Tensor  # [B, L] long
    # ... and per frame of that patch the unit being spoken: the last one started at or before the
    # frame (before the target's first unit: the unit preceding it; pointer.frame_units). [B, L, P]
    # long, -1 elsewhere.
    frame_units: torch.Tensor

    def to(self, device: torch.device) -> "SequenceBatch":
        return SequenceBatch(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})


def tts_text_spans(batch: SequenceBatch) -> list[tuple[int, torch.Tensor]]:
    """(row, positions of its text tokens [N]) for every TTS row (a row with target patches): the
    text between <|tts|> and <|audio_start|> (`tts_segments`), i.e. prompt transcript + target text."""
    spans = []
    for b in batch.patch_is_target.any(1).nonzero().flatten().tolist():
        first = int(batch.audio_slot[b].nonzero()[0])  # <|audio_start|> is at first - 1
        spans.append((b, torch.arange(1, first - 1, device=batch.input_ids.device)))
    return spans


@dataclass
class _Row:
    """One example flattened: per-position lists and per-patch tensors."""

    ids: list[int]
    text_loss: list[bool]
    patch_index: list[int]
    patches: list[torch.Tensor]  # each [P, D]
    frame_masks: list[torch.Tensor]  # each [P]
    is_target: list[bool]
    pointer: list[int]  # per patch: first unit not started at the patch's first frame (-1: none)
    advance: list[int]  # per patch: units starting within the patch (-1: none)
    frame_units: list[list[int]]  # per patch, per frame: the last unit started at or before it (-1s: none)


def _unit_pointer(seg: AudioSegment, n_patches: int, patch_size: int) -> tuple[list[int], list[int], list[list[int]]]:
    """Per patch of `seg`: (pointer, advance, frame units) from its unit_starts, or -1s without them."""
    if seg.unit_starts is None:
        return [-1] * n_patches, [-1] * n_patches, [[-1] * patch_size] * n_patches
    starts = torch.tensor(seg.unit_starts, dtype=torch.long)
    if starts.numel() and (bool((starts[1:] < starts[:-1]).any()) or int(starts[0]) < 0
                           or int(starts[-1]) >= seg.latents.shape[0]):
        raise ValueError(f"unit_starts must be non-decreasing frame indices in [0, {seg.latents.shape[0]}), "
                         f"got {list(seg.unit_starts)[:8]}...")
    edges = torch.arange(n_patches + 1) * patch_size  # [N + 1] first frame of each patch
    started = torch.searchsorted(starts, edges)  # [N + 1]: units starting before each edge
    frames = edges[:-1, None] + torch.arange(patch_size)  # [N, P]
    # The last unit started at or before each frame; before the first one, the unit preceding the
    # target text (the space after the prompt transcript; -1 without a prompt), as generation counts it.
    current = seg.unit_first + torch.searchsorted(starts, frames, right=True) - 1  # [N, P]
    return (seg.unit_first + started[:-1]).tolist(), (started[1:] - started[:-1]).tolist(), current.tolist()


def _flatten(segments: Sequence[Segment], patch_size: int, latent_dim: int, pad_id: int) -> _Row:
    row = _Row([], [], [], [], [], [], [], [], [])
    for seg in segments:
        if isinstance(seg, TextSegment):
            row.ids += list(seg.ids)
            row.text_loss += [seg.loss] * len(seg.ids)
            row.patch_index += [-1] * len(seg.ids)
            continue
        if seg.latents.dim() != 2 or seg.latents.shape[1] != latent_dim or seg.latents.shape[0] == 0:
            raise ValueError(f"audio segment latents must be [T >= 1, {latent_dim}], got {tuple(seg.latents.shape)}")
        patches, mask = patchify(seg.latents, patch_size)  # [N, P, D], [N, P]
        pointer, advance, frame_units = _unit_pointer(seg, patches.shape[0], patch_size)
        row.pointer += pointer
        row.advance += advance
        row.frame_units += frame_units
        for n in range(patches.shape[0]):
            row.ids.append(pad_id)
            row.text_loss.append(False)
            row.patch_index.append(len(row.patches))
            row.patches.append(patches[n])
            row.frame_masks.append(mask[n])
            row.is_target.append(seg.target)
    return row


def _row_targets(row: _Row) -> tuple[list[int], list[bool], list[bool], list[float]]:
    """Per-position text target, flow flag, stop flag and stop label of one row (see module doc)."""
    length = len(row.ids)
    text = [row.ids[i + 1] if i + 1 < length and row.text_loss[i + 1] else IGNORE_INDEX for i in range(length)]
    is_target_slot = [k >= 0 and row.is_target[k] for k in row.patch_index]
    flow = [i + 1 < length and is_target_slot[i + 1] for i in range(length)]
    last_target = max((i for i in range(length) if is_target_slot[i]), default=None)
    stop = list(flow)
    labels = [0.0] * length
    if last_target is not None:
        stop[last_target], labels[last_target] = True, 1.0
    return text, flow, stop, labels


def build_batch(examples: Sequence[Sequence[Segment]], patch_size: int, latent_dim: int, pad_id: int,
                max_len: Optional[int] = None) -> SequenceBatch:
    """Examples (lists of segments) -> a right-padded SequenceBatch. Raises ValueError for a
    sequence longer than `max_len` positions (never truncates) or malformed audio."""
    if not examples:
        raise ValueError("build_batch needs at least one example")
    rows = [_flatten(ex, patch_size, latent_dim, pad_id) for ex in examples]
    b, length = len(rows), max(len(r.ids) for r in rows)
    if max_len is not None and length > max_len:
        raise ValueError(f"a sequence has {length} positions, more than max_len={max_len}: filter or split it upstream")
    n_patches = max(len(r.patches) for r in rows)
    out = _empty(b, length, n_patches, patch_size, latent_dim, pad_id)
    for j, row in enumerate(rows):
        n, k = len(row.ids), len(row.patches)
        text, flow, stop, labels = _row_targets(row)
        out.input_ids[j, :n] = torch.tensor(row.ids)
        out.attention_mask[j, :n] = 1
        out.position_ids[j, :n] = torch.arange(n)
        out.patch_index[j, :n] = torch.tensor(row.patch_index)
        out.text_targets[j, :n] = torch.tensor(text)
        out.flow_mask[j, :n] = torch.tensor(flow)
        out.stop_mask[j, :n] = torch.tensor(stop)
        out.stop_targets[j, :n] = torch.tensor(labels)
        out.lengths[j] = n
        for i in range(n - 1):
            if flow[i]:  # the patch at i + 1 is generated from position i
                out.pointer[j, i] = row.pointer[row.patch_index[i + 1]]
                out.advance[j, i] = row.advance[row.patch_index[i + 1]]
                out.frame_units[j, i] = torch.tensor(row.frame_units[row.patch_index[i + 1]])
        if k:
            out.patches[j, :k] = torch.stack(row.patches).to(out.patches.dtype)  # [k, P, D]
            out.frame_mask[j, :k] = torch.stack(row.frame_masks)  # [k, P]
            out.patch_valid[j, :k] = True
            out.patch_is_target[j, :k] = torch.tensor(row.is_target)
    out.audio_slot = out.patch_index >= 0
    return out


def _empty(b: int, length: int, n_patches: int, patch_size: int, latent_dim: int, pad_id: int) -> SequenceBatch:
    def zeros(*shape: int, dtype: torch.dtype = torch.long) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype)

    return SequenceBatch(
        input_ids=torch.full((b, length), pad_id, dtype=torch.long),
        attention_mask=zeros(b, length),
        position_ids=zeros(b, length),
        audio_slot=zeros(b, length, dtype=torch.bool),
        patch_index=torch.full((b, length), -1, dtype=torch.long),
        patches=zeros(b, n_patches, patch_size, latent_dim, dtype=torch.float32),
        frame_mask=zeros(b, n_patches, patch_size, dtype=torch.bool),
        patch_valid=zeros(b, n_patches, dtype=torch.bool),
        patch_is_target=zeros(b, n_patches, dtype=torch.bool),
        text_targets=torch.full((b, length), IGNORE_INDEX, dtype=torch.long),
        flow_mask=zeros(b, length, dtype=torch.bool),
        stop_mask=zeros(b, length, dtype=torch.bool),
        stop_targets=zeros(b, length, dtype=torch.float32),
        lengths=zeros(b),
        pointer=torch.full((b, length), -1, dtype=torch.long),
        advance=torch.full((b, length), -1, dtype=torch.long),
        frame_units=torch.full((b, length, patch_size), -1, dtype=torch.long),
    )
