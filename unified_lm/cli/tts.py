"""`holitok-tts`: zero-shot speech synthesis with a UnifiedLM and its HoliTok tokenizer.

One utterance:
    holitok-tts --model M --prompt-wav p.wav --prompt-text "..." --text "..." --out out.wav [--stream]
A Seed-TTS meta list (`utt|prompt_text|prompt_wav|target_text[|gt_wav]`), batched and resumable:
    holitok-tts --model M --meta meta.lst --out-dir D [--batch-size 8]
writes D/<utt>.wav (atomically), skips utterances whose wav exists, and always writes
D/failures.json ({"failed": n, "failures": [{"utt", "reason"}], ...}); D/synthesis.jsonl logs
each written utterance (seconds, patches, whether it ended on its own (stop head or text end) or at a length cap).
Exit codes: 0 all done, 1 some utterances failed (the rest are written), 2 bad invocation/input.
The seed of an utterance is (--seed, its id); the id of a single utterance is the --out file's stem.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from holitok_common.audio import read_audio, write_audio
from holitok_common.cli_args import int_at_least
from holitok_common.outputs import check_output_file
from unified_lm.cli.runtime import (
    EXIT_OK, CLIError, add_runtime_args, check_prompt, load_models, note_unchecked_text, precision, run,
    write_atomic,
)
from unified_lm.generate import Synthesizer, TTSOptions, TTSRequest, encode_waveforms
from unified_lm.generate.text_norm import TEXT_NORMS, apply_text_norm

PROG = "holitok-tts"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Zero-shot TTS with a unified AR+DiT model.")
    add_runtime_args(p)
    one = p.add_argument_group("one utterance")
    one.add_argument("--text", help="text to speak")
    one.add_argument("--prompt-wav", help="voice prompt audio (any rate; resampled)")
    one.add_argument("--prompt-text", help="transcript of the prompt audio (required with --prompt-wav)")
    one.add_argument("--out", help="output wav")
    one.add_argument("--stream", action="store_true", help="decode while generating; prints first-chunk latency")
    many = p.add_argument_group("a Seed-TTS meta list")
    many.add_argument("--meta", help="utt|prompt_text|prompt_wav|target_text[|gt_wav] list")
    many.add_argument("--out-dir", help="writes <utt>.wav here")
    many.add_argument("--batch-size", type=int_at_least(1), default=8)
    p.add_argument("--text-norm", default="en", choices=TEXT_NORMS,
                   help="en: spell out numbers, times, money ('8:15' -> 'eight fifteen') in the text and the prompt "
                        "transcript, as read-speech training transcripts do; none: speak the text as given")
    d = TTSOptions()
    g = p.add_argument_group("sampling")
    g.add_argument("--steps", type=int, default=d.steps, help="DiT ODE steps per patch")
    g.add_argument("--cfg-scale", type=float, default=d.cfg_scale)
    g.add_argument("--temperature", type=float, default=d.temperature,
                   help="scale of the DiT's starting noise (< 1: safer, less varied)")
    g.add_argument("--solver", default=d.solver, choices=["euler", "midpoint"])
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--max-seconds", type=float, default=d.max_seconds, help="cap on generated audio per utterance")
    g.add_argument("--prompt-rate-cap", type=float, default=d.prompt_rate_cap,
                   help="> 0: also cap each utterance at this many times the duration the prompt's speaking "
                        "rate predicts (0 = off)")
    g.add_argument("--stop-threshold", type=float, default=d.stop_threshold, help="stop when p(stop) > this")
    g.add_argument("--min-patches", type=int, default=d.min_patches)
    return p


def options(args: argparse.Namespace) -> TTSOptions:
    return TTSOptions(steps=args.steps, cfg_scale=args.cfg_scale, temperature=args.temperature, solver=args.solver,
                      seed=args.seed, max_seconds=args.max_seconds, prompt_rate_cap=args.prompt_rate_cap,
                      stop_threshold=args.stop_threshold,
                      min_patches=args.min_patches).validate()


def read_prompt(synth: Synthesizer, wav_path: Optional[str], text: Optional[str]) -> tuple[Optional[torch.Tensor], str]:
    """(prompt latents [T, D] or None, prompt text); the audio is read at the tokenizer's rate."""
    if (wav_path is None) != (text is None or not text.strip()):
        raise CLIError("--prompt-wav and --prompt-text go together: the model needs the prompt's transcript "
                       "(omit both for synthesis without a voice prompt)")
    if wav_path is None:
        return None, ""
    wav, _ = read_audio(wav_path, target_sr=synth.tokenizer.sample_rate)
    check_prompt(wav, synth.tokenizer.sample_rate, text, wav_path)
    return encode_waveforms(synth.tokenizer, [wav])[0], text


def synthesize_one(args: argparse.Namespace) -> int:
    if args.text is None or args.out is None:
        raise CLIError("give --text and --out (one utterance) or --meta and --out-dir (a list)")
    start = time.perf_counter()
    out = check_output_file(Path(args.out), (".wav",))
    model, tokenizer = load_models(args)
    synth = Synthesizer(model, tokenizer, options(args))
    note_unchecked_text(model)
    with precision(model.stop_head.weight.device, args.dtype):
        t0 = time.perf_counter()
        prompt, prompt_text = read_prompt(synth, args.prompt_wav, args.prompt_text)
        alphabet = model.cfg.text_tokenizer.seen_chars
        text = apply_text_norm(args.text, args.text_norm, alphabet)
        if text != args.text:
            print(f"speaking: {text}")
        request = TTSRequest(out.stem, text, apply_text_norm(prompt_text, args.text_norm, alphabet), prompt)
        synth.engine.prepare(request)  # refuse bad input before creating any file
        if args.stream:
            return stream_one(synth, request, out, t0)
        result = synth.synthesize([request])[0]
    elapsed = time.perf_counter() - t0
    write_atomic(out, lambda tmp: write_audio(tmp, result.wav, result.sample_rate))
    print(f"wrote {out}: {result.seconds:.2f} s, {result.num_patches} patches, "
          f"{'ended on its own' if result.stopped else 'length cap'}; RTF {elapsed / max(result.seconds, 1e-9):.3f} "
          f"(total with loading {time.perf_counter() - start:.1f} s)")
    return EXIT_OK


def stream_one(synth: Synthesizer, request: TTSRequest, out: Path, t0: float) -> int:
    """Write chunks to the output as they come (under a temporary name until the end)."""
    import soundfile as sf

    sr, first, total = synth.tokenizer.sample_rate, None, 0

    def write(tmp: Path) -> None:
        nonlocal first, total
        with sf.SoundFile(str(tmp), "w", samplerate=sr, channels=1, subtype="FLOAT", format="WAV") as f:
            for chunk in synth.stream(request):
                if first is None:
                    first = time.perf_counter() - t0
                    print(f"first chunk after {first * 1000:.0f} ms ({chunk.numel() / sr * 1000:.0f} ms of audio)",
                          flush=True)
                f.write(chunk.numpy())
                total += chunk.numel()

    write_atomic(out, write)
    elapsed = time.perf_counter() - t0
    print(f"wrote {out}: {total / sr:.2f} s streamed; first-chunk latency {first * 1000:.0f} ms; "
          f"RTF {elapsed / max(total / sr, 1e-9):.3f}")
    return EXIT_OK


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.meta is not None:
            from unified_lm.cli.tts_list import synthesize_list

            if args.out_dir is None or args.text is not None or args.out is not None or args.stream:
                raise CLIError("--meta goes with --out-dir (not --text, --out or --stream)")
            return synthesize_list(args, options(args))
        return synthesize_one(args)

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
