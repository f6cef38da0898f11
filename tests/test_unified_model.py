"""UnifiedLM (tiny): causality by gradient through the whole model, save/load roundtrip, loss
weights, history windows, latent statistics, checkpoint errors, an HF-tokenizer backbone."""

from __future__ import annotations

import json

import pytest
import torch

from test_unified_text_tokenizer import make_sentences, save_tiny_hf_tokenizer, train_tiny_sentencepiece
from unified_lm.model import UnifiedLM, history_windows
from unified_lm.patch_encoder import LatentNorm, PatchEncoder
from unified_lm.sequences import asr_segments, tts_segments
from unified_lm.text_tokenizer import SentencePieceTextTokenizer

D = 32  # the tiny preset pairs with the tiny tokenizer (32-dim latents)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return SentencePieceTextTokenizer(train_tiny_sentencepiece(tmp_path_factory.mktemp("spm")))


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory):
    g = torch.Generator().manual_seed(5)
    path = tmp_path_factory.mktemp("stats") / "latent_stats.json"
    stats = {"mean": torch.randn(D, generator=g).tolist(), "std": (torch.rand(D, generator=g) + 0.5).tolist(),
             "count": 1234, "latent_dim": D, "frame_rate": 25.0}
    path.write_text(json.dumps(stats))
    return path


def tiny_model(tok, seed=0, **overrides):
    torch.manual_seed(seed)
    return UnifiedLM.from_preset("tiny", text_tok=tok, **overrides).eval()


def batch_for(model, tok, seed=0):
    g = torch.Generator().manual_seed(seed)
    sp = tok.special
    tts = tts_segments(sp, tok.encode("The cat sees a dog"), torch.randn(6, D, generator=g), torch.randn(9, D, generator=g))
    asr = asr_segments(sp, torch.randn(7, D, generator=g), tok.encode("A dog reads"))
    return model.build([tts, asr])


def test_forward_counts_and_losses(tok):
    model = tiny_model(tok)
    batch = batch_for(model, tok)
    out = model(batch, generator=torch.Generator().manual_seed(0))
    # TTS target: 9 frames -> 3 patches (flow) + 1 final stop position; ASR: 3 transcript tokens + eos
    assert (out.counts.flow_patches, out.counts.stop_positions) == (3, 4)
    assert out.counts.text_tokens == len(tok.encode("A dog reads")) + 1
    for part in (out.loss, out.text_ce, out.flow, out.stop):
        assert part.dim() == 0 and torch.isfinite(part)
    out.loss.backward()
    assert model.audio_in.in_proj.weight.grad.abs().sum() > 0 and model.head.x_proj.weight.grad is not None


def test_causality_by_gradient_through_the_whole_model(tok):
    """hidden state / stop logit at position i depend on no input (token or latent patch) after i."""
    model = tiny_model(tok)
    batch = batch_for(model, tok)
    batch.patches.requires_grad_(True)
    captured = {}
    hook = model.backbone.lm.get_input_embeddings().register_forward_hook(lambda m, i, o: captured.update(tokens=o))
    hidden = model.step(model.embed(batch), batch.attention_mask, batch.position_ids, compute_logits=False).hidden
    hook.remove()
    for row in range(2):
        slots = batch.patch_index[row]  # [L]
        for i in range(int(batch.lengths[row])):
            out = hidden[row, i].sum() + model.predict_stop(hidden[row, i])
            g_patch, g_tok = torch.autograd.grad(out, [batch.patches, captured["tokens"]], retain_graph=True)
            later_patches = slots[i + 1:][slots[i + 1:] >= 0]  # patches placed after position i
            assert g_patch[row, later_patches].abs().sum().item() == 0
            assert g_tok[row, i + 1:].abs().sum().item() == 0
            assert g_tok[1 - row].abs().sum().item() == 0 and g_patch[1 - row].abs().sum().item() == 0  # rows independent
            assert g_tok[row, : i + 1].abs().sum() > 0  # the check is not vacuous
            if slots[i] >= 0:
                assert g_patch[row, slots[i]].abs().sum() > 0  # this position's own patch is seen


