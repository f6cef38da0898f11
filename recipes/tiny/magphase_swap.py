"""Where does a resynthesis lose the words: in its STFT magnitude or in its phase?

For every line of a Seed-TTS list, combine the real recording's (5th field) STFT with a candidate's
(`--wav-dir/<utt>.wav`, e.g. the tokenizer's resyntheses of recipes/tiny/resynth_list.py):

    OUT_DIR/realmag_candphase/<utt>.wav   real magnitude, candidate phase
    OUT_DIR/candmag_realphase/<utt>.wav   candidate magnitude, real phase

(Hann window, inverse STFT; both cut to the shorter signal). Judge each folder like TTS output
(`holitok-eval seedtts --meta LIST --wav-dir OUT_DIR/realmag_candphase ...`): the folder that keeps
the real recordings' WER names the part of the signal that is fine. docs/tts_diagnosis.md, session 13.

    python recipes/tiny/magphase_swap.py --meta LIST.lst --wav-dir RESYN_DIR --out-dir OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from holitok_common.audio import read_audio, write_audio
from holitok_common.data.seedtts import parse_seedtts_list


def swap(real: torch.Tensor, cand: torch.Tensor, n_fft: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """real, cand [S] -> (real magnitude + cand phase, cand magnitude + real phase), each [min S]."""
    n = min(real.numel(), cand.numel())
    if n < n_fft:
        raise ValueError(f"signals of {n} samples are shorter than one STFT window ({n_fft})")
    window = torch.hann_window(n_fft)
    spec = [torch.stft(x[:n], n_fft, hop, window=window, return_complex=True) for x in (real, cand)]
    inv = lambda s: torch.istft(s, n_fft, hop, window=window, length=n)  # noqa: E731
    return inv(torch.polar(spec[0].abs(), spec[1].angle())), inv(torch.polar(spec[1].abs(), spec[0].angle()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--meta", required=True, help="Seed-TTS list whose lines name the real recordings")
    p.add_argument("--wav-dir", required=True, help="candidate audio, <utt>.wav per line")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--n-fft", type=int, default=512, help="STFT window (default 512: 32 ms at 16 kHz)")
    p.add_argument("--hop", type=int, default=128)
    args = p.parse_args()
    if not 0 < args.hop <= args.n_fft // 2:
        raise SystemExit(f"error: --hop must be in (0, n_fft / 2] for an invertible Hann STFT, got {args.hop}")
    items = parse_seedtts_list(args.meta)
    problems = [f"{it.utt}: no real recording" for it in items if it.gt_wav is None or not it.gt_wav.is_file()]
    problems += [f"{it.utt}: no {it.utt}.wav in {args.wav_dir}" for it in items
                 if not (Path(args.wav_dir) / f"{it.utt}.wav").is_file()]
    if problems:
        raise SystemExit(f"error: {len(problems)} line(s) cannot be swapped, e.g. {problems[0]}")
    out = Path(args.out_dir)
    for name in ("realmag_candphase", "candmag_realphase"):
        (out / name).mkdir(parents=True, exist_ok=True)
    for it in items:
        cand, sr = read_audio(Path(args.wav_dir) / f"{it.utt}.wav")
        real, _ = read_audio(it.gt_wav, target_sr=sr)
        a, b = swap(real, cand, args.n_fft, args.hop)
        write_audio(out / "realmag_candphase" / f"{it.utt}.wav", a.clamp(-1, 1), sr)
        write_audio(out / "candmag_realphase" / f"{it.utt}.wav", b.clamp(-1, 1), sr)
    print(f"swapped {len(items)} pairs into {out}/realmag_candphase and {out}/candmag_realphase")


if __name__ == "__main__":
    main()
