"""A model's relative tokenizer_ref resolves against the model folder first (exported pairs such as
models/tiny/unified -> ../tokenizer), then the working directory (refs recorded by training runs)."""

from __future__ import annotations

import json

from unified_lm.cli.runtime import resolve_tokenizer_dir


def _model(directory, ref):
    directory.mkdir(parents=True)
    (directory / "meta.json").write_text(json.dumps({"kind": "holitok-unified", "format_version": 1, "tokenizer_ref": ref}))
    return directory


def test_relative_ref_prefers_the_model_folder(tmp_path, monkeypatch):
    model = _model(tmp_path / "pair" / "unified", "../tokenizer")
    (tmp_path / "pair" / "tokenizer").mkdir()
    work = tmp_path / "work" / "sub"
    work.mkdir(parents=True)
    (tmp_path / "work" / "tokenizer").mkdir()  # a decoy at <cwd>/../tokenizer
    monkeypatch.chdir(work)
    assert resolve_tokenizer_dir(model, None) == model / "../tokenizer"
    assert (model / "../tokenizer").resolve() == (tmp_path / "pair" / "tokenizer").resolve()


def test_relative_ref_falls_back_to_the_working_directory(tmp_path, monkeypatch):
    model = _model(tmp_path / "exp" / "model", "exp/tok")
    (tmp_path / "exp" / "tok").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_tokenizer_dir(model, None).resolve() == (tmp_path / "exp" / "tok").resolve()
    assert resolve_tokenizer_dir(model, "explicit") == type(model)("explicit")
