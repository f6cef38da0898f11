"""Three-stage training of the HoliTok tokenizer (SPEC.md section 1, "Training").

Stages are configs, not code forks (`config.TokenizerTrainConfig`, presets `tiny-stage1` ...
`holitok-48k-stage3`); `trainer.train(cfg)` runs any of them. Teachers (WavLM, x-vector, the
LM decoder) are imported lazily in `teachers.py` only.
"""
