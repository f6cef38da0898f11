"""Copy a Seed-TTS meta list to a new place (paths re-relativised), optionally keeping only N items
taken round-robin over the voices (the prompt wav's folder), so even 2 items cover 2 speakers.

    python recipes/tiny/subset_list.py IN.lst OUT.lst [--max-items N]   # N = 0: all items
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from itertools import zip_longest

from holitok_common.data.seedtts import parse_seedtts_list, write_seedtts_list


def round_robin(items: list, key, limit: int) -> list:
    groups = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    interleaved = [it for row in zip_longest(*groups.values()) for it in row if it is not None]
    return interleaved[:limit] if limit > 0 else items


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--max-items", type=int, default=0)
    args = p.parse_args()
    items = parse_seedtts_list(args.src)
    if not items:
        raise SystemExit(f"{args.src}: the list is empty")
    chosen = round_robin(items, lambda it: it.prompt_wav.parent.name, args.max_items)
    write_seedtts_list(chosen, args.dst)
    print(f"{args.dst}: {len(chosen)} of {len(items)} items")


if __name__ == "__main__":
    main()
