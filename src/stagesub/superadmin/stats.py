"""Statistics snapshots: each orchestra's numbers, read from its database by the worker.

`refresh_snapshot(orchestra)` opens one orchestra's database (bounded by the connection's
connect and statement timeouts) and writes its StatsSnapshot row in the control database.

`refresh_due()` is the worker's pass: orchestras without a snapshot first, then the stale ones
(older than STATS_INTERVAL), then those with activity since their snapshot, oldest snapshot
first, until the pass's time budget (STATS_PASS_BUDGET) is used; the rest come first next time,
so the worker gets back to its task queue and other jobs. Activity is seen without any extra
write on the hot path: every request sent, answered or mailed moves the orchestra's
next_due_at (tenancy.due), and the snapshot remembers the value it saw.
"""

from __future__ import annotations

import datetime
import logging
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections as django_connections
from django.db.models import F, Max, Q
from django.utils import timezone

from stagesub.superadmin.models import StatsSnapshot
from stagesub.tenancy.models import BackupRecord, DatabaseServer, Orchestra
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.superadmin.stats")

WEEKS = 12  # weeks in the requests-per-week chart
WINDOW = datetime.timedelta(days=30)  # "sent and answered in 30 days"
# Orchestras whose database the worker may read (a suspended one still has numbers to show).
SNAPSHOT_STATUSES = (Orchestra.Status.ACTIVE, Orchestra.Status.SUSPENDED)


def is_stale(snapshot: StatsSnapshot | None, now: datetime.datetime | None = None) -> bool:
    if snapshot is None:
        return True
    now = now or timezone.now()
    return snapshot.taken_at < now - datetime.timedelta(seconds=settings.STATS_INTERVAL)


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _database_bytes(orchestra: Orchestra, alias: str) -> int | None:
    if orchestra.server.kind == DatabaseServer.Kind.SQLITE:
        from stagesub.tenancy.backends import SQLiteBackend

        path = SQLiteBackend(orchestra.server).path(orchestra.database_name)
        files = [path, Path(f"{path}-wal")]
        return sum(p.stat().st_size for p in files if p.exists())
    with django_connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def _pending_migrations(alias: str) -> int:
    """Orchestra migrations on disk not recorded in the database (one query, no loader)."""
    from stagesub.tenancy.schema import orchestra_migrations_on_disk

    with django_connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = set(cursor.fetchall())
    return len(set(orchestra_migrations_on_disk()) - applied)


@contextmanager
def _closed_after(connections):
    """Give the connection back when done: a pass over 1,000 orchestras keeps none open."""
    from stagesub.tenancy.context import current_binding

    alias = current_binding().alias
    try:
        yield
    finally:
        connections.forget_in_this_thread(alias)


def _read_database(orchestra: Orchestra, now: datetime.datetime) -> dict:
    """The numbers inside the orchestra's database (runs with its database bound)."""
    from stagesub.offers import engine
    from stagesub.offers.models import Offer, OfferEvent
    from stagesub.projects.models import Project
    from stagesub.roster.models import Musician
    from stagesub.tenancy import connections
    from stagesub.tenancy.binding import use_orchestra
    from stagesub.tenancy.context import current_binding

    with use_orchestra(orchestra), _closed_after(connections):
        alias = current_binding().alias
        connection = django_connections[alias]
        connection.ensure_connection()  # the stamp is checked here, on a new connection
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        latency_ms = (time.perf_counter() - started) * 1000
        since = now - WINDOW
        recent = list(
            Offer.objects.filter(sent_at__gte=since).values_list("sent_at", "answered_at")
        )
        waits = [(a - s).total_seconds() for s, a in recent if a is not None]
        first_week = week_start(timezone.localdate(now)) - datetime.timedelta(weeks=WEEKS - 1)
        per_week = [0] * WEEKS
        chart_from = timezone.make_aware(datetime.datetime.combine(first_week, datetime.time.min))
        for sent_at in Offer.objects.filter(sent_at__gte=chart_from).values_list(
            "sent_at", flat=True
        ):
            index = (week_start(timezone.localdate(sent_at)) - first_week).days // 7
            if 0 <= index < WEEKS:
                per_week[index] += 1
        return {
            "reachable": True,
            "stamp_ok": True,
            "latency_ms": round(latency_ms, 3),
            "pending_migrations": _pending_migrations(alias),
            "database_bytes": _database_bytes(orchestra, alias),
            "musicians": Musician.objects.exclude(status=Musician.Status.ARCHIVED).count(),
            "projects": Project.objects.filter(is_archived=False).count(),
            "open_requests": Offer.objects.filter(status=engine.PENDING).count(),
            "sent_30d": len(recent),
            "answered_30d": len(waits),
            "median_answer_seconds": round(statistics.median(waits)) if waits else None,
            "requests_per_week": per_week,
            "last_activity_at": OfferEvent.objects.aggregate(last=Max("at"))["last"],
        }


