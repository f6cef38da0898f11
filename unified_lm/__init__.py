"""The unified AR+DiT speech model: an HF causal-LM backbone reading HoliTok latent patches and text."""
