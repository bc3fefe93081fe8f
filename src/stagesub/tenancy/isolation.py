"""Isolation checks: prove that no two orchestras share a database.

For every orchestra with a database: connect with its own settings, read the identity stamp and
the physical identity, count its rows. A violation is two orchestras with one physical identity,
or a database whose stamp names another orchestra (or none). Unreachable databases are reported
separately: they could not be checked, which is not the same as being isolated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connections as django_connections
from django.utils import timezone

from stagesub.tenancy import connections, schema
from stagesub.tenancy.binding import binding_for
from stagesub.tenancy.context import bind
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


@dataclass
class IsolationReport:
    checks: list[DatabaseCheck]
    violations: list[str]

    @property
    def unreachable(self) -> list[DatabaseCheck]:
        return [c for c in self.checks if not c.reachable]

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


def check_orchestra(orchestra: Orchestra, *, with_migrations: bool = False) -> DatabaseCheck:
    check = DatabaseCheck(
        subdomain=orchestra.subdomain,
        name=orchestra.name,
        status=orchestra.status,
        location=location_label(orchestra),
    )
    state = MigrationState.objects.filter(orchestra=orchestra).first()
    check.recorded_migration_state = (
        f"{state.status} ({state.applied_fingerprint or 'never'})" if state else "none"
    )
    if not orchestra.has_database:
        check.error = "no database assigned"
        return check
    try:
        binding = binding_for(orchestra, check_stamp=False)
        with bind(binding):
            connection = django_connections[binding.alias]
            connection.ensure_connection()
            check.reachable = True
            check.stamp = connections.read_stamp(connection.connection)
            check.stamp_ok = check.stamp == orchestra.id.hex
            check.identity = physical_identity(binding.alias)
            if check.stamp_ok:
                for label, model_path in ROW_COUNTS.items():
                    check.counts[label] = apps.get_model(model_path).objects.count()
            if with_migrations:
                check.pending_migrations = schema.pending_migrations(binding.alias)
    except Exception as exc:
        check.error = f"{type(exc).__name__}: {exc}"
    finally:
        if orchestra.has_database:
            connections.forget_in_this_thread(connections.alias_for(orchestra.id))
    return check


def verify_isolation(orchestras: list[Orchestra] | None = None) -> IsolationReport:
    if orchestras is None:
        orchestras = list(Orchestra.objects.select_related("server").order_by("subdomain"))
    checks = [check_orchestra(o) for o in orchestras]
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


def monitor_isolation(
    notify: Callable[[str], None] | None = None,
) -> tuple[IsolationReport, IsolationIncident | None]:
    """Verify; on a violation open (or refresh) an incident and e-mail every superadmin once."""
    report = verify_isolation()
    if not report.violations:
        return report, None
    summary = "; ".join(report.violations)
    incident = IsolationIncident.open_incidents().filter(summary=summary).first()
    if incident is not None:
        incident.details = report.as_dict()
        incident.save(update_fields=["details"])
        return report, incident
    incident = IsolationIncident.objects.create(summary=summary, details=report.as_dict())
    logger.critical("isolation incident #%s: %s", incident.pk, summary)
    recipients = list(
        get_user_model()
        .objects.filter(role="superadmin", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients:
        body = (
            "StageSub found orchestras that do not have a database of their own.\n\n"
            + "\n".join(f"- {v}" for v in report.violations)
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
