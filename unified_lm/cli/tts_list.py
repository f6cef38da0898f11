"""`holitok-tts --meta LIST --out-dir D`: a Seed-TTS list, batched, resumable, failures reported.

Items are sorted by text length (similar lengths share a batch, so few rows idle while the
longest finishes), read and encoded per batch, validated one by one (a bad item fails alone),
then generated as one batch; if the batch itself fails (e.g. out of memory) its items are retried
one at a time, so one bad item never takes others down with it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from holitok_common.audio import read_audio, write_audio
from holitok_common.data.seedtts import SeedTTSItem, parse_seedtts_list
from holitok_common.outputs import check_output_dir
from unified_lm.cli.runtime import (
    EXIT_FAILURES, EXIT_OK, CLIError, check_prompt, load_models, note_unchecked_text, precision, write_atomic,
)
from unified_lm.generate import Synthesizer, TTSOptions, TTSRequest, TTSResult, encode_waveforms
from unified_lm.generate.text_norm import apply_text_norm


@dataclass
class Report:
    total: int
    skipped: int = 0
    written: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"total": self.total, "skipped_existing": self.skipped, "written": self.written,
                           "failed": len(self.failures),
                           "failures": [{"utt": u, "reason": r} for u, r in sorted(self.failures.items())]},
                          indent=1, ensure_ascii=False)


def synthesize_list(args: argparse.Namespace, opts: TTSOptions) -> int:
    items = parse_seedtts_list(args.meta)
    if not items:
        raise CLIError(f"{args.meta} has no utterances: nothing to synthesise")
    out_dir = check_output_dir(Path(args.out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [it for it in items if not (out_dir / f"{it.utt}.wav").is_file()]
    report = Report(total=len(items), skipped=len(items) - len(todo))
    if report.skipped:
        print(f"skipping {report.skipped} utterance(s) already in {out_dir}")
    if todo:
        model, tokenizer = load_models(args)
        synth = Synthesizer(model, tokenizer, opts)
        note_unchecked_text(model)
        todo.sort(key=lambda it: len(it.prompt_text) + len(it.target_text))
        size = args.batch_size
        with precision(model.stop_head.weight.device, args.dtype), tqdm(total=len(todo), unit="utt") as bar:
            for i in range(0, len(todo), size):
                batch = todo[i:i + size]
                for result in run_batch(synth, batch, report, args.text_norm):
                    write_result(out_dir, result)
                    report.written += 1
                bar.update(len(batch))
    write_atomic(out_dir / "failures.json", lambda tmp: tmp.write_text(report.to_json() + "\n"))
    print(f"{report.written} written, {report.skipped} skipped (already done), {len(report.failures)} failed "
          f"-> {out_dir / 'failures.json'}")
    for utt, reason in sorted(report.failures.items()):
        print(f"  FAILED {utt}: {reason}")
    return EXIT_FAILURES if report.failures else EXIT_OK


def write_result(out_dir: Path, result: TTSResult) -> None:
    write_atomic(out_dir / f"{result.utt_id}.wav", lambda tmp: write_audio(tmp, result.wav, result.sample_rate))
    line = {"utt": result.utt_id, "seconds": round(result.seconds, 3), "num_patches": result.num_patches,
            "ended_by": "end" if result.stopped else "length_cap"}
    with open(out_dir / "synthesis.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def _requests(synth: Synthesizer, items: list[SeedTTSItem], report: Report, text_norm: str) -> list[TTSRequest]:
    """Read, encode and validate the prompts; failed items go to the report."""
    wavs = {}
    for it in items:
        try:
            wav = read_audio(it.prompt_wav, target_sr=synth.tokenizer.sample_rate)[0]
            check_prompt(wav, synth.tokenizer.sample_rate, it.prompt_text, str(it.prompt_wav))
            wavs[it.utt] = wav
        except ValueError as exc:
            report.failures[it.utt] = f"prompt audio: {exc}"
    ok = [it for it in items if it.utt in wavs]
    try:
        latents = dict(zip([it.utt for it in ok], encode_waveforms(synth.tokenizer, [wavs[it.utt] for it in ok])))
    except (ValueError, RuntimeError):  # isolate the culprit
        latents = {}
        for it in ok:
            try:
                latents[it.utt] = encode_waveforms(synth.tokenizer, [wavs[it.utt]])[0]
            except (ValueError, RuntimeError) as exc:
                report.failures[it.utt] = f"prompt encoding: {exc}"
    requests = []
    for it in ok:
        if it.utt not in latents:
            continue
        alphabet = synth.model.cfg.text_tokenizer.seen_chars
        text = apply_text_norm(it.target_text, text_norm, alphabet)
        prompt_text = apply_text_norm(it.prompt_text, text_norm, alphabet)
        request = TTSRequest(it.utt, text, prompt_text, latents[it.utt])
        try:
            synth.engine.prepare(request)
        except ValueError as exc:
            report.failures[it.utt] = str(exc)
            continue
        requests.append(request)
    return requests


def run_batch(synth: Synthesizer, items: list[SeedTTSItem], report: Report, text_norm: str) -> list[TTSResult]:
    requests = _requests(synth, items, report, text_norm)
    if len(requests) > 1:
        try:
            return synth.synthesize(requests)
        except (ValueError, RuntimeError):
            pass  # the batch failed as a whole: find which items fail alone
    results = []
    for request in requests:
        try:
            results.extend(synth.synthesize([request]))
        except (ValueError, RuntimeError) as exc:
            report.failures[request.utt_id] = f"generation: {type(exc).__name__}: {exc}"
    return results
