"""What an orchestra's console page shows, read from the control database only."""

from __future__ import annotations

import datetime

from django.db.models import Q

from stagesub.superadmin.models import ProvisioningJob, StatsSnapshot
from stagesub.superadmin.stats import is_stale
from stagesub.tenancy import schema
from stagesub.tenancy.isolation import location_label
from stagesub.tenancy.models import AuditEvent, BackupRecord, IsolationIncident, Orchestra
from stagesub.tenancy.plans import OVERRIDE_FIELDS, Usage, limits_for

JOBS_SHOWN = 10


def usage_from_snapshot(orchestra: Orchestra, snapshot: StatsSnapshot | None) -> list[Usage]:
    """Usage against limits as the snapshot last saw it (storage is not in the snapshot)."""
    if snapshot is None:
        return []
    limits = limits_for(orchestra)
    return [
        Usage(name, getattr(snapshot, name), getattr(limits, name))
        for name in OVERRIDE_FIELDS
        if name != "storage_mb"
    ]


def jobs(orchestra: Orchestra) -> dict:
    recent = list(ProvisioningJob.objects.filter(orchestra=orchestra)[:JOBS_SHOWN])
    last_check = (
        ProvisioningJob.objects.filter(
            orchestra=orchestra,
            kind=ProvisioningJob.Kind.CHECK_DATABASE,
            status__in=[ProvisioningJob.Status.SUCCEEDED, ProvisioningJob.Status.FAILED],
        )
        .exclude(result={})
        .first()
    )
    return {
        "jobs": recent,
        "jobs_running": any(not job.is_finished for job in recent),
        "last_check": last_check,
    }


def details(orchestra: Orchestra, now: datetime.datetime) -> dict:
    snapshot = getattr(orchestra, "stats", None)
    migration = getattr(orchestra, "migration", None)
    suspension = (
        AuditEvent.objects.filter(orchestra=orchestra, action="orchestra.suspended")
        .order_by("-at")
        .first()
    )
    return {
        "snapshot": snapshot,
        "stale": is_stale(snapshot, now),
        "usage": usage_from_snapshot(orchestra, snapshot),
        "location": location_label(orchestra),
        "migration": migration,
        "schema_behind": migration is None
        or migration.applied_fingerprint != schema.current_fingerprint(),
        "backups": BackupRecord.objects.filter(orchestra=orchestra)[:5],
        "incidents": IsolationIncident.objects.filter(
            Q(orchestra=orchestra) | Q(summary__contains=orchestra.subdomain)
        )[:20],
        "audit": AuditEvent.objects.filter(orchestra=orchestra).select_related("actor")[:20],
        "suspension": suspension
        if orchestra.status == Orchestra.Status.SUSPENDED and suspension
        else None,
        **jobs(orchestra),
    }
