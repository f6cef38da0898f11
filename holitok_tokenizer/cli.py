"""`holitok-tokenizer`: convert official checkpoints, encode/decode/reconstruct files, extract a corpus.

Latent files (`encode` -> `decode`): `.npy` holds [T, D] float32; `.safetensors` holds
{"latents": [T, D]} plus metadata (sample_rate, frame_rate, num_samples) so that `decode` can trim
to the original length. Audio goes through `holitok_common.audio`; inputs at another rate or with
several channels are resampled / down-mixed with a printed note; outputs are float32 WAV at the
tokenizer's rate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from holitok_common.audio import audio_info, read_audio, write_audio
from holitok_common.cli_args import positive_float
from holitok_common.devices import DeviceError, resolve_device
from holitok_common.outputs import OutputPathError, check_output_dir, check_output_file


LATENT_SUFFIXES = (".npy", ".safetensors")
AUDIO_OUT_SUFFIXES = (".wav",)  # outputs are float32 WAV


class UsageError(ValueError):
    """A command-line mistake (bad output suffix, unusable latent file)."""


def _check_output(path: Path, suffixes: tuple[str, ...], what: str) -> None:
    """Fail before the model runs: wrong suffix, an existing directory, or an unwritable folder."""
    if path.suffix not in suffixes:
        raise UsageError(f"{path}: {what} must end with {' or '.join(suffixes)}")
    check_output_file(path, suffixes)


def _load_model(args):
    from holitok_tokenizer.cpu_runtime import configure_cpu_inference
    from holitok_tokenizer.model import HoliTok

    device = resolve_device(args.device)
    if device.type == "cpu":
        configure_cpu_inference()  # allocator reuse: ~30 % faster decode (see cpu_runtime.py)
    return HoliTok.from_pretrained(args.model).to(device)


def _read_input(path: str, sample_rate: int) -> torch.Tensor:
    """Mono [S] at `sample_rate`, with a note when resampling or down-mixing."""
    info = audio_info(path)
    if info.channels > 1:
        print(f"note: {path}: down-mixing {info.channels} channels to mono")
    if info.sample_rate != sample_rate:
        print(f"note: {path}: resampling {info.sample_rate} Hz -> {sample_rate} Hz (the tokenizer's rate)")
    wav, _ = read_audio(path, target_sr=sample_rate)
    return wav


def cmd_convert(args) -> int:
    from holitok_tokenizer.convert import convert_official

    model, report = convert_official(args.model_pt, args.config)
    model.fold_weight_norm()
    model.save_pretrained(args.out, extra_meta={"source": str(Path(args.model_pt).name)})
    print(f"{report.summary()}; wrote {args.out} (weight norm folded)")
    return 0


@torch.no_grad()
def cmd_encode(args) -> int:
    _check_output(Path(args.output), LATENT_SUFFIXES, "latent output")
    model = _load_model(args)
    wav = _read_input(args.input, model.sample_rate)
    device = model.pre_proj.weight.device
    generator = None if args.mean else torch.Generator(device=device).manual_seed(args.seed)
    out = model.encode(wav[None].to(device), sample=not args.mean, generator=generator)
    latents = out.latents[0].float().cpu().contiguous()  # [T, D]
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, latents.numpy())
    else:  # .safetensors (_check_output allows only LATENT_SUFFIXES)
        from safetensors.torch import save_file

        meta = {"sample_rate": str(model.sample_rate), "frame_rate": str(model.frame_rate), "num_samples": str(wav.numel())}
        save_file({"latents": latents}, str(path), metadata=meta)
    print(f"wrote {path}: {latents.shape[0]} frames x {latents.shape[1]} dims at {model.frame_rate:g} Hz")
    return 0


def _read_latents(path: Path) -> tuple[torch.Tensor, int | None]:
    """[T, D] latents and the original sample count if the file records it; UsageError if unusable."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; pass a .npy or .safetensors latent file")
    if not path.is_file():
        raise UsageError(f"{path}: latent file does not exist")
    if path.suffix not in LATENT_SUFFIXES:
        raise UsageError(f"{path}: expected a .npy or .safetensors latent file")
    hint = "write latents with `holitok-tokenizer encode`"
    if path.suffix == ".npy":
        try:
            array = np.load(path)  # allow_pickle=False: object arrays are refused, never unpickled
        except Exception as exc:  # ValueError (object array, bad header), EOFError/OSError (truncated)
            raise UsageError(f"{path}: cannot read .npy latents ({type(exc).__name__}: {exc}); {hint}") from exc
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
            raise UsageError(f"{path}: latents must be a numeric array, got dtype {getattr(array, 'dtype', None)}; {hint}")
        return torch.from_numpy(array.astype(np.float32)), None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if "latents" not in f.keys():
                raise UsageError(f"{path}: no 'latents' tensor (has {sorted(f.keys())}); {hint}")
            latents = f.get_tensor("latents")
    except UsageError:
        raise
    except Exception as exc:  # SafetensorError for a corrupt or truncated file
        raise UsageError(f"{path}: cannot read .safetensors latents ({type(exc).__name__}: {exc}); {hint}") from exc
    num_samples = meta.get("num_samples")
    if num_samples is not None and not num_samples.isdigit():
        raise UsageError(f"{path}: metadata num_samples={num_samples!r} is not a sample count; {hint}")
    if latents.is_complex() or latents.dtype == torch.bool:
        raise UsageError(f"{path}: latents must be real numbers, got {latents.dtype}; {hint}")
    return latents.float(), int(num_samples) if num_samples is not None else None


