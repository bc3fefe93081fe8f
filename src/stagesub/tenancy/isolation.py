"""Isolation checks: prove that no two orchestras share a database.

For every orchestra with a database: connect with its own settings, read the identity stamp and
the physical identity, count its rows. A violation is two orchestras with one physical identity,
or a database whose stamp names another orchestra (or none). Unreachable databases are reported
separately: they could not be checked, which is not the same as being isolated.

Each database is checked on a connection of its own with a time limit (CHECK_TIMEOUT): libpq's
connect_timeout and a statement_timeout on PostgreSQL, the busy timeout on SQLite (a file
locked by another connection). The checks run concurrently in daemon threads and the caller
waits for each at most the limit (plus a second of grace), so one hanging database is reported
"unreachable" and cannot hold up the others or the command.

An orchestra still provisioning is listed but not checked: its database may not exist or have
its stamp yet, and it serves nothing until it is active (stale provisionings are swept).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connections as django_connections
from django.utils import timezone

from stagesub.tenancy import audit, connections, schema
from stagesub.tenancy.backends import database_settings_for
from stagesub.tenancy.context import Binding, bind
from stagesub.tenancy.identity import physical_identity
from stagesub.tenancy.models import IsolationIncident, MigrationState, Orchestra

logger = logging.getLogger("stagesub.tenancy.isolation")

EXIT_OK, EXIT_VIOLATION, EXIT_UNCHECKED = 0, 1, 2

# Row counts shown per orchestra: label → "app_label.Model". Apps add theirs (musicians, ...).
ROW_COUNTS: dict[str, str] = {}


def register_row_count(label: str, model: str) -> None:
    ROW_COUNTS[label] = model


@dataclass
class DatabaseCheck:
    subdomain: str
    name: str
    status: str
    location: str
    reachable: bool = False
    stamp: str | None = None
    stamp_ok: bool = False
    identity: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    pending_migrations: list[str] | None = None
    recorded_migration_state: str = ""
    error: str = ""
    shared_with: list[str] = field(default_factory=list)
    # Why the database was deliberately not checked ("provisioning"); empty when it was.
    skipped: str = ""


@dataclass
class IsolationReport:
    checks: list[DatabaseCheck]
    violations: list[str]

    @property
    def unreachable(self) -> list[DatabaseCheck]:
        return [c for c in self.checks if not c.reachable and not c.skipped]

    @property
    def exit_code(self) -> int:
        if self.violations:
            return EXIT_VIOLATION
        if self.unreachable:
            return EXIT_UNCHECKED
        return EXIT_OK

    def as_dict(self) -> dict:
        return {
            "checked_at": timezone.now().isoformat(),
            "isolated": self.exit_code == EXIT_OK,
            "violations": self.violations,
            "orchestras": [asdict(c) for c in self.checks],
        }


def location_label(orchestra: Orchestra) -> str:
    """Where the database lives, without credentials."""
    if not orchestra.has_database:
        return "(no database)"
    return f"{orchestra.server.name}/{orchestra.database_name}"


def _check_binding(orchestra: Orchestra) -> Binding:
    """A connection of the check's own, bounded by CHECK_TIMEOUT, under an alias of its own.

    Separate from the alias requests use, so these options never leak into request connections
    and a check never disturbs a request's connection.
    """
    limit = settings.CHECK_TIMEOUT
    database = dict(database_settings_for(orchestra))
    options = dict(database.get("OPTIONS", {}))
    if database["ENGINE"].endswith("sqlite3"):
        # Read-write without create: a missing file is unreachable, not a new empty database
        # (which would then look like a database without a stamp).
        database["NAME"] = f"file:{quote(str(database['NAME']))}?mode=rw"
        options = {"timeout": limit, "init_command": f"PRAGMA busy_timeout={int(limit * 1000)};"}
    else:
        # libpq counts connect_timeout in whole seconds and treats less than 2 as 2.
        options["connect_timeout"] = max(2, round(limit))
        if not database.get("DISABLE_SERVER_SIDE_CURSORS"):
            # Direct connections only: PgBouncer refuses the `options` startup parameter (a
            # pooled orchestra's role carries its statement timeout, and the check's thread
            # has its deadline either way).
            statement_timeout = f"-c statement_timeout={int(limit * 1000)}"
            options["options"] = f"{options.get('options', '')} {statement_timeout}".strip()
    database.update(OPTIONS=options, CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
    alias = f"{connections.alias_for(orchestra.id)}_check"
    connections.register(alias, database)
    return Binding(
        orchestra_id=orchestra.id, subdomain=orchestra.subdomain, alias=alias, check_stamp=False
    )


def _read_stamp(connection) -> str | None:
    """The stamp, None when the database has none; any other failure (a lock, a timeout) raises,
    so a database that cannot be read is reported unreachable, never as missing its stamp."""
    if connections.STAMP_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT orchestra_id FROM {connections.STAMP_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    return None if row is None else str(row[0]).replace("-", "")


def _new_check(orchestra: Orchestra) -> DatabaseCheck:
    return DatabaseCheck(
        subdomain=orchestra.subdomain,
        name=orchestra.name,
        status=orchestra.status,
        location=location_label(orchestra),
    )


def _probe(
    orchestra: Orchestra, check: DatabaseCheck, binding: Binding, with_migrations: bool
) -> DatabaseCheck:
    """Connect and read; runs in a checking thread, so it touches no control-database row."""
    try:
        with bind(binding):
            connection = django_connections[binding.alias]
            connection.ensure_connection()
            check.stamp = _read_stamp(connection)
            check.stamp_ok = check.stamp == orchestra.id.hex
            check.identity = physical_identity(binding.alias)
            if check.stamp_ok:
                for label, model_path in ROW_COUNTS.items():
                    check.counts[label] = apps.get_model(model_path).objects.count()
            if with_migrations:
                check.pending_migrations = schema.pending_migrations(binding.alias)
        check.reachable = True
    except Exception as exc:
        # Whatever was read before the failure proves nothing: report "could not check".
        check.stamp, check.stamp_ok, check.identity = None, False, None
        check.error = f"{type(exc).__name__}: {exc}"
    finally:
        connections.forget_in_this_thread(binding.alias)
    return check


def _prepare(orchestra: Orchestra) -> tuple[DatabaseCheck, Binding | None]:
    """The check's control-side part, in the calling thread: what the probe needs, or why
    there is nothing to probe (binding None)."""
    check = _new_check(orchestra)
    state = MigrationState.objects.filter(orchestra=orchestra).first()
    check.recorded_migration_state = (
        f"{state.status} ({state.applied_fingerprint or 'never'})" if state else "none"
    )
    if orchestra.status == Orchestra.Status.PROVISIONING:
        beat = orchestra.provisioning_heartbeat_at or orchestra.updated_at
        check.skipped = "provisioning"
        check.error = (
            f"still provisioning (step {orchestra.provisioning_step or '?'}, last heartbeat "
            f"{beat:%Y-%m-%d %H:%M:%S} UTC): not checked"
        )
        return check, None
    if orchestra.status == Orchestra.Status.ARCHIVED and not orchestra.has_database:
        # Decommissioned: its database is kept as a RetiredDatabase (no host reaches it) or
        # already dropped. Nothing to check, which is not "unreachable".
        check.skipped = "archived"
        check.error = "archived (decommissioned): no database in use"
        return check, None
    if not orchestra.has_database:
        check.error = "no database assigned"
        return check, None
    try:
        return check, _check_binding(orchestra)
    except Exception as exc:
        check.error = f"{type(exc).__name__}: {exc}"
        return check, None


def check_databases(
    orchestras: list[Orchestra], *, migrations_of: Collection[uuid.UUID] = ()
) -> list[DatabaseCheck]:
    """Check every orchestra's database concurrently, each within CHECK_TIMEOUT (+1 s grace).

    A check still running at its deadline is reported unreachable and its thread abandoned
    (a daemon thread: it ends when its own connection timeout fires, and never delays exit);
    a fresh thread takes its place, so hanging databases cannot use up the workers. Pending
    migrations are listed for the orchestras named in `migrations_of`.
    """
    prepared = [_prepare(o) for o in orchestras]
    checks = [check for check, _ in prepared]
    to_probe = deque(i for i, (_, binding) in enumerate(prepared) if binding is not None)
    if not to_probe:
        return checks
    limit = settings.CHECK_TIMEOUT + 1.0
    results: dict[int, DatabaseCheck] = {}
    started: dict[int, float] = {}
    abandoned: set[int] = set()
    wanted = len(to_probe)
    changed = threading.Condition()

    def work() -> None:
        while True:
            with changed:
                if not to_probe:
                    return
                index = to_probe.popleft()
                started[index] = time.monotonic()
            orchestra = orchestras[index]
            binding = prepared[index][1]
            done = _probe(orchestra, checks[index], binding, orchestra.pk in migrations_of)
            with changed:
                started.pop(index, None)
                if index in abandoned:
                    return  # a replacement thread has taken this one's place
                results[index] = done
                changed.notify_all()

    def spawn() -> None:
        threading.Thread(target=work, name="stagesub-check", daemon=True).start()

    for _ in range(min(wanted, max(1, settings.CHECK_CONCURRENCY))):
        spawn()
    with changed:
        while len(results) < wanted:
            now = time.monotonic()
            for index, since in list(started.items()):
                if now - since >= limit:
                    del started[index]
                    abandoned.add(index)
                    late = _new_check(orchestras[index])
                    late.recorded_migration_state = checks[index].recorded_migration_state
                    late.error = f"no answer within {settings.CHECK_TIMEOUT:g} s"
                    results[index] = late
                    spawn()
            if len(results) < wanted:
                deadlines = [since + limit for since in started.values()]
                changed.wait(timeout=max(0.01, min(deadlines, default=now + 0.1) - now))
    for index, check in results.items():
        checks[index] = check
    return checks


def check_orchestra(orchestra: Orchestra, *, with_migrations: bool = False) -> DatabaseCheck:
    return check_databases([orchestra], migrations_of={orchestra.pk} if with_migrations else ())[0]


def verify_isolation(
    orchestras: list[Orchestra] | None = None, *, migrations_of: Collection[uuid.UUID] = ()
) -> IsolationReport:
    if orchestras is None:
        orchestras = list(Orchestra.objects.select_related("server").order_by("subdomain"))
    checks = check_databases(orchestras, migrations_of=migrations_of)
    violations: list[str] = []
    by_identity: dict[str, list[DatabaseCheck]] = defaultdict(list)
    for check in checks:
        if check.identity:
            by_identity[check.identity].append(check)
        if check.reachable and not check.stamp_ok:
            if check.stamp is None:
                violations.append(f"{check.subdomain}: database has no identity stamp")
            else:
                violations.append(
                    f"{check.subdomain}: database carries the stamp of another orchestra ({check.stamp})"
                )
    for identity, group in by_identity.items():
        if len(group) > 1:
            names = sorted(c.subdomain for c in group)
            for check in group:
                check.shared_with = [n for n in names if n != check.subdomain]
            violations.append(f"shared database {identity}: {', '.join(names)}")
    return IsolationReport(checks, violations)


def superadmin_emails() -> list[str]:
    return list(
        get_user_model()
        .objects.filter(role="superadmin", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def monitor_isolation(
    notify: Callable[[str], None] | None = None,
) -> tuple[IsolationReport, IsolationIncident | None]:
    """Verify; on a violation open (or refresh) an incident and e-mail every superadmin once.

    Unreachable databases get incidents of their own (see track_unreachable); only isolation
    incidents are returned here and block new orchestras.
    """
    from stagesub.tenancy import remedy

    report = verify_isolation()
    track_unreachable(report, notify)
    remedy.lift_blocks(report)
    if not report.violations:
        return report, None
    summary = "; ".join(report.violations)
    incident = IsolationIncident.open_incidents().filter(summary=summary).first()
    if incident is not None:
        # The remedy's steps stay with the incident across refreshes.
        incident.details = {**report.as_dict(), "remedy": incident.details.get("remedy", [])}
        incident.save(update_fields=["details"])
        remedy.respond(report, incident, notify)
        return report, incident
    incident = IsolationIncident.objects.create(
        kind=IsolationIncident.Kind.ISOLATION, summary=summary, details=report.as_dict()
    )
    logger.critical("isolation incident #%s: %s", incident.pk, summary)
    # Taken first, so the one mail about the incident says what was already done about it.
    done = remedy.respond(report, incident, notify, mail=False)
    recipients = superadmin_emails()
    if recipients:
        body = (
            "StageSub found orchestras that do not have a database of their own.\n\n"
            + "\n".join(f"- {v}" for v in report.violations)
            + (f"\n\n{remedy.SUMMARY}\n" + "\n".join(done) if done else "")
            + "\n\nNew orchestras are blocked until the incident is resolved:\n"
            f"  fix the databases, then run: stagesub resolve_incident {incident.pk}\n"
        )
        send_mail(
            f"CRITICAL: isolation incident #{incident.pk}",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            fail_silently=False,
        )
    if notify:
        notify(f"incident #{incident.pk} opened; {len(recipients)} superadmin(s) e-mailed")
    return report, incident


def track_unreachable(
    report: IsolationReport, notify: Callable[[str], None] | None = None
) -> list[IsolationIncident]:
    """One open "unreachable" incident per orchestra whose database could not be checked.

    Opened (and the superadmins e-mailed, one message for all new ones) the first time the
    database fails; refreshed, without mail, while it keeps failing; resolved by the monitor
    the first time it answers again. Returns the incidents opened by this run.
    """
    now = timezone.now()
    open_by_orchestra = {i.orchestra_id: i for i in IsolationIncident.open_unreachable()}
    orchestras = {
        o.subdomain: o
        for o in Orchestra.objects.filter(subdomain__in=[c.subdomain for c in report.checks])
    }
    opened = []
    for check in report.checks:
        orchestra = orchestras.get(check.subdomain)
        if orchestra is None or check.skipped:
            continue
        incident = open_by_orchestra.get(orchestra.pk)
        if not check.reachable:
            details = {"error": check.error, "location": check.location, "seen_at": now.isoformat()}
            if incident is None:
                opened.append(
                    IsolationIncident.objects.create(
                        kind=IsolationIncident.Kind.UNREACHABLE,
                        orchestra=orchestra,
                        summary=f"{orchestra.subdomain}: database unreachable ({check.error})",
                        details=details,
                    )
                )
            else:
                incident.details = {**incident.details, **details}
                incident.save(update_fields=["details"])
        elif incident is not None:
            close_incident(incident, "monitor", "the database answers again")
    # An orchestra removed while its database was unreachable: nothing left to watch.
    for incident in IsolationIncident.open_unreachable().filter(orchestra__isnull=True):
        close_incident(incident, "monitor", "the orchestra no longer exists")
    if opened:
        for incident in opened:
            logger.error("unreachable incident #%s: %s", incident.pk, incident.summary)
        recipients, mailed = superadmin_emails(), 0
        try:
            _mail_unreachable(opened, recipients)
            mailed = len(recipients)
        except Exception:
            # The incidents are recorded (and listed by the command); a mail outage must not
            # stop this run before it has looked for isolation violations.
            logger.exception("could not e-mail the superadmins about unreachable databases")
        if notify:
            notify(f"{len(opened)} unreachable incident(s) opened; {mailed} superadmin(s) e-mailed")
    return opened


def _mail_unreachable(opened: list[IsolationIncident], recipients: list[str]) -> None:
    if not recipients:
        return
    send_mail(
        "StageSub: orchestra database unreachable"
        + (f" ({opened[0].orchestra.subdomain})" if len(opened) == 1 else "s"),
        "StageSub could not reach these orchestra databases:\n\n"
        + "\n".join(f"- #{i.pk} {i.summary}" for i in opened)
        + "\n\nTheir pages answer 503 until the database is back. The monitor closes each "
        "incident by itself when the database answers again (or run "
        "`stagesub resolve_incident ID`). New orchestras are not blocked.\n",
        settings.DEFAULT_FROM_EMAIL,
        recipients,
        fail_silently=False,
    )


def close_incident(incident: IsolationIncident, by: str, note: str) -> None:
    """Mark the incident resolved and audit it (the monitor's own closing and the command's)."""
    incident.resolved_at = timezone.now()
    incident.resolved_by = by
    incident.resolution_note = note
    incident.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
    audit.record(
        "isolation.incident_resolved",
        actor_label=by,
        orchestra=incident.orchestra,
        incident=incident.pk,
        kind=incident.kind,
        note=note,
    )
