"""Whether recipe configs enable the TTS text pointer, for shell recipes that must then prepare
aligned cuts (holitok-align) before training:

    python -m unified_lm.train.pointer_flag TTS_ONLY.yaml JOINT.yaml [key=value ...]   # prints 1 or 0

Every config (with the overrides) must agree; otherwise it exits with an error naming them.
"""

from __future__ import annotations

import sys

from holitok_common.config import ConfigError
from unified_lm.train.config import load_train_config


def main(argv: list[str]) -> int:
    files = [a for a in argv if "=" not in a]
    overrides = [a for a in argv if "=" in a]
    if not files:
        print("usage: python -m unified_lm.train.pointer_flag CONFIG.yaml [CONFIG.yaml ...] [key=value ...]",
              file=sys.stderr)
        return 2
    try:
        flags = {f: load_train_config(f, overrides).model.pointer.enabled for f in files}
    except ConfigError as exc:
        print(f"pointer_flag: {exc}", file=sys.stderr)
        return 2
    if len(set(flags.values())) > 1:
        print(f"pointer_flag: the configs disagree on model.pointer.enabled: {flags}; set it the same in all",
              file=sys.stderr)
        return 2
    print(int(next(iter(flags.values()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
