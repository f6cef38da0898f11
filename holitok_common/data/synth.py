"""`holitok-data synth`: the embedded multi-speaker English read-speech corpus, built offline.

Layout of OUT_DIR:
    audio/<voice>/<utt>.flac       16 kHz mono 16-bit FLAC (loaders resample on demand)
    cuts_{train,dev,test,heldout}.jsonl.gz   manifests; audio paths relative to OUT_DIR
    heldout_seedtts.lst            Seed-TTS-style zero-shot list over the held-out voices
    corpus.json                    what was built (voices used/missing, counts, hours per split)

Splits: train/dev/test share the training voices and have disjoint sentences (every sentence is
used once in the whole corpus); `heldout` uses voices never seen in training. The build is a pure
function of (hours, seed, installed voices): two builds give byte-identical manifests and audio.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from dataclasses import dataclass
from pathlib import Path

from lhotse import MonoCut

from holitok_common.audio import AudioInfo
from holitok_common.config import ConfigError
from holitok_common.data.engines import HELDOUT_VOICES, VOICE_SETS, VoiceSpec, available_voices
from holitok_common.data.manifests import make_cut, save_cuts
from holitok_common.data.seedtts import SeedTTSItem, write_seedtts_list
from holitok_common.data.sentences import SentenceGenerator, load_lexicon
from holitok_common.data.synth_audio import SynthJob, synthesize_safe

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test", "heldout")
SECONDS_PER_WORD = 0.36  # planning estimate, fitted on a 2 h build (130-160 wpm + SECONDS_PER_UTT)
SECONDS_PER_UTT = 0.15


class CorpusError(RuntimeError):
    """The corpus cannot be built (too few voices, too many synthesis failures)."""


@dataclass(frozen=True)
class SynthConfig:
    """`hours`: total audio to aim for (all splits; estimated from word counts). Every 20th
    training-voice utterance goes to dev, the next to test. `min_voices`: fail below this many.
    `lexicon_fraction`: share of each word list the grammar draws from (1.0 = the full ~3,700 word
    forms; 0.1 = a ~460-word task, see `Lexicon.subset`). `voice_set`: "base" (the unified model's
    voices) or "extended" (base + 24 recorded identities; the tiny recipe's tokenizer corpus), see
    `engines.all_voices`."""

    hours: float = 2.0
    seed: int = 0
    lexicon_fraction: float = 1.0
    voice_set: str = "base"
    jobs: int = 2
    min_voices: int = 4
    dev_every: int = 20

    def __post_init__(self) -> None:
        if not self.hours > 0:  # also refuses nan
            raise ConfigError(f"hours must be positive, got {self.hours} (e.g. --hours 2)")
        if not 0 < self.lexicon_fraction <= 1:
            raise ConfigError(f"lexicon fraction must be in (0, 1], got {self.lexicon_fraction} (e.g. --lexicon-fraction 0.1)")
        if self.jobs < 1:
            raise ConfigError(f"jobs must be at least 1, got {self.jobs} (e.g. --jobs 2)")
        if self.voice_set not in VOICE_SETS:
            raise ConfigError(f"unknown voice set {self.voice_set!r}: use --voices {' or '.join(VOICE_SETS)}")


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    voice: VoiceSpec
    text: str
    split: str

    @property
    def rel_path(self) -> str:
        return f"audio/{self.voice.voice_id}/{self.utt_id}.flac"


def _estimate_s(text: str) -> float:
    return SECONDS_PER_UTT + SECONDS_PER_WORD * len(text.split())


def split_voices(present: list[VoiceSpec], min_voices: int) -> tuple[list[VoiceSpec], list[VoiceSpec]]:
    """(training voices, held-out voices). Falls back to holding out the last voice when none of
    HELDOUT_VOICES is installed."""
    if len(present) < min_voices:
        raise CorpusError(f"only {len(present)} speech voices installed, at least {min_voices} needed: "
                          "run `holitok-data engines --install` as root (or `make engines`)")
    heldout = [v for v in present if v.voice_id in HELDOUT_VOICES] or present[-1:]
    train = [v for v in present if v not in heldout]
    return train, heldout


def plan_corpus(cfg: SynthConfig, train_voices: list[VoiceSpec], heldout_voices: list[VoiceSpec]) -> list[Utterance]:
    """Every utterance of the corpus (voice, text, split), in a fixed order."""
    gen = SentenceGenerator(cfg.seed, load_lexicon().subset(cfg.lexicon_fraction))
    rng = random.Random(cfg.seed + 1)
    n_all = len(train_voices) + len(heldout_voices)
    budget = cfg.hours * 3600 * len(train_voices) / n_all
    plan: list[Utterance] = []
    order: list[VoiceSpec] = []
    spent, i = 0.0, 0
    while spent < budget or i < 3:
        if not order:  # voices take turns in rounds, each round in a seeded order
            order = list(train_voices)
            rng.shuffle(order)
        voice, text = order.pop(), gen.sentence()
        split = ("dev", "test")[i % cfg.dev_every] if i % cfg.dev_every < 2 else "train"
        plan.append(Utterance(f"{voice.voice_id}_{i:06d}", voice, text, split))
        spent += _estimate_s(text)
        i += 1
    per_voice = max(2, round(i / len(train_voices)))
    for voice in heldout_voices:
        for _ in range(per_voice):
            plan.append(Utterance(f"{voice.voice_id}_{i:06d}", voice, gen.sentence(), "heldout"))
            i += 1
    return _dedup_texts(plan, gen)


def _dedup_texts(plan: list[Utterance], gen: SentenceGenerator) -> list[Utterance]:
    """Replace any repeated sentence with a fresh one so that no two utterances share a text."""
    seen, out = set(), []
    for utt in plan:
        text = utt.text
        while text in seen:
            text = gen.sentence()
        seen.add(text)
        out.append(Utterance(utt.utt_id, utt.voice, text, utt.split))
    return out


def _run_jobs(plan: list[Utterance], out_dir: Path, jobs: int) -> list[tuple[int, str | None]]:
    """Synthesise every utterance (in a spawn pool when jobs > 1); results in plan order."""
    work = [SynthJob(u.voice, u.text, out_dir / u.rel_path, SAMPLE_RATE) for u in plan]
    if jobs <= 1:
        return [synthesize_safe(j) for j in work]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        return list(pool.imap(synthesize_safe, work, chunksize=8))


def _cut(u: Utterance, num_samples: int) -> MonoCut:
    return make_cut(u.utt_id, u.rel_path, AudioInfo(SAMPLE_RATE, 1, num_samples), u.text, u.voice.voice_id,
                    custom={"corpus": "holitok-synth", "split": u.split, "engine": u.voice.engine,
                            "voice": u.voice.name})


def _heldout_list(cuts: list[MonoCut], out_dir: Path) -> list[SeedTTSItem]:
    """Each held-out utterance as a target, prompted by the next utterance of the same voice."""
    by_voice: dict[str, list[MonoCut]] = {}
    for c in cuts:
        by_voice.setdefault(c.supervisions[0].speaker, []).append(c)
    items = []
    for voice_cuts in by_voice.values():
        if len(voice_cuts) < 2:
            continue  # a prompt must be a different utterance of the same voice
        for k, target in enumerate(voice_cuts):
            prompt = voice_cuts[(k + 1) % len(voice_cuts)]
            items.append(SeedTTSItem(target.id, prompt.supervisions[0].text, out_dir / prompt.recording.sources[0].source,
                                     target.supervisions[0].text, out_dir / target.recording.sources[0].source))
    return items


def reuse_existing(out_dir: Path, cfg: SynthConfig) -> dict | None:
    """The summary of the corpus already in `out_dir` (marked "reused": True), None if there is none;
    CorpusError if it was built with other settings, or if `out_dir` holds manifests of another origin."""
    path = out_dir / "corpus.json"
    if not path.is_file():
        imported = sorted(p.name for p in out_dir.glob("cuts_*.jsonl.gz"))
        if imported:
            raise CorpusError(f"{out_dir} holds {', '.join(imported)} but no corpus.json (a corpus not built by "
                              "`holitok-data synth`?): synthesising would overwrite them; start the recipe after its "
                              "data stage (--stage 1) to use them, or choose an empty folder")
        return None
    summary = json.loads(path.read_text())
    # corpora built before voice sets existed (no "voice_set") used the base voices
    built = (summary.get("hours_requested"), summary.get("seed"), summary.get("lexicon_fraction", 1.0),
             summary.get("voice_set", "base"))
    wanted = (cfg.hours, cfg.seed, cfg.lexicon_fraction, cfg.voice_set)
    if built != wanted:
        raise CorpusError(f"{out_dir} already holds a corpus built with hours, seed, lexicon fraction, voice set = {built}, not "
                          f"the requested {wanted}: choose another output folder, or delete this one to rebuild")
    return {**summary, "reused": True}


def build_corpus(out_dir: str | Path, cfg: SynthConfig) -> dict:
    """Build the corpus into `out_dir`; returns the summary also written to corpus.json. A folder
    that already holds a finished corpus (corpus.json) is reused when it was built with the same
    hours, seed, lexicon fraction and voice set, and refused otherwise (never silently mixed or rebuilt)."""
    out_dir = Path(out_dir).resolve()
    existing = reuse_existing(out_dir, cfg)
    if existing is not None:
        return existing
    present, missing = available_voices(cfg.voice_set)
    train_voices, heldout_voices = split_voices(present, cfg.min_voices)
    plan = plan_corpus(cfg, train_voices, heldout_voices)
    start = time.time()
    results = _run_jobs(plan, out_dir, cfg.jobs)
    failures = [{"utt": u.utt_id, "voice": u.voice.voice_id, "error": err} for u, (_, err) in zip(plan, results) if err]
    if len(failures) > max(1, len(plan) // 100):
        raise CorpusError(f"{len(failures)} of {len(plan)} utterances failed, e.g. {failures[0]['error']}")
    cuts = {s: [_cut(u, n) for u, (n, err) in zip(plan, results) if u.split == s and not err] for s in SPLITS}
    for split, split_cuts in cuts.items():
        save_cuts(split_cuts, out_dir / f"cuts_{split}.jsonl.gz")
    write_seedtts_list(_heldout_list(cuts["heldout"], out_dir), out_dir / "heldout_seedtts.lst")
    summary = {
        "sample_rate": SAMPLE_RATE, "hours_requested": cfg.hours, "seed": cfg.seed,
        "lexicon_fraction": cfg.lexicon_fraction, "voice_set": cfg.voice_set,
        "voices": {"train": [v.voice_id for v in train_voices], "heldout": [v.voice_id for v in heldout_voices],
                   "missing": [v.voice_id for v in missing]},
        "splits": {s: {"utterances": len(c), "hours": round(sum(x.duration for x in c) / 3600, 4),
                       "speakers": len({x.supervisions[0].speaker for x in c})} for s, c in cuts.items()},
        "failures": failures,
    }
    (out_dir / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["elapsed_s"] = round(time.time() - start, 1)  # printed, not stored (determinism)
    return summary


def format_summary(summary: dict) -> str:
    how = "reused (already built with these settings)" if summary.get("reused") else f"built in {summary.get('elapsed_s', '?')} s"
    lines = [f"corpus at {summary['sample_rate']} Hz, lexicon fraction {summary.get('lexicon_fraction', 1.0)}, "
             f"voice set {summary.get('voice_set', 'base')}, {how}"]
    for split, s in summary["splits"].items():
        lines.append(f"  {split:8s} {s['hours']:7.3f} h  {s['utterances']:6d} utts  {s['speakers']:3d} speakers")
    v = summary["voices"]
    lines.append(f"  train voices: {len(v['train'])}; held-out voices: {', '.join(v['heldout'])}")
    lines.append(f"  missing voices: {', '.join(v['missing']) or 'none'}")
    if summary["failures"]:
        lines.append(f"  FAILED utterances (left out, listed in corpus.json): {len(summary['failures'])}")
    return "\n".join(lines)
