"""The TTS text pointer (unified_lm/pointer.py): the per-patch pointer/advance of a row from its
unit alignment, what the training loss reads, KV-cached generation == recompute through the
training path with the engine's pointer trajectory, and the errors a user can hit."""

from __future__ import annotations

import math

import pytest
import torch

from holitok_common.config import ConfigError
from test_generate_fixtures import tiny_lm, tiny_text_tokenizer
from unified_lm.config import load_unified_config
from unified_lm.generate import TTSEngine, TTSOptions, TTSRequest, row_seed
from unified_lm.model import history_windows
from unified_lm.pointer import unit_offset
from unified_lm.sequences import build_batch, tts_segments, tts_text

POINTER = {"enabled": True, "before": 2, "after": 3, "max_advance": 4}
OPTS = TTSOptions(steps=3, cfg_scale=1.5, temperature=0.7, stop_threshold=0.6, max_seconds=2.0, seed=5)


def pointer_lm(directory, frame_units: bool = False, voice: bool = False, seed: int = 0):
    m = tiny_lm(directory, seed, text_tokenizer={"tts_units": "chars"}, pointer={**POINTER, "frame_units": frame_units},
                voice={"enabled": voice})
    with torch.no_grad():  # a spread-out advance head (a fresh one would be near-uniform over 0..4)
        m.pointer.advance_head.weight.mul_(20)
        m.pointer.outside.normal_(0, 1)
        if frame_units:
            m.pointer.frame_outside.normal_(0, 1)
    return m


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return pointer_lm(tmp_path_factory.mktemp("pointer"))


@pytest.fixture(scope="module")
def frame_model(tmp_path_factory):
    return pointer_lm(tmp_path_factory.mktemp("pointer_frames"), frame_units=True)


@pytest.fixture(scope="module")
def voice_model(tmp_path_factory):
    # seed 5: a random model whose rows both run for several patches (the test needs >= 3 each)
    return pointer_lm(tmp_path_factory.mktemp("pointer_voice"), frame_units=True, voice=True, seed=5)


def test_pointer_and_advance_of_a_row():
    """P = 4; target of 10 frames (3 patches), its units start at frames 0 1 5 6 9, the first of
    them is unit 3 of the TTS text: patch 0 starts at unit 3 and covers 2 units, patch 1 at 5
    (2 units), patch 2 at 7 (1 unit). They sit at the positions that condition those patches."""
    special = type("S", (), {"tts": 1, "audio_start": 2})
    segs = tts_segments(special, [10, 11, 12, 13, 14, 15, 16, 17], torch.zeros(5, 3), torch.zeros(10, 3),
                        unit_starts=[0, 1, 5, 6, 9], unit_first=3)
    batch = build_batch([segs], 4, 3, pad_id=0)
    flow = batch.flow_mask[0]
    assert batch.pointer[0][flow].tolist() == [3, 5, 7]
    assert batch.advance[0][flow].tolist() == [2, 2, 1]
    assert (batch.pointer[0][~flow] == -1).all() and (batch.advance[0][~flow] == -1).all()
    # per frame, the last unit started at or before it (frames 10, 11 are padding of the last patch)
    assert batch.frame_units[0][flow].tolist() == [[3, 4, 4, 4], [4, 5, 6, 6], [6, 7, 7, 7]]
    assert (batch.frame_units[0][~flow] == -1).all()
    no_alignment = build_batch([tts_segments(special, [10, 11], None, torch.zeros(10, 3))], 4, 3, pad_id=0)
    assert (no_alignment.pointer == -1).all()
    with pytest.raises(ValueError, match="non-decreasing"):
        build_batch([tts_segments(special, list(range(10, 18)), None, torch.zeros(10, 3), [0, 5, 1])], 4, 3, 0)
    with pytest.raises(ValueError, match="covers units"):
        tts_segments(special, [10, 11], None, torch.zeros(10, 3), [0, 5, 6], unit_first=1)


def aligned_row(model, text: str, prompt_text: str, prompt: torch.Tensor, target: torch.Tensor, starts):
    tok, units = model.text_tokenizer, model.cfg.text_tokenizer.tts_units
    ids = tok.encode(tts_text(prompt_text, text), units=units)
    return tts_segments(tok.special, ids, prompt, target, starts, unit_offset(tok, prompt_text, units))


