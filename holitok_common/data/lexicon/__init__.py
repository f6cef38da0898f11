"""Word lists (package data) for the sentence generator; see holitok_common/data/sentences.py."""
