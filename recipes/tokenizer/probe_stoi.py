"""Quick STOI probe of a training checkpoint on the first N utterances of a manifest.

    python recipes/tokenizer/probe_stoi.py exp/tokenizer_tiny/stage1/step-000800 \
        --manifest data/corpus/cuts_dev.jsonl.gz [--num 8] [--path autoencoder|full]

`autoencoder`: decoder(encoder(wav)), the stage-I path (bottleneck bypassed); `full`: encode (posterior
mean) and decode through the bottleneck, as after stages II/III. Prints the mean and per-utterance
STOI (classic, pystoi): a cheap way to watch a stage's progress between full evaluations
(`holitok-eval reconstruction`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from eval.metrics import stoi_score
from holitok_common.data.loader import load_cuts
from holitok_tokenizer import HoliTok
from holitok_tokenizer.train.generator import TokenizerGenerator


@torch.no_grad()
def probe(step_dir: Path, manifest: str, num: int, path: str) -> list[float]:
    export = step_dir / "tokenizer"
    if not export.is_dir():
        raise FileNotFoundError(f"{export} does not exist: pass a step-XXXXXX checkpoint directory of a tokenizer run")
    tok = HoliTok.from_pretrained(export).eval()
    generator = TokenizerGenerator(tok, "I")
    scores = []
    for cut in list(load_cuts(manifest))[:num]:
        if cut.sampling_rate != tok.sample_rate:
            raise ValueError(f"{cut.id}: {cut.sampling_rate} Hz audio, the tokenizer runs at {tok.sample_rate} Hz")
        wav = torch.from_numpy(cut.load_audio()).float()[:1]  # [1, S]
        lengths = torch.tensor([wav.shape[1]])
        if path == "autoencoder":
            out = generator.autoencode(wav, lengths)
        else:
            enc = tok.encode(wav, lengths, sample=False)
            out = tok.decode(enc.latents, enc.frame_lengths).wav
        scores.append(stoi_score(wav[0], out[0, : wav.shape[1]], tok.sample_rate))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step_dir", type=Path, help="a checkpoint directory (step-XXXXXX) of holitok-train tokenizer")
    parser.add_argument("--manifest", required=True, help="lhotse cuts at the tokenizer's sample rate")
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--path", choices=("autoencoder", "full"), default="autoencoder")
    args = parser.parse_args(argv)
    scores = probe(args.step_dir, args.manifest, args.num, args.path)
    print(f"{args.step_dir} {args.path}: STOI {sum(scores) / len(scores):.4f} over {len(scores)} utterances "
          f"{[round(s, 3) for s in scores]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
