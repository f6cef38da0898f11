"""`holitok-eval`: protocol-pinned scoring with named judges.

  holitok-eval score --protocol seedtts-en|seedtts-zh|librispeech|librispeech-raw --refs R --hyps H [--json] [--out-dir D]
  holitok-eval seedtts --meta LIST (--wav-dir D | --ground-truth) [--lang en|zh] [--asr-judge J] [--sim-judge J|none]
                       [--cross-sim [--speakers UTT2SPK]] --out-dir R
  holitok-eval librispeech --manifest CUTS.jsonl.gz (--hyps H | --model DIR) --out-dir R [--json]
  holitok-eval reconstruction --tokenizer DIR --manifest CUTS.jsonl.gz --out-dir R [--max-utts N]

Every command writes results.json / results.md / per_utt.jsonl (+ plots) naming protocol and judges.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from holitok_common.cli_args import int_at_least
from holitok_common.devices import resolve_device
from holitok_common.outputs import check_output_dir
from eval import judges
from eval.report import Report, write_report
from eval.scoring import PROTOCOLS, ScoreResult, get_protocol, score
from eval.text_io import read_transcripts

USER_ERRORS = (ValueError, OSError, ImportError, RuntimeError)  # all our error classes derive from these; OSError: paths


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _device_arg(text: str) -> str:
    """argparse type for --device: auto | cpu | cuda | cuda:N (anything else is refused, not run on CPU)."""
    index = text[len("cuda:"):] if text.startswith("cuda:") else None
    if text in ("auto", "cpu", "cuda") or (index is not None and index.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda or cuda:N")


def _out_dir(path: str | Path) -> Path:
    """Create the output folder once it is known to be writable, before any judge or model loads."""
    out = check_output_dir(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _error_message(exc: BaseException) -> str:
    """One line: our own errors carry their message; raw OS errors become `path: reason`."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}; check the path, its permissions and free disk space"
    return str(exc)


def _json_default(obj):
    return None if isinstance(obj, float) and math.isnan(obj) else str(obj)


def _print(metrics: dict, as_json: bool) -> None:
    if as_json:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
        print(json.dumps(clean, ensure_ascii=False, default=_json_default))
    else:
        for key, value in metrics.items():
            if not isinstance(value, list):
                print(f"{key:>18}: {value:.2f}" if isinstance(value, float) else f"{key:>18}: {value}")


def _score_report(command: str, res: ScoreResult, judges_: dict | None = None, extra: dict | None = None) -> Report:
    summary = res.summary()
    metrics = {k: v for k, v in summary.items() if not isinstance(v, (list, str))}
    metrics.update(extra or {})
    details = {"missing_ids": res.missing_ids, "extra_ids": res.extra_ids,
               "wer_definition": f"headline = {res.headline} ({'mean of per-utterance rates' if res.headline == 'mean_per_utt' else 'total errors / total reference tokens'}), percent"}
    return Report(command, res.protocol, get_protocol(res.protocol).description, metrics, judges_ or {}, details, res.rows())


def _wer_values(rows: list[dict]) -> list[float]:
    return [r["wer"] for r in rows if r.get("wer") is not None]


def cmd_score(args) -> int:
    if args.out_dir:
        _out_dir(args.out_dir)
    res = score(args.protocol, read_transcripts(args.refs), read_transcripts(args.hyps))
    report = _score_report("score", res)
    if args.out_dir:
        write_report(args.out_dir, report, wer_values=_wer_values(report.per_utt))
    _print({"protocol": res.protocol, **report.metrics, "missing_ids": res.missing_ids, "extra_ids": res.extra_ids}, args.json)
    return 0


