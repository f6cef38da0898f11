"""Stage 7 of recipes/tiny/run.sh: one Markdown report of the embedded end-to-end run.

    python recipes/tiny/report.py --exp-dir exp/tiny --data-dir data/corpus --out exp/tiny/report.md

Reads what the earlier stages wrote (training metrics.jsonl, checkpoints, holitok-eval results.json,
the decoded wavs) and writes report.md plus report_files/ (training-curve plots, copies of a few
prompt / generated / real wavs, so the report is self-contained). A missing input is an error.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from holitok_common.data.seedtts import parse_seedtts_list  # noqa: E402
from holitok_common.train.checkpoint import latest  # noqa: E402
from unified_lm.train.curves import plot as plot_runs  # noqa: E402

from tts_seeds import mean, per_voice, read_jsonl, seed_results, seed_rows  # noqa: E402  (recipes/tiny/tts_seeds.py)

TOKENIZER_STAGES = ("stage1", "stage2", "stage3")
UNIFIED_RUNS = ("tts_only", "joint")
N_AUDIO = 4  # utterances whose audio the report links


def results(exp: Path, name: str) -> dict:
    path = exp / "eval" / name / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run stage 6)")
    return json.loads(path.read_text())


def trained_steps(run_dir: Path) -> int:
    ckpt = latest(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"{run_dir}: no checkpoint")
    return int(json.loads((ckpt / "train_state.json").read_text())["step"])


def fmt(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def plot_curves(series: dict[str, list[tuple[int, float]]], title: str, ylabel: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for label, points in series.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], label=label, marker="." if len(points) < 30 else None)
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def tokenizer_section(exp: Path, files: Path) -> list[str]:
    mel, steps, lines = {}, {}, []
    offset = 0
    for stage in TOKENIZER_STAGES:
        run = exp / "tokenizer" / stage
        rows = read_jsonl(run / "tb" / "metrics.jsonl", "was its training stage run?")
        steps[stage] = trained_steps(run)
        # stages run one after another: plot on one axis, each stage after the previous one's steps
        mel[stage] = [(offset + r["step"], r["train/g/mel"]) for r in rows if "train/g/mel" in r]
        offset += steps[stage]
        last = rows[-1] if rows else {}
        lines.append(f"| {stage} | {steps[stage]} | {fmt(last.get('train/g/mel'), 3)} | {fmt(last.get('train/g/kl'), 3)} |")
    plot = plot_curves(mel, "tokenizer: mel L1 (stages I, II, III in sequence)", "mel loss", files / "tokenizer_mel.png")
    return ["## Tokenizer (stages I-III)", "", "| stage | steps | last mel loss | last KL |", "|---|---|---|---|",
            *lines, "", f"![tokenizer mel loss]({plot.relative_to(exp)})", ""]


def unified_section(exp: Path, files: Path) -> list[str]:
    lines = []
    for name in UNIFIED_RUNS:
        rows = read_jsonl(exp / "unified" / name / "metrics.jsonl", "was its training stage run?")
        steps = trained_steps(exp / "unified" / name / "checkpoints")
        evals = [r for r in rows if r.get("kind") == "eval"]
        first, last = (evals[0], evals[-1]) if evals else ({}, {})
        lines.append(f"| {name} | {steps} | {fmt(first.get('flow'), 3)} -> {fmt(last.get('flow'), 3)} | "
                     f"{fmt(percent(first.get('wer')), 1)} -> {fmt(percent(last.get('wer')), 1)} |")
    curves = plot_runs([exp / "unified" / name for name in UNIFIED_RUNS], files / "unified_curves.png")
    return ["## Unified model (TTS-only warm-up, then joint TTS:ASR)", "",
            "| run | steps | dev flow loss (init -> last) | dev greedy WER % (init -> last) |", "|---|---|---|---|",
            *lines, "", f"![unified training losses and dev evaluations]({curves.relative_to(exp)})", ""]


def percent(fraction):
    """A WER fraction as a percentage (None stays None: that run did not evaluate ASR)."""
    return None if fraction is None else 100.0 * fraction


def tokenizer_row(exp: Path) -> str:
    """The tokenizer's reconstruction of the test split (stage 6; older runs may not have it)."""
    path = exp / "eval" / "tokenizer_test" / "results.json"
    if not path.is_file():
        return "| tokenizer reconstruction STOI, test split | not measured in this run (rerun stage 6) |"
    m = json.loads(path.read_text())["metrics"]
    ok = "PASS" if m["stoi"] >= 0.85 else "FAIL"
    return (f"| tokenizer reconstruction, test split ({m['utterances']} utts): STOI (criterion >= 0.85) / "
            f"PESQ-WB | {fmt(m['stoi'], 3)} -> **{ok}** / {fmt(m.get('pesq_wb'))} |")


