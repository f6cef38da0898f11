"""The CTC character aligner (unified_lm/aligner): Viterbi forced alignment by hand, units = the
TTS chars units, and a short training on the fake latent corpus (each character is 2 known frames)
that recovers where every character starts; `holitok-align` writes a manifest the unified data
reads, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest

from test_generate_fixtures import tiny_text_tokenizer
from unified_lm.aligner import forced_align, unit_labels
from unified_lm.aligner.cli import main as align_main
from unified_lm.aligner.model import BLANK, OTHER
from unified_lm.train.data import LatentCorpus
from unified_lm.train.synthetic import write_fake_corpus


def posteriors(frames: list[int], classes: int = BLANK + 1) -> np.ndarray:
    """log-probabilities [T, C]: frame t is label frames[t] with probability 0.9."""
    p = np.full((len(frames), classes), 0.1 / (classes - 1))
    p[np.arange(len(frames)), frames] = 0.9
    return np.log(p)


def test_forced_align_by_hand():
    a, b = unit_labels("ab")
    # blank a a blank b b blank -> a starts at 1, b at 4
    assert forced_align(posteriors([BLANK, a, a, BLANK, b, b, BLANK]), [a, b]) == [1, 4]
    # a repeated label needs a blank between its two occurrences
    assert forced_align(posteriors([a, BLANK, a, b]), [a, a, b]) == [0, 2, 3]
    with pytest.raises(ValueError, match="cannot hold"):
        forced_align(posteriors([a, a]), [a, a])  # two a's need three frames
    assert forced_align(posteriors([BLANK]), []) == []
    long = [a, b] * 80  # more than 127 CTC states (the back-pointers are int8)
    assert forced_align(posteriors([BLANK] + [x for lab in long for x in (lab, BLANK)]), long) == list(range(1, 321, 2))


def test_units_are_the_tts_chars_units(tmp_path):
    tok = tiny_text_tokenizer(tmp_path)
    assert len(unit_labels("The  cat, sees\tthe dog!")) == len(tok.encode("The  cat, sees\tthe dog!", units="chars"))
    with pytest.warns(UserWarning, match="cannot encode"):
        assert len(unit_labels("Éclair -- 42 times?")) == len(tok.encode("Éclair -- 42 times?", units="chars",
                                                                         on_unknown="unk"))
    a = unit_labels("a")[0]
    assert unit_labels("A a") == [a, 0, a]  # case-insensitive; the space is label 0
    assert unit_labels("é") == [OTHER]


def test_training_recovers_the_character_starts(tmp_path):
    paths = write_fake_corpus(tmp_path / "corpus", num_train=96, num_dev=16)
    out = tmp_path / "aligner"
    assert align_main(["train", "--manifest", str(paths["train"]), "--out", str(out), "--steps", "300",
                       "--max-frames", "600"]) == 0
    aligned = tmp_path / "dev_aligned.jsonl.gz"
    assert align_main(["extract", "--aligner", str(out), "--manifest", str(paths["dev"]), "--out", str(aligned)]) == 0
    corpus = LatentCorpus(aligned)
    errors = []
    for utt in corpus.utts.values():
        starts = utt.unit_starts
        assert starts is not None and len(starts) == len(utt.text)
        assert list(starts) == sorted(starts) and 0 <= starts[0] and starts[-1] < utt.num_frames
        errors += [abs(s - 2 * i) for i, s in enumerate(starts)]  # the fake corpus: 2 frames per character
    within = np.mean(np.array(errors) <= 1)
    assert within >= 0.9, f"only {within:.0%} of the characters start within a frame of the truth"


def test_cli_refuses_bad_input(tmp_path, capsys):
    assert align_main(["extract", "--aligner", str(tmp_path), "--manifest", "x.jsonl.gz", "--out", "y.jsonl.gz"]) == 2
    assert "holitok-align train" in capsys.readouterr().err  # one line, no traceback
    assert align_main(["train", "--manifest", str(tmp_path / "none.jsonl.gz"), "--out", str(tmp_path / "a")]) == 2
    assert "manifest does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        align_main(["extract", "--aligner", str(tmp_path), "--manifest", "x.jsonl.gz", "--out", "y.json"])
    assert "jsonl.gz" in capsys.readouterr().err
