"""`holitok-data`: import corpora to lhotse manifests, build the embedded corpus, manage engines.

    holitok-data librispeech ROOT --out OUT [--parts test-clean,dev-clean] [--skip-bad]
    holitok-data seedtts META_LIST --out OUT [--skip-bad]
    holitok-data folder DIR --out OUT [--speaker NAME] [--name NAME] [--skip-bad]
    holitok-data synth OUT_DIR [--hours 2] [--seed 0] [--jobs 2] [--lexicon-fraction 1.0] [--voices base]
    holitok-data engines [--install]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lhotse import CutSet

from holitok_common.config import ConfigError
from holitok_common.data.engines import VOICE_SETS, ensure_engines
from holitok_common.data.importers import LIBRISPEECH_PARTS, import_folder, import_librispeech_part
from holitok_common.data.manifests import ManifestError, save_cuts
from holitok_common.data.seedtts import SeedTTSListError, parse_seedtts_list, seedtts_to_cuts
from holitok_common.data.synth import CorpusError, SynthConfig, build_corpus, format_summary
from holitok_common.data.validation import BadInputError, ImportReport, ValidationRules


def _add_import_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output folder for cuts_*.jsonl.gz")
    p.add_argument("--skip-bad", action="store_true", help="skip bad inputs (reported) instead of failing")
    p.add_argument("--min-duration", type=float, default=0.1, help="seconds (default 0.1)")
    p.add_argument("--max-duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--full-decode", action="store_true", help="decode every file, not just its header")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="holitok-data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("librispeech", help="LibriSpeech parts -> cuts_<part>.jsonl.gz")
    p.add_argument("root", type=Path, help="folder holding test-clean/, dev-other/ ...")
    p.add_argument("--parts", default="", help="comma-separated parts (default: every part found)")
    _add_import_options(p)
    p = sub.add_parser("seedtts", help="a Seed-TTS-eval meta list -> cuts_<list stem>.jsonl.gz")
    p.add_argument("meta_list", type=Path)
    _add_import_options(p)
    p = sub.add_parser("folder", help="x.wav + x.txt pairs -> cuts_<name>.jsonl.gz")
    p.add_argument("dir", type=Path)
    p.add_argument("--speaker", default=None, help="speaker of every file (default: parent folder name)")
    p.add_argument("--name", default=None, help="manifest name (default: the folder's name)")
    _add_import_options(p)
    p = sub.add_parser("synth", help="build the embedded synthetic corpus (16 kHz)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="synthesis processes")
    p.add_argument("--lexicon-fraction", type=float, default=1.0,
                   help="share of each word list the sentence grammar uses (default 1.0 = ~3,700 word forms; "
                        "0.1 = a ~460-word task that a tiny ASR can learn on CPU)")
    p.add_argument("--voices", default="base", choices=VOICE_SETS,
                   help="voice set: base (36 voices: the unified model's corpus) or extended (base + 24 recorded "
                        "identities: the tiny recipe's tokenizer corpus)")
    p = sub.add_parser("engines", help="check (and with --install, apt-get) the speech engines")
    p.add_argument("--install", action="store_true")
    return parser


def _write(cuts: CutSet, report: ImportReport, out: Path, name: str) -> None:
    if len(cuts) == 0:  # a 0-cut manifest only breaks the next tool: refuse it here, naming the input
        if report.skipped:
            print(report.summary())
        found = f"all {len(report.skipped)} items were bad (listed above)" if report.skipped else "no items found"
        raise ManifestError(f"{report.source}: {found}; nothing to import, so no cuts_{name}.jsonl.gz was written "
                            "(check the path and its layout)")
    manifest = save_cuts(cuts, out / f"cuts_{name}.jsonl.gz")
    report.write(out / f"cuts_{name}.report.json")
    print(report.summary())
    print(f"wrote {manifest} ({len(cuts)} cuts, {sum(c.duration for c in cuts) / 3600:.3f} h)")


def _import(args: argparse.Namespace) -> None:
    rules = ValidationRules(args.min_duration, args.max_duration, 1, args.full_decode)
    if args.command == "librispeech":
        parts = [p for p in args.parts.split(",") if p] or [p for p in LIBRISPEECH_PARTS if (args.root / p).is_dir()]
        if not parts:
            raise FileNotFoundError(f"{args.root}: no LibriSpeech part folders ({', '.join(LIBRISPEECH_PARTS)})")
        for part in parts:
            _write(*import_librispeech_part(args.root / part, rules, args.skip_bad), args.out, part)
    elif args.command == "seedtts":
        items = parse_seedtts_list(args.meta_list)
        _write(*seedtts_to_cuts(items, rules, args.skip_bad, str(args.meta_list)), args.out, args.meta_list.stem)
    else:
        cuts, report = import_folder(args.dir, args.speaker, rules, args.skip_bad)
        _write(cuts, report, args.out, args.name or args.dir.resolve().name)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "engines":
            return ensure_engines(args.install)
        if args.command == "synth":
            summary = build_corpus(args.out_dir, SynthConfig(hours=args.hours, seed=args.seed, jobs=args.jobs,
                                                              lexicon_fraction=args.lexicon_fraction,
                                                              voice_set=args.voices))
            print(format_summary(summary))
            return 0
        _import(args)
        return 0
    except (BadInputError, SeedTTSListError, CorpusError, ConfigError, ManifestError, FileNotFoundError) as exc:
        print(f"holitok-data {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
