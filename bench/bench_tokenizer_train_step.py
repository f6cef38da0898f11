"""Training-step cost of the tiny tokenizer's stage I by decoder type (the CPU learning-proof budget).

    python bench/bench_tokenizer_train_step.py                    # bigvgan vs istft, 8 x 1 s, 1 thread
    python bench/bench_tokenizer_train_step.py --threads 2 --batch 4

Builds the `tiny` preset with the recipe's encoder width ([16, 32, 64, 128, 256]) and each decoder
type (istft at width 256, as recipes/tokenizer/conf/tiny-stage1.yaml), random weights in training
form, and times forward + backward of (a) the stage-I autoencoder (encoder -> decoder, a squared
output as the loss) and (b) the decoder alone on random latents. Median of `--repeats` after one
warm-up. Mel loss and discriminators are not included (they do not depend on the decoder type).
Prints one line per decoder type and a JSON line; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from holitok_tokenizer.config import TokenizerConfig
from holitok_tokenizer.model import HoliTok
from holitok_tokenizer.train.generator import TokenizerGenerator

RECIPE_ENCODER = [16, 32, 64, 128, 256]
DECODERS = {"bigvgan": {}, "istft": {"decoder_type": "istft", "decoder_initial_channel": 256}}


def _median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(kind: str, batch: int, seconds: float, repeats: int) -> dict:
    cfg = TokenizerConfig.from_preset("tiny")
    for key, value in {"encoder_channels": RECIPE_ENCODER, **DECODERS[kind]}.items():
        setattr(cfg, key, value)
    torch.manual_seed(0)
    tok = HoliTok(cfg)
    gen = TokenizerGenerator(tok, "I")
    samples = int(seconds * cfg.sample_rate)
    wav, lengths = 0.1 * torch.randn(batch, samples), torch.full((batch,), samples)
    latents = torch.randn(batch, cfg.latent_dim, samples // cfg.hop)

    def autoencoder_step() -> None:
        gen.zero_grad(set_to_none=True)
        gen.autoencode(wav, lengths).pow(2).mean().backward()

    def decoder_step() -> None:
        gen.zero_grad(set_to_none=True)
        tok.decoder(latents).pow(2).mean().backward()

    return {
        "decoder": kind,
        "decoder_params_M": round(sum(p.numel() for p in tok.decoder.parameters()) / 1e6, 2),
        "encoder_params_M": round(sum(p.numel() for p in tok.audio_encoder.parameters()) / 1e6, 2),
        "autoencoder_fwd_bwd_s": round(_median_seconds(autoencoder_step, repeats), 3),
        "decoder_fwd_bwd_s": round(_median_seconds(decoder_step, repeats), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(kind, args.batch, args.seconds, args.repeats) for kind in DECODERS]
    for row in rows:
        print(f"{row['decoder']:8s} decoder {row['decoder_params_M']:5.2f}M  encoder {row['encoder_params_M']:.2f}M  "
              f"stage-I fwd+bwd {args.batch} x {args.seconds:g} s: {row['autoencoder_fwd_bwd_s']:.3f} s  "
              f"decoder alone: {row['decoder_fwd_bwd_s']:.3f} s  ({args.threads} thread(s))")
    print(json.dumps({"threads": args.threads, "batch": args.batch, "seconds": args.seconds, "rows": rows}))


if __name__ == "__main__":
    main()
