"""Periodic jobs run by `stagesub worker`: a small registry plus 'what is due now'.

Apps register jobs (the offer engine adds reminders, timeouts and outbox delivery). A job that
touches orchestra data must bind each orchestra itself (use_orchestra) and must not let one
orchestra's failure stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from stagesub.tenancy.models import PeriodicRun

logger = logging.getLogger("stagesub.worker")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: Callable[[], float]  # seconds, read at run time so settings can change in tests
    function: Callable[[], str]


_jobs: dict[str, PeriodicJob] = {}


def periodic_job(name: str, interval: Callable[[], float]):
    def decorator(function):
        _jobs[name] = PeriodicJob(name, interval, function)
        return function

    return decorator


def registered_jobs() -> list[PeriodicJob]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def run_due_jobs(now=None) -> list[tuple[str, str]]:
    now = now or timezone.now()
    ran = []
    last = {r.name: r for r in PeriodicRun.objects.all()}
    for job in registered_jobs():
        previous = last.get(job.name)
        if previous and previous.last_run_at + timedelta(seconds=job.interval()) > now:
            continue
        try:
            result = job.function() or "ok"
        except Exception as exc:
            logger.exception("periodic job %s failed", job.name)
            result = f"failed: {type(exc).__name__}: {exc}"
        PeriodicRun.objects.update_or_create(
            name=job.name, defaults={"last_run_at": now, "last_result": result[:2000]}
        )
        ran.append((job.name, result))
    return ran


@periodic_job("isolation.monitor", interval=lambda: settings.ISOLATION_MONITOR_INTERVAL)
def _monitor_isolation() -> str:
    from stagesub.tenancy.isolation import monitor_isolation

    report, incident = monitor_isolation()
    if incident is not None:
        return f"VIOLATION, incident #{incident.pk}: {incident.summary}"
    return f"exit {report.exit_code}: {len(report.checks)} orchestras checked"


@periodic_job("tenancy.spare_databases", interval=lambda: 30)
def _keep_spare_databases() -> str:
    from stagesub.tenancy.backends import PostgresBackend, backend_for
    from stagesub.tenancy.models import DatabaseServer
    from stagesub.tenancy.spares import ensure_spares

    if settings.SPARE_DATABASES <= 0:
        return "off"
    made = 0
    servers = DatabaseServer.objects.filter(
        kind=DatabaseServer.Kind.POSTGRESQL, status=DatabaseServer.Status.ACTIVE
    ).exclude(region="adopted")  # servers of adopted databases are not ours to fill
    for server in servers:
        backend = backend_for(server)
        if isinstance(backend, PostgresBackend):
            made += ensure_spares(backend)
    return f"{made} spare databases created"
