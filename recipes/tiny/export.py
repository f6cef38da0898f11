"""Stage 8 of recipes/tiny/run.sh: export the trained pair into a self-describing, relocatable folder.

    python recipes/tiny/export.py --tokenizer T --unified U --data-dir data/corpus --exp-dir exp/tiny \
        --out models/tiny [--max-mb 60]

OUT/tokenizer/   the HoliTok folder (model.safetensors, config.json, meta.json)
OUT/unified/     the UnifiedLM folder; its tokenizer_ref is "../tokenizer" (resolved against the
                 model folder), so the pair works from any checkout or working directory
OUT/prompts/     one short held-out voice prompt: <utt>.wav (16-bit PCM) + <utt>.txt (its transcript)
OUT/manifest.json  files (bytes, sha256), provenance (commit, steps, corpus), headline eval numbers
OUT/README.md    what this is and how to use it

The folder is built under OUT.tmp, loaded back (tokenizer + model + compatibility check), size-checked
and only then moved over OUT: a failed export never leaves a half-written OUT.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from holitok_common.audio import read_audio, write_audio
from holitok_common.data.manifests import cut_speaker, cut_text, load_cuts
from holitok_common.train.checkpoint import latest

from tts_seeds import mean, seed_results  # recipes/tiny/tts_seeds.py (this script's folder)

TOKENIZER_REF = "../tokenizer"
PROMPT_SECONDS = 3.0  # the shipped prompt: the held-out utterance closest to this length


def copy_dir(src: Path, dst: Path, required: tuple[str, ...]) -> None:
    for name in required:
        if not (src / name).exists():
            raise SystemExit(f"export: {src} lacks {name}: not a finished checkpoint folder")
    shutil.copytree(src, dst)


def point_at_tokenizer(unified: Path) -> None:
    """Make the model reference its tokenizer relatively (meta.json is what the CLIs read)."""
    for name in ("meta.json", "config.json"):
        path = unified / name
        data = json.loads(path.read_text())
        if "tokenizer_ref" in data:
            data["tokenizer_ref"] = TOKENIZER_REF
        path.write_text(json.dumps(data, indent=2))


def ship_prompt(data_dir: Path, prompts: Path) -> dict:
    cuts = list(load_cuts(data_dir / "cuts_heldout.jsonl.gz"))
    if not cuts:
        raise SystemExit(f"export: {data_dir}/cuts_heldout.jsonl.gz has no held-out utterances to ship as a prompt")
    cut = min(cuts, key=lambda c: (abs(c.duration - PROMPT_SECONDS), c.id))
    source = Path(cut.recording.sources[0].source)
    source = source if source.is_absolute() else data_dir / source
    wav, sr = read_audio(source)
    prompts.mkdir(parents=True)
    write_audio(prompts / f"{cut.id}.wav", wav, sr, subtype="PCM_16")  # the corpus audio is 16-bit already
    (prompts / f"{cut.id}.txt").write_text(cut_text(cut) + "\n", encoding="utf-8")
    return {"utt": cut.id, "speaker": cut_speaker(cut), "seconds": round(cut.duration, 3), "sample_rate": sr,
            "text": cut_text(cut), "wav": f"prompts/{cut.id}.wav", "transcript": f"prompts/{cut.id}.txt"}


def check_loads(out: Path) -> dict:
    """Load the pair back exactly as holitok-tts / holitok-asr do."""
    from unified_lm.cli.runtime import resolve_tokenizer_dir
    from holitok_tokenizer.model import HoliTok
    from unified_lm.generate import check_compatible
    from unified_lm.model import UnifiedLM

    tok_dir = resolve_tokenizer_dir(out / "unified", None)
    if tok_dir.resolve() != (out / "tokenizer").resolve():
        raise SystemExit(f"export: the model resolves its tokenizer to {tok_dir}, not {out / 'tokenizer'}")
    tokenizer, model = HoliTok.from_pretrained(tok_dir), UnifiedLM.from_pretrained(out / "unified")
    check_compatible(model, tokenizer)
    return {"tokenizer_parameters": sum(p.numel() for p in tokenizer.parameters()),
            "unified_parameters": model.num_parameters().total}


def head_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(exp: Path, tts_seeds: list[int]) -> dict:
    """`commit`: the one the run started from (EXP/recipe_commit.txt, written by run.sh when it first
    runs in EXP), else the checkout's HEAD now; `commit_at_export` when they differ."""
    now = head_commit()
    started = exp / "recipe_commit.txt"
    commit = started.read_text().strip() if started.is_file() else now
    steps = {}
    for name, run in (("tokenizer_stage1", "tokenizer/stage1"), ("tokenizer_stage2", "tokenizer/stage2"),
                      ("tokenizer_stage3", "tokenizer/stage3"), ("unified_tts_only", "unified/tts_only/checkpoints"),
                      ("unified_joint", "unified/joint/checkpoints")):
        ckpt = latest(exp / run)
        if ckpt is not None:
            steps[name] = json.loads((ckpt / "train_state.json").read_text())["step"]
    evals = {}
    for name, keys in (("asr_test", ("wer",)), ("tts_heldout", ("wer", "sim", "sim_other", "sim_margin")),
                       ("real_heldout", ("wer", "sim")), ("tokenizer_test", ("stoi", "pesq_wb"))):
        path = exp / "eval" / name / "results.json"
        if path.is_file():
            res = json.loads(path.read_text())
            evals[name] = {k: res["metrics"].get(k) for k in keys}
            if "asr" in res["judges"]:  # seedtts runs name their judge; librispeech scores given hypotheses
                evals[name]["asr_judge"] = res["judges"]["asr"]["name"]
    if len(tts_seeds) > 1:  # the report's criteria: means over the sampling seeds (stage 5's TTS_SEEDS)
        runs = [res["metrics"] for res in seed_results(exp, tts_seeds)]
        evals["tts_heldout_seed_mean"] = {"seeds": " ".join(map(str, tts_seeds)), **{
            k: mean([m.get(k) for m in runs]) for k in ("wer", "sim_margin", "speaker_id_acc")}}
    out = {"commit": commit, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "recipe": "recipes/tiny/run.sh",
           "exp_dir": shown_path(exp), "steps": steps, "eval": evals}
    if now != commit:
        out["commit_at_export"] = now
    return out