def test_patch_encoder_is_causal():
    torch.manual_seed(0)
    enc = PatchEncoder(latent_dim=8, patch_size=4, width=32, layers=2, heads=4, ffn=64, out_dim=16)
    x = torch.randn(2, 6, 4, 8, requires_grad=True)  # [B, N, P, D]
    y = enc(x)  # [B, N, 16]
    for n in range(6):
        (g,) = torch.autograd.grad(y[:, n].sum(), x, retain_graph=True)
        assert g[:, n + 1:].abs().sum().item() == 0
        assert g[:, n].abs().sum() > 0


def test_history_windows_oldest_first_and_masked():
    patches = torch.arange(1, 4, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 2, 1)  # [B=1, Na=3, P=2, D=1]
    frame_mask = torch.tensor([[[True, True], [True, False], [True, True]]])  # [1, 3, 2]
    hist, mask = history_windows(patches, frame_mask, k=2)
    assert hist.shape == (1, 3, 4, 1)
    assert hist[0, :, :, 0].tolist() == [[0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 2, 2]]
    assert mask[0].tolist() == [[False] * 4, [False, False, True, True], [True, True, True, False]]


def test_loss_weights_are_respected(tok):
    batch = batch_for(tiny_model(tok), tok)
    base = tiny_model(tok)(batch, generator=torch.Generator().manual_seed(0))
    weighted = tiny_model(tok, loss={"text_ce": 0.5, "flow": 2.0, "stop": 0.0})(batch, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(base.loss, base.text_ce + base.flow + base.stop)
    for part in ("text_ce", "flow", "stop"):
        assert torch.equal(getattr(base, part), getattr(weighted, part))
    assert torch.allclose(weighted.loss, 0.5 * base.text_ce + 2.0 * base.flow)


def test_label_smoothing_is_the_smoothed_text_ce(tok):
    batch = batch_for(tiny_model(tok), tok)
    plain = tiny_model(tok)(batch, generator=torch.Generator().manual_seed(0))
    model = tiny_model(tok, loss={"label_smoothing": 0.1})
    smooth = model(batch, generator=torch.Generator().manual_seed(0))
    mask = batch.text_targets != -100
    logits = model.step(model.embed(batch), batch.attention_mask, batch.position_ids, logits_mask=mask).logits
    logp = logits.float().log_softmax(-1)  # [N, V]
    nll = -logp.gather(1, batch.text_targets[mask][:, None]).squeeze(1)
    expected = (0.9 * nll - 0.1 * logp.mean(-1)).mean()  # (1 - e) NLL + e x uniform cross-entropy
    assert torch.allclose(smooth.text_ce, expected, atol=1e-5)
    assert not torch.allclose(smooth.text_ce, plain.text_ce)
    assert torch.equal(smooth.flow, plain.flow) and torch.equal(smooth.stop, plain.stop)


def test_backbone_attention_dropout_acts_in_training_only(tok):
    model = tiny_model(tok, backbone={"attention_dropout": 0.5})
    assert model.backbone.config.attention_dropout == 0.5
    batch = batch_for(model, tok)
    evals = [model(batch, generator=torch.Generator().manual_seed(0)).text_ce for _ in range(2)]
    assert torch.equal(evals[0], evals[1])  # eval(): deterministic
    model.train()
    torch.manual_seed(1)
    trained = [model(batch, generator=torch.Generator().manual_seed(0)).text_ce for _ in range(2)]
    assert not torch.equal(trained[0], trained[1]) and not torch.equal(trained[0], evals[0])


def test_tts_input_noise_touches_only_target_patch_inputs(tok):
    model = tiny_model(tok, audio_in={"tts_input_noise": 0.5})
    batch = batch_for(model, tok)
    assert model._noisy_targets(batch, torch.Generator().manual_seed(0)) is batch  # eval(): off
    model.train()
    noisy = model._noisy_targets(batch, torch.Generator().manual_seed(0))
    changed = (noisy.patches != batch.patches).any(-1)  # [B, Na, P]
    assert torch.equal(changed, batch.patch_is_target[..., None] & batch.frame_mask)  # not prompts, not padding
    delta = model.latent_norm.normalize(noisy.patches) - model.latent_norm.normalize(batch.patches)
    assert 0.3 < float(delta[changed].std()) < 0.7  # std in normalised units
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.flow) and out.counts.flow_patches == 3


