"""Speed of the HoliTok tokenizer: encode / decode real-time factors, FLOPs and machine utilisation.

    python bench/bench_tokenizer.py                      # holitok-48k, 10 s, CPU 2 threads (+ GPU if any), fp32 + bf16
    python bench/bench_tokenizer.py --seconds 2 --repeats 1 --dtypes fp32 --ops decode

Random weights, weight norm folded (the inference form). Per (device, dtype, op): one warm-up run,
then the median of `--repeats` timed runs. RTF = wall seconds / audio seconds (< 1: faster
than real time); cpu_s = process CPU seconds of all threads (on a busy shared machine,
cpu_s / threads estimates the quiet-machine wall time). FLOPs per second of audio are counted with torch.utils.flop_counter.FlopCounterMode
on a 1 s input (convolutions incl. the depthwise anti-aliasing filters, transposed convs and
linears, 2 FLOPs per MAC; elementwise ops and the LSTM recurrences are not counted, < 1 %).
The machine's peak is measured with a 2048^3 GEMM per dtype unless `--peak-fp32/--peak-bf16` give it.
Prints a table and one JSON line. Numbers are only asserted nowhere: this is a benchmark.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from holitok_tokenizer.cpu_runtime import configure_cpu_inference
from holitok_tokenizer.model import HoliTok

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of `repeats` runs after one
    warm-up. On a shared machine CPU / threads is the better estimate of the quiet-machine time."""
    fn()
    _sync(device)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def gemm_peak_gflops(device: torch.device, dtype: torch.dtype, n: int = 2048) -> float:
    """Achieved GFLOP/s of an n x n x n matmul (the machine's practical peak for this dtype)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    seconds, _ = _timed(lambda: a @ b, device, repeats=5)
    return 2 * n**3 / seconds / 1e9


def flops_per_audio_second(model: HoliTok, device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    """FlopCounterMode counts of encode and decode of 1 s of audio (linear in duration)."""
    wav = 0.1 * torch.randn(1, model.sample_rate, device=device, dtype=dtype)
    latents = torch.randn(1, model.num_frames(model.sample_rate), model.latent_dim, device=device, dtype=dtype)
    counts = {}
    for op, fn in (("encode", lambda: model.encode(wav, sample=False)), ("decode", lambda: model.decode(latents))):
        counter = FlopCounterMode(display=False)
        with counter:
            fn()
        counts[op] = counter.get_total_flops()
    return counts


def bench(args: argparse.Namespace) -> list[dict]:
    torch.manual_seed(0)
    model = HoliTok.from_preset(args.preset).fold_weight_norm().eval()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() and not args.cpu_only else [])
    rows = []
    for device in devices:
        for name in args.dtypes:
            dtype = DTYPES[name]
            model.to(device=device, dtype=dtype)
            given = args.peak_fp32 if name == "fp32" else args.peak_bf16
            peak = given if given and device.type == "cpu" else gemm_peak_gflops(device, dtype)
            wav = 0.1 * torch.randn(1, int(args.seconds * model.sample_rate), device=device, dtype=dtype)
            with torch.inference_mode():
                flops = flops_per_audio_second(model, device, dtype)
                latents = model.encode(wav, sample=False).latents
                runs = {"encode": lambda: model.encode(wav, sample=False), "decode": lambda: model.decode(latents)}
                for op in args.ops:
                    seconds, cpu_seconds = _timed(runs[op], device, args.repeats)
                    achieved = flops[op] * args.seconds / seconds / 1e9
                    rows.append({
                        "device": device.type, "dtype": name, "op": op, "threads": torch.get_num_threads(),
                        "audio_s": args.seconds, "time_s": round(seconds, 3), "rtf": round(seconds / args.seconds, 3),
                        "cpu_s": round(cpu_seconds, 3),
                        "gflop_per_audio_s": round(flops[op] / 1e9, 1), "achieved_gflops": round(achieved, 1),
                        "peak_gflops": round(peak, 1), "peak_fraction": round(achieved / peak, 3),
                    })
                    print(_format_row(rows[-1]), flush=True)
    return rows


_COLUMNS = ["device", "dtype", "op", "threads", "audio_s", "time_s", "rtf", "cpu_s", "gflop_per_audio_s", "achieved_gflops", "peak_gflops", "peak_fraction"]


def _format_row(row: dict) -> str:
    return "  ".join(f"{row[c]!s:>{max(len(c), 6)}}" for c in _COLUMNS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="holitok-48k")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio duration per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median) after one warm-up")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--ops", nargs="+", default=["encode", "decode"], choices=["encode", "decode"])
    parser.add_argument("--peak-fp32", type=float, default=None, help="CPU fp32 peak GFLOP/s (default: measure a GEMM)")
    parser.add_argument("--peak-bf16", type=float, default=None, help="CPU bf16 peak GFLOP/s (default: measure a GEMM)")
    parser.add_argument("--cpu-only", action="store_true", help="skip the GPU even when there is one")
    parser.add_argument("--no-keep-heap", action="store_true", help="leave glibc malloc at its defaults (see cpu_runtime.py)")
    args = parser.parse_args(argv)
    runtime = configure_cpu_inference(args.threads, keep_heap=not args.no_keep_heap)
    print(f"# {runtime}")
    print("  ".join(f"{c:>{max(len(c), 6)}}" for c in _COLUMNS))
    rows = bench(args)
    print(json.dumps({"bench": "tokenizer", "preset": args.preset, "torch": torch.__version__, **runtime, "rows": rows}))


if __name__ == "__main__":
    main()