@torch.no_grad()
def cmd_decode(args) -> int:
    _check_output(Path(args.output), AUDIO_OUT_SUFFIXES, "audio output")
    latents, num_samples = _read_latents(Path(args.input))
    if latents.dim() != 2:
        raise UsageError(f"{args.input}: latents must be [T, D], got {tuple(latents.shape)}")
    model = _load_model(args)
    wav = model.decode(latents[None].to(model.pre_proj.weight.device)).wav[0]
    if num_samples is not None:
        wav = wav[:num_samples]
    write_audio(args.output, wav.cpu(), model.sample_rate)
    print(f"wrote {args.output}: {wav.numel() / model.sample_rate:.2f} s at {model.sample_rate} Hz")
    return 0


@torch.no_grad()
def cmd_reconstruct(args) -> int:
    _check_output(Path(args.output), AUDIO_OUT_SUFFIXES, "audio output")
    model = _load_model(args)
    wav = _read_input(args.input, model.sample_rate)
    generator = None
    if not args.mean:
        generator = torch.Generator(device=model.pre_proj.weight.device).manual_seed(args.seed)
    out = model.reconstruct(wav[None].to(model.pre_proj.weight.device), sample=not args.mean, generator=generator)
    write_audio(args.output, out.wav[0].cpu(), model.sample_rate)
    kind = "posterior mean" if args.mean else f"posterior sample (seed {args.seed})"
    print(f"wrote {args.output}: {wav.numel()} samples at {model.sample_rate} Hz from the {kind}")
    return 0


def cmd_extract(args) -> int:
    from holitok_tokenizer.extract import extract_latents

    check_output_dir(args.out_dir)
    model = _load_model(args)
    summary = extract_latents(
        model, args.manifest, args.out_dir, batch_seconds=args.batch_seconds, sample=args.sample,
        seed=args.seed, progress=not args.no_progress,
    )
    print(
        f"encoded {summary.encoded} cuts, skipped {summary.skipped} already done; {summary.num_frames} frames; "
        f"wrote {summary.manifest} and {summary.stats}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="holitok-tokenizer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert-official", help="official model.pt -> our checkpoint directory")
    p.add_argument("model_pt", help="official checkpoint (state dict or {'model': state dict})")
    p.add_argument("--config", help="the runtime's config.json (default: the holitok-48k preset)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_convert)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="tokenizer checkpoint directory")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto (default): cuda if available, else cpu")

    p = sub.add_parser("encode", help="audio file -> latents (.npy [T, D] or .safetensors)")
    model_args(p)
    p.add_argument("input", help="audio file (any rate/channels; resampled and down-mixed)")
    p.add_argument("-o", "--output", required=True, help="OUT.npy or OUT.safetensors")
    p.add_argument("--mean", action="store_true", help="posterior mean instead of a sample")
    p.add_argument("--seed", type=int, default=0, help="seed of the posterior sample")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="latents file -> float32 WAV at the tokenizer's rate")
    model_args(p)
    p.add_argument("input", help="latents .npy or .safetensors ([T, D])")
    p.add_argument("-o", "--output", required=True, help="OUT.wav")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("reconstruct", help="audio -> latents -> audio (float32 WAV, input length)")
    model_args(p)
    p.add_argument("input", help="audio file (any rate/channels; resampled and down-mixed)")
    p.add_argument("-o", "--output", required=True, help="OUT.wav")
    p.add_argument("--mean", action="store_true", help="decode the posterior mean instead of a sample")
    p.add_argument("--seed", type=int, default=0, help="seed of the posterior sample")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("extract", help="latents + statistics for a lhotse CutSet (resumable)")
    model_args(p)
    p.add_argument("--manifest", required=True, help="CUTS.jsonl.gz")
    p.add_argument("--out-dir", required=True, help="writes latents/, cuts_with_latents.jsonl.gz, latent_stats.json")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--mean", action="store_true", help="store the posterior mean (the default)")
    choice.add_argument("--sample", action="store_true", help="store a posterior sample instead of the mean")
    p.add_argument("--seed", type=int, default=0, help="seed of the posterior samples (with --sample)")
    p.add_argument("--batch-seconds", type=positive_float, default=60.0, help="total audio seconds per batch (> 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_extract)
    return parser


def main(argv: list[str] | None = None) -> int:
    from holitok_common.audio import AudioError
    from holitok_common.config import ConfigError
    from holitok_common.data.manifests import ManifestError
    from holitok_tokenizer.checkpoint import CheckpointError
    from holitok_tokenizer.checks import TokenizerInputError
    from holitok_tokenizer.convert import ConversionError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (AudioError, ConfigError, CheckpointError, ConversionError, DeviceError, ManifestError, OutputPathError,
            TokenizerInputError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # FileNotFoundError, PermissionError, disk full ... while reading or writing files
        print(f"error: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
