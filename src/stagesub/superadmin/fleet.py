"""The rules behind the console's fleet pages: servers, incidents, audit log, jobs, worker state.

Everything here reads the control database; the only places that reach beyond it are the
server sizes (one admin query per PostgreSQL server, bounded in time) and the console's
isolation check, which runs in the worker as a task and records what it found in the audit
log. That record is what allows an incident to be resolved from the console.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.services import Log, Step, runner
from stagesub.tenancy import audit
from stagesub.tenancy.isolation import close_incident, verify_isolation
from stagesub.tenancy.models import (
    AuditEvent,
    BackupRecord,
    DatabaseServer,
    IsolationIncident,
    Orchestra,
    PeriodicRun,
)

# The audit action the console's isolation check writes; its details are the evidence that
# resolving an incident requires (see resolve_refusal).
CHECK_ACTION = "isolation.console_check"


# --- Database servers -----------------------------------------------------------------------


@dataclass
class HostedOrchestra:
    subdomain: str
    name: str
    status: str
    status_label: str
    database_name: str
    size_bytes: int | None  # None: not measured (the server did not answer in time)


@dataclass
class ServerOverview:
    server: DatabaseServer
    reachable: bool | None  # None: not answered within the time limit
    error: str = ""
    orchestras: list[HostedOrchestra] = field(default_factory=list)

    @property
    def size_bytes(self) -> int | None:
        sizes = [o.size_bytes for o in self.orchestras]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]

    @property
    def server_class(self) -> str:
        return _("dedicated") if self.server.dedicated else _("shared")


def _database_sizes(server: DatabaseServer, names: list[str]) -> dict[str, int]:
    """Each named database's size on the server: one admin query, or file sizes on SQLite."""
    from stagesub.tenancy.backends import PostgresBackend, SQLiteBackend, backend_for

    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        if not Path(server.url).is_dir():
            raise RuntimeError(f"no directory {server.url}")
        sizes = {}
        for name in names:
            path = backend.path(name)
            sizes[name] = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return sizes
    assert isinstance(backend, PostgresBackend)
    with backend.connect_admin() as conn:
        rows = conn.execute(
            "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname = ANY(%s)",
            [names],
        ).fetchall()
    return {name: int(size) for name, size in rows}


