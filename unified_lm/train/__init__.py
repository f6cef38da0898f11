"""Joint TTS + ASR training of the unified model: config, data, trainer, evaluation, CLI (`holitok-train unified`)."""
