"""Roster: instruments, positions, musicians and their qualifications (orchestra side)."""
