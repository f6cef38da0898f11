"""Generation speed of the unified model (random weights; numbers, never assertions).

    python bench/bench_generate.py --preset tiny --device cpu
    python bench/bench_generate.py --preset paper --device cuda --dtype bfloat16 --batch 16

Prints, for TTS: real-time factor (RTF = wall seconds / audio seconds) and first-chunk latency of
one streamed utterance (batch 1), and throughput (audio seconds per wall second) of a batch;
for ASR: RTF at batch 1 and at the batch size (tokenizer encoding included).
The stop head is disabled (bias -30) so every utterance runs to exactly --seconds of audio; ASR
decodes --asr-tokens-per-second tokens per audio second (a random model never says <|eos|>), about
what a BPE transcript of read speech needs. `tiny` pairs with the tiny HoliTok (16 kHz, D=32),
`paper` with holitok-48k (48 kHz, D=128); the text tokenizer is a small sentencepiece model
trained on the fly (token ids only matter for speed).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
from pathlib import Path

import torch

from holitok_tokenizer.model import HoliTok
from unified_lm.generate import ASROptions, Synthesizer, Transcriber, TTSOptions, TTSRequest, encode_waveforms
from unified_lm.model import UnifiedLM
from unified_lm.text_tokenizer import SentencePieceTextTokenizer, train_sentencepiece

TOKENIZER_PRESET = {"tiny": "tiny", "paper": "holitok-48k"}
WORDS = "the a cat dog man river house sees likes reads finds red green quiet long small today again".split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def build(preset: str, device: torch.device, workdir: Path) -> tuple[UnifiedLM, HoliTok]:
    tokenizer = HoliTok.from_preset(TOKENIZER_PRESET[preset]).fold_weight_norm().eval()
    rng = random.Random(0)
    spm = train_sentencepiece([sentence(rng, 8) for _ in range(300)], workdir / "spm", 128)
    text_tok = SentencePieceTextTokenizer(spm)
    model = UnifiedLM.from_preset(preset, text_tok, latent_dim=tokenizer.latent_dim,
                                  text_tokenizer={"kind": "sentencepiece", "vocab_size": 128}).eval()
    with torch.no_grad():
        model.stop_head.weight.zero_()
        model.stop_head.bias.fill_(-30.0)  # never stop: every utterance is exactly --seconds long
    return model.to(device), tokenizer.to(device)


def timed(device: torch.device, fn):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def bench_tts(synth: Synthesizer, tokenizer: HoliTok, device: torch.device, args) -> None:
    rng = random.Random(1)
    prompt_wav = 0.1 * torch.randn(int(args.prompt_seconds * tokenizer.sample_rate))
    prompt = encode_waveforms(tokenizer, [prompt_wav.to(device)])[0]

    def request(i: int) -> TTSRequest:
        return TTSRequest(f"u{i}", sentence(rng, 40), sentence(rng, 6), prompt)

    synth.synthesize([request(-1)])  # warm-up
    t0, first = time.perf_counter(), None
    audio = 0
    for chunk in synth.stream(request(0)):
        if first is None:
            first = time.perf_counter() - t0
        audio += chunk.numel()
    stream_wall = time.perf_counter() - t0
    results, wall = timed(device, lambda: synth.synthesize([request(1)]))
    seconds = results[0].seconds
    print(f"TTS batch 1: {seconds:.2f} s audio in {wall:.2f} s -> RTF {wall / seconds:.3f}; streamed: first chunk "
          f"{first * 1000:.0f} ms, RTF {stream_wall / (audio / tokenizer.sample_rate):.3f}")
    results, wall = timed(device, lambda: synth.synthesize([request(10 + i) for i in range(args.batch)]))
    total = sum(r.seconds for r in results)
    print(f"TTS batch {args.batch}: {total:.1f} s audio in {wall:.2f} s -> {total / wall:.2f} audio s/s "
          f"(RTF {wall / total:.4f})")


def bench_asr(transcriber: Transcriber, tokenizer: HoliTok, device: torch.device, args) -> None:
    wavs = [0.1 * torch.randn(int(args.seconds * tokenizer.sample_rate), device=device) for _ in range(args.batch)]
    transcriber.transcribe(wavs[:1])  # warm-up
    for n in (1, args.batch):
        results, wall = timed(device, lambda: transcriber.transcribe(wavs[:n]))
        tokens = sum(len(r.token_ids) for r in results)
        print(f"ASR batch {n}: {n * args.seconds:.1f} s audio, {tokens} tokens in {wall:.2f} s -> "
              f"RTF {wall / (n * args.seconds):.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="tiny", choices=["tiny", "paper"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="autocast (cuda)")
    p.add_argument("--seconds", type=float, default=4.0, help="audio per utterance (TTS output, ASR input)")
    p.add_argument("--prompt-seconds", type=float, default=3.0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--cfg-scale", type=float, default=1.2)
    p.add_argument("--asr-tokens-per-second", type=float, default=4.0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer = build(args.preset, device, Path(tmp))
    print(f"preset {args.preset} on {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}, "
          f"{torch.get_num_threads()} threads), dtype {args.dtype}; {model.num_parameters().total / 1e6:.1f}M params "
          f"+ tokenizer {sum(x.numel() for x in tokenizer.parameters()) / 1e6:.1f}M; steps {args.steps}, "
          f"cfg {args.cfg_scale}, {args.seconds} s per utterance")
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if args.dtype == "bfloat16" else contextlib.nullcontext()
    opts = TTSOptions(steps=args.steps, cfg_scale=args.cfg_scale, max_seconds=args.seconds, text_cap_base_s=args.seconds)
    with amp, torch.inference_mode():
        bench_tts(Synthesizer(model, tokenizer, opts), tokenizer, device, args)
        asr = ASROptions(tokens_per_second=args.asr_tokens_per_second)
        bench_asr(Transcriber(model, tokenizer, asr), tokenizer, device, args)


if __name__ == "__main__":
    main()
