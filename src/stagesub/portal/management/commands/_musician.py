"""Shared by export_musician and erase_musician: the orchestra and musician named on the line."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.management.base import CommandError

from stagesub.roster.models import Musician
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.models import Orchestra


@contextmanager
def bound_musician(subdomain: str, musician_id: str):
    """Bind the orchestra and yield the musician (by readable id, MUS001, or database id)."""
    orchestra = Orchestra.objects.filter(subdomain=subdomain.lower()).first()
    if orchestra is None:
        raise CommandError(f"no orchestra {subdomain!r}", returncode=1)
    with use_orchestra(orchestra):
        lookup = (
            {"pk": int(musician_id)}
            if musician_id.isascii() and musician_id.isdigit()
            else {"musician_id": musician_id.upper()}
        )
        musician = Musician.objects.filter(**lookup).first()
        if musician is None:
            raise CommandError(
                f"no musician {musician_id!r} in {orchestra.subdomain}", returncode=1
            )
        yield orchestra, musician
