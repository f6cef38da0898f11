"""What `holitok-tts` and `holitok-asr` share: device/precision choice, loading a model with its
tokenizer (checked for compatibility), atomic writes, and turning user errors into exit code 2.

The device is chosen here, once (STYLE principle 6): library code only follows its tensors.
`--dtype bfloat16|float16` runs generation under autocast (weights stay float32, so the latent
statistics and the tokenizer keep full precision).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Callable, Optional

import torch

from holitok_common.audio import AudioError
from holitok_common.config import ConfigError
from holitok_common.devices import resolve_device
from unified_lm.generate import GenerationInputError, check_compatible

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


class CLIError(ValueError):
    """A problem the user can fix; printed as `prog: error: ...` with exit code 2."""


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="UnifiedLM checkpoint directory (meta.json kind holitok-unified)")
    parser.add_argument("--tokenizer", help="HoliTok tokenizer directory (default: the one the model references)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto = cuda when available")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                        help="autocast precision of the model (cuda only; the tokenizer stays float32)")


def precision(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    if dtype == "float32":
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise CLIError(f"--dtype {dtype} needs --device cuda (CPU generation runs in float32)")
    return torch.autocast("cuda", dtype=getattr(torch, dtype))


def resolve_tokenizer_dir(model_dir: Path, explicit: Optional[str]) -> Path:
    """--tokenizer, else the model's tokenizer_ref: absolute as given; a relative one against the model
    directory first (exported pairs such as models/tiny/unified -> ../tokenizer work from any working
    directory), then against the working directory (refs recorded by a training run)."""
    from unified_lm.checkpoint import read_meta

    if explicit is not None:
        return Path(explicit)
    ref = read_meta(model_dir).get("tokenizer_ref")
    if not ref:
        raise CLIError(f"{model_dir} does not reference a tokenizer (tokenizer_ref is empty); pass --tokenizer DIR")
    for candidate in (model_dir / ref, Path(ref)):
        if candidate.is_dir():
            return candidate
    raise CLIError(f"the model's tokenizer_ref {ref!r} is not a directory (tried it as given and relative to "
                   f"{model_dir}); pass --tokenizer DIR")


def load_models(args: argparse.Namespace):
    """(UnifiedLM, HoliTok) on the chosen device, eval mode, checked for compatibility."""
    from holitok_tokenizer.model import HoliTok
    from unified_lm.checkpoint import read_meta
    from unified_lm.model import UnifiedLM

    device = resolve_device(args.device)
    model_dir = Path(args.model)
    read_meta(model_dir)  # fails first, and clearly, for a directory of the wrong kind
    tok_dir = resolve_tokenizer_dir(model_dir, args.tokenizer)
    tokenizer = HoliTok.from_pretrained(tok_dir)
    model = UnifiedLM.from_pretrained(model_dir)
    check_compatible(model, tokenizer)
    return model.to(device).eval(), tokenizer.to(device).eval()


def note_unchecked_text(model) -> None:
    """Say so when the model does not record its training characters (checkpoints from before
    text_tokenizer.seen_chars): its TTS cannot refuse characters it never saw."""
    if model.cfg.text_tokenizer.seen_chars is None:
        print("note: this model does not record the characters of its training transcripts (text_tokenizer.seen_chars), "
              "so characters it never saw are not refused; they may be spoken as noise", file=sys.stderr)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` then rename over `path`: a crash never leaves a partial file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# Input checks of the CLIs (the engines stay general: tests drive them with tiny synthetic inputs).
MIN_AUDIO_SECONDS = 0.1  # shorter audio holds no word: refused, not transcribed into a made-up sentence
MIN_PROMPT_SECONDS = 0.5  # a shorter voice prompt carries no voice (3-10 s work best)
MAX_PROMPT_CHARS_PER_SECOND = 40.0  # speech runs ~15 characters/s: far more means transcript and wav do not match


def check_audio_length(wav: torch.Tensor, sample_rate: int, name: str, minimum: float = MIN_AUDIO_SECONDS) -> None:
    seconds = wav.shape[-1] / sample_rate
    if seconds < minimum:
        raise CLIError(f"{name}: {seconds * 1000:.0f} ms of audio; at least {minimum * 1000:.0f} ms is needed")


def check_prompt(wav: torch.Tensor, sample_rate: int, text: str, name: str) -> None:
    """A voice prompt long enough to carry a voice, with a transcript that can belong to it."""
    check_audio_length(wav, sample_rate, f"{name}: voice prompt", MIN_PROMPT_SECONDS)
    rate = len(" ".join(text.split())) / (wav.shape[-1] / sample_rate)
    if rate > MAX_PROMPT_CHARS_PER_SECOND:
        raise CLIError(f"{name}: the prompt transcript has {rate:.0f} characters per second of prompt audio (speech has "
                       "~15); check that it is the transcript of this prompt wav")


# OSError: unwritable outputs, full disks, unreadable inputs -> one line, not a traceback.
USER_ERRORS = (CLIError, GenerationInputError, AudioError, ConfigError, OSError, ValueError)


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a CLI body; user errors -> one clear line on stderr and exit code 2."""
    try:
        return body()
    except USER_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
