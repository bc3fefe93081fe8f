"""Deploys migrate by themselves: the worker brings every orchestra to the code's schema.

After a deploy the code's schema fingerprint (schema.current_fingerprint) is newer than what
the control database recorded for each orchestra (MigrationState.applied_fingerprint). Until an
orchestra's record matches the code, its host answers the maintenance page (middleware, from the
MigrationState row the routing cache already loads with the orchestra: no query per request) and
the scheduler leaves it alone, so new code never runs on an old or half-migrated schema. The
worker's job `tenancy.auto_migrate` (STAGESUB_AUTO_MIGRATE, on by default) claims the orchestras
that are behind (one fleet operation at a time: a restore or move running on one is waited
for), puts them behind the maintenance page (so web processes still running the previous code
stop too), waits one routing-cache period for the whole batch, and runs the fleet migration.
A failed migration leaves the record behind: the orchestra keeps the maintenance page and the
next pass tries again.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack

from django.conf import settings

from stagesub.tenancy import fleet, operations, schema
from stagesub.tenancy.models import MigrationState, Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.fleet")

MAINTENANCE_REASON = "migration"


def recorded_fingerprint(orchestra: Orchestra) -> str:
    """The fingerprint recorded for the orchestra ("" when none), from the row's loaded state."""
    try:
        return orchestra.migration.applied_fingerprint
    except MigrationState.DoesNotExist:
        return ""


def awaiting_migration(orchestra: Orchestra) -> bool:
    """True while the orchestra's recorded schema is not the one this code expects.

    Reads `orchestra.migration` as loaded with the row (the routing cache selects it): callers
    on a hot path must load it with select_related("migration").
    """
    return recorded_fingerprint(orchestra) != schema.current_fingerprint()


def orchestras_behind() -> list[Orchestra]:
    """Orchestras with a database whose recorded schema is not the code's, by subdomain."""
    fingerprint = schema.current_fingerprint()
    candidates = Orchestra.objects.select_related("server", "migration").filter(
        status__in=fleet.MIGRATABLE, server__isnull=False
    )
    return [o for o in candidates.order_by("subdomain") if recorded_fingerprint(o) != fingerprint]


def migrate_behind(*, settle: bool = True) -> list[fleet.MigrationOutcome]:
    """Migrate every orchestra that is behind, each behind the maintenance page meanwhile.

    An orchestra busy with another fleet operation is left for the next pass.
    """
    behind = orchestras_behind()
    if not behind:
        return []
    with ExitStack() as stack:
        claimed = []
        for orchestra in behind:
            try:
                stack.enter_context(operations.exclusive_operation(orchestra, "migration"))
            except operations.OperationRefused as refused:
                logger.info("auto-migrate waits: %s", refused)
                continue
            stack.enter_context(operations.maintenance(orchestra, MAINTENANCE_REASON, settle=False))
            claimed.append(orchestra.subdomain)
        if not claimed:
            return []
        if settle:
            # Once for the batch: web processes of the previous release (which know nothing of
            # fingerprints) see the flag within one routing-cache period.
            time.sleep(operations.routing_cache_seconds())
        outcomes = fleet.migrate_orchestras(claimed, parallel=settings.AUTO_MIGRATE_PARALLEL)
    for outcome in outcomes:
        if outcome.status == "failed":
            logger.error(
                "auto-migrate of %s failed (maintenance page stays): %s",
                outcome.orchestra.subdomain,
                outcome.error,
            )
    return outcomes


@periodic_job("tenancy.auto_migrate", interval=lambda: settings.AUTO_MIGRATE_INTERVAL)
def _auto_migrate_job() -> str:
    if not settings.AUTO_MIGRATE:
        return "off"
    outcomes = migrate_behind()
    failed = [o.orchestra.subdomain for o in outcomes if o.status == "failed"]
    done = len(outcomes) - len(failed)
    return f"{done} orchestra(s) migrated" + (f", FAILED: {', '.join(failed)}" if failed else "")
