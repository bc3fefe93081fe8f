"""Ranking lists: the A/B/C lists per position (and, with projects, per-project lists)."""