def test_auxiliary_ctc_on_asr_rows_only(tok):
    plain = tiny_model(tok)
    assert plain.ctc_head is None
    model = tiny_model(tok, loss={"ctc": 0.3})
    batch = batch_for(model, tok)
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert out.counts.ctc_utterances == 1 and torch.isfinite(out.ctc) and out.ctc > 0
    assert torch.allclose(out.loss, out.text_ce + out.flow + out.stop + 0.3 * out.ctc)
    # by hand: the ASR row's 7 frames emit P = 4 distributions per patch (8, the last one padded)
    ids = torch.tensor(tok.encode("A dog reads"))
    asr_row = 1
    hidden = model.step(model.embed(batch), batch.attention_mask, batch.position_ids, compute_logits=False).hidden
    logits = model.ctc_head(hidden[asr_row][batch.audio_slot[asr_row]]).reshape(-1, model.backbone.vocab_size + 1)[:7]
    expected = torch.nn.functional.ctc_loss(logits.log_softmax(-1)[:, None], ids[None], [7], [len(ids)],
                                            blank=model.backbone.vocab_size)  # mean: / target length
    assert torch.allclose(out.ctc, expected, atol=1e-5)
    out.ctc.backward()
    assert model.audio_in.in_proj.weight.grad.abs().sum() > 0  # CTC trains the audio path
    tts_only = model.build([batch_for_tts(tok)])
    none = model(tts_only, generator=torch.Generator().manual_seed(0))
    assert none.counts.ctc_utterances == 0 and float(none.ctc) == 0.0


def test_asr_rows_can_encode_audio_bidirectionally(tok):
    g = torch.Generator().manual_seed(3)
    asr_lat, tts_lat, long_lat = torch.randn(9, D, generator=g), torch.randn(9, D, generator=g), torch.randn(17, D, generator=g)
    sp = tok.special

    def audio_embeddings(model, asr_latents, tts_latents, extra=()):
        examples = [asr_segments(sp, asr_latents, tok.encode("a dog")), tts_segments(sp, tok.encode("a cat"), None, tts_latents),
                    *extra]
        batch = model.build(examples)
        return model.embed_audio(batch.patches, batch.frame_mask, model.bidirectional_rows(batch))  # [B, Na, H]

    for bidirectional in (False, True):
        model = tiny_model(tok, audio_in={"asr_bidirectional": bidirectional})
        base = audio_embeddings(model, asr_lat, tts_lat)
        changed_last = asr_lat.clone(), tts_lat.clone()
        changed_last[0][-1] += 1.0
        changed_last[1][-1] += 1.0
        moved = audio_embeddings(model, *changed_last)
        # patch 0 of the ASR row sees the last patch only when bidirectional; TTS rows stay causal
        assert torch.allclose(base[0, 0], moved[0, 0], atol=1e-6) != bidirectional
        assert torch.allclose(base[1, 0], moved[1, 0], atol=1e-6)
        # a longer row in the batch (padding patches in the ASR row) changes nothing
        padded = audio_embeddings(model, asr_lat, tts_lat, extra=[asr_segments(sp, long_lat, tok.encode("x"))])
        assert torch.allclose(base[0, :3], padded[0, :3], atol=1e-5) and torch.allclose(base[1, :3], padded[1, :3], atol=1e-5)


