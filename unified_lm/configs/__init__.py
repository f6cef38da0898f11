"""Shipped Hugging Face backbone configs (package data), named by `backbone.config_name`.

qwen2.5-0.5b.json: the published Qwen2.5-0.5B config.json (494,032,768 parameters, tied embeddings);
`from_config` on it builds the architecture offline with random weights.
"""
