"""TTS engine invariants: KV-cached generation == full recompute through the training path,
batched == unbatched, seeded determinism, the stop head and the length caps, refused inputs."""

from __future__ import annotations

import math

import pytest
import torch

from test_generate_fixtures import tiny_lm
from unified_lm.generate import GenerationInputError, TTSEngine, TTSOptions, TTSRequest, row_seed
from unified_lm.model import history_windows
from unified_lm.sequences import tts_segments, tts_text

OPTS = TTSOptions(steps=3, cfg_scale=1.5, temperature=0.7, stop_threshold=0.6, max_seconds=2.0, seed=7)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("tts"), backbone={"tie_word_embeddings": False})


def requests() -> list[TTSRequest]:
    g = torch.Generator().manual_seed(3)
    return [
        TTSRequest("a", "the cat sees the dog near the park.", "a red ball.", torch.randn(9, 32, generator=g)),  # partial patch
        TTSRequest("b", "the old man reads"),  # no voice prompt
        TTSRequest("c", "two friends hear the quiet river today", "two books", torch.randn(16, 32, generator=g)),
    ]


@torch.no_grad()
def recompute(model, request: TTSRequest, opt: TTSOptions) -> tuple[torch.Tensor, bool]:
    """The slow reference: every step re-runs the whole sequence through the TRAINING path
    (tts_segments -> embed_segments -> uncached backbone; history from `history_windows`)."""
    special, cfg = model.text_tokenizer.special, model.cfg
    ids = model.text_tokenizer.encode(tts_text(request.prompt_text, request.text))
    cap = TTSEngine(model, opt).prepare(request).cap
    gen = torch.Generator().manual_seed(row_seed(opt.seed, request.utt_id))
    patches: list[torch.Tensor] = []
    while True:
        target = torch.cat(patches) if patches else None
        batch, embeds = model.embed_segments([tts_segments(special, ids, request.prompt_latents, target)])
        hidden = model.step(embeds, batch.attention_mask, batch.position_ids, compute_logits=False).hidden[:, -1]  # [1, H]
        if len(patches) >= opt.min_patches and torch.sigmoid(model.predict_stop(hidden)).item() > opt.stop_threshold:
            return torch.cat(patches), True
        if len(patches) >= cap:
            return torch.cat(patches), False
        z = torch.cat([model.latent_norm.normalize(batch.patches), torch.zeros(1, 1, cfg.patch_size, cfg.latent_dim)], 1)
        mask = torch.cat([batch.frame_mask, torch.ones(1, 1, cfg.patch_size, dtype=torch.bool)], 1)
        hist, hist_mask = history_windows(z, mask, cfg.dit.history_patches)  # [1, Na + 1, K*P, D]
        noise = opt.temperature * torch.randn(cfg.patch_size, cfg.latent_dim, generator=gen)[None]
        x = model.head.sample(hidden, hist[:, -1], hist_mask[:, -1], steps=opt.steps, cfg_scale=opt.cfg_scale,
                              solver=opt.solver, noise=noise)
        patches.append(model.latent_norm.denormalize(x)[0])


def test_kv_cached_batch_equals_full_recompute(model):
    out = TTSEngine(model, OPTS).generate(requests())
    assert len({o.num_patches for o in out}) > 1, "rows should end at different steps (exercises row dropping)"
    for request, got in zip(requests(), out):
        want, stopped = recompute(model, request, OPTS)
        assert got.num_patches * model.cfg.patch_size == got.latents.shape[0] == want.shape[0]
        assert got.stopped == stopped
        torch.testing.assert_close(got.latents, want, atol=1e-4, rtol=1e-4)


def test_batched_equals_unbatched_and_seeded(model):
    engine = TTSEngine(model, OPTS)
    batched = engine.generate(requests())
    for request, got in zip(requests(), batched):
        alone = engine.generate([request])[0]
        assert (alone.num_patches, alone.stopped) == (got.num_patches, got.stopped)
        torch.testing.assert_close(got.latents, alone.latents, atol=1e-5, rtol=1e-5)
    again = engine.generate(requests()[::-1])[::-1]  # order in the batch does not matter either
    for a, b in zip(batched, again):
        torch.testing.assert_close(a.latents, b.latents, atol=1e-5, rtol=1e-5)
    other_seed = TTSEngine(model, TTSOptions(**{**OPTS.__dict__, "seed": 8})).generate(requests()[:1])[0]
    n = min(other_seed.num_patches, batched[0].num_patches) * model.cfg.patch_size
    assert not torch.allclose(other_seed.latents[:n], batched[0].latents[:n])


def test_temperature_scales_the_starting_noise(model):
    hot = TTSEngine(model, TTSOptions(**{**OPTS.__dict__, "temperature": 1.0})).generate(requests()[:1])[0]
    cold = TTSEngine(model, OPTS).generate(requests()[:1])[0]
    n = min(hot.num_patches, cold.num_patches) * model.cfg.patch_size
    assert not torch.allclose(hot.latents[:n], cold.latents[:n])
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            TTSOptions(temperature=bad).validate()


