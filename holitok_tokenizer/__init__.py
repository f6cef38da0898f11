"""The HoliTok continuous speech tokenizer (48 kHz audio <-> 25 Hz x 128-dim latents)."""