def shown_path(path: Path) -> str:
    """Relative to the repository when inside it (shipped files should not name one machine's paths)."""
    root = Path(__file__).resolve().parents[2]
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def file_table(out: Path) -> list[dict]:
    rows = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rows.append({"path": str(path.relative_to(out)), "bytes": path.stat().st_size,
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return rows


README = """# holitok tiny models

A tiny HoliTok tokenizer (16 kHz, 25 Hz x 32-dim latents) and a tiny unified AR+DiT model (zero-shot
TTS + ASR) trained on the embedded synthetic corpus by `recipes/tiny/run.sh` (commit {commit}).
They exist to make the whole pipeline runnable on a laptop CPU; they are not good speech models.

| folder | what |
|---|---|
| `tokenizer/` | `HoliTok.from_pretrained` folder ({tokenizer_parameters:,} parameters) |
| `unified/` | `UnifiedLM.from_pretrained` folder ({unified_parameters:,} parameters); `meta.json` `tokenizer_ref` = `../tokenizer` |
| `prompts/` | a held-out voice ({speaker}, never in training): `{wav}` + its transcript |
| `manifest.json` | every file with bytes and sha256, training steps, eval numbers |

```bash
make demo                                   # TTS in the shipped prompt's voice, then our ASR on it
.venv/bin/holitok-tts --model models/tiny/unified --prompt-wav {wav_path} \\
    --prompt-text "$(cat {txt_path})" --text "The boat leaves at eight." --out tts.wav
.venv/bin/holitok-asr --model models/tiny/unified tts.wav
```

Eval at export time (`{exp_dir}/report.md`): {evals}
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True, help="HoliTok folder (stage III's newest checkpoint/tokenizer)")
    p.add_argument("--unified", required=True, help="UnifiedLM folder (the joint run's newest checkpoint/model)")
    p.add_argument("--data-dir", required=True, help="the corpus (its cuts_heldout.jsonl.gz gives the prompt)")
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-mb", type=float, default=60.0)
    p.add_argument("--tts-seeds", type=int, nargs="+", default=[0],
                   help="the sampling seeds stage 5 decoded (run.sh's TTS_SEEDS): the card records their means")
    args = p.parse_args()
    out, exp = Path(args.out).resolve(), Path(args.exp_dir).resolve()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        copy_dir(Path(args.tokenizer), tmp / "tokenizer", ("model.safetensors", "config.json", "meta.json"))
        copy_dir(Path(args.unified), tmp / "unified", ("model.safetensors", "config.json", "meta.json"))
        point_at_tokenizer(tmp / "unified")
        prompt = ship_prompt(Path(args.data_dir), tmp / "prompts")
        counts = check_loads(tmp)
        info = {"kind": "holitok-model-pair", "tokenizer": "tokenizer", "unified": "unified", "prompt": prompt,
                **counts, **provenance(exp, args.tts_seeds)}
        evals = "; ".join(f"{k}: " + ", ".join(f"{m}={v:.3g}" if isinstance(v, float) else f"{m}={v}" for m, v in e.items())
                          for k, e in info["eval"].items()) or "none recorded"
        (tmp / "README.md").write_text(README.format(
            commit=info["commit"][:10], speaker=prompt["speaker"], wav=prompt["wav"], exp_dir=shown_path(exp),
            wav_path=f"models/tiny/{prompt['wav']}", txt_path=f"models/tiny/{prompt['transcript']}",
            evals=evals, **counts))
        files = file_table(tmp)
        total = sum(f["bytes"] for f in files)
        info["files"], info["total_bytes"] = files, total
        (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
        total += (tmp / "manifest.json").stat().st_size
        if total > args.max_mb * 1e6:
            raise SystemExit(f"export: {total / 1e6:.1f} MB exceeds --max-mb {args.max_mb} (largest: "
                             f"{max(files, key=lambda f: f['bytes'])['path']})")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"export: {out} ({total / 1e6:.1f} MB; tokenizer {counts['tokenizer_parameters']:,} + unified "
          f"{counts['unified_parameters']:,} parameters; prompt {prompt['utt']})", file=sys.stderr)


if __name__ == "__main__":
    main()