def test_streaming_steps_match_generate(model):
    engine = TTSEngine(model, OPTS)
    steps = list(engine.steps(requests()))
    finished = {row: stopped for s in steps for row, stopped in s.finished.items()}
    assert sorted(finished) == [0, 1, 2]
    first = torch.cat([s.patches[s.rows.index(0)] for s in steps if 0 in s.rows])
    torch.testing.assert_close(first, engine.generate(requests())[0].latents)


def set_stop_bias(model, value: float) -> None:
    with torch.no_grad():
        model.stop_head.weight.zero_()
        model.stop_head.bias.fill_(value)


def test_stop_head_and_length_caps(tmp_path):
    model = tiny_lm(tmp_path)
    set_stop_bias(model, 20.0)  # p(stop) ~ 1: stops as soon as allowed
    for min_patches in (1, 3):
        out = TTSEngine(model, TTSOptions(steps=1, min_patches=min_patches)).generate(requests())
        assert [(o.num_patches, o.stopped) for o in out] == [(min_patches, True)] * 3
    set_stop_bias(model, -20.0)  # never stops: the caps end every row
    opt = TTSOptions(steps=1, max_seconds=1.0, text_cap_base_s=0.0, text_cap_s_per_char=0.05)
    out = TTSEngine(model, opt).generate(requests())
    rate = model.cfg.patch_rate
    text_caps = [math.ceil(0.05 * len(r.text) * rate) for r in requests()]
    assert [o.num_patches for o in out] == [min(math.ceil(1.0 * rate), c) for c in text_caps]
    assert not any(o.stopped for o in out)
    # the prompt's speaking rate: request a has 9 prompt frames for 11 prompt characters
    rated = TTSEngine(model, TTSOptions(steps=1, prompt_rate_cap=2.0)).generate(requests())
    plain = TTSEngine(model, TTSOptions(steps=1)).generate(requests())
    want = [math.ceil(2.0 * len(r.text) / len(r.prompt_text) * r.prompt_latents.shape[0] / model.cfg.patch_size)
            for r in (requests()[0], requests()[2])]
    assert [rated[0].num_patches, rated[2].num_patches] == want
    assert want[0] < plain[0].num_patches and want[1] < plain[2].num_patches
    assert rated[1].num_patches == plain[1].num_patches  # no voice prompt: no prompt-rate cap
    with pytest.raises(ValueError, match="prompt_rate_cap"):
        TTSOptions(prompt_rate_cap=-1.0).validate()
    long_prompt = TTSRequest("p", "hi there.", "a red ball.", torch.randn(model.cfg.max_audio_frames - 4, 32))
    assert TTSEngine(model, TTSOptions(steps=1, max_seconds=60)).generate([long_prompt])[0].num_patches == 1  # audio budget


@pytest.mark.parametrize("request_, message", [
    (TTSRequest("e", "   "), "empty"),
    (TTSRequest("p", "hello", "", torch.zeros(8, 32)), "transcript"),
    (TTSRequest("t", "hello", "a prompt text", None), "without prompt audio"),
    (TTSRequest("u", "the cat 日本 sees"), "日"),
    (TTSRequest("l", "the cat sees the dog " * 80), "max_text_tokens"),
    (TTSRequest("x", "hello", "a red ball.", torch.zeros(751, 32)), "shorter prompt"),
    (TTSRequest("d", "hello", "a red ball.", torch.zeros(8, 16)), "latents must be"),
])
def test_bad_requests_are_refused_before_any_work(model, request_, message):
    with pytest.raises(GenerationInputError, match=message) as info:
        TTSEngine(model, OPTS).generate([requests()[0], request_])
    assert request_.utt_id in str(info.value)


def test_characters_never_seen_in_training_are_refused(tmp_path):
    seen_model = tiny_lm(tmp_path, backbone={"tie_word_embeddings": False},
                         text_tokenizer={"seen_chars": " .abcdehilnorstw"})  # no g, k
    engine = TTSEngine(seen_model, OPTS)
    engine.prepare(TTSRequest("ok", "the cat sees the owl."))
    with pytest.raises(GenerationInputError, match=r"bad: the text .* 2 character\(s\) .* 'g' \(U\+0067\), 'k'"):
        engine.prepare(TTSRequest("bad", "the dog knows."))
    with pytest.raises(GenerationInputError, match=r"pr: the prompt transcript .* 'Z' \(U\+005A\)"):
        engine.prepare(TTSRequest("pr", "the cat sees.", "Zeta", torch.zeros(8, 32)))
    unrecorded = tiny_lm(tmp_path / "u", backbone={"tie_word_embeddings": False})
    assert unrecorded.cfg.text_tokenizer.seen_chars is None
    TTSEngine(unrecorded, OPTS).prepare(TTSRequest("any", "the dog knows."))  # nothing recorded: nothing refused
