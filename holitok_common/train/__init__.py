"""Shared training infrastructure: run setup (accelerate / DeepSpeed), atomic directory
checkpoints with exact resume, LR schedules and TensorBoard/tqdm logging.

Used by the tokenizer trainer (holitok_tokenizer.train) and the unified-model trainer. DeepSpeed is
imported lazily, only in `distributed.py`.
"""
