"""Readable ids per orchestra: PREFIX + a number zero-padded to at least three digits."""

from __future__ import annotations

from django.db.models import F

from stagesub.orchestra.models import IdSequence
from stagesub.tenancy.context import orchestra_atomic


def format_readable_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def next_readable_id(prefix: str) -> str:
    """Take the next number for `prefix`, atomically, even when two requests race.

    The increment is a single UPDATE, so the database serialises concurrent callers on the
    counter row (row lock on PostgreSQL, the write lock on SQLite); nobody reads then writes.
    """
    with orchestra_atomic():
        IdSequence.objects.get_or_create(prefix=prefix)
        IdSequence.objects.filter(prefix=prefix).update(last_number=F("last_number") + 1)
        number = (
            IdSequence.objects.filter(prefix=prefix).values_list("last_number", flat=True).get()
        )
    return format_readable_id(prefix, number)


def advance_past(prefix: str, number: int) -> None:
    """Make sure the next id for `prefix` is above `number` (after seeding fixed ids)."""
    sequence, _ = IdSequence.objects.get_or_create(prefix=prefix)
    if sequence.last_number < number:
        IdSequence.objects.filter(pk=sequence.pk, last_number__lt=number).update(last_number=number)
