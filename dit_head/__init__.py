"""Per-step DiT flow-matching head (torch only)."""
