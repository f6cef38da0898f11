"""Evaluation: pinned scoring protocols, offline judges, reports."""