def test_training_loss_reads_the_window_and_trains_the_advance_head(model):
    g = torch.Generator().manual_seed(0)
    prompt, target = torch.randn(7, 32, generator=g), torch.randn(14, 32, generator=g)
    row = aligned_row(model, "the dog", "a cat", prompt, target, [0, 1, 3, 5, 8, 9, 12])
    batch = model.build([row])
    model.train()
    try:
        out = model(batch, generator=torch.Generator().manual_seed(1))
        assert out.counts.advance_positions == out.counts.flow_patches == 4
        assert out.advance > 0 and torch.isfinite(out.loss)
        out.loss.backward()
        for part in (model.pointer.window_proj.weight, model.pointer.advance_head.weight,
                     model.pointer.advance_embed.weight):
            assert part.grad is not None and part.grad.abs().sum() > 0
        model.zero_grad()
        # the flow loss sees where the pointer is: shift every patch's pointer by one unit
        shifted = model.build([row])
        shifted.pointer[shifted.flow_mask] += 1
        a = model(batch, generator=torch.Generator().manual_seed(1)).flow
        b = model(shifted, generator=torch.Generator().manual_seed(1)).flow
        assert not torch.isclose(a, b)
        with pytest.raises(ValueError, match="no text alignment"):
            model(model.build([aligned_row(model, "the dog", "a cat", prompt, target, None)]))
    finally:
        model.eval()
        model.zero_grad()


def test_frame_units_condition_the_flow_loss(frame_model):
    model = frame_model
    g = torch.Generator().manual_seed(0)
    prompt, target = torch.randn(7, 32, generator=g), torch.randn(14, 32, generator=g)
    batch = model.build([aligned_row(model, "the dog", "a cat", prompt, target, [0, 1, 3, 5, 8, 9, 12])])
    model.train()
    try:
        out = model(batch, generator=torch.Generator().manual_seed(1))
        out.loss.backward()
        assert model.pointer.frame_proj.weight.grad.abs().sum() > 0
        shifted = model.build([aligned_row(model, "the dog", "a cat", prompt, target, [0, 1, 3, 5, 8, 9, 12])])
        shifted.frame_units[shifted.flow_mask] += 1  # same patches, same pointer: only the frames' units move
        a = model(batch, generator=torch.Generator().manual_seed(1)).flow
        b = model(shifted, generator=torch.Generator().manual_seed(1)).flow
        assert not torch.isclose(a, b)
    finally:
        model.eval()
        model.zero_grad()


def test_frame_units_of_a_pointer_move():
    from unified_lm.pointer import TextPointer

    # a patch moving the pointer from 3.5 to 5.5 crosses units 3 and 4 (the advance is 2): the move
    # reaches 4.0 by the end of frame 0 and 5.0 by the end of frame 2, where they start
    units = TextPointer.frame_units(torch.tensor([3.5, 2.0]), torch.tensor([5.5, 2.0]), 4)
    assert units.tolist() == [[3, 3, 4, 4], [1, 1, 1, 1]]
    with pytest.raises(ConfigError, match="frame_units=true needs pointer.enabled"):
        load_unified_config("tiny", overrides=["pointer.frame_units=true"])


@torch.no_grad()
def recompute(model, request: TTSRequest, opt: TTSOptions) -> tuple[torch.Tensor, bool, list[int]]:
    """Every step re-runs the whole sequence through the TRAINING path (`embed` + `_add_pointer`
    from build_batch's pointer), with the alignment the engine's pointer has made so far: the units
    its advance crossed at patch k start within patch k at the frames where the pointer's move
    (spread evenly over the patch's frames) crosses them. A zero placeholder patch after the
    generated ones makes the last real position a flow position (the causal backbone never sees it);
    its per-frame condition (pointer.frame_units) is read from a second build with its own units, and
    its voice vector (cfg.voice) from the training path's `prompt_voice` of the row."""
    tok, cfg, p = model.text_tokenizer, model.cfg, model.cfg.patch_size
    units = cfg.text_tokenizer.tts_units
    ids = tok.encode(tts_text(request.prompt_text, request.text), units=units)
    first = unit_offset(tok, request.prompt_text, units)
    cap = TTSEngine(model, opt).prepare(request).cap
    gen = torch.Generator().manual_seed(row_seed(opt.seed, request.utt_id))
    patches: list[torch.Tensor] = []
    starts: list[int] = []
    pos = torch.tensor([float(first)])

    def build():
        target = torch.cat(patches + [torch.zeros(p, cfg.latent_dim)])
        return model.build([tts_segments(tok.special, ids, request.prompt_latents, target, starts, first)])

    while True:
        batch = build()
        embeds, window, _ = model._add_pointer(model.embed(batch), batch)
        hidden = model.step(embeds, batch.attention_mask, batch.position_ids, compute_logits=False).hidden[:, -2]
        ended = torch.sigmoid(model.predict_stop(hidden)).item() > opt.stop_threshold
        ended = ended or (opt.stop_at_text_end and float(pos) >= len(ids))  # the last patch reached the text's end
        if len(patches) >= opt.min_patches and ended:
            return torch.cat(patches), True, starts
        if len(patches) >= cap:
            return torch.cat(patches), False, starts
        new = torch.minimum(pos + model.pointer.expected_advance(hidden), torch.tensor([float(len(ids))]))
        crossed = int(new.floor()) - int(pos.floor())
        cond = model.pointer.condition(hidden, window[:, -2], torch.tensor([crossed]))
        voice = model.prompt_voice(batch)  # [1, H] or None
        if voice is not None:
            cond = cond + voice
        units = model.pointer.frame_units(pos, new, p)[0].tolist()  # [P]: each frame's current unit
        starts += [len(patches) * p + next(f for f, u in enumerate(units) if u >= j)
                   for j in range(int(pos.floor()), int(new.floor()))]
        frame_cond = None
        if model.pointer.frame_proj is not None:
            with_units = build()
            frame_cond = model._add_pointer(model.embed(with_units), with_units)[2][-1:]  # [1, P, W]
        z = model.latent_norm.normalize(batch.patches)  # the placeholder is the slot of the patch to generate
        hist, hist_mask = history_windows(z, batch.frame_mask, cfg.dit.history_patches)
        noise = opt.temperature * torch.randn(p, cfg.latent_dim, generator=gen)[None]
        x = model.head.sample(cond, hist[:, -1], hist_mask[:, -1], steps=opt.steps, cfg_scale=opt.cfg_scale,
                              solver=opt.solver, noise=noise, frame_cond=frame_cond)
        pos = new
        patches.append(model.latent_norm.denormalize(x)[0])


