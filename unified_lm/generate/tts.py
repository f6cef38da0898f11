"""Zero-shot TTS generation: KV-cached backbone + DiT head, batched, seeded per utterance.

    prefill   <|tts|> prompt_text + " " + text <|audio_start|> [prompt patches]     (one call)
    each step hidden h (last position) -> stop head: p(stop) > threshold ends the row
              -> DiT head samples the next patch from noise (history: last K patches)
              -> the patch goes through the PatchEncoder (cached: `PatchEncoder.step`) and is fed
                 back as the next backbone position (KV cache, kv.py)

Batching: rows are left-padded (kv.py); a finished row is dropped from the caches, so the others
run at full speed. Determinism: every row draws its noise from its own CPU `torch.Generator`
seeded from (seed, utterance id), one [P, D] draw per generated patch, so a row's patches do not
depend on the batch it is in, on the device, or on the rows that finished before it.

The engine works in latents; `synth.py` turns them into audio with the tokenizer. `steps()` is
the streaming API (one `TTSStepOutput` per backbone step); `generate()` collects it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unified_lm.generate.kv import CachedBackbone
from unified_lm.generate.options import GenerationInputError, TTSOptions
from unified_lm.model import UnifiedLM
from unified_lm.patch_encoder import PatchEncoderCache
from unified_lm.pointer import unit_offset
from unified_lm.sequences import SequenceBatch, tts_segments, tts_text
from unified_lm.text_tokenizer import UnencodableTextError, normalize_text


@dataclass(frozen=True, eq=False)
class TTSRequest:
    """One utterance. prompt_latents: RAW tokenizer latents [T, D] of the prompt audio (or None:
    no voice prompt; then prompt_text must be empty too)."""

    utt_id: str
    text: str
    prompt_text: str = ""
    prompt_latents: Optional[torch.Tensor] = None


@dataclass
class TTSStepOutput:
    """What one step produced: `rows` (request indices) each got one patch, `patches` [len(rows),
    P, D] raw latents; `finished` maps rows that ended this step to True when they ended on their own
    (stop head, or the text pointer at the end of the text) and False at their length cap."""

    rows: list[int]
    patches: torch.Tensor
    finished: dict[int, bool] = field(default_factory=dict)


@dataclass
class TTSLatents:
    """Generated raw latents [num_patches * P, D] of one request (prompt excluded)."""

    latents: torch.Tensor
    num_patches: int
    stopped: bool  # True: it ended on its own (stop head, or the text pointer at the text's end); False: length cap


@dataclass
class _Prepared:
    ids: list[int]
    prompt: Optional[torch.Tensor]  # [T, D]
    cap: int  # max patches to generate
    first_unit: int  # index of the target text's first unit (the text pointer's start; 0 without one)


def row_seed(seed: int, utt_id: str) -> int:
    """A 63-bit seed from (seed, utterance id): stable across runs, processes and machines."""
    digest = hashlib.sha256(f"{seed}\x00{utt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class TTSEngine:
    """Latent generation for a batch of TTSRequests with one UnifiedLM (eval mode, any device)."""

    def __init__(self, model: UnifiedLM, options: TTSOptions = TTSOptions()):
        if model.text_tokenizer is None:
            raise ValueError("the model has no text tokenizer attached; TTS needs one")
        self.model, self.options = model, options.validate()

    @property
    def device(self) -> torch.device:
        return self.model.stop_head.weight.device

    def _check_seen(self, name: str, what: str, text: str) -> None:
        """Refuse characters the training transcripts never had (text_tokenizer.seen_chars, when recorded)."""
        seen = self.model.cfg.text_tokenizer.seen_chars
        if seen is None:
            return
        unseen = sorted(set(normalize_text(text)) - set(seen) - {" "})
        if unseen:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unseen)
            raise GenerationInputError(
                f"{name}: the {what} {text[:80]!r} has {len(unseen)} character(s) the model never saw in its training "
                f"transcripts: {shown}; it cannot know how to speak them. Rewrite them in words or leave them out "
                f"(holitok-tts --text-norm en already maps case and common punctuation to characters it knows; "
                f"it knows: {seen.strip()!r})")

    def prepare(self, request: TTSRequest) -> _Prepared:
        """Validate one request and compute its text ids and length cap (GenerationInputError)."""
        cfg, opt, name = self.model.cfg, self.options, request.utt_id
        if not normalize_text(request.text):
            raise GenerationInputError(f"{name}: the text to synthesise is empty")
        if not any(ch.isalnum() for ch in request.text):
            raise GenerationInputError(f"{name}: the text {request.text!r} has no letters or digits to speak")
        prompt = request.prompt_latents
        if prompt is not None and not normalize_text(request.prompt_text):
            raise GenerationInputError(f"{name}: a prompt wav needs its transcript (prompt text); pass it, or drop the prompt")
        if prompt is None and normalize_text(request.prompt_text):
            raise GenerationInputError(f"{name}: prompt text was given without prompt audio")
        if prompt is not None and (prompt.dim() != 2 or prompt.shape[1] != cfg.latent_dim or prompt.shape[0] == 0):
            raise GenerationInputError(f"{name}: prompt latents must be [T >= 1, {cfg.latent_dim}], got {tuple(prompt.shape)}")
        self._check_seen(name, "text", request.text)
        self._check_seen(name, "prompt transcript", request.prompt_text)
        try:
            ids = self.model.text_tokenizer.encode(tts_text(request.prompt_text, request.text),
                                                   units=cfg.text_tokenizer.tts_units)
        except UnencodableTextError as exc:
            raise GenerationInputError(f"{name}: {exc}") from exc
        if len(ids) > cfg.max_text_tokens:
            raise GenerationInputError(f"{name}: prompt text + text is {len(ids)} tokens, more than the model's "
                                       f"max_text_tokens={cfg.max_text_tokens}; split the text")
        n_prompt = 0 if prompt is None else math.ceil(prompt.shape[0] / cfg.patch_size)
        chars = len(normalize_text(request.text))
        text_s = opt.text_cap_base_s + opt.text_cap_s_per_char * chars
        cap = min(math.ceil(opt.max_seconds * cfg.patch_rate), math.ceil(text_s * cfg.patch_rate),
                  cfg.max_patches - n_prompt)
        if prompt is not None and opt.prompt_rate_cap > 0:  # never below min_patches: it is a cap, not a refusal
            ratio = chars / len(normalize_text(request.prompt_text))
            rated = math.ceil(opt.prompt_rate_cap * ratio * prompt.shape[0] / cfg.patch_size)
            cap = min(cap, max(opt.min_patches, rated))
        if cfg.max_patches - n_prompt < opt.min_patches:
            raise GenerationInputError(f"{name}: the prompt ({n_prompt} patches) leaves {cfg.max_patches - n_prompt} of the "
                                       f"model's {cfg.max_patches}-patch audio budget, fewer than min_patches={opt.min_patches}; "
                                       "use a shorter prompt or a lower min_patches")
        if cap < opt.min_patches:
            raise GenerationInputError(f"{name}: the length cap ({cap} patches, from max_seconds and the text length) is "
                                       f"below min_patches={opt.min_patches}; lower min_patches or raise max_seconds")
        first = 0 if self.model.pointer is None else \
            unit_offset(self.model.text_tokenizer, request.prompt_text, cfg.text_tokenizer.tts_units)
        return _Prepared(ids, prompt, cap, first)

    def generate(self, requests: Sequence[TTSRequest]) -> list[TTSLatents]:
        """Offline: run `steps` to the end and collect each row's latents."""
        chunks: list[list[torch.Tensor]] = [[] for _ in requests]
        stopped: dict[int, bool] = {}
        for out in self.steps(requests):
            for j, row in enumerate(out.rows):
                chunks[row].append(out.patches[j])
            stopped.update(out.finished)
        d = self.model.cfg.latent_dim
        return [TTSLatents(torch.cat(c) if c else torch.zeros(0, d), len(c), stopped[i]) for i, c in enumerate(chunks)]

    @torch.no_grad()
    def steps(self, requests: Sequence[TTSRequest]) -> Iterator[TTSStepOutput]:
        """Streaming generation: yields one TTSStepOutput per step until every row has ended.
        Raises GenerationInputError (before any work) if a request is invalid."""
        prepared = [self.prepare(r) for r in requests]
        if not prepared:
            return
        model, opt, device = self.model, self.options, self.device
        p, d, k = model.cfg.patch_size, model.cfg.latent_dim, model.cfg.dit.history_patches
        special = model.text_tokenizer.special
        batch = model.build([tts_segments(special, x.ids, x.prompt) for x in prepared]).to(device)
        kv = CachedBackbone(model)
        prefix, pcache = self._embed_prefix(batch)  # [B, L, H]
        pointer = None if model.pointer is None else _PointerState.start(model, prepared, device)
        if pointer is not None:  # the first target patch is conditioned by each row's last prefix position
            last = batch.lengths.to(device) - 1  # [B]
            rows = torch.arange(len(prepared), device=device)
            prefix = prefix.index_put((rows, last), prefix[rows, last] + pointer.window.to(prefix.dtype))
        hidden, _ = kv.prefill(prefix, batch.lengths)  # [B, H]
        z = model.latent_norm.normalize(batch.patches)  # [B, Na, P, D] the prompts, normalised
        voice = model.prompt_voice(batch, z)  # [B, H] each row's voice vector (cfg.voice), or None
        hist, hist_mask = _initial_history(z, batch.frame_mask, batch.patch_valid.sum(dim=1), k)
        gens = [torch.Generator().manual_seed(row_seed(opt.seed, r.utt_id)) for r in requests]
        caps = torch.tensor([x.cap for x in prepared])
        active, count = list(range(len(prepared))), torch.zeros(len(prepared), dtype=torch.long)
        while active:
            p_stop = torch.sigmoid(model.predict_stop(hidden).float()).cpu()  # [A]
            n = count[active]
            ended = p_stop > opt.stop_threshold  # [A]
            if pointer is not None and opt.stop_at_text_end:  # the last patch reached the text's end
                ended = ended | (pointer.pos >= pointer.counts.float()).cpu()
            stop = (n >= opt.min_patches) & ended  # [A]
            done = stop | (n >= caps[active])
            finished = {active[j]: bool(stop[j]) for j in range(len(active)) if done[j]}
            if finished:
                keep = torch.tensor([j for j in range(len(active)) if not done[j]], dtype=torch.long)
                active = [active[j] for j in keep.tolist()]
                if not active:
                    yield TTSStepOutput([], torch.zeros(0, p, d), finished)
                    return
                kv.keep(keep.to(device))
                pcache = None if pcache is None else pcache.select(keep.to(device))
                hidden = hidden[keep.to(device)]
                hist, hist_mask = (None, None) if hist is None else (hist[keep.to(device)], hist_mask[keep.to(device)])
                pointer = None if pointer is None else pointer.select(keep.to(device))
                voice = None if voice is None else voice[keep.to(device)]
            cond, frame_cond = (hidden, None) if pointer is None else pointer.advance(model, hidden)  # [A, H]
            if voice is not None:
                cond = cond + voice.to(cond.dtype)
            noise = torch.stack([torch.randn(p, d, generator=gens[i]) for i in active]).to(device)  # [A, P, D]
            noise = opt.temperature * noise
            x = model.head.sample(cond, hist, hist_mask, steps=opt.steps, cfg_scale=opt.cfg_scale,
                                  solver=opt.solver, noise=noise, frame_cond=frame_cond).float()  # [A, P, D] normalised
            count[active] += 1
            yield TTSStepOutput(list(active), model.latent_norm.denormalize(x).cpu(), finished)
            ones = torch.ones(len(active), 1, p, dtype=torch.bool, device=device)  # [A, 1, P]
            emb, pcache = model.audio_in.step(x[:, None], ones, pcache)  # [A, 1, H]
            if pointer is not None:  # the window of the next patch goes in with this one
                emb = emb + pointer.window[:, None].to(emb.dtype)
            hidden, _ = kv.step(emb.to(hidden.dtype))  # [A, H]
            if hist is not None:
                hist = torch.cat([hist[:, p:], x.to(hist.dtype)], dim=1)  # [A, K*P, D]
                hist_mask = torch.cat([hist_mask[:, p:], ones[:, 0]], dim=1)  # [A, K*P]

    def _embed_prefix(self, batch: SequenceBatch) -> tuple[torch.Tensor, Optional[PatchEncoderCache]]:
        """Input embeddings [B, L, H] of the prefix (as UnifiedLM.embed, with the prompt patches
        encoded by `PatchEncoder.step` so that generated patches can attend to them), and that
        PatchEncoder cache (None when no row has a prompt)."""
        model = self.model
        tokens = model.backbone.embed_tokens(batch.input_ids)  # [B, L, H]
        if batch.patches.shape[1] == 0:
            return tokens, None
        z = model.latent_norm.normalize(batch.patches)  # [B, Na, P, D]
        audio, pcache = model.audio_in.step(z, batch.frame_mask, None, batch.patch_valid)  # [B, Na, H]
        index = batch.patch_index.clamp(min=0)[..., None].expand(-1, -1, tokens.shape[-1])  # [B, L, H]
        return torch.where(batch.audio_slot[..., None], audio.to(tokens.dtype).gather(1, index), tokens), pcache


