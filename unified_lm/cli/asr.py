"""`holitok-asr`: speech recognition with a UnifiedLM and its HoliTok tokenizer (greedy).

Files:     holitok-asr --model M a.wav b.flac ...        prints `path<TAB>transcript` per file
Manifest:  holitok-asr --model M --manifest CUTS.jsonl.gz --out hyp.jsonl
           decodes a lhotse manifest in length-sorted batches and appends {"id": ..., "text": ...}
           lines to hyp.jsonl (flushed per batch); a rerun skips ids already there. Cuts that
           fail are listed in hyp.jsonl.failures.json (never silently missing).
Audio is read with holitok_common.audio.read_audio, resampled to the tokenizer's rate, encoded
to the posterior mean, and decoded. Exit codes: 0 all done, 1 some inputs failed, 2 bad invocation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
from tqdm import tqdm

from holitok_common.audio import read_audio
from holitok_common.cli_args import int_at_least
from holitok_common.outputs import check_output_file
from unified_lm.cli.runtime import (
    EXIT_FAILURES, EXIT_OK, CLIError, add_runtime_args, check_audio_length, load_models,
    precision, run, write_atomic,
)
from unified_lm.generate import ASROptions, Transcriber

PROG = "holitok-asr"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="ASR (greedy or beam search) with a unified AR+DiT model.")
    add_runtime_args(p)
    p.add_argument("audio", nargs="*", help="audio files (WAV/FLAC/OGG, any rate)")
    p.add_argument("--manifest", help="lhotse cuts (*.jsonl.gz) to decode")
    p.add_argument("--out", help="hypotheses JSONL (with --manifest); appended to, resumable")
    p.add_argument("--batch-size", type=int_at_least(1), default=16)
    p.add_argument("--max-tokens", type=int, default=ASROptions().max_tokens)
    p.add_argument("--beam-size", type=int, default=4,
                   help="beam search width (default 4; 1 = greedy; unified_lm/generate/README.md has the trade-off)")
    p.add_argument("--length-penalty", type=float, default=ASROptions().length_penalty,
                   help="beam ranking: sum log-prob / length ** this (1 = mean log-prob, 0 = raw sum)")
    return p


def read_done(path: Path) -> set[str]:
    """Ids already in a hypotheses file. A torn last line (a crash mid-write) is cut off; a bad
    line elsewhere is an error (the file is not ours, or was edited)."""
    if not path.is_file():
        return set()
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        path.write_bytes(complete)
    done = set()
    for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            done.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CLIError(f"{path}:{number}: not a hypothesis line {{\"id\", \"text\"}} ({exc}); move the file away") from exc
    return done


def decode_files(transcriber: Transcriber, paths: Sequence[str], batch_size: int) -> int:
    failed = 0
    sr = transcriber.tokenizer.sample_rate
    for i in range(0, len(paths), batch_size):
        wavs, names = [], []
        for path in paths[i:i + batch_size]:
            try:
                wav = read_audio(path, target_sr=sr)[0]
                check_audio_length(wav, sr, path)
                wavs.append(wav)
                names.append(path)
            except ValueError as exc:
                print(f"{PROG}: {exc}", file=sys.stderr)
                failed += 1
        for name, result in zip(names, transcribe_isolated(transcriber, wavs, names, {})):
            if result is not None:
                print(f"{name}\t{result}", flush=True)
            else:
                failed += 1
    return EXIT_FAILURES if failed else EXIT_OK


def transcribe_isolated(transcriber: Transcriber, wavs: list[torch.Tensor], names: list[str],
                        failures: dict[str, str]) -> list[Optional[str]]:
    """Texts (None where an item failed; the reason goes to `failures` and stderr). A failing batch
    is retried one item at a time so a bad item fails alone."""
    if len(wavs) > 1:
        try:
            return [r.text for r in transcriber.transcribe(wavs, names)]
        except (ValueError, RuntimeError):
            pass
    texts: list[Optional[str]] = []
    for wav, name in zip(wavs, names):
        try:
            texts.append(transcriber.transcribe([wav], [name])[0].text)
        except (ValueError, RuntimeError) as exc:
            failures[name] = str(exc)
            print(f"{PROG}: {name}: {exc}", file=sys.stderr)
            texts.append(None)
    return texts


def decode_manifest(transcriber: Transcriber, manifest: str, out: Path, batch_size: int) -> int:
    from holitok_common.data.loader import AudioCollate
    from holitok_common.data.manifests import load_cuts

    cuts = sorted(load_cuts(manifest), key=lambda c: c.duration, reverse=True)  # longest first: OOM shows early
    done = read_done(out)
    todo = [c for c in cuts if c.id not in done]
    if done:
        print(f"skipping {len(cuts) - len(todo)} cut(s) already in {out}")
    reader, failures = AudioCollate(sample_rate=transcriber.tokenizer.sample_rate), {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as f, tqdm(total=len(todo), unit="cut") as bar:
        for i in range(0, len(todo), batch_size):
            wavs, names = [], []
            for cut in todo[i:i + batch_size]:
                try:
                    wav = reader.load(cut)
                    check_audio_length(wav, transcriber.tokenizer.sample_rate, cut.id)
                    wavs.append(wav)
                    names.append(cut.id)
                except ValueError as exc:
                    failures[cut.id] = f"audio: {exc}"
            for name, text in zip(names, transcribe_isolated(transcriber, wavs, names, failures)):
                if text is not None:
                    f.write(json.dumps({"id": name, "text": text}, ensure_ascii=False) + "\n")
            f.flush()
            bar.update(len(todo[i:i + batch_size]))
    report = {"total": len(cuts), "skipped_existing": len(cuts) - len(todo), "failed": len(failures),
              "failures": [{"id": k, "reason": v} for k, v in sorted(failures.items())]}
    failures_path = out.with_name(out.name + ".failures.json")
    write_atomic(failures_path, lambda tmp: tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n"))
    print(f"{len(todo) - len(failures)} decoded, {len(cuts) - len(todo)} skipped, {len(failures)} failed -> {out}"
          + (f" (failures: {failures_path})" if failures else ""))
    return EXIT_FAILURES if failures else EXIT_OK


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if (args.manifest is None) == (not args.audio):
            raise CLIError("give audio files, or --manifest CUTS.jsonl.gz --out hyp.jsonl (not both)")
        if args.manifest is not None and args.out is None:
            raise CLIError("--manifest needs --out hyp.jsonl")
        if args.manifest is not None:
            check_output_file(Path(args.out))
        try:
            options = ASROptions(max_tokens=args.max_tokens, beam_size=args.beam_size,
                                 length_penalty=args.length_penalty).validate()
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
        model, tokenizer = load_models(args)
        transcriber = Transcriber(model, tokenizer, options)
        with precision(model.stop_head.weight.device, args.dtype):
            if args.manifest is not None:
                return decode_manifest(transcriber, args.manifest, Path(args.out), args.batch_size)
            return decode_files(transcriber, args.audio, args.batch_size)

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
