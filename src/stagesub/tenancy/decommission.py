"""Retiring an orchestra: suspend at once, final backup, archive, drop after a grace period.

`decommission(orchestra)` runs as one fleet operation in three steps, each committed before the
next begins, so a process killed anywhere leaves a state that the same call finishes:

1. *suspend*: status "suspended" (its host shows the suspended page, the scheduler skips it),
   then one routing-cache period so no process writes any more: the backup is really final;
2. *backup*: the final archive (tenancy.backup), written atomically by the backup module;
3. *archive*: one control transaction: the database moves to a `RetiredDatabase` (reason
   "decommission", dropped after `keep_days` by the worker like any retired database), the row
   loses its location and becomes "archived", its people can no longer log in.

The control row stays, archived, with its audit trail; its subdomain stays reserved. After the
grace period the worker drops the database and role (operations.drop_due_retired) and this
module's job removes the stored files (`purge_due`). `release(orchestra)` then frees the
subdomain: the archived row is renamed to a tombstone ("~" + its id, which no host can name),
its user accounts are deleted, and every audit event keeps the old subdomain in its label.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from stagesub.tenancy import audit, connections, operations
from stagesub.tenancy.backup import BackupResult, backup_orchestra, storage_folder
from stagesub.tenancy.models import BackupRecord, Orchestra, RetiredDatabase
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.fleet")

REASON = "decommission"
STEPS = ("suspend", "backup", "archive")
RETIRABLE = (Orchestra.Status.ACTIVE, Orchestra.Status.SUSPENDED)


@dataclass
class DecommissionResult:
    orchestra: Orchestra
    drop_after: datetime.datetime
    backup: BackupResult | None  # None when it was already archived
    already_archived: bool = False


def files_root(orchestra: Orchestra) -> Path:
    """The orchestra's stored files (orchestra.storage.storage_root, without binding)."""
    return storage_folder(orchestra.id)


def _kept(orchestra: Orchestra) -> RetiredDatabase | None:
    return (
        RetiredDatabase.objects.filter(orchestra=orchestra, reason=REASON)
        .order_by("-retired_at", "-pk")
        .first()
    )