def cmd_seedtts(args) -> int:
    from eval.cross_sim import read_speaker_map, speakers_by_prompt_dir
    from eval.seedtts import evaluate_seedtts, judged_wavs, parse_seedtts_list, seedtts_report

    if (args.wav_dir is None) == (not args.ground_truth):
        raise ValueError("give exactly one of --wav-dir D (generated wavs) or --ground-truth (the list's own gt_wav recordings)")
    if args.speakers and not args.cross_sim:
        raise ValueError("--speakers goes with --cross-sim")
    if args.cross_sim and args.sim_judge == "none":
        raise ValueError("--cross-sim needs a speaker judge (--sim-judge), not none")
    items = parse_seedtts_list(args.meta)  # fail on a bad list before spending time loading judges
    if not items:
        raise ValueError(f"{args.meta}: the meta list has no items")
    judged_wavs(items, args.wav_dir, args.ground_truth)
    _out_dir(args.out_dir)
    speakers = None
    if args.cross_sim:
        speakers = read_speaker_map(args.speakers, items) if args.speakers else speakers_by_prompt_dir(items)
    device = str(resolve_device(args.device))
    asr = judges.load_asr_judge(args.asr_judge or judges.default_asr_judge(args.lang), args.lang, device)
    sim = None if args.sim_judge == "none" else judges.load_sim_judge(args.sim_judge, device)
    res = evaluate_seedtts(args.meta, args.wav_dir, args.lang, asr, sim, log=_log,
                           ground_truth=args.ground_truth, speakers=speakers)
    report = seedtts_report(res, asr, sim)
    write_report(args.out_dir, report, wer_values=_wer_values(report.per_utt))
    _print({"protocol": report.protocol, **report.metrics}, args.json)
    _log(f"seedtts: report in {args.out_dir}")
    return 0


def cmd_librispeech(args) -> int:
    from eval.librispeech import decode_with_holitok_asr, failures_path
    from eval.manifest import manifest_refs

    refs = manifest_refs(args.manifest)
    _out_dir(args.out_dir)
    hyps_path, decoded = args.hyps, None
    if args.model:
        decoded = decode_with_holitok_asr(args.model, args.manifest, Path(args.out_dir) / "hyp.jsonl")
        hyps_path = decoded.hyps
    hyps = read_transcripts(hyps_path)
    primary, raw = score("librispeech", refs, hyps), score("librispeech-raw", refs, hyps)
    extra = {"wer_raw_icefall": raw.corpus_wer}
    if decoded is not None:
        extra["decode_failed"] = len(decoded.failed_ids)
    report = _score_report("librispeech", primary, extra=extra)
    report.details["hypotheses"] = str(hyps_path) + (f" (decoded by holitok-asr from {args.model})" if args.model else "")
    if decoded is not None and decoded.failures is not None:
        # partial decode (holitok-asr exit 1): the failed cuts are absent from the hypotheses, so
        # they are already in missing_ids and scored as all deletions in wer_with_missing
        report.details["decode_failed_ids"] = decoded.failed_ids
        report.details["holitok_asr_failures"] = decoded.failures
        _log(f"librispeech: holitok-asr could not decode {len(decoded.failed_ids)} cut(s); scored as missing "
             f"(see {failures_path(decoded.hyps)})")
    report.details["conventions"] = "wer = Open ASR Leaderboard convention (primary); wer_raw_icefall = raw uppercase text (icefall)"
    write_report(args.out_dir, report, wer_values=_wer_values(report.per_utt))
    _print({"protocol": primary.protocol, **report.metrics}, args.json)
    return 0