def resynth_row(exp: Path, real_wer: float) -> str:
    """Judge WER on the tokenizer's resyntheses of the real recordings (stage 6; older runs lack it):
    a TTS that speaks through this tokenizer cannot do better."""
    path = exp / "eval" / "resynth_heldout" / "results.json"
    if not path.is_file():
        return "| judge WER on the tokenizer's resyntheses of the same recordings | not measured in this run (rerun stage 6) |"
    wer = json.loads(path.read_text())["metrics"]["wer"]
    return (f"| judge WER on the tokenizer's resyntheses of the same recordings (the best a TTS through this "
            f"tokenizer can reach) | {fmt(wer)} % ({fmt(wer / real_wer if real_wer else math.inf)}x real) |")


def resynth_sim_row(exp: Path) -> str:
    """SIM of the tokenizer's resyntheses to their prompts vs other voices (stage 6's --cross-sim; older
    runs lack it): how much of each voice the tokenizer keeps, the voice ceiling of a TTS through it."""
    path = exp / "eval" / "resynth_heldout" / "results.json"
    m = json.loads(path.read_text())["metrics"] if path.is_file() else {}
    what = "the tokenizer's resyntheses: SIM to prompt / to other voices / id accuracy (the voice ceiling)"
    if m.get("sim_margin") is None:
        return f"| {what} | not measured in this run (rerun stage 6) |"
    return (f"| {what} | {fmt(m['sim'], 3)} / {fmt(m['sim_other'], 3)} / {fmt(m['speaker_id_acc'], 3)} "
            f"(margin {m['sim_margin']:+.3f}) |")