def refresh_snapshot(orchestra: Orchestra, now: datetime.datetime | None = None) -> StatsSnapshot:
    """Read the orchestra's numbers and store them as its snapshot (one row, replaced)."""
    from stagesub.tenancy.context import TenancyError

    now = now or timezone.now()
    orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    values: dict = {"error": ""}
    if orchestra.status not in SNAPSHOT_STATUSES or not orchestra.has_database:
        values.update(reachable=False, stamp_ok=False, error="no database in use")
    else:
        try:
            values.update(_read_database(orchestra, now))
        except TenancyError as exc:
            # Reached, but it is not this orchestra's database (or has no stamp).
            values.update(reachable=True, stamp_ok=False, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            values.update(reachable=False, stamp_ok=False, error=f"{type(exc).__name__}: {exc}")
    last_backup = (
        BackupRecord.objects.filter(orchestra=orchestra, outcome=BackupRecord.Outcome.OK)
        .order_by("-started_at")
        .first()
    )
    values.update(
        taken_at=now,
        next_due_seen=orchestra.next_due_at,
        staff_users=orchestra.users.filter(is_active=True).count(),
        last_backup_at=last_backup.finished_at if last_backup else None,
        last_backup_bytes=last_backup.size_bytes if last_backup else None,
    )
    values["problem"] = orchestra.status == Orchestra.Status.ACTIVE and (
        not values["reachable"] or not values["stamp_ok"] or bool(values.get("pending_migrations"))
    )
    snapshot, _ = StatsSnapshot.objects.update_or_create(orchestra=orchestra, defaults=values)
    return snapshot


def due_for_refresh(now: datetime.datetime):
    """Orchestras whose snapshot is missing, stale, or older than their last activity."""
    stale_before = now - datetime.timedelta(seconds=settings.STATS_INTERVAL)
    quiet_before = now - datetime.timedelta(seconds=settings.STATS_MIN_AGE)
    moved = (
        Q(next_due_at__isnull=False, stats__next_due_seen__isnull=True)
        | Q(next_due_at__isnull=True, stats__next_due_seen__isnull=False)
        | Q(next_due_at__lt=F("stats__next_due_seen"))
        | Q(next_due_at__gt=F("stats__next_due_seen"))
    )
    return (
        Orchestra.objects.filter(
            status__in=SNAPSHOT_STATUSES, maintenance_reason="", server__isnull=False
        )
        .filter(
            Q(stats__isnull=True)
            | Q(stats__taken_at__lt=stale_before)
            | (Q(stats__taken_at__lt=quiet_before) & moved)
        )
        .order_by(F("stats__taken_at").asc(nulls_first=True), "pk")
    )


@dataclass
class RefreshReport:
    refreshed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: int = 0  # due but left for the next pass (budget)
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"{len(self.refreshed)} snapshots in {self.seconds:.1f} s"
        if self.failed:
            text += f", unreachable: {', '.join(self.failed[:10])}"
        if self.left:
            text += f", {self.left} left for the next pass"
        return text


def refresh_due(
    now: datetime.datetime | None = None, *, budget: float | None = None
) -> RefreshReport:
    """One pass: refresh what is due until `budget` seconds (STATS_PASS_BUDGET) are used."""
    now = now or timezone.now()
    budget = settings.STATS_PASS_BUDGET if budget is None else budget
    started = time.monotonic()
    report = RefreshReport()
    due = list(due_for_refresh(now).values_list("pk", "subdomain"))
    for index, (pk, subdomain) in enumerate(due):
        # Always one, then only while the budget lasts: the rest are first next time.
        if index and time.monotonic() - started >= budget:
            report.left = len(due) - index
            break
        snapshot = refresh_snapshot(Orchestra(pk=pk), now=timezone.now())
        (report.refreshed if snapshot.reachable else report.failed).append(subdomain)
    report.seconds = time.monotonic() - started
    return report


@periodic_job("superadmin.stats", interval=lambda: min(30.0, settings.STATS_INTERVAL))
def _refresh_job() -> str:
    return refresh_due().summary()
