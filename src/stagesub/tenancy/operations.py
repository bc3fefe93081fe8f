"""Fleet operations on one orchestra: one at a time, behind a maintenance page, with the old
database kept for a grace period.

The primitives that backups, restores, moves and retirement share:

* `exclusive_operation(orchestra, "restore")` claims the orchestra with one conditional UPDATE
  (a second operation is refused while the first runs; one whose process died is taken over);
* `maintenance(orchestra, reason)` puts its host behind the maintenance page (503 with
  Retry-After) and keeps the worker out of its database, and waits until every process's
  routing cache has seen that before the caller touches the database;
* `switch_database(...)` points the orchestra at another database in one control-database
  transaction and keeps the previous one as a `RetiredDatabase`; `rollback_switch` switches
  back; `drop_due_retired` (a worker job) drops retired databases after their grace period.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stagesub.tenancy import audit
from stagesub.tenancy.models import DatabaseServer, Orchestra, RetiredDatabase
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.fleet")


class OperationRefused(RuntimeError):
    """The operation cannot start (another one runs, or the orchestra is not in a fit state)."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_is_dead(owner: str) -> bool:
    """True only when the owner ran on this host and its process is gone (never a guess)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _stale(orchestra: Orchestra, now: datetime.datetime) -> bool:
    if not orchestra.operation:
        return False
    if orchestra.operation_owner and _owner_is_dead(orchestra.operation_owner):
        return True
    started = orchestra.operation_started_at
    limit = datetime.timedelta(seconds=settings.FLEET_OPERATION_STALE_AFTER)
    return started is not None and now - started > limit


@contextmanager
def exclusive_operation(orchestra: Orchestra, name: str) -> Iterator[Orchestra]:
    """Run one fleet operation on the orchestra; a second one at the same time is refused."""
    now = timezone.now()
    owner = _owner()
    claimed = Orchestra.objects.filter(pk=orchestra.pk, operation="").update(
        operation=name, operation_started_at=now, operation_owner=owner
    )
    if not claimed:
        current = Orchestra.objects.get(pk=orchestra.pk)
        if not _stale(current, now):
            raise OperationRefused(
                f"{orchestra.subdomain}: {current.operation} is running "
                f"(since {current.operation_started_at:%Y-%m-%d %H:%M:%S %Z}, "
                f"{current.operation_owner}); try again when it has finished"
            )
        # The previous operation's process died: take over, with its maintenance flag.
        claimed = Orchestra.objects.filter(
            pk=orchestra.pk, operation=current.operation, operation_owner=current.operation_owner
        ).update(operation=name, operation_started_at=now, operation_owner=owner)
        if not claimed:
            raise OperationRefused(f"{orchestra.subdomain}: another operation just started")
        audit.record(
            "fleet.operation_taken_over",
            orchestra=current,
            actor_label="stagesub",
            previous=current.operation,
            previous_owner=current.operation_owner,
        )
    try:
        yield Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    finally:
        Orchestra.objects.filter(pk=orchestra.pk, operation=name, operation_owner=owner).update(
            operation="", operation_started_at=None, operation_owner=""
        )


def routing_cache_seconds() -> float:
    from stagesub.tenancy.binding import directory

    return directory.settle_seconds


@contextmanager
def maintenance(orchestra: Orchestra, reason: str, *, settle: bool = True) -> Iterator[None]:
    """The orchestra's host shows the maintenance page for the block; cleared afterwards.

    With `settle`, wait until every web process's routing cache has seen the flag (the routing
    generation it polls, STAGESUB_ROUTING_POLL_SECONDS), so no request that starts once the
    block's body runs writes to the database.
    """
    reason = reason[:200] or "maintenance"
    Orchestra.objects.filter(pk=orchestra.pk).update(maintenance_reason=reason)
    forget_route(orchestra)
    try:
        if settle:
            time.sleep(routing_cache_seconds())
        yield
    finally:
        Orchestra.objects.filter(pk=orchestra.pk).update(maintenance_reason="")
        forget_route(orchestra)


def forget_route(orchestra: Orchestra) -> None:
    from stagesub.tenancy import connections
    from stagesub.tenancy.binding import announce_route_change, directory

    directory.forget(orchestra.subdomain)
    connections.forget_alias(connections.alias_for(orchestra.id))
    # The other processes: their caches drop the entry at their next poll of the generation.
    announce_route_change()


@dataclass(frozen=True)
class Location:
    """Where a database is, with the credentials of its own role (PostgreSQL)."""

    server: DatabaseServer
    database_name: str
    database_user: str = ""
    database_password_encrypted: str = ""
    physical_identity: str = ""

    @classmethod
    def of(cls, orchestra: Orchestra) -> Location:
        return cls(
            server=orchestra.server,
            database_name=orchestra.database_name or "",
            database_user=orchestra.database_user,
            database_password_encrypted=orchestra.database_password_encrypted,
            physical_identity=orchestra.physical_identity,
        )


def switch_database(
    orchestra: Orchestra, target: Location, *, reason: str, keep_days: float
) -> RetiredDatabase | None:
    """Route the orchestra to `target` in one transaction; keep the previous database retired."""
    with transaction.atomic():
        current = Orchestra.objects.select_for_update().get(pk=orchestra.pk)
        retired = None
        if current.has_database:
            retired = RetiredDatabase.objects.create(
                orchestra=current,
                orchestra_label=current.subdomain,
                server_id=current.server_id,
                database_name=current.database_name,
                database_user=current.database_user,
                database_password_encrypted=current.database_password_encrypted,
                physical_identity=current.physical_identity,
                reason=reason,
                drop_after=timezone.now() + datetime.timedelta(days=keep_days),
            )
        current.server = target.server
        current.database_name = target.database_name
        current.database_user = target.database_user
        current.database_password_encrypted = target.database_password_encrypted
        current.physical_identity = target.physical_identity
        current.save(
            update_fields=[
                "server",
                "database_name",
                "database_user",
                "database_password_encrypted",
                "physical_identity",
                "updated_at",
            ]
        )
        audit.record(
            f"fleet.switched.{reason}",
            orchestra=current,
            actor_label="stagesub",
            to_server=target.server.name,
            to_database=target.database_name,
            previous=retired.database_name if retired else None,
        )
    forget_route(orchestra)
    return retired


def rollback_switch(orchestra: Orchestra, *, keep_days: float) -> RetiredDatabase:
    """Switch back to the most recent retired database of the orchestra (still kept)."""
    previous = (
        RetiredDatabase.objects.filter(orchestra=orchestra, dropped_at__isnull=True)
        .select_related("server")
        .order_by("-retired_at", "-pk")
        .first()
    )
    if previous is None:
        raise OperationRefused(
            f"{orchestra.subdomain}: no earlier database is kept to switch back to"
        )
    with transaction.atomic():
        RetiredDatabase.objects.filter(pk=previous.pk).delete()
        switch_database(
            orchestra,
            Location(
                server=previous.server,
                database_name=previous.database_name,
                database_user=previous.database_user,
                database_password_encrypted=previous.database_password_encrypted,
                physical_identity=previous.physical_identity,
            ),
            reason="rollback",
            keep_days=keep_days,
        )
    return previous


def drop_retired(retired: RetiredDatabase) -> None:
    """Drop one retired database (its role too) and mark it dropped; idempotent."""
    from stagesub.tenancy.backends import backend_for

    backend = backend_for(retired.server)
    if retired.server.kind == DatabaseServer.Kind.POSTGRESQL:
        backend.drop(retired.database_name, retired.database_user)
    else:
        backend.drop(retired.database_name)
    if retired.files_folder:
        # The orchestra's files as they were before a restore replaced them (tenancy.restore).
        folder = Path(settings.DATA_DIR) / "files" / Path(retired.files_folder).name
        shutil.rmtree(folder, ignore_errors=True)
    RetiredDatabase.objects.filter(pk=retired.pk).update(dropped_at=timezone.now())
    audit.record(
        "fleet.retired_dropped",
        orchestra=retired.orchestra,
        actor_label="stagesub",
        database=retired.database_name,
        reason=retired.reason,
    )


def drop_due_retired(now: datetime.datetime | None = None) -> list[str]:
    now = now or timezone.now()
    dropped = []
    due = RetiredDatabase.objects.filter(dropped_at__isnull=True, drop_after__lte=now)
    for retired in due.select_related("server", "orchestra"):
        try:
            drop_retired(retired)
            dropped.append(retired.database_name)
        except Exception:
            logger.exception("could not drop retired database %s", retired.database_name)
    return dropped


def clear_stale_operations(now: datetime.datetime | None = None) -> list[str]:
    """Release operations whose process died, and the maintenance page they left up."""
    now = now or timezone.now()
    cleared = []
    for orchestra in Orchestra.objects.exclude(operation=""):
        if not _stale(orchestra, now):
            continue
        done = Orchestra.objects.filter(
            pk=orchestra.pk,
            operation=orchestra.operation,
            operation_owner=orchestra.operation_owner,
        ).update(operation="", operation_started_at=None, operation_owner="", maintenance_reason="")
        if done:
            forget_route(orchestra)
            audit.record(
                "fleet.operation_abandoned",
                orchestra=orchestra,
                actor_label="stagesub",
                operation=orchestra.operation,
                owner=orchestra.operation_owner,
            )
            cleared.append(orchestra.subdomain)
    return cleared


@periodic_job("tenancy.fleet_housekeeping", interval=lambda: 60.0)
def _housekeeping_job() -> str:
    cleared = clear_stale_operations()
    dropped = drop_due_retired()
    return f"{len(cleared)} abandoned operations cleared, {len(dropped)} retired databases dropped"
