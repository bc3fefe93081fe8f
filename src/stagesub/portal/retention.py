"""The worker's retention job: for every active orchestra, empty old message texts and erase
long-archived musicians, as the orchestra's retention settings say (nothing when unset)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from stagesub.portal import rights
from stagesub.portal.models import Retention
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.worker")


def apply_retention(now=None) -> tuple[int, int]:
    """In the bound orchestra: (message texts emptied, musicians erased)."""
    now = now or timezone.now()
    policy = Retention.current()
    bodies = (
        rights.purge_bodies(now, days=policy.message_body_days)
        if policy.message_body_days is not None
        else 0
    )
    erased = (
        rights.erase_due(now, months=policy.archived_erase_months)
        if policy.archived_erase_months is not None
        else 0
    )
    return bodies, erased


@periodic_job("portal.retention", interval=lambda: settings.PORTAL_RETENTION_INTERVAL)
def _retention_job() -> str:
    bodies = erased = failed = 0
    for orchestra in Orchestra.objects.filter(status=Orchestra.Status.ACTIVE):
        try:
            with use_orchestra(orchestra):
                b, e = apply_retention()
        except Exception:
            # One orchestra's failure must not stop the others; it is tried again next run.
            logger.exception("retention failed for %s", orchestra.subdomain)
            failed += 1
            continue
        bodies, erased = bodies + b, erased + e
    return f"{bodies} message texts emptied, {erased} musicians erased, {failed} failed"