def per_seed(values: list, seeds: list[int], digits: int = 1, signed: bool = False) -> str:
    """' (seed 0: 161.3, seed 1: 129.1)' for several seeds, '' for one."""
    if len(seeds) < 2:
        return ""
    shown = [("n/a" if v is None else f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}") for v in values]
    return " (" + ", ".join(f"seed {s}: {v}" for s, v in zip(seeds, shown)) + ")"


def results_section(exp: Path, seeds: list[int]) -> list[str]:
    """The criteria table. TTS rows are means over the sampling seeds (one seed's judge WER and SIM
    margin move by tens of points / change sign between seeds: docs/tts_diagnosis.md, session 15)."""
    asr, real = results(exp, "asr_test"), results(exp, "real_heldout")
    per_seed_results = seed_results(exp, seeds)
    runs = [res["metrics"] for res in per_seed_results]
    tts = per_seed_results[0]  # the first seed's: its audio is linked below
    a, t, r = asr["metrics"], tts["metrics"], real["metrics"]
    if len({m["items"] for m in runs}) != 1:
        raise ValueError(f"{exp / 'eval'}: the seeds' TTS evaluations cover different lists "
                         f"({[m['items'] for m in runs]} lines); rerun stages 5-6")
    wer = mean([m["wer"] for m in runs])
    ratio = wer / r["wer"] if r["wer"] else math.inf
    criterion = "PASS" if wer <= 2 * r["wer"] else "FAIL"
    margins = [m.get("sim_margin") for m in runs]
    margin = mean(margins)
    sim_ok = "PASS" if margin > 0 else "FAIL"
    over = f"mean of {len(seeds)} sampling seeds" if len(seeds) > 1 else f"sampling seed {seeds[0]}"
    judges = tts["judges"]
    return [
        "## Results", "",
        "| what | value |", "|---|---|",
        f"| ASR WER, test split ({a['utterances']} utts; Whisper normaliser, corpus WER) | {fmt(a['wer'])} % "
        f"(raw icefall {fmt(a.get('wer_raw_icefall'))} %) |",
        f"| TTS WER, held-out voices ({t['items']} lines; judge, mean per utt; {over}) | {fmt(wer)} %"
        f"{per_seed([m['wer'] for m in runs], seeds)} |",
        f"| TTS words substituted + deleted of {t['ref_tokens']} ({over}) | "
        f"{fmt(mean([m['substitutions'] + m['deletions'] for m in runs]), 1)}"
        f"{per_seed([m['substitutions'] + m['deletions'] for m in runs], seeds, 0)} |",
        f"| judge WER on the real recordings of the same lines | {fmt(r['wer'])} % |",
        f"| TTS WER / real WER (criterion <= 2x) | {fmt(ratio)} -> **{criterion}** |",
        resynth_row(exp, r["wer"]),
        f"| SIM generated vs its prompt ({over}) | {fmt(mean([m['sim'] for m in runs]), 3)} |",
        f"| SIM generated vs OTHER voices' prompts ({over}) | "
        f"{fmt(mean([m.get('sim_other') for m in runs]), 3)} |",
        f"| SIM margin (own - other; criterion > 0; {over}) | {margin:+.3g}"
        f"{per_seed(margins, seeds, 4, signed=True)} -> **{sim_ok}** |",
        f"| speaker identification accuracy of the generated audio (chance 1/{t.get('num_speakers')}; "
        f"{over}) | {fmt(mean([m.get('speaker_id_acc') for m in runs]), 3)} |",
        f"| real recordings: SIM to prompt / to other voices / id accuracy | {fmt(r['sim'], 3)} / "
        f"{fmt(r.get('sim_other'), 3)} / {fmt(r.get('speaker_id_acc'), 3)} |",
        resynth_sim_row(exp),
        f"| TTS missing / failed wavs | {t['missing_wavs']} / {t['asr_failed']} |",
        tokenizer_row(exp), "",
        f"Judges: ASR `{judges['asr']['name']}` (protocol judge: {judges['asr'].get('protocol_judge')}), "
        f"SIM `{judges.get('sim', {}).get('name', 'none')}`. Numbers from different judges are not comparable. "
        + "".join(f"**{role} judge note: {j['note']}.** " for role, j in judges.items() if j.get("note")) +
        "Full reports: [ASR](eval/asr_test/results.md), [TTS](eval/tts_heldout/results.md), "
        "[real recordings](eval/real_heldout/results.md).", "",
    ]


def nearest(voice: dict) -> str:
    """'a 78, b 2': how often each voice was the nearest one, most often first."""
    return ", ".join(f"{k} {n}" for k, n in sorted(voice["nearest"].items(), key=lambda kv: -kv[1]))


def margin_cell(voice: dict | None) -> str:
    return "n/a" if voice is None else f"{voice['margin']:+.3f}, {nearest(voice)}"


def voice_section(exp: Path, seeds: list[int]) -> list[str]:
    """SIM per held-out voice: the generated audio (pooled over the seeds) next to the real recordings.
    Rows judged before per_utt.jsonl recorded each utterance's voice get a note instead of a table."""
    generated, real = per_voice(seed_rows(exp, seeds)), per_voice(read_jsonl(exp / "eval" / "real_heldout" / "per_utt.jsonl"))
    resynth_rows = exp / "eval" / "resynth_heldout" / "per_utt.jsonl"
    resynth = per_voice(read_jsonl(resynth_rows)) if resynth_rows.is_file() else {}
    lines = ["## SIM per held-out voice", ""]
    if not generated or not real:
        return lines + ["Not available: these evaluations predate per-utterance voices in per_utt.jsonl "
                        "(rerun stage 6 to get this table).", ""]
    lines += ["| voice | utterances (all seeds) | SIM own / other | margin | nearest voice (count) | real recordings: "
              "margin, nearest | the tokenizer's resyntheses: margin, nearest |", "|---|---|---|---|---|---|---|"]
    for name, v in generated.items():
        lines.append(f"| {name} | {v['utterances']} | {v['sim']:.3f} / {v['sim_other']:.3f} | {v['margin']:+.3f} | "
                     f"{nearest(v)} | {margin_cell(real.get(name))} | {margin_cell(resynth.get(name))} |")
    return lines + ["", "The criterion is the mean margin over utterances; a voice whose margin is negative, or "
                    "whose utterances sound nearest to another voice, is not transferred even when the mean is "
                    "positive.", ""]


def audio_section(exp: Path, files: Path) -> list[str]:
    items = parse_seedtts_list(exp / "decode" / "heldout_seedtts.lst")
    hyps = {row["id"]: row.get("hyp", "") for row in read_jsonl(exp / "eval" / "tts_heldout" / "per_utt.jsonl")}
    out = ["## Listen", "", "| utt | target text | judge heard (TTS) | prompt | generated | real |", "|---|---|---|---|---|---|"]
    audio = files / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    for item in [it for it in items if (exp / "decode" / "tts_heldout" / f"{it.utt}.wav").is_file()][:N_AUDIO]:
        links = []
        for kind, src in (("prompt", item.prompt_wav), ("generated", exp / "decode" / "tts_heldout" / f"{item.utt}.wav"),
                          ("real", item.gt_wav)):
            if src is None:
                links.append("-")
                continue
            dst = audio / f"{item.utt}.{kind}{src.suffix}"
            shutil.copyfile(src, dst)
            links.append(f"[{kind}]({dst.relative_to(exp)})")
        out.append(f"| {item.utt} | {item.target_text} | {hyps.get(item.utt, '(not transcribed)')} | {' | '.join(links)} |")
    return out + [""]


def header(exp: Path, data: Path, tok_data: Path | None = None) -> list[str]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    corpus = json.loads((data / "corpus.json").read_text()) if (data / "corpus.json").is_file() else {}
    lines = ["# holitok tiny: end-to-end report", "",
             f"`recipes/tiny/run.sh` on {time.strftime('%Y-%m-%d %H:%M')}, commit {commit}; corpus `{data}`.", ""]
    splits = corpus.get("splits", {})
    if splits:
        lines += ["| split | utterances | hours | speakers |", "|---|---|---|---|"]
        lines += [f"| {name} | {s['utterances']} | {s['hours']:.3f} | {s['speakers']} |" for name, s in splits.items()]
        lines += [""]
    voices = corpus.get("voices", {})
    if voices:
        lines += [f"Voices: {len(voices.get('train', []))} training, held out: {', '.join(voices.get('heldout', []))}.", ""]
    if tok_data is not None and tok_data != data and (tok_data / "corpus.json").is_file():
        tok = json.loads((tok_data / "corpus.json").read_text())
        train = tok.get("splits", {}).get("train", {})
        lines += [f"The tokenizer trained on its own corpus `{tok_data}` (voice set {tok.get('voice_set', 'base')}): "
                  f"{train.get('hours', 0):.3f} h, {train.get('utterances', 0)} utterances, "
                  f"{len(tok.get('voices', {}).get('train', []))} voices, the same held-out voices left out.", ""]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--tokenizer-data-dir", default=None, help="the tokenizer's training corpus, when not --data-dir")
    p.add_argument("--tts-seeds", type=int, nargs="+", default=[0],
                   help="the sampling seeds stage 5 decoded (run.sh's TTS_SEEDS; the first one's audio is linked)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if len(set(args.tts_seeds)) != len(args.tts_seeds):
        p.error(f"--tts-seeds repeats a seed: {args.tts_seeds}")
    exp, data = Path(args.exp_dir).resolve(), Path(args.data_dir).resolve()
    tok_data = Path(args.tokenizer_data_dir).resolve() if args.tokenizer_data_dir else None
    files = exp / "report_files"
    lines = header(exp, data, tok_data) + results_section(exp, args.tts_seeds) + voice_section(exp, args.tts_seeds)
    lines += audio_section(exp, files)
    lines += tokenizer_section(exp, files) + unified_section(exp, files)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
