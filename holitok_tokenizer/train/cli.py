"""`holitok-train tokenizer CONFIG [key=value ...]`: run (or resume) one tokenizer training stage.

CONFIG is a YAML file (recipes/tokenizer/conf/*.yaml; may start with `preset: NAME`) or a preset
name (tiny-stage1 ... holitok-48k-stage3). Launch the same command under any launcher:

    holitok-train tokenizer recipes/tokenizer/conf/tiny-stage1.yaml steps=200
    torchrun --nproc_per_node 8 -m unified_lm.cli.train tokenizer CONF
    deepspeed --num_gpus 8 --module unified_lm.cli.train tokenizer CONF distributed.zero_stage=2

A run whose out_dir already holds checkpoints resumes from the newest one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from holitok_common.config import ConfigError

if TYPE_CHECKING:
    from holitok_tokenizer.train.config import TokenizerTrainConfig


def check_inputs(cfg: TokenizerTrainConfig) -> None:
    """The files a run reads, checked before any model or process group is set up (ConfigError)."""
    from holitok_tokenizer.train.build import resolve_checkpoint

    cuts = Path(cfg.data.train_cuts)
    if not cuts.is_file():
        state = "is a directory" if cuts.is_dir() else "does not exist"
        raise ConfigError(f"data.train_cuts={str(cuts)!r} {state}; build it with `holitok-data ...` "
                          "(e.g. `holitok-data synth data/corpus`) or set data.train_cuts=PATH")
    if cfg.init_from:
        if not Path(cfg.init_from).is_dir():
            raise ConfigError(f"init_from={cfg.init_from!r} does not exist; run the previous stage first, "
                              "or set init_from=null to train from random weights")
        try:
            resolve_checkpoint(cfg.init_from)
        except FileNotFoundError as exc:
            raise ConfigError(str(exc)) from exc


def main(argv: list[str] | None = None, prog: str = "holitok-train tokenizer") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("config", help="YAML config file or preset name")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. steps=1000 optim.lr=2e-4")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even where CUDA is available")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed launcher
    args = parser.parse_intermixed_args(argv)  # flags may come between CONFIG and the overrides
    from holitok_common.config import to_dict
    from holitok_tokenizer.train.config import PRESETS, load_train_config

    try:
        if Path(args.config).suffix in (".yaml", ".yml"):
            cfg = load_train_config(args.config, args.overrides)
        elif args.config in PRESETS:
            cfg = load_train_config(None, args.overrides, preset=args.config)
        else:
            raise ConfigError(f"{args.config!r} is neither a YAML file nor a preset ({sorted(PRESETS)})")
        if not args.print_config:
            check_inputs(cfg)
    except ConfigError as exc:
        print(f"{prog}: config error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        return 0
    from holitok_common.data.manifests import ManifestError
    from holitok_common.train.distributed import setup_runtime
    from holitok_tokenizer.train.trainer import train

    runtime = setup_runtime(cfg.distributed, cpu=args.cpu)
    try:
        result = train(cfg, runtime)
    except ManifestError as exc:  # an empty or unreadable data.train_cuts (read when the trainer is built)
        print(f"{prog}: data error: {exc}", file=sys.stderr)
        return 2
    if runtime.is_main:
        print(f"done: {len(result.losses)} steps; last checkpoint {result.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