def server_overview(timeout: float | None = None) -> list[ServerOverview]:
    """Every server with its orchestras and their sizes; servers are measured concurrently and
    one that does not answer within `timeout` seconds is shown as not answering, not waited for."""
    timeout = settings.DB_CONNECT_TIMEOUT + 1.0 if timeout is None else timeout
    servers = list(DatabaseServer.objects.all())
    hosted: dict[int, list[Orchestra]] = {s.pk: [] for s in servers}
    for orchestra in Orchestra.objects.exclude(server=None).order_by("subdomain"):
        hosted[orchestra.server_id].append(orchestra)
    overviews = [ServerOverview(server=s, reachable=None) for s in servers]
    results: dict[int, dict[str, int] | Exception] = {}

    def measure(server: DatabaseServer, names: list[str]) -> None:
        try:
            results[server.pk] = _database_sizes(server, names)
        except Exception as exc:  # the page shows the server as not answering
            results[server.pk] = exc

    threads = []
    for overview in overviews:
        names = [o.database_name for o in hosted[overview.server.pk] if o.database_name]
        thread = threading.Thread(target=measure, args=(overview.server, names), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = timezone.now() + timedelta(seconds=timeout)
    for thread in threads:
        thread.join(max(0.0, (deadline - timezone.now()).total_seconds()))
    for overview in overviews:
        found = results.get(overview.server.pk)
        sizes: dict[str, int] = {}
        if isinstance(found, Exception):
            overview.reachable = False
            # The error text may carry a host name; superadmins only see this page.
            overview.error = f"{type(found).__name__}: {found}".strip()[:300]
        elif found is not None:
            overview.reachable, sizes = True, found
        overview.orchestras = [
            HostedOrchestra(
                subdomain=o.subdomain,
                name=o.name,
                status=o.status,
                status_label=o.get_status_display(),
                database_name=o.database_name or "",
                size_bytes=sizes.get(o.database_name or "") if overview.reachable else None,
            )
            for o in hosted[overview.server.pk]
        ]
    return overviews


# --- Isolation incidents and the console's check -------------------------------------------


def check_and_record(requested_by: str) -> dict:
    """Verify isolation over every orchestra and record the outcome in the audit log."""
    started_at = timezone.now()
    report = verify_isolation()
    outcome = {
        "started_at": started_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "clean": not report.violations,
        "violations": report.violations,
        "unreachable": sorted(c.subdomain for c in report.unreachable),
        "checked": len(report.checks),
    }
    audit.record(CHECK_ACTION, actor_label=requested_by, **outcome)
    return outcome


@runner(ProvisioningJob.Kind.ISOLATION_CHECK)
def _isolation_check(job: ProvisioningJob, step: Step, log: Log) -> None:
    step("verify")
    outcome = check_and_record(job.created_by.get_username() if job.created_by else "")
    job.result = outcome
    log(
        _("clean (%(n)s databases checked)") % {"n": outcome["checked"]}
        if outcome["clean"]
        else "; ".join(outcome["violations"])
    )
    if outcome["unreachable"]:
        log(_("unreachable: %(names)s") % {"names": ", ".join(outcome["unreachable"])})


def latest_check() -> ProvisioningJob | None:
    return (
        ProvisioningJob.objects.filter(kind=ProvisioningJob.Kind.ISOLATION_CHECK)
        .order_by("-created_at")
        .first()
    )


def start_check(user) -> tuple[ProvisioningJob, bool]:
    """Queue an isolation check unless one waits or runs already: (the job, queued now)."""
    from stagesub.superadmin.tasks import run_provisioning_job

    running = ProvisioningJob.objects.filter(
        kind=ProvisioningJob.Kind.ISOLATION_CHECK,
        status__in=[ProvisioningJob.Status.QUEUED, ProvisioningJob.Status.RUNNING],
    ).first()
    if running is not None:
        return running, False
    job = ProvisioningJob.objects.create(
        kind=ProvisioningJob.Kind.ISOLATION_CHECK,
        subdomain="",
        name="isolation check",
        created_by=user,
    )
    run_provisioning_job.enqueue(str(job.pk))
    return job, True


def checks_since(moment: datetime) -> QuerySet[AuditEvent]:
    """The console's isolation checks recorded after `moment`, newest first."""
    return AuditEvent.objects.filter(action=CHECK_ACTION, at__gte=moment).order_by("-at")


def _started_after(check: AuditEvent, moment: datetime) -> bool:
    started = check.details.get("started_at")
    return bool(started) and datetime.fromisoformat(started) >= moment


def resolve_refusal(incident: IsolationIncident) -> str | None:
    """Why the incident cannot be resolved now, or None when it can.

    Only a check started after the incident opened counts, and only the newest such check:
    an older clean check says nothing about the state the incident describes.
    """
    if incident.resolved_at is not None:
        return _("This incident is already resolved.")
    latest = next(
        (c for c in checks_since(incident.opened_at) if _started_after(c, incident.opened_at)),
        None,
    )
    if latest is None:
        return _(
            "Run an isolation check from the console first: an incident is resolved only "
            "after a clean check that started after it opened."
        )
    if incident.kind == IsolationIncident.Kind.UNREACHABLE:
        subdomain = incident.orchestra.subdomain if incident.orchestra else ""
        if subdomain in latest.details.get("unreachable", []):
            return _("The latest check could still not reach %(subdomain)s's database.") % {
                "subdomain": subdomain
            }
        return None
    if not latest.details.get("clean"):
        return _("The latest check still finds isolation violated: %(violations)s") % {
            "violations": "; ".join(latest.details.get("violations", []))
        }
    return None


class ResolveRefused(RuntimeError):
    pass


def resolve_incident(incident_id: int, *, by: str, note: str) -> IsolationIncident:
    """Close the incident when resolve_refusal allows it; two resolvers at once close it once."""
    note = note.strip()
    if not note:
        raise ResolveRefused(_("Say what was done: the note is required."))
    with transaction.atomic():
        incident = (
            IsolationIncident.objects.select_for_update(of=("self",))
            .select_related("orchestra")
            .get(pk=incident_id)
        )
        refusal = resolve_refusal(incident)
        if refusal:
            raise ResolveRefused(refusal)
        close_incident(incident, by, note)
    return incident


@dataclass
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""


def incident_timeline(incident: IsolationIncident) -> list[TimelineEntry]:
    """Opened, the console's checks since, and the resolution, in order."""
    entries = [TimelineEntry(incident.opened_at, _("Opened"), incident.summary)]
    until = incident.resolved_at or timezone.now()
    for check in checks_since(incident.opened_at).filter(at__lte=until).order_by("at"):
        d = check.details
        if d.get("clean"):
            detail = _("clean (%(n)s databases checked)") % {"n": d.get("checked", 0)}
        else:
            detail = "; ".join(d.get("violations", []))
        if d.get("unreachable"):
            detail += " · " + _("unreachable: %(names)s") % {"names": ", ".join(d["unreachable"])}
        entries.append(
            TimelineEntry(
                check.at, _("Isolation check by %(who)s") % {"who": check.actor_label}, detail
            )
        )
    if incident.resolved_at:
        entries.append(
            TimelineEntry(
                incident.resolved_at,
                _("Resolved by %(who)s") % {"who": incident.resolved_by},
                incident.resolution_note,
            )
        )
    return entries


# --- Audit log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    orchestra: str = ""
    user: str = ""
    event: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_events(f: AuditFilter) -> QuerySet[AuditEvent]:
    """The audit log filtered in the database (pages and the export read it in slices)."""
    rows = AuditEvent.objects.order_by("-at", "-pk")
    if f.orchestra:
        rows = rows.filter(orchestra_label=f.orchestra)
    if f.user:
        rows = rows.filter(actor_label__iexact=f.user)
    if f.event:
        # "signup." gives every signup event; "signup.requested" just that one.
        rows = (
            rows.filter(action__startswith=f.event)
            if f.event.endswith(".")
            else rows.filter(action=f.event)
        )
    if f.since:
        rows = rows.filter(at__gte=f.since)
    if f.until:
        rows = rows.filter(at__lt=f.until)
    return rows


# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


AUDIT_COLUMNS = ["at", "event", "user", "orchestra", "ip", "details"]


def audit_csv(rows: QuerySet[AuditEvent]) -> Iterator[str]:
    """The rows as CSV lines, read from the database in chunks (for a streamed response)."""
    import json

    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_COLUMNS)
    for event in rows.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                spreadsheet_safe(value)
                for value in (
                    event.at.isoformat(),
                    event.action,
                    event.actor_label,
                    event.orchestra_label,
                    event.ip or "",
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                )
            ]
        )


