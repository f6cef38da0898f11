"""Sequence formats: hand-written TTS + ASR examples, every tensor of the batch checked exactly."""

from __future__ import annotations

import pytest
import torch

from unified_lm.patch_encoder import patchify, unpatchify
from unified_lm.sequences import (
    IGNORE_INDEX, AudioSegment, TextSegment, asr_segments, build_batch, tts_segments, tts_text,
)
from unified_lm.text_tokenizer import SpecialTokens

SP = SpecialTokens(tts=3, asr=4, audio_start=5, audio_end=6, text_start=7, eos=2, pad=1)
N = IGNORE_INDEX
T, F = True, False


def frames(*values: float) -> torch.Tensor:
    """Latents [T, D=1] holding `values` (so every patch is readable by eye)."""
    return torch.tensor(values, dtype=torch.float32)[:, None]


def hand_batch():
    # TTS: text [10, 11]; prompt 3 frames (2 patches, last partial); target 4 frames (2 patches).
    tts = tts_segments(SP, [10, 11], prompt_latents=frames(1, 2, 3), target_latents=frames(4, 5, 6, 7))
    # ASR: audio 3 frames (2 patches, last partial); transcript [12, 13].
    asr = asr_segments(SP, frames(8, 9, 10), transcript_ids=[12, 13])
    return build_batch([tts, asr], patch_size=2, latent_dim=1, pad_id=SP.pad)


def test_tts_and_asr_batch_every_tensor():
    b = hand_batch()
    #            pos: 0    1   2   3   4   5   6   7   8
    #          row 0: tts  10  11  as  P0  P1  T0  T1  <pad>
    #          row 1: asr  as  A0  A1  ae  ts  12  13  eos
    assert b.input_ids.tolist() == [[3, 10, 11, 5, 1, 1, 1, 1, 1], [4, 5, 1, 1, 6, 7, 12, 13, 2]]
    assert b.attention_mask.tolist() == [[1] * 8 + [0], [1] * 9]
    assert b.position_ids.tolist() == [[0, 1, 2, 3, 4, 5, 6, 7, 0], list(range(9))]
    assert b.lengths.tolist() == [8, 9]
    assert b.audio_slot.tolist() == [[F, F, F, F, T, T, T, T, F], [F, F, T, T, F, F, F, F, F]]
    assert b.patch_index.tolist() == [[-1, -1, -1, -1, 0, 1, 2, 3, -1], [-1, -1, 0, 1, -1, -1, -1, -1, -1]]
    assert b.patches[..., 0].tolist() == [[[1, 2], [3, 0], [4, 5], [6, 7]], [[8, 9], [10, 0], [0, 0], [0, 0]]]
    assert b.frame_mask.tolist() == [[[T, T], [T, F], [T, T], [T, T]], [[T, T], [T, F], [F, F], [F, F]]]
    assert b.patch_valid.tolist() == [[T, T, T, T], [T, T, F, F]]
    assert b.patch_is_target.tolist() == [[F, F, T, T], [F, F, F, F]]
    # ASR: the state at <|text_start|> predicts 12, at 12 predicts 13, at 13 predicts <eos>.
    assert b.text_targets.tolist() == [[N] * 9, [N, N, N, N, N, 12, 13, 2, N]]
    # TTS: the last PROMPT patch (pos 5) predicts T0, T0 (pos 6) predicts T1; prompt patches get no flow.
    assert b.flow_mask.tolist() == [[F, F, F, F, F, T, T, F, F], [F] * 9]
    # stop: 0 where another patch follows (5, 6), 1 at the last target patch (7).
    assert b.stop_mask.tolist() == [[F, F, F, F, F, T, T, T, F], [F] * 9]
    assert b.stop_targets.tolist() == [[0, 0, 0, 0, 0, 0, 0, 1, 0], [0] * 9]
    assert b.patches.dtype == torch.float32 and b.input_ids.dtype == torch.long


def test_masked_selections_line_up_row_major():
    """k-th flow position predicts the k-th target patch; k-th audio slot holds the k-th patch."""
    b = hand_batch()
    flow_pos = b.flow_mask.nonzero().tolist()
    targets = b.patches[b.patch_is_target][..., 0].tolist()
    for (row, i), patch in zip(flow_pos, targets, strict=True):
        assert b.patches[row, b.patch_index[row, i + 1], :, 0].tolist() == patch
    assert b.patch_index[b.audio_slot].tolist() == [0, 1, 2, 3, 0, 1]


def test_tts_without_prompt_first_patch_predicted_from_audio_start():
    b = build_batch([tts_segments(SP, [10], target_latents=frames(1, 2, 3))], 2, 1, SP.pad)
    # 0 tts, 1 "10", 2 audio_start, 3 T0, 4 T1(partial)
    assert b.input_ids.tolist() == [[3, 10, 5, 1, 1]]
    assert b.flow_mask.tolist() == [[F, F, T, T, F]]
    assert b.stop_mask.tolist() == [[F, F, T, T, T]]
    assert b.stop_targets.tolist() == [[0, 0, 0, 0, 1]]
    assert b.frame_mask.tolist() == [[[T, T], [T, F]]]


def test_generation_prefixes_have_no_targets():
    tts = tts_segments(SP, [10, 11], prompt_latents=frames(1, 2))
    asr = asr_segments(SP, frames(1, 2, 3, 4, 5))
    b = build_batch([tts, asr], 2, 1, SP.pad)
    # row 0 ends at its only prompt patch (pos 4); row 1 at <|text_start|> (pos 6)
    assert b.input_ids.tolist() == [[3, 10, 11, 5, 1, 1, 1], [4, 5, 1, 1, 1, 6, 7]]
    assert b.attention_mask.tolist() == [[1, 1, 1, 1, 1, 0, 0], [1] * 7]
    assert b.patch_index.tolist() == [[-1, -1, -1, -1, 0, -1, -1], [-1, -1, 0, 1, 2, -1, -1]]
    assert not b.flow_mask.any() and not b.stop_mask.any() and (b.text_targets == N).all()


def test_segments_and_text_helpers():
    assert tts_text(" Hello there. ", "How are you?") == "Hello there. How are you?"
    assert tts_text("", "Hi") == "Hi"
    seg = asr_segments(SP, frames(1), [9])
    assert seg[0] == TextSegment((4, 5)) and isinstance(seg[1], AudioSegment) and seg[3] == TextSegment((9, 2), loss=True)


def test_errors_are_raised_not_truncated():
    ex = tts_segments(SP, [10] * 5, target_latents=frames(1, 2, 3, 4))
    with pytest.raises(ValueError, match="max_len=4"):
        build_batch([ex], 2, 1, SP.pad, max_len=4)
    with pytest.raises(ValueError, match=r"\[T >= 1, 3\]"):
        build_batch([ex], 2, 3, SP.pad)
    with pytest.raises(ValueError, match=r"\[T >= 1, 1\]"):
        build_batch([asr_segments(SP, torch.zeros(0, 1))], 2, 1, SP.pad)


def test_patchify_unpatchify_partial_last_patch():
    latents = torch.arange(7 * 3, dtype=torch.float32).view(7, 3)  # [T=7, D=3]
    patches, mask = patchify(latents, 4)
    assert patches.shape == (2, 4, 3) and mask.tolist() == [[T, T, T, T], [T, T, T, F]]
    assert (patches[1, 3] == 0).all()
    assert torch.equal(unpatchify(patches, mask), latents)
    with pytest.raises(ValueError, match="at the end"):
        unpatchify(patches, torch.tensor([[T, F, T, T], [T, T, T, T]]))
