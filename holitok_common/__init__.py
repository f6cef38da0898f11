"""Shared foundation: typed configs, audio I/O, the speech data layer and the embedded corpus.

Depends on torch/torchaudio/lhotse/soundfile only; every other package may import it, it imports
none of them.
"""
