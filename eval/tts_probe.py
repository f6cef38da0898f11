"""Where zero-shot TTS loses the words: our own ASR reads a TTS model's latents directly (no decoder,
no external judge), teacher-forced and free-running, next to the real latents.

    python -m eval.tts_probe --model M --manifest LAT/dev/cuts_aligned.jsonl.gz --reader ASR_MODEL \
        [--num 30] [--threads 1] [--out probe.json]

For the first `--num` cuts (by id) of a latent manifest (with the text pointer's alignment when the
model has one), each with a same-speaker prompt (the trainer evaluator's epoch-0 draw):
- `real`: the cut's own latents;
- `teacher_forced`: every target patch sampled by the DiT head (TTSOptions: 10 Euler steps, CFG 1.2)
  from what the flow loss trains on (`UnifiedLM.teacher_forced_flow_inputs`: backbone inputs, DiT
  history and the pointer's alignment all from the data);
- `teacher_forced_mean`: one Euler step at CFG 1 from t = 0, i.e. the head's estimate of the
  conditional MEAN patch (the optimal velocity at t = 0 is E[x1 | cond] - x0);
- `free_running`: `TTSEngine.generate`, the model's own TTS.
Each is read by the reader model's greedy ASR; prints and writes per-condition WER (word errors /
reference words, Whisper-style normalisation as the trainer's evaluator) and generated / real length.
A model reading near `real` teacher-forced but not free-running loses the words in its own
generation loop; one that is far off already teacher-forced has not learnt the text -> latent map.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from unified_lm.generate import TTSEngine, TTSOptions, TTSRequest
from unified_lm.generate.asr import ASREngine
from unified_lm.model import FlowInputs, UnifiedLM
from unified_lm.train.data import LatentCorpus, tts_example
from unified_lm.train.evaluate import word_errors

CONDITIONS = ("real", "teacher_forced", "teacher_forced_mean", "free_running")


@torch.no_grad()
def teacher_forced(model: UnifiedLM, f: FlowInputs, steps: int, cfg_scale: float, generator: torch.Generator,
                   frames: int) -> torch.Tensor:
    """Raw latents [frames, D] of one example's target, each patch sampled from its teacher-forced inputs `f`."""
    noise = torch.randn(f.target.shape, generator=generator)  # [N, P, D]
    x = model.head.sample(f.cond, f.history, f.history_mask, steps=steps, cfg_scale=cfg_scale, noise=noise,
                          frame_cond=f.frame_cond)  # [N, P, D] normalised
    return model.latent_norm.denormalize(x).reshape(-1, x.shape[-1])[:frames]


@torch.no_grad()
def probe(model: UnifiedLM, reader: UnifiedLM, corpus: LatentCorpus, num: int, seed: int = 0,
          max_prompt_frames: int = 150) -> dict:
    asr = ASREngine(reader)
    opts = TTSOptions(seed=seed)
    tts = TTSEngine(model, opts)
    units = model.cfg.text_tokenizer.tts_units
    aligned = model.pointer is not None
    errors = {c: [0, 0] for c in CONDITIONS}
    lengths = {c: 0 for c in CONDITIONS}
    generator = torch.Generator().manual_seed(seed)
    examples = []
    for cut_id in sorted(corpus.utts)[:num]:
        utt = corpus.utts[cut_id]
        prompt = corpus.prompt_for(cut_id, seed, 0, max_prompt_frames)
        f = model.teacher_forced_flow_inputs(model.build([tts_example(model.text_tokenizer, utt, prompt, units, aligned)]))
        request = TTSRequest(cut_id, utt.text, prompt.text if prompt else "", prompt.latents() if prompt else None)
        latents = {
            "real": utt.latents(),
            "teacher_forced": teacher_forced(model, f, opts.steps, opts.cfg_scale, generator, utt.num_frames),
            "teacher_forced_mean": teacher_forced(model, f, 1, 1.0, generator, utt.num_frames),
            "free_running": tts.generate([request])[0].latents,
        }
        texts = {c: asr.transcribe([lat])[0].text for c, lat in latents.items()}
        for c in CONDITIONS:
            e, w = word_errors(utt.text, texts[c])
            errors[c][0] += e
            errors[c][1] += w
            lengths[c] += latents[c].shape[0]
        examples.append({"id": cut_id, "ref": utt.text, **texts})
    real_frames = max(lengths["real"], 1)
    return {"num": len(examples),
            "wer": {c: round(100 * e / max(w, 1), 2) for c, (e, w) in errors.items()},
            "length_ratio": {c: round(n / real_frames, 3) for c, n in lengths.items()},
            "examples": examples}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the TTS model (a UnifiedLM folder)")
    p.add_argument("--manifest", required=True, help="latent manifest (aligned for text-pointer models)")
    p.add_argument("--reader", help="the UnifiedLM whose ASR reads the latents (default: --model)")
    p.add_argument("--num", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = UnifiedLM.from_pretrained(args.model).eval()
    reader = UnifiedLM.from_pretrained(args.reader).eval() if args.reader else model
    result = probe(model, reader, LatentCorpus(args.manifest), args.num, args.seed)
    line = json.dumps({k: v for k, v in result.items() if k != "examples"})
    print(line)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