def audit_event_names() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


# --- Jobs -----------------------------------------------------------------------------------


@dataclass
class JobRow:
    kind: str
    subject: str
    status: str
    status_label: str
    started_at: datetime | None
    finished_at: datetime | None
    progress: str
    log: str
    url: str = ""

    @property
    def badge(self) -> str:
        # The stylesheet's badge colours, named after orchestra states.
        return {"succeeded": "active", "queued": "queued", "running": "running"}.get(
            self.status, "failed"
        )


def job_rows(limit: int = 100) -> list[JobRow]:
    """The newest console jobs of every kind, newest first."""
    from stagesub.tenancy.provisioning import PROVISION_STEPS

    rows: list[JobRow] = []
    total_steps = len(PROVISION_STEPS)
    for job in ProvisioningJob.objects.all()[:limit]:
        progress = job.current_step
        if job.kind == ProvisioningJob.Kind.PROVISION:
            progress = f"{len(job.steps_done)}/{total_steps}" + (
                f" · {job.current_step}" if job.current_step else ""
            )
        rows.append(
            JobRow(
                kind=job.get_kind_display(),
                subject=job.subdomain or _("all orchestras"),
                status=job.status,
                status_label=job.get_status_display(),
                started_at=job.started_at or job.created_at,
                finished_at=job.finished_at,
                progress=progress,
                log=job.log or job.error,
                # The job page shows provisioning's steps and one-time password.
                url=f"/superadmin/orchestras/jobs/{job.pk}/"
                if job.kind == ProvisioningJob.Kind.PROVISION
                else "",
            )
        )
    for backup in BackupRecord.objects.all()[:limit]:
        rows.append(
            JobRow(
                kind=_("backup (%(kind)s)") % {"kind": backup.get_kind_display()},
                subject=backup.orchestra_label,
                status={"ok": "succeeded"}.get(backup.outcome, backup.outcome),
                status_label=backup.get_outcome_display(),
                started_at=backup.started_at,
                finished_at=backup.finished_at,
                progress="",
                log=backup.error,
            )
        )
    for orchestra in Orchestra.objects.exclude(operation="").order_by("operation_started_at"):
        # Restores, moves, decommissions and migrations hold the orchestra's operation claim
        # while they run; their outcome is in the audit log.
        rows.append(
            JobRow(
                kind=orchestra.operation,
                subject=orchestra.subdomain,
                status="running",
                status_label=ProvisioningJob.Status.RUNNING.label,
                started_at=orchestra.operation_started_at,
                finished_at=None,
                progress=orchestra.maintenance_reason,
                log=orchestra.operation_owner,
            )
        )
    epoch = timezone.make_aware(datetime(2000, 1, 1))
    rows.sort(key=lambda r: r.started_at or epoch, reverse=True)
    return rows[:limit]


