"""Fleet migrations: bring every orchestra database to the current schema, in parallel.

The control database records which migration fingerprint each orchestra has; an orchestra
recorded at the current fingerprint is skipped without opening its database, so a run with
nothing pending costs one query. One orchestra's failure is recorded and does not stop the rest.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections as django_connections
from django.utils import timezone

from stagesub.tenancy import schema
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.models import MigrationState, Orchestra

MIGRATABLE = (Orchestra.Status.ACTIVE, Orchestra.Status.SUSPENDED)


@dataclass
class MigrationOutcome:
    orchestra: Orchestra
    status: str  # "skipped" (recorded up to date), "migrated", "up-to-date", "failed"
    applied: list[str]
    error: str = ""
    seconds: float = 0.0


def _migrate_one(orchestra: Orchestra) -> MigrationOutcome:
    started = time.monotonic()
    try:
        with use_orchestra(orchestra) as bound:
            from stagesub.tenancy.context import current_binding

            applied = schema.migrate(current_binding().alias)
        status = "migrated" if applied else "up-to-date"
        return MigrationOutcome(bound, status, applied, seconds=time.monotonic() - started)
    except Exception as exc:
        return MigrationOutcome(
            orchestra,
            "failed",
            [],
            error=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - started,
        )
    finally:
        django_connections.close_all()


def migrate_orchestras(
    subdomains: list[str] | None = None, *, parallel: int = 4, check_all: bool = False
) -> list[MigrationOutcome]:
    fingerprint = schema.current_fingerprint()
    schema.orchestra_migrations_on_disk()  # load once, before the threads start
    query = Orchestra.objects.select_related("server", "migration").filter(
        status__in=MIGRATABLE, server__isnull=False
    )
    if subdomains:
        query = query.filter(subdomain__in=subdomains)
    outcomes: list[MigrationOutcome] = []
    todo: list[Orchestra] = []
    for orchestra in query.order_by("subdomain"):
        state = getattr(orchestra, "migration", None)
        recorded_ok = (
            state is not None
            and state.status == MigrationState.Status.OK
            and state.applied_fingerprint == fingerprint
        )
        if recorded_ok and not check_all:
            outcomes.append(MigrationOutcome(orchestra, "skipped", []))
        else:
            todo.append(orchestra)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            results = list(pool.map(_migrate_one, todo))
        now = timezone.now()
        for outcome in results:
            ok = outcome.status != "failed"
            defaults = {
                "status": MigrationState.Status.OK if ok else MigrationState.Status.FAILED,
                "last_error": outcome.error,
                "last_attempt_at": now,
            }
            if ok:
                defaults.update(applied_fingerprint=fingerprint, applied_at=now)
            MigrationState.objects.update_or_create(orchestra=outcome.orchestra, defaults=defaults)
        outcomes.extend(results)
    return sorted(outcomes, key=lambda o: o.orchestra.subdomain)
