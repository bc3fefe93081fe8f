"""Probes for load balancers: GET /healthz (alive) and GET /readyz (ready), on every host.

Answered by a middleware ahead of the HTTPS redirect, the host check and orchestra routing:
balancers probe over plain http and by address, and a probe must answer the same on every
host even when one orchestra's database is broken. No authentication, so the bodies name
checks and states only: never a host, URL, database name or error text (those go to the log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.utils import timezone

logger = logging.getLogger("stagesub.health")

# The control-database row the worker refreshes on every pass (a PeriodicRun by this name).
HEARTBEAT = "worker.heartbeat"
PATHS = {"/healthz", "/readyz"}


def record_worker_heartbeat(worker_id: str = "") -> None:
    from stagesub.tenancy.models import PeriodicRun

    PeriodicRun.objects.update_or_create(
        name=HEARTBEAT, defaults={"last_run_at": timezone.now(), "last_result": worker_id}
    )


@contextmanager
def heartbeat(worker_id: str) -> Iterator[None]:
    """Keep the heartbeat fresh while the worker's pass runs, however long its jobs take.

    Written only between passes, a backup or a move longer than WORKER_HEARTBEAT_STALE would
    make /readyz answer 503 on every web process, and a load balancer would take the whole
    site out for a busy worker. A pass running longer than WORKER_MAX_PASS stops beating, so
    a worker stuck in a job still shows as stale.
    """
    record_worker_heartbeat(worker_id)
    stop = threading.Event()
    started = time.monotonic()
    interval = max(settings.WORKER_HEARTBEAT_STALE / 4, 0.1)

    def beat() -> None:
        try:
            while not stop.wait(interval):
                if time.monotonic() - started > settings.WORKER_MAX_PASS:
                    logger.error(
                        "worker pass running for over %s s: heartbeat stopped",
                        settings.WORKER_MAX_PASS,
                    )
                    return
                try:
                    record_worker_heartbeat(worker_id)
                except Exception:
                    logger.exception("the worker heartbeat could not be written")
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name="worker-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def readiness() -> tuple[bool, dict[str, str]]:
    """(ready, state of each check): control database, worker heartbeat, isolation."""
    from stagesub.tenancy.models import IsolationIncident, PeriodicRun

    checks = {"database": "ok", "worker": "unknown", "isolation": "unknown"}
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        beat = PeriodicRun.objects.filter(name=HEARTBEAT).values_list("last_run_at", flat=True)
        last = beat.first()
        stale_before = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE)
        if last is None:
            checks["worker"] = "no_heartbeat"
        else:
            checks["worker"] = "ok" if last >= stale_before else "stale"
        open_incident = IsolationIncident.open_incidents().exists()
        checks["isolation"] = "incident_open" if open_incident else "ok"
    except Exception:
        logger.exception("readiness: the control database cannot be used")
        checks["database"] = "unreachable"
    return all(state == "ok" for state in checks.values()), checks


def _json(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path not in PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _json({"error": "method not allowed"}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        if request.path == "/healthz":
            return _json({"status": "ok"})  # the process answers: nothing else is looked at
        ready, checks = readiness()
        return _json(
            {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
        )
