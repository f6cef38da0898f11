"""argparse `type=` checkers shared by the CLIs: a bad number is refused by argparse itself (usage
line + exit 2), before anything loads."""

from __future__ import annotations

import argparse
from typing import Callable


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer >= `minimum` (e.g. a batch size: int_at_least(1))."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value} (expected an integer >= {minimum})")
        return value
    return parse


def positive_float(text: str) -> float:
    """A number > 0 (NaN refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
