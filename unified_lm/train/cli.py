"""`holitok-train unified CONFIG [key=value ...]`: joint TTS + ASR training of the unified model.

    holitok-train unified recipes/unified/conf/tiny_joint.yaml exp_dir=exp/joint \
        data.train_manifest=D/train/cuts_with_latents.jsonl.gz steps=2000

CONFIG is a YAML file (it may start with `preset: tiny|paper`) or a bare preset name (`tiny`,
`paper`); `key=value` overrides come last (strict keys, YAML values). Multi-process: launch with
`torchrun --nproc_per_node N [--nnodes M ...] -m unified_lm.train.cli CONFIG ...` (or the
deepspeed launcher); single process needs no launcher.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from holitok_common.config import ConfigError
from unified_lm.train.config import PRESETS, UnifiedTrainConfig, load_train_config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="holitok-train unified", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("config", help=f"YAML config file, or a preset name: {sorted(PRESETS)}")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. optim.lr=3e-4 steps=500")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser.parse_intermixed_args(argv)


def missing_inputs(cfg: UnifiedTrainConfig) -> str | None:
    """The first input file the run needs that is not there (checked before anything is built)."""
    data = cfg.data
    for key, value, how in (("data.train_manifest", data.train_manifest, "holitok-tokenizer extract writes it"),
                            ("data.latent_stats", data.latent_stats, "holitok-tokenizer extract writes it next to "
                             "the train manifest")):
        if not value:
            return f"{key} is not set ({how}); pass {key}=PATH"
        if not Path(value).is_file():
            return f"{key}={value!r} does not exist ({how})"
    if data.dev_manifest and not Path(data.dev_manifest).is_file():
        return f"data.dev_manifest={data.dev_manifest!r} does not exist (leave it empty to train without dev evals)"
    if cfg.init.checkpoint and not Path(cfg.init.checkpoint).exists():
        return f"init.checkpoint={cfg.init.checkpoint!r} does not exist (a run directory, step-N checkpoint or saved model)"
    return None


def main_unified(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.config in PRESETS and not Path(args.config).is_file():
            cfg = load_train_config(None, args.overrides, preset=args.config)
        else:
            cfg = load_train_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"holitok-train unified: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        from holitok_common.config import to_dict

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        return 0
    problem = missing_inputs(cfg)
    if problem:
        print(f"holitok-train unified: {problem}", file=sys.stderr)
        return 2
    from unified_lm.train.trainer import train  # heavy imports only when training

    run = train(cfg)
    if run.runtime.is_main:
        print(f"holitok-train unified: done at step {run.state.step}; checkpoints in {Path(cfg.exp_dir) / 'checkpoints'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_unified())
