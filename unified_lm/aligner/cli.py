"""`holitok-align`: the CTC character aligner of the TTS text pointer (unified_lm/pointer.py).

    holitok-align train --manifest TRAIN_CUTS --out DIR [--steps 1500] [--seed 0]
    holitok-align extract --aligner DIR --manifest CUTS --out OUT_CUTS

`train` fits the aligner on a latent manifest (cuts_with_latents.jsonl.gz of `holitok-tokenizer
extract`, latent_stats.json beside it). `extract` writes OUT_CUTS (*.jsonl.gz, next to the input is
fine): the same cuts with custom["unit_starts"], what a unified training with pointer.enabled reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="holitok-align", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train the aligner on a latent manifest")
    tr.add_argument("--manifest", required=True)
    tr.add_argument("--out", required=True)
    tr.add_argument("--steps", type=int, default=1500)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--max-frames", type=int, default=2500, help="latent frames per batch")
    tr.add_argument("--seed", type=int, default=0)
    ex = sub.add_parser("extract", help="write a manifest with the cuts' unit_starts")
    ex.add_argument("--aligner", required=True)
    ex.add_argument("--manifest", required=True)
    ex.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    from unified_lm.aligner.model import CTCAligner
    from unified_lm.aligner.train import extract_alignments, train_aligner

    if args.command == "train":
        if args.steps <= 0:
            parser.error("--steps must be positive")
    elif not args.out.endswith(".jsonl.gz"):
        parser.error("--out must name a *.jsonl.gz manifest")
    try:
        if args.command == "train":
            train_aligner(args.manifest, args.out, steps=args.steps, lr=args.lr, max_frames=args.max_frames, seed=args.seed)
            print(f"aligner written to {args.out}")
            return 0
        stats = extract_alignments(CTCAligner.load(args.aligner), args.manifest, args.out)
    except (OSError, ValueError, KeyError) as exc:  # missing/unreadable inputs, manifests without latents
        print(f"holitok-align: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"manifest": args.out, **stats}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
