"""The next-due time per orchestra, kept in the control database.

Orchestra code calls `note_due(when)` whenever it creates work with a time on it (an offer that
will need a reminder and a timeout, a message to deliver). The control row is lowered after the
orchestra transaction commits, so a rolled-back offer never schedules anything; a lowered time
that turns out to be early only costs one look. The scheduler recomputes the exact time after
each pass (`set_next_due`).
"""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction
from django.db.models import Q

from stagesub.tenancy.context import current_binding
from stagesub.tenancy.models import Orchestra


def lower_next_due(orchestra_id: uuid.UUID, when: datetime.datetime) -> None:
    # One conditional UPDATE: concurrent callers can only move the time earlier.
    Orchestra.objects.filter(pk=orchestra_id).filter(
        Q(next_due_at__isnull=True) | Q(next_due_at__gt=when)
    ).update(next_due_at=when)


def note_due(when: datetime.datetime) -> None:
    """Schedule a look at the bound orchestra no later than `when` (after this commit)."""
    binding = current_binding()
    if binding.orchestra_id is None:
        return  # a template database being built: no orchestra to schedule
    transaction.on_commit(lambda: lower_next_due(binding.orchestra_id, when), using=binding.alias)


def set_next_due(orchestra_id: uuid.UUID, when: datetime.datetime | None, *, seen) -> None:
    """Store the recomputed time, unless someone lowered it below `seen` meanwhile."""
    rows = Orchestra.objects.filter(pk=orchestra_id)
    rows = rows.filter(next_due_at=seen) if seen is not None else rows.filter(next_due_at=None)
    if not rows.update(next_due_at=when) and when is not None:
        lower_next_due(orchestra_id, when)


def due_orchestras(now: datetime.datetime):
    """Active orchestras with work due, the longest waiting first (fairness: one that a pass
    cut short or postponed keeps its old time and so comes before those that were served).
    Orchestras in maintenance (a restore or move switching their database) wait: their due
    time stays, so they come first once the switch is done. So do orchestras whose schema is
    older than the code (tenancy.automigrate): the worker migrates them first."""
    from stagesub.tenancy.schema import current_fingerprint

    return (
        Orchestra.objects.filter(
            status=Orchestra.Status.ACTIVE,
            maintenance_reason="",
            next_due_at__lte=now,
            migration__applied_fingerprint=current_fingerprint(),
        )
        .select_related("server")
        .order_by("next_due_at", "pk")
    )