def batch_for_tts(tok, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tts_segments(tok.special, tok.encode("The cat"), None, torch.randn(5, D, generator=g))


def test_save_load_roundtrip_gives_identical_outputs(tok, stats_file, tmp_path):
    model = tiny_model(tok, seed=3, latent_stats=str(stats_file), tokenizer_ref="holitok-48k:/models/holitok")
    assert int(model.latent_norm.count) == 1234
    batch = batch_for(model, tok)
    directory = model.save_pretrained(tmp_path / "ckpt")
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["kind"] == "holitok-unified" and meta["format_version"] == 1
    assert meta["tokenizer_ref"] == "holitok-48k:/models/holitok" and meta["parameters"]["total"] == model.num_parameters().total
    assert json.loads((directory / "latent_stats.json").read_text())["count"] == 1234
    loaded = UnifiedLM.from_pretrained(directory)
    assert not loaded.training and loaded.text_tokenizer.encode("The cat") == tok.encode("The cat")
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    with torch.no_grad():
        out_a = model(batch, generator=torch.Generator().manual_seed(1))
        out_b = loaded(batch, generator=torch.Generator().manual_seed(1))
        h_a = model.step(model.embed(batch), batch.attention_mask, batch.position_ids).hidden
        h_b = loaded.step(loaded.embed(batch), batch.attention_mask, batch.position_ids).hidden
    assert torch.equal(out_a.loss, out_b.loss) and torch.equal(h_a, h_b)


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        UnifiedLM.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no meta.json"):
        UnifiedLM.from_pretrained(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "meta.json").write_text(json.dumps({"kind": "holitok-tokenizer", "format_version": 1}))
    with pytest.raises(ValueError, match="holds a 'holitok-tokenizer' checkpoint, not a 'holitok-unified'"):
        UnifiedLM.from_pretrained(tmp_path / "other")


def test_latent_norm_stats_roundtrip_and_checks(stats_file, tmp_path):
    norm = LatentNorm(D)
    norm.load_stats_file(stats_file)
    x = torch.randn(3, 5, D)
    assert torch.allclose(norm.denormalize(norm.normalize(x)), x, atol=1e-5)
    norm.save_stats_file(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == json.loads(stats_file.read_text())
    with pytest.raises(ValueError, match="expects 32"):
        norm.load_stats({"mean": [0.0] * 4, "std": [1.0] * 4})
    with pytest.raises(ValueError, match="12.5 Hz"):
        norm.load_stats({"mean": [0.0] * D, "std": [1.0] * D, "frame_rate": 12.5})


def test_hf_pretrained_backbone_with_its_tokenizer(tmp_path):
    """backbone.pretrained = a local HF dir holding weights + tokenizer: special tokens are added,
    the embedding grows to fit them, and the checkpoint reloads without the original directory."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    lm_dir = save_tiny_hf_tokenizer(tmp_path / "lm")
    hf_cfg = Qwen2Config(vocab_size=60, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    AutoModelForCausalLM.from_config(hf_cfg).save_pretrained(str(lm_dir))
    model = UnifiedLM.from_preset("tiny", backbone={"pretrained": str(lm_dir)}, text_tokenizer={"kind": "hf"}).eval()
    assert model.backbone.vocab_size == model.text_tokenizer.vocab_size > 60  # grown for task tokens + pad
    assert model.cfg.dit.cond_dim == 64
    tts = tts_segments(model.text_tokenizer.special, model.text_tokenizer.encode(make_sentences(1)[0].lower()),
                       torch.randn(4, D), torch.randn(5, D))
    batch = model.build([tts])
    ckpt = model.save_pretrained(tmp_path / "ckpt")
    for path in lm_dir.iterdir():
        path.unlink()
    lm_dir.rmdir()
    loaded = UnifiedLM.from_pretrained(ckpt)
    with torch.no_grad():
        a = model(batch, generator=torch.Generator().manual_seed(0))
        b = loaded(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.loss, b.loss) and loaded.text_tokenizer.special == model.text_tokenizer.special


def test_bf16_model_embeds_float32_latents_without_autocast(tok, stats_file):
    """Latents arrive float32 (tokenizer output); a bf16-cast model must take them as they are."""
    model = tiny_model(tok, latent_stats=str(stats_file)).to(torch.bfloat16)
    patches, mask = torch.randn(2, 3, 4, D), torch.ones(2, 3, 4, dtype=torch.bool)  # float32 [B, Na, P, D]
    mask[1, 2, 1:] = False
    with torch.no_grad():
        emb = model.embed_audio(patches, mask)  # [B, Na, H]
        _, cache = model.audio_in.step(model.latent_norm.normalize(patches[:, :2]), mask[:, :2])
        last, _ = model.audio_in.step(model.latent_norm.normalize(patches[:, 2:]), mask[:, 2:], cache)
    assert emb.dtype == torch.bfloat16 and emb.shape == (2, 3, model.backbone.hidden_size)
    assert torch.isfinite(emb.float()).all() and last.dtype == torch.bfloat16
    want = tiny_model(tok, latent_stats=str(stats_file)).embed_audio(patches, mask).detach()  # float32 reference
    torch.testing.assert_close(emb.float(), want, atol=0.1, rtol=0.1)


def test_package_exports_the_model_and_its_config():
    import unified_lm
    from unified_lm.config import UnifiedConfig
    from unified_lm.model import UnifiedLM

    assert unified_lm.UnifiedLM is UnifiedLM and unified_lm.UnifiedConfig is UnifiedConfig
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        unified_lm.Nope