# --- Worker state ---------------------------------------------------------------------------


@dataclass
class WorkerState:
    heartbeat_at: datetime | None
    heartbeat_age: float | None
    fresh: bool
    worker_id: str
    tasks_waiting: int
    oldest_task_at: datetime | None
    orchestras_due: int
    oldest_due_at: datetime | None
    periodic: list[PeriodicRun]


def worker_state(now: datetime | None = None) -> WorkerState:
    """Heartbeat and queue depths from the control database alone (no orchestra is opened).

    "Due" counts orchestras whose scheduler work (messages to send, reminders, timeouts) is
    due: Orchestra.next_due_at is the earliest of them in each orchestra's database.
    """
    from django_tasks_db.models import DBTaskResult

    from stagesub.web.health import HEARTBEAT

    now = now or timezone.now()
    beat = PeriodicRun.objects.filter(name=HEARTBEAT).first()
    age = (now - beat.last_run_at).total_seconds() if beat else None
    waiting = DBTaskResult.objects.ready().aggregate(n=Count("pk"), oldest=Min("enqueued_at"))
    due = Orchestra.objects.filter(
        Q(next_due_at__lte=now), status=Orchestra.Status.ACTIVE
    ).aggregate(n=Count("pk"), oldest=Min("next_due_at"))
    return WorkerState(
        heartbeat_at=beat.last_run_at if beat else None,
        heartbeat_age=age,
        fresh=age is not None and age <= settings.WORKER_HEARTBEAT_STALE,
        worker_id=beat.last_result if beat else "",
        tasks_waiting=waiting["n"],
        oldest_task_at=waiting["oldest"],
        orchestras_due=due["n"],
        oldest_due_at=due["oldest"],
        periodic=list(PeriodicRun.objects.exclude(name=HEARTBEAT).order_by("name")),
    )