def cmd_reconstruction(args) -> int:
    from eval.manifest import check_manifest_audio, iter_manifest_audio
    from eval.reconstruction import evaluate_reconstruction, reconstruction_report

    try:
        from holitok_tokenizer import HoliTok
    except ImportError as exc:
        raise ImportError(f"holitok_tokenizer.HoliTok is not available ({exc}); the tokenizer package is not built yet") from exc
    check_manifest_audio(args.manifest, args.max_utts)  # missing audio fails here, before models load
    _out_dir(args.out_dir)
    device = str(resolve_device(args.device))
    tok = HoliTok.from_pretrained(args.tokenizer)
    if hasattr(tok, "to"):
        tok = tok.to(device).eval()
    asr = None if args.asr_judge == "none" else judges.load_asr_judge(args.asr_judge, "en", device)
    sim = None if args.sim_judge == "none" else judges.load_sim_judge(args.sim_judge, device)
    items = iter_manifest_audio(args.manifest, args.max_utts)
    res = evaluate_reconstruction(tok, items, asr, sim, Path(args.out_dir) / "mels", args.n_plots, device, _log)
    report = reconstruction_report(res, str(args.tokenizer), asr, sim)
    wers = _wer_values(res.wer_recon.rows()) if res.wer_recon else None
    write_report(args.out_dir, report, wer_values=wers)
    _print(report.metrics, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="holitok-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="score transcripts (JSONL or Kaldi `id text`) under a protocol")
    s.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS))
    s.add_argument("--refs", required=True)
    s.add_argument("--hyps", required=True)
    s.add_argument("--out-dir", help="also write results.json/results.md/per_utt.jsonl/wer_hist.png here")
    s.set_defaults(func=cmd_score)
    t = sub.add_parser("seedtts", help="Seed-TTS-eval: WER (judge) + SIM vs the prompt")
    t.add_argument("--meta", required=True, help="utt|prompt_text|prompt_wav|target_text[|gt_wav] list")
    t.add_argument("--wav-dir", help="folder with the generated <utt>.wav files")
    t.add_argument("--ground-truth", action="store_true",
                   help="judge the list's own recordings (5th field, gt_wav) instead: the judge's WER/SIM on real speech")
    t.add_argument("--cross-sim", action="store_true",
                   help="also SIM to the prompts of OTHER speakers (sim_other, sim_margin, speaker_id_acc)")
    t.add_argument("--speakers", help="with --cross-sim: `utt speaker` lines (default: the prompt wav's folder name)")
    t.add_argument("--lang", default="en", choices=["en", "zh"])
    t.add_argument("--asr-judge", help="default: whisper-base-offline (en), paraformer-zh (zh)")
    t.add_argument("--sim-judge", default="resemblyzer", help="resemblyzer | wavlm-ecapa:DIR | python:MODULE:FACTORY | none")
    t.add_argument("--out-dir", required=True)
    t.set_defaults(func=cmd_seedtts)
    l = sub.add_parser("librispeech", help="ASR WER against a lhotse manifest's transcripts")
    l.add_argument("--manifest", required=True)
    src = l.add_mutually_exclusive_group(required=True)
    src.add_argument("--hyps", help="hypotheses (JSONL or Kaldi) keyed by cut id")
    src.add_argument("--model", help="decode first with `holitok-asr --model DIR`")
    l.add_argument("--out-dir", required=True)
    l.set_defaults(func=cmd_librispeech)
    r = sub.add_parser("reconstruction", help="tokenizer reconstruction: PESQ/STOI/mel/SIM/WER/bitrate")
    r.add_argument("--tokenizer", required=True, help="HoliTok.from_pretrained directory")
    r.add_argument("--manifest", required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("--max-utts", type=int_at_least(1), help="evaluate only the first N cuts (N >= 1)")
    r.add_argument("--n-plots", type=int_at_least(0), default=3, help="utterances with original/reconstruction mel plots")
    r.add_argument("--asr-judge", default="whisper-base-offline", help="ASR judge or none")
    r.add_argument("--sim-judge", default="resemblyzer", help="speaker judge or none")
    r.set_defaults(func=cmd_reconstruction)
    for sp in (s, t, l, r):
        sp.add_argument("--json", action="store_true", help="print one JSON object with the headline numbers")
    for sp in (t, r):
        sp.add_argument("--device", default="auto", type=_device_arg, help="auto | cpu | cuda[:N]")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        if os.environ.get("HOLITOK_DEBUG"):  # show the traceback instead of the one-line message
            raise
        print(f"holitok-eval {args.command}: error: {_error_message(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
