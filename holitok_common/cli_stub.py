"""A console command whose implementation has not landed yet: `--help` works, running says so."""

from __future__ import annotations

import argparse
import sys


def stub_main(prog: str, description: str, missing: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("args", nargs="*", help="(not built yet)")
    parser.parse_args(argv)
    print(f"{prog}: not built yet: {missing}", file=sys.stderr)
    return 2