def decommission(
    orchestra: Orchestra,
    *,
    keep_days: float | None = None,
    to_dir: Path | None = None,
    actor=None,
    settle: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DecommissionResult:
    """Retire the orchestra (see the module's docstring); running it again finishes the job."""
    keep_days = settings.DECOMMISSION_KEEP_DAYS if keep_days is None else keep_days
    if keep_days < 0:
        raise operations.OperationRefused("--keep-days must be 0 or more")
    orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    if orchestra.status == Orchestra.Status.ARCHIVED:
        kept = _kept(orchestra)
        drop_after = kept.drop_after if kept else orchestra.updated_at
        return DecommissionResult(orchestra, drop_after, None, already_archived=True)
    if orchestra.status not in RETIRABLE or not orchestra.has_database:
        raise operations.OperationRefused(
            f"{orchestra.subdomain} is {orchestra.status}: only an active or suspended orchestra "
            "with a database can be decommissioned (a stale provisioning is swept by the worker)"
        )
    step = progress or (lambda name: None)
    with operations.exclusive_operation(orchestra, REASON) as current:
        step("suspend")
        was = current.status
        if was != Orchestra.Status.SUSPENDED:
            Orchestra.objects.filter(pk=current.pk).update(status=Orchestra.Status.SUSPENDED)
            current.status = Orchestra.Status.SUSPENDED
        audit.record(
            "orchestra.decommission_started",
            actor=actor,
            actor_label="stagesub",
            orchestra=current,
            previous_status=was,
            keep_days=keep_days,
        )
        operations.forget_route(current)
        if settle and was != Orchestra.Status.SUSPENDED:
            # Every process's routing cache now shows the suspended page: nothing writes after
            # this, so the backup below holds the orchestra's last state.
            time.sleep(operations.routing_cache_seconds())
        step("backup")
        # This operation already holds the orchestra's claim (claim=False).
        backup = backup_orchestra(current, to_dir=to_dir, kind=BackupRecord.Kind.FINAL, claim=False)
        step("archive")
        drop_after = timezone.now() + datetime.timedelta(days=keep_days)
        with transaction.atomic():
            row = Orchestra.objects.select_for_update().get(pk=current.pk)
            RetiredDatabase.objects.create(
                orchestra=row,
                orchestra_label=row.subdomain,
                server_id=row.server_id,
                database_name=row.database_name,
                database_user=row.database_user,
                database_password_encrypted=row.database_password_encrypted,
                physical_identity=row.physical_identity,
                reason=REASON,
                # Its stored files go with the database (operations.drop_retired).
                files_folder=row.id.hex,
                drop_after=drop_after,
            )
            Orchestra.objects.filter(pk=row.pk).update(
                status=Orchestra.Status.ARCHIVED,
                server=None,
                database_name=None,
                database_user="",
                database_password_encrypted="",
                physical_identity="",
                next_due_at=None,
                updated_at=timezone.now(),
            )
            get_user_model().objects.filter(orchestra=row).update(is_active=False)
            audit.record(
                "orchestra.decommissioned",
                actor=actor,
                actor_label="stagesub",
                orchestra=row,
                database=row.database_name,
                server=row.server.name,
                backup=str(backup.path),
                drop_after=drop_after.isoformat(),
            )
        operations.forget_route(current)
    archived = Orchestra.objects.get(pk=orchestra.pk)
    return DecommissionResult(archived, drop_after, backup)


def purge_due(
    now: datetime.datetime | None = None, *, orchestra: Orchestra | None = None
) -> list[str]:
    """Drop the databases (and roles) and files of decommissioned orchestras whose grace period
    is over; idempotent, so a purge cut short is finished by the next one."""
    now = now or timezone.now()
    due = RetiredDatabase.objects.filter(reason=REASON, drop_after__lte=now).select_related(
        "server", "orchestra"
    )
    if orchestra is not None:
        due = due.filter(orchestra=orchestra)
    purged = []
    for retired in due:
        owner = retired.orchestra
        files = files_root(owner) if owner is not None else None
        if retired.dropped_at is not None and (files is None or not files.exists()):
            continue
        try:
            if retired.dropped_at is None:
                operations.drop_retired(retired)
            if files is not None and files.exists():
                shutil.rmtree(files)
        except Exception:
            logger.exception("could not purge decommissioned %s", retired.orchestra_label)
            continue
        audit.record(
            "orchestra.purged",
            actor_label="stagesub",
            orchestra=owner,
            database=retired.database_name,
        )
        purged.append(retired.orchestra_label)
    return purged


def tombstone(orchestra: Orchestra) -> str:
    # "~" is outside the subdomain alphabet: no host and no new orchestra can ever name it.
    return f"~{orchestra.id.hex}"


def release(orchestra: Orchestra, *, actor=None) -> str:
    """Free an archived orchestra's subdomain once its data is gone; returns the tombstone."""
    orchestra = Orchestra.objects.get(pk=orchestra.pk)
    if orchestra.status != Orchestra.Status.ARCHIVED:
        raise operations.OperationRefused(
            f"{orchestra.subdomain} is {orchestra.status}: decommission it first"
        )
    kept = _kept(orchestra)
    if kept is not None and kept.dropped_at is None:
        raise operations.OperationRefused(
            f"{orchestra.subdomain}: its database is kept until "
            f"{kept.drop_after:%Y-%m-%d %H:%M} UTC; the subdomain can be released after that"
        )
    if files_root(orchestra).exists():
        raise operations.OperationRefused(
            f"{orchestra.subdomain}: its files are not removed yet; try again after the "
            "worker's next purge"
        )
    old = orchestra.subdomain
    with transaction.atomic():
        users = get_user_model().objects.filter(orchestra=orchestra)
        usernames = sorted(users.values_list("username", flat=True))
        users.delete()
        Orchestra.objects.filter(pk=orchestra.pk).update(
            subdomain=tombstone(orchestra), updated_at=timezone.now()
        )
        orchestra.subdomain = tombstone(orchestra)
        audit.record(
            "orchestra.released",
            actor=actor,
            actor_label="stagesub",
            orchestra=orchestra,
            subdomain=old,
            deleted_users=usernames,
        )
    connections.forget_alias(connections.alias_for(orchestra.id))
    from stagesub.tenancy.binding import directory

    directory.forget(old)
    return orchestra.subdomain


def retire_now(orchestra: Orchestra, *, actor=None, to_dir: Path | None = None) -> str:
    """Decommission without a grace period, purge and release (`stagesub demo --reset`)."""
    decommission(orchestra, keep_days=0, to_dir=to_dir, actor=actor, settle=False)
    purge_due(orchestra=orchestra)
    return release(orchestra, actor=actor)


@periodic_job("tenancy.decommission_purge", interval=lambda: 60.0)
def _purge_job() -> str:
    purged = purge_due()
    return f"{len(purged)} decommissioned orchestra(s) purged"
