"""`holitok-train`: the training dispatcher.

    holitok-train tokenizer CONFIG [key=value ...]   HoliTok tokenizer stages I-III
    holitok-train unified CONFIG [key=value ...]     the unified AR+DiT model (unified_lm.train)

Works under a plain process, `torchrun -m unified_lm.cli.train ...` and
`deepspeed --module unified_lm.cli.train ...`. Trainers are imported lazily.
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n")[1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = [a for a in argv if not a.startswith(("--local_rank=", "--local-rank="))]  # deepspeed launcher
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: holitok-train {{tokenizer,unified}} CONFIG [key=value ...]\n\n{USAGE}")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "tokenizer":
        from holitok_tokenizer.train.cli import main as tokenizer_main

        return tokenizer_main(rest)
    if command == "unified":
        try:
            from unified_lm.train.cli import main_unified
        except ImportError:  # the unified trainer has not landed in this checkout
            print("holitok-train unified: not built yet: see README", file=sys.stderr)
            return 2
        return main_unified(rest)
    print(f"holitok-train: unknown command {command!r}; expected 'tokenizer' or 'unified'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
