"""Generation for the unified model, kept apart from the training forward (STYLE principle 5).

- `TTSEngine` / `ASREngine`: latents in, latents / text out; KV-cached, batched, seeded.
- `Synthesizer` / `Transcriber`: the same with a HoliTok tokenizer at the ends (waveforms).
- `open_stream_decoder`: latents -> audio chunks while generating.
"""

from unified_lm.generate.asr import ASREngine, ASRResult
from unified_lm.generate.options import ASROptions, GenerationInputError, TTSOptions
from unified_lm.generate.pipeline import (
    IncompatibleModelsError, Synthesizer, Transcriber, TTSResult, check_compatible, encode_waveforms,
)
from unified_lm.generate.stream_decode import RedecodeStreamer, open_stream_decoder
from unified_lm.generate.tts import TTSEngine, TTSLatents, TTSRequest, TTSStepOutput, row_seed

__all__ = [
    "ASREngine", "ASROptions", "ASRResult", "GenerationInputError", "IncompatibleModelsError", "RedecodeStreamer",
    "Synthesizer", "TTSEngine", "TTSLatents", "TTSOptions", "TTSRequest", "TTSResult", "TTSStepOutput",
    "Transcriber", "check_compatible", "encode_waveforms", "open_stream_decoder", "row_seed",
]