@dataclass
class _PointerState:
    """The text pointer of the active rows (pointer.py): fractional position `pos` [A] in units,
    the rows' unit embeddings [A, U, H] and counts [A], and the window of the patch to generate next."""

    pos: torch.Tensor
    unit_embeds: torch.Tensor
    counts: torch.Tensor
    window: torch.Tensor

    @classmethod
    def start(cls, model: UnifiedLM, prepared: Sequence[_Prepared], device: torch.device) -> "_PointerState":
        ids = nn.utils.rnn.pad_sequence([torch.tensor(x.ids, dtype=torch.long) for x in prepared], batch_first=True,
                                        padding_value=model.text_tokenizer.special.pad).to(device)  # [B, U]
        counts = torch.tensor([len(x.ids) for x in prepared], dtype=torch.long, device=device)
        pos = torch.tensor([float(x.first_unit) for x in prepared], device=device)
        unit_embeds = model.backbone.embed_tokens(ids)  # [B, U, H]
        return cls(pos, unit_embeds, counts, model.pointer.window(unit_embeds, counts, pos.long()))

    def select(self, keep: torch.Tensor) -> "_PointerState":
        return _PointerState(self.pos[keep], self.unit_embeds[keep], self.counts[keep], self.window[keep])

    def advance(self, model: UnifiedLM, hidden: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Move by the expected advance; return the DiT condition of this patch (its window and the
        whole units the move crossed) and its per-frame condition ([A, P, W], or None without
        pointer.frame_units), and set `window` to the next patch's."""
        pointer = model.pointer
        new = torch.minimum(self.pos + pointer.expected_advance(hidden), self.counts.float())  # [A]
        crossed = new.floor().long() - self.pos.floor().long()  # [A]
        cond = pointer.condition(hidden, self.window, crossed)
        frame_cond = None
        if pointer.frame_proj is not None:
            units = pointer.frame_units(self.pos, new, model.cfg.patch_size)  # [A, P]
            frame_cond = pointer.frame_condition(self.unit_embeds, self.counts, units)  # [A, P, W]
        self.pos = new
        self.window = pointer.window(self.unit_embeds, self.counts, new.floor().long())
        return cond, frame_cond


def _initial_history(z: torch.Tensor, frame_mask: torch.Tensor, counts: torch.Tensor,
                     k: int) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """The last k prompt patches of each row, oldest first (zeros/False before the start).

    z [B, Na, P, D] normalised prompt patches, frame_mask [B, Na, P], counts [B] real prompt
    patches -> history [B, k*P, D], history_mask [B, k*P]; (None, None) when k = 0.
    """
    if k == 0:
        return None, None
    b, _, p, d = z.shape
    padded = F.pad(z, (0, 0, 0, 0, k, 0))  # [B, k + Na, P, D]: patch j sits at j + k
    mask = F.pad(frame_mask, (0, 0, k, 0), value=False)  # [B, k + Na, P]
    index = counts.to(z.device)[:, None] + torch.arange(k, device=z.device)[None]  # [B, k]: patches c-k..c-1
    rows = torch.arange(b, device=z.device)[:, None]  # [B, 1]
    return padded[rows, index].reshape(b, k * p, d), mask[rows, index].reshape(b, k * p)
