"""The tokenizer's resyntheses of a Seed-TTS list's real recordings (its `gt_wav` field): audio ->
posterior-mean latents -> audio, one OUT_DIR/<utt>.wav per line. Judged like TTS output, they give
the best WER a TTS that speaks through this tokenizer can reach (stage 6 of recipes/tiny/run.sh).

    python recipes/tiny/resynth_list.py --tokenizer DIR --meta LIST.lst --out-dir OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from holitok_common.audio import read_audio, write_audio
from holitok_common.data.seedtts import parse_seedtts_list
from holitok_tokenizer import HoliTok


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--out-dir", required=True)
    args = p.parse_args()
    items = parse_seedtts_list(args.meta)
    missing = [it.utt for it in items if it.gt_wav is None or not it.gt_wav.is_file()]
    if missing:
        raise SystemExit(f"error: {args.meta}: {len(missing)} line(s) have no readable real recording "
                         f"(5th field), e.g. {missing[0]}; the resynthesis needs them")
    model = HoliTok.from_pretrained(args.tokenizer).eval()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for it in items:
        wav, _ = read_audio(it.gt_wav, target_sr=model.sample_rate)
        write_audio(out / f"{it.utt}.wav", model.reconstruct(wav[None], sample=False).wav[0], model.sample_rate)
    print(f"resynthesised {len(items)} recordings into {out}")


if __name__ == "__main__":
    main()
