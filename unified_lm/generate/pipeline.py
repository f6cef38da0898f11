"""Audio in, audio out: the engines (latents) joined to a HoliTok tokenizer (waveforms).

`Synthesizer`: waveforms of voice prompts -> prompt latents (posterior mean) -> TTSEngine ->
denormalised latents -> tokenizer decode (offline, batched) or a streaming decoder (`stream`).
`Transcriber`: waveforms -> latents (posterior mean) -> ASREngine -> text.

The tokenizer is any object with HoliTok's interface (sample_rate, hop, frame_rate, latent_dim,
encode, decode); `check_compatible` refuses one whose latent format differs from the model's.
Decoding uses the prompt latents as left context (`TTSOptions.decode_with_prompt`): the model
generated a continuation of the prompt, and the decoder's LSTM and convs then start from the
prompt's state instead of silence; the prompt's samples are cut off again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch

from unified_lm.generate.asr import ASREngine, ASRResult
from unified_lm.generate.options import ASROptions, TTSOptions
from unified_lm.generate.stream_decode import open_stream_decoder
from unified_lm.generate.tts import TTSEngine, TTSLatents, TTSRequest
from unified_lm.model import UnifiedLM


class IncompatibleModelsError(ValueError):
    """The tokenizer's latents are not the ones the model was trained on."""


@dataclass
class TTSResult:
    utt_id: str
    wav: torch.Tensor  # [S] float32 in [-1, 1], CPU
    sample_rate: int
    num_patches: int
    stopped: bool  # True: it ended on its own (stop head or text end); False: the length cap did

    @property
    def seconds(self) -> float:
        return self.wav.numel() / self.sample_rate


def check_compatible(model: UnifiedLM, tokenizer) -> None:
    cfg = model.cfg
    if tokenizer.latent_dim != cfg.latent_dim or float(tokenizer.frame_rate) != float(cfg.frame_rate):
        raise IncompatibleModelsError(
            f"the tokenizer makes {tokenizer.latent_dim}-dim latents at {tokenizer.frame_rate} Hz but the model expects "
            f"{cfg.latent_dim}-dim latents at {cfg.frame_rate} Hz (model tokenizer_ref: {cfg.tokenizer_ref!r}); "
            "pass the tokenizer the model was trained with")


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def encode_waveforms(tokenizer, wavs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Mono waveforms [S_i] at tokenizer.sample_rate -> raw latents [T_i, D] (posterior mean), CPU."""
    if not wavs:
        return []
    lengths = torch.tensor([w.numel() for w in wavs], dtype=torch.long)
    batch = torch.zeros(len(wavs), int(lengths.max()))  # [B, S]
    for i, w in enumerate(wavs):
        batch[i, :w.numel()] = w
    device = _device_of(tokenizer)
    out = tokenizer.encode(batch.to(device), lengths.to(device), sample=False)
    return [out.latents[i, :int(n)].float().cpu() for i, n in enumerate(out.frame_lengths)]  # [T_i, D]


class Synthesizer:
    """Zero-shot TTS from prompt waveforms to output waveforms."""

    def __init__(self, model: UnifiedLM, tokenizer, options: TTSOptions = TTSOptions()):
        check_compatible(model, tokenizer)
        self.model, self.tokenizer, self.engine = model, tokenizer, TTSEngine(model, options)

    @property
    def options(self) -> TTSOptions:
        return self.engine.options

    def synthesize(self, requests: Sequence[TTSRequest]) -> list[TTSResult]:
        """Batched offline synthesis: one TTSResult per request, same order."""
        generated = self.engine.generate(requests)
        wavs = self.decode(requests, generated)
        sr = self.tokenizer.sample_rate
        return [TTSResult(r.utt_id, w, sr, g.num_patches, g.stopped) for r, g, w in zip(requests, generated, wavs)]

    @torch.no_grad()
    def decode(self, requests: Sequence[TTSRequest], generated: Sequence[TTSLatents]) -> list[torch.Tensor]:
        """Generated latents -> waveforms [S_i] (one batched decode, prompt context cut off)."""
        hop, use_prompt = self.tokenizer.hop, self.options.decode_with_prompt
        contexts = [r.prompt_latents if use_prompt and r.prompt_latents is not None else torch.zeros(0, g.latents.shape[1])
                    for r, g in zip(requests, generated)]
        full = [torch.cat([c.float().cpu(), g.latents]) for c, g in zip(contexts, generated)]
        lengths = torch.tensor([f.shape[0] for f in full], dtype=torch.long)
        batch = torch.zeros(len(full), int(lengths.max()), full[0].shape[1])  # [B, T, D]
        for i, f in enumerate(full):
            batch[i, :f.shape[0]] = f
        device = _device_of(self.tokenizer)
        wav = self.tokenizer.decode(batch.to(device), lengths.to(device)).wav.float().cpu()  # [B, T * hop]
        return [wav[i, c.shape[0] * hop:int(n) * hop].clone() for i, (c, n) in enumerate(zip(contexts, lengths))]

    def stream(self, request: TTSRequest) -> Iterator[torch.Tensor]:
        """One utterance as audio chunks [S_k] while it is generated; their concatenation equals
        `synthesize([request])[0].wav` (same options, same seed)."""
        use_prompt = self.options.decode_with_prompt and request.prompt_latents is not None
        decoder = open_stream_decoder(self.tokenizer, request.prompt_latents if use_prompt else None)
        for step in self.engine.steps([request]):
            if step.rows:
                chunk = decoder.push(step.patches[0])  # [P, D] -> [S_k]
                if chunk.numel():
                    yield chunk
        tail = decoder.flush()
        if tail.numel():
            yield tail


class Transcriber:
    """ASR from waveforms (at the tokenizer's sample rate) to text: greedy by default,
    beam search with ASROptions(beam_size=K) (the holitok-asr CLI defaults to K = 4)."""

    def __init__(self, model: UnifiedLM, tokenizer, options: ASROptions = ASROptions()):
        check_compatible(model, tokenizer)
        self.model, self.tokenizer, self.engine = model, tokenizer, ASREngine(model, options)

    def transcribe(self, wavs: Sequence[torch.Tensor], names: Optional[Sequence[str]] = None) -> list[ASRResult]:
        latents = encode_waveforms(self.tokenizer, wavs)
        for i, lat in enumerate(latents):
            self.engine.check(lat, names[i] if names else f"utterance {i}")
        return self.engine.transcribe(latents)
