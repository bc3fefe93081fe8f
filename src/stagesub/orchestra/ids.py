"""Readable ids per orchestra: PREFIX + a number zero-padded to at least three digits.

Numbers are never reused. Most prefixes count in a row of IdSequence, incremented inside the
caller's transaction: the row stays locked until that transaction ends, which is what some
callers want (creating a project takes the PROJ counter first, so its limit check cannot race)
and costs nothing at the rate musicians, projects or lists are created.

Offers (REQ) are created by every action that asks a musician, many at once; a counter row
would serialise all those transactions until each commits. On PostgreSQL their numbers come
from a real SEQUENCE instead (migration 0004): nextval() is not transactional, so no lock is
held, a rolled-back transaction leaves a gap, and no number is ever handed out twice. SQLite
serialises writers anyway, so there the counter row stays.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import F

from stagesub.orchestra.models import IdSequence
from stagesub.tenancy.context import current_binding, orchestra_atomic

SEQUENCE_PREFIXES = frozenset({"REQ"})


def format_readable_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def sequence_name(prefix: str) -> str:
    return f"orchestra_readable_id_{prefix.lower()}"


def _sequenced(prefix: str):
    """The bound orchestra's connection when `prefix` is drawn from a sequence, else None."""
    connection = connections[current_binding().alias]
    if prefix in SEQUENCE_PREFIXES and connection.vendor == "postgresql":
        return connection
    return None


def next_readable_id(prefix: str) -> str:
    """Take the next number for `prefix`, atomically, even when two requests race.

    Counter rows: the increment is a single UPDATE, so the database serialises concurrent
    callers on the row (row lock on PostgreSQL, the write lock on SQLite); nobody reads then
    writes. Sequences: nextval() hands each caller its own number without any lock.
    """
    connection = _sequenced(prefix)
    if connection is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [sequence_name(prefix)])
            number = cursor.fetchone()[0]
        return format_readable_id(prefix, number)
    with orchestra_atomic():
        IdSequence.objects.get_or_create(prefix=prefix)
        IdSequence.objects.filter(prefix=prefix).update(last_number=F("last_number") + 1)
        number = (
            IdSequence.objects.filter(prefix=prefix).values_list("last_number", flat=True).get()
        )
    return format_readable_id(prefix, number)


def advance_past(prefix: str, number: int) -> None:
    """Make sure the next id for `prefix` is above `number` (after seeding fixed ids)."""
    connection = _sequenced(prefix)
    if connection is not None:
        with connection.cursor() as cursor:
            # Draw the missing numbers instead of setval(): a setval racing a nextval could
            # move the sequence back below a number just handed out; drawing only goes forward.
            cursor.execute(
                "SELECT count(nextval(%s)) FROM generate_series(1, %s - ("
                " SELECT COALESCE(last_value, start_value - 1) FROM pg_sequences"
                " WHERE schemaname = current_schema() AND sequencename = %s))",
                [sequence_name(prefix), number, sequence_name(prefix)],
            )
        return
    sequence, _ = IdSequence.objects.get_or_create(prefix=prefix)
    if sequence.last_number < number:
        IdSequence.objects.filter(pk=sequence.pk, last_number__lt=number).update(last_number=number)