@pytest.mark.parametrize("kind", ["patch-condition", "frame-units", "voice"])
def test_kv_cached_generation_equals_recompute_with_the_pointer(model, frame_model, voice_model, kind):
    model = {"patch-condition": model, "frame-units": frame_model, "voice": voice_model}[kind]
    g = torch.Generator().manual_seed(3)
    reqs = [TTSRequest("a", "the cat sees the dog.", "a red ball.", torch.randn(9, 32, generator=g)),
            TTSRequest("b", "the old man reads")]
    out = TTSEngine(model, OPTS).generate(reqs)
    assert min(o.num_patches for o in out) >= 3
    for request, got in zip(reqs, out):
        want, stopped, starts = recompute(model, request, OPTS)
        assert len(set(starts)) >= 2, "the pointer should have moved on several patches"
        assert got.stopped == stopped and got.latents.shape == want.shape
        torch.testing.assert_close(got.latents, want, atol=1e-4, rtol=1e-4)


def test_rows_end_when_the_pointer_reaches_the_end_of_the_text(model):
    """Aligned training utterances end in the patch where their last unit starts: with
    stop_at_text_end a row ends after the patch that moved its pointer to the text's end, even when
    the stop head never fires; without it the row runs on to its length cap."""
    bias = model.stop_head.bias.detach().clone()
    request = TTSRequest("a", "the cat.", "a red ball.", torch.randn(9, 32, generator=torch.Generator().manual_seed(3)))
    opts = TTSOptions(steps=2, max_seconds=3.0, seed=5)
    try:
        with torch.no_grad():
            model.stop_head.bias.fill_(-30.0)  # p(stop) ~ 0: only the text end can end the row
        ended = TTSEngine(model, opts).generate([request])[0]
        want, stopped, starts = recompute(model, request, opts)
        assert ended.stopped and stopped and torch.allclose(ended.latents, want, atol=1e-4, rtol=1e-4)
        capped = TTSEngine(model, TTSOptions(steps=2, max_seconds=3.0, seed=5, stop_at_text_end=False)).generate([request])[0]
        assert not capped.stopped and capped.num_patches > ended.num_patches
        assert capped.num_patches == math.ceil(3.0 * model.cfg.patch_rate)  # the max_seconds cap
    finally:
        with torch.no_grad():
            model.stop_head.bias.copy_(bias)


def test_training_refuses_a_manifest_without_alignments(tmp_path):
    from holitok_common.data.manifests import load_cuts, save_cuts
    from unified_lm.train.data import LatentCorpus, TaskStream
    from unified_lm.train.synthetic import write_fake_corpus

    paths = write_fake_corpus(tmp_path / "c", num_train=8, num_dev=2, speakers=2)
    cuts = list(load_cuts(paths["train"]))
    del cuts[3].custom["unit_starts"]
    save_cuts(cuts, tmp_path / "partly.jsonl.gz")
    corpus = LatentCorpus(tmp_path / "partly.jsonl.gz")
    kw = dict(max_frames=600, max_prompt_frames=100, num_buckets=1, shuffle=False, seed=0, world_size=1, rank=0,
              frame_rate=25.0, tts_units="chars")
    tok = tiny_text_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="1 cut.*no unit_starts.*holitok-align"):
        TaskStream("tts", corpus, tok, aligned=True, **kw)
    TaskStream("tts", corpus, tok, aligned=False, **kw)  # without the pointer the alignment is not needed
    TaskStream("asr", corpus, tok, aligned=True, **kw)  # nor for ASR


def test_config_errors():
    with pytest.raises(ConfigError, match="tts_units=chars"):
        load_unified_config("tiny", overrides=["pointer.enabled=true"])
    with pytest.raises(ConfigError, match="max_advance"):
        load_unified_config("tiny", overrides=["pointer.max_advance=0"])
