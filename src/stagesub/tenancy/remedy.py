"""Automatic remedy when the monitor finds an orchestra routed to a database that is not its own.

The stamp decides who owns a database. When orchestra X is routed to a database whose stamp
names orchestra O, and O's own check reached that same physical database with its stamp, the
ownership is clear: X is the intruder. X is taken off at once (its host shows the maintenance
page and the scheduler skips it: the flag is left set, not a block-scoped `maintenance`) and,
with STAGESUB_AUTO_REHOME, re-homed: its own latest successful backup is restored into a new
database on its server (tenancy.restore refuses an archive of anyone else and checks the stamp),
routing is switched, and the foreign location is NOT kept as X's retired database (it is O's:
it must never be dropped on X's behalf). Each step is appended to the incident's details under
"remedy", and the superadmins get one mail saying what was done and what may be missing.

When ownership is not clear (no stamp, a stamp naming an orchestra that is not there, or whose
own check did not reach that database), every orchestra routed to it is blocked and the
superadmins are alerted: nothing is guessed, nothing is restored. A block set here is lifted by
the monitor once the orchestra's database checks out as its own again (an operator fixed it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from stagesub.tenancy import audit, operations
from stagesub.tenancy.isolation import DatabaseCheck, IsolationReport, superadmin_emails
from stagesub.tenancy.models import BackupRecord, IsolationIncident, Orchestra, RetiredDatabase

logger = logging.getLogger("stagesub.tenancy.isolation")

BLOCK_PREFIX = "isolation:"
SUMMARY = (
    "What StageSub did (a blocked orchestra shows the maintenance page and its background work "
    "waits; a re-homed one runs on a database restored from its own last backup, so what it "
    "wrote after that backup is not there):"
)


def _owner_of(check: DatabaseCheck, by_subdomain: dict[str, DatabaseCheck]) -> Orchestra | None:
    """The orchestra the stamp names, when its own check reached this very database."""
    if not check.stamp or not check.identity:
        return None
    try:
        owner = Orchestra.objects.filter(pk=uuid.UUID(check.stamp)).first()
    except ValueError:
        return None
    if owner is None:
        return None
    own = by_subdomain.get(owner.subdomain)
    if own is None or not own.stamp_ok or own.identity != check.identity:
        return None
    return owner


def _block(orchestra: Orchestra, why: str) -> bool:
    """Maintenance page and no jobs, left set; False when it was already blocked by us."""
    reason = f"{BLOCK_PREFIX} {why}"[:200]
    changed = (
        Orchestra.objects.filter(pk=orchestra.pk)
        .exclude(maintenance_reason__startswith=BLOCK_PREFIX)
        .update(maintenance_reason=reason)
    )
    operations.forget_route(orchestra)
    return bool(changed)


class _Log:
    """The remedy's steps, kept in the incident's details and mailed at the end."""

    def __init__(self, incident: IsolationIncident):
        self.incident = incident
        self.lines: list[str] = []

    def __call__(self, orchestra: Orchestra, step: str, detail: str) -> None:
        entry = {
            "at": timezone.now().isoformat(),
            "orchestra": orchestra.subdomain,
            "step": step,
            "detail": detail,
        }
        self.incident.details = {
            **self.incident.details,
            "remedy": [*self.incident.details.get("remedy", []), entry],
        }
        self.incident.save(update_fields=["details"])
        self.lines.append(f"- {orchestra.subdomain}: {step}: {detail}")
        logger.critical("remedy for incident #%s: %s", self.incident.pk, self.lines[-1])


def respond(
    report: IsolationReport,
    incident: IsolationIncident,
    notify: Callable[[str], None] | None = None,
    *,
    mail: bool = True,
) -> list[str]:
    """Block every orchestra on a database that is not its own; re-home the clear cases.

    Returns the steps taken (one line each); `mail=False` when the caller mails them itself."""
    by_subdomain = {c.subdomain: c for c in report.checks}
    orchestras = {
        o.subdomain: o
        for o in Orchestra.objects.select_related("server").filter(subdomain__in=by_subdomain)
    }
    log = _Log(incident)
    for check in report.checks:
        orchestra = orchestras.get(check.subdomain)
        if orchestra is None or not check.reachable or check.stamp_ok:
            continue
        owner = _owner_of(check, by_subdomain)
        if owner is None:
            why = f"database stamp {check.stamp or 'missing'}: owner unclear"
            if _block(orchestra, why):
                log(orchestra, "blocked", f"{why}; not re-homed (never guessed)")
            continue
        if not _block(orchestra, f"database belongs to {owner.subdomain}"):
            continue  # blocked by an earlier run: a person takes it from there
        log(
            orchestra,
            "blocked",
            f"routed to {check.location}, whose stamp names {owner.subdomain}: taken off it "
            "(maintenance page, jobs paused)",
        )
        if not settings.AUTO_REHOME:
            log(orchestra, "waiting", "automatic re-homing is off (STAGESUB_AUTO_REHOME)")
            continue
        rehome(orchestra, log)
    if log.lines and mail:
        _mail(incident, log.lines)
        if notify:
            notify(f"incident #{incident.pk}: {len(log.lines)} remedy step(s)")
    return log.lines


def latest_backup(orchestra: Orchestra) -> BackupRecord | None:
    """The orchestra's newest successful backup whose archive is still on disk."""
    records = BackupRecord.objects.filter(
        orchestra=orchestra, outcome=BackupRecord.Outcome.OK, deleted_at__isnull=True
    ).order_by("-started_at")
    return next((r for r in records if r.path and Path(r.path).is_file()), None)


