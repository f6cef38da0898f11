"""Held-out evaluation during training: flow / stop loss on dev TTS examples, and ASR as greedy WER
(unified_lm.generate.asr) plus teacher-forced next-token accuracy.

The dev examples are fixed once (the first `num_tts` / `num_asr` dev cuts by id; same-speaker prompts
drawn with epoch 0), and the DiT's noise and time draws come from a generator seeded with `seed`,
so every evaluation of a run (and the evaluation of the initial model) sees identical inputs: the
numbers are comparable across steps. Every rank runs the same evaluation (needed under ZeRO-3,
whose forward gathers parameters collectively); only rank 0 logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch

from unified_lm.generate.asr import ASREngine
from unified_lm.model import UnifiedLM
from unified_lm.sequences import IGNORE_INDEX
from unified_lm.text_tokenizer import TextTokenizer, TextUnits
from unified_lm.train.data import LatentCorpus, asr_example, tts_example


def normalize_words(text: str) -> list[str]:
    """Lower-case words with punctuation removed (apostrophes kept), for WER."""
    return re.sub(r"[^\w' ]+", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference words) after `normalize_words`."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


@dataclass
class EvalResult:
    flow: float  # mean DiT flow loss per target patch
    stop: float  # mean stop BCE per stop position
    wer: float  # greedy-decoding WER (errors / reference words)
    token_accuracy: float  # teacher-forced next-token accuracy on transcripts (+ eos)
    examples: list[tuple[str, str]]  # (reference, hypothesis) of the first ASR utterances


class Evaluator:
    def __init__(self, corpus: LatentCorpus, tok: TextTokenizer, *, num_tts: int, num_asr: int, seed: int,
                 max_prompt_frames: int, batch_size: int = 8, tts_units: TextUnits = "tokens", aligned: bool = False):
        ids = sorted(corpus.utts)
        self.tts = [tts_example(tok, corpus.utts[c], corpus.prompt_for(c, seed, 0, max_prompt_frames), tts_units, aligned)
                    for c in ids[:num_tts]]
        self.asr_utts = [corpus.utts[c] for c in ids[:num_asr]]
        self.asr = [asr_example(tok, u) for u in self.asr_utts]
        self.seed, self.batch_size = seed, batch_size

    def _chunks(self, items: list) -> list[list]:
        return [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    @torch.no_grad()
    def run(self, model: UnifiedLM, autocast: Callable[[], ContextManager]) -> EvalResult:
        was_training = model.training
        model.eval()
        device = model.stop_head.weight.device
        generator = torch.Generator(device=device).manual_seed(self.seed)
        flow = stop = n_flow = n_stop = 0.0
        for chunk in self._chunks(self.tts):
            with autocast():
                out = model(model.build(chunk).to(device), generator=generator)
            flow += float(out.flow) * out.counts.flow_patches
            stop += float(out.stop) * out.counts.stop_positions
            n_flow, n_stop = n_flow + out.counts.flow_patches, n_stop + out.counts.stop_positions
        correct = total = 0
        for chunk in self._chunks(self.asr):
            batch = model.build(chunk).to(device)
            mask = batch.text_targets != IGNORE_INDEX  # [B, L]
            with autocast():
                logits = model.step(model.embed(batch), batch.attention_mask, batch.position_ids,
                                    logits_mask=mask).logits  # [N, V]
            correct += int((logits.argmax(-1) == batch.text_targets[mask]).sum())
            total += int(mask.sum())
        errors = words = 0
        pairs = []
        engine = ASREngine(model)
        for chunk in self._chunks(self.asr_utts):
            with autocast():
                results = engine.transcribe([u.latents().to(device) for u in chunk])
            for utt, res in zip(chunk, results):
                e, w = word_errors(utt.text, res.text)
                errors, words = errors + e, words + w
                pairs.append((utt.text, res.text))
        model.train(was_training)
        return EvalResult(flow / max(n_flow, 1), stop / max(n_stop, 1), errors / max(words, 1),
                          correct / max(total, 1), pairs[:4])