def rehome(orchestra: Orchestra, log: Callable[[Orchestra, str, str], None]) -> bool:
    """Restore the orchestra's own latest backup into a new database and switch to it."""
    from stagesub.tenancy.isolation import check_orchestra

    backup = latest_backup(orchestra)
    if backup is None:
        log(orchestra, "not re-homed", "no backup of its own to restore; stays blocked")
        return False
    foreign = Orchestra.objects.get(pk=orchestra.pk)
    log(orchestra, "restoring", f"backup of {backup.started_at:%Y-%m-%d %H:%M} UTC: {backup.path}")
    try:
        from stagesub.tenancy.restore import restore_orchestra

        result = restore_orchestra(foreign, Path(backup.path))
    except Exception as exc:
        _block(orchestra, "re-homing failed")
        log(orchestra, "not re-homed", f"restore failed ({type(exc).__name__}: {exc})")
        return False
    with transaction.atomic():
        # The database it left is the owner's: never drop it as this orchestra's retired one.
        left = RetiredDatabase.objects.filter(
            orchestra=orchestra,
            server=foreign.server,
            database_name=foreign.database_name,
            dropped_at__isnull=True,
        )
        # The files it had (its own, possibly newer than the backup) stay for a person to
        # look at: named in the incident, not dropped with a database that is not its own.
        set_aside = [r.files_folder for r in left if r.files_folder]
        left.delete()
    if set_aside:
        log(
            orchestra,
            "files kept",
            f"its files from before the restore are kept at {settings.DATA_DIR}/files/"
            f"{set_aside[0]} (may hold files newer than the backup)",
        )
    check = check_orchestra(Orchestra.objects.select_related("server").get(pk=orchestra.pk))
    if not check.stamp_ok:
        _block(orchestra, "re-homed database failed its check")
        log(orchestra, "blocked", f"new database {result.database_name} failed its check")
        return False
    # Its own database again: lift the block (the restore keeps a maintenance page it found).
    Orchestra.objects.filter(pk=orchestra.pk, maintenance_reason__startswith=BLOCK_PREFIX).update(
        maintenance_reason=""
    )
    operations.forget_route(orchestra)
    audit.record(
        "isolation.rehomed",
        orchestra=orchestra,
        actor_label="monitor",
        backup=backup.path,
        database=result.database_name,
    )
    log(
        orchestra,
        "re-homed",
        f"now on its own database {result.database_name} (stamp checked); anything "
        f"{orchestra.subdomain} wrote after {backup.started_at:%Y-%m-%d %H:%M} UTC is not in it",
    )
    return True


def lift_blocks(report: IsolationReport) -> list[str]:
    """Lift the remedy's block from orchestras whose database checks out as their own again."""
    lifted = []
    for check in report.checks:
        if not (check.reachable and check.stamp_ok and not check.shared_with):
            continue
        orchestra = Orchestra.objects.filter(
            subdomain=check.subdomain, maintenance_reason__startswith=BLOCK_PREFIX
        ).first()
        if orchestra is None:
            continue
        Orchestra.objects.filter(pk=orchestra.pk).update(maintenance_reason="")
        operations.forget_route(orchestra)
        audit.record("isolation.unblocked", orchestra=orchestra, actor_label="monitor")
        lifted.append(orchestra.subdomain)
    return lifted


def _mail(incident: IsolationIncident, lines: list[str]) -> None:
    recipients = superadmin_emails()
    if not recipients:
        return
    try:
        send_mail(
            f"CRITICAL: isolation incident #{incident.pk}: what StageSub did",
            f"{SUMMARY}\n\n" + "\n".join(lines) + "\n\nCheck, then run: "
            f"stagesub resolve_incident {incident.pk}\n",
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            fail_silently=False,
        )
    except Exception:
        # The steps are in the incident; a mail outage must not undo or stop the remedy.
        logger.exception("could not e-mail the superadmins about incident #%s", incident.pk)
