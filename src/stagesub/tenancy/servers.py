"""The database servers orchestras live on: registering, listing, draining and removing them.

A PostgreSQL server is registered only when it answers and its user may create databases and
roles (CREATEDB and CREATEROLE, or superuser); a SQLite "server" is a data directory that must
exist and be writable. Nothing is saved when a check fails. Draining marks the server so
placement stops choosing it, then moves every orchestra away (tenancy.move); a server is
removed only once nothing lives on it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from stagesub.tenancy import audit
from stagesub.tenancy.models import DatabaseServer, Orchestra, RetiredDatabase

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$"


class ServerRefused(RuntimeError):
    """The server request cannot be carried out; the message says why."""


@dataclass
class Probe:
    """What a server's check found: the rights missing, and notes for the operator."""

    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logical_replication: bool = False


def kind_of(url: str) -> str:
    return (
        DatabaseServer.Kind.POSTGRESQL
        if url.startswith(("postgres://", "postgresql://"))
        else DatabaseServer.Kind.SQLITE
    )


def _sqlite_directory(url: str) -> str:
    path = url.removeprefix("sqlite://") if url.startswith("sqlite://") else url
    if not path.startswith("/"):
        raise ServerRefused(f"a SQLite server is an absolute directory path, not {url!r}")
    return str(Path(path).resolve())


def probe(server: DatabaseServer) -> Probe:
    """Check that the server answers and has the rights StageSub needs; raise if unreachable."""
    if server.kind == DatabaseServer.Kind.SQLITE:
        directory = Path(server.url)
        if not directory.is_dir():
            raise ServerRefused(f"server {server.name}: no directory {directory}")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ServerRefused(f"server {server.name}: directory {directory} is not writable")
        return Probe()
    from stagesub.tenancy.backends import PostgresBackend

    try:
        with PostgresBackend(server).connect_admin() as conn:
            user, superuser, createdb, createrole = conn.execute(
                "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                "WHERE rolname = current_user"
            ).fetchone()
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
    except Exception as exc:
        raise ServerRefused(f"server {server.name} is unreachable: {exc}".strip()) from None
    result = Probe()
    if not (superuser or createdb):
        result.missing.append("CREATEDB")
    if not (superuser or createrole):
        result.missing.append("CREATEROLE")
    if result.missing:
        result.notes.append(
            f"user {user} lacks {' and '.join(result.missing)}: "
            f"ALTER ROLE {user} {' '.join(result.missing)}"
        )
    result.logical_replication = bool(superuser) and wal_level == "logical"
    if not result.logical_replication:
        why = "its user is not a superuser" if not superuser else f"wal_level is {wal_level}"
        result.notes.append(
            f"moves off this server use dump and restore ({why}; logical replication needs "
            "wal_level=logical and a superuser)"
        )
    return result


def add_server(
    name: str, url: str, *, region: str, dedicated: bool = False, actor=None
) -> tuple[DatabaseServer, Probe]:
    """Register a server after checking it; nothing is saved when a check fails."""
    if not re.match(NAME_PATTERN, name):
        raise ServerRefused(
            f"invalid server name {name!r}: 2-60 lower-case letters, digits and hyphens"
        )
    if name.startswith("adopted-"):
        raise ServerRefused("names starting with adopted- are the platform's own")
    if DatabaseServer.objects.filter(name=name).exists():
        raise ServerRefused(f"a server named {name!r} is already registered")
    if not region.strip():
        raise ServerRefused("give the server's region (--region)")
    kind = kind_of(url)
    server = DatabaseServer(name=name, kind=kind, region=region.strip(), dedicated=dedicated)
    server.set_url(_sqlite_directory(url) if kind == DatabaseServer.Kind.SQLITE else url)
    for other in DatabaseServer.objects.filter(kind=kind):
        if other.url == server.url:
            raise ServerRefused(f"that server is already registered as {other.name!r}")
    result = probe(server)
    if result.missing:
        raise ServerRefused(
            f"server {name} cannot host orchestras: {result.notes[0]} (or use a superuser)"
        )
    server.save()
    audit.record(
        "server.added", actor=actor, server=name, kind=kind, region=region, dedicated=dedicated
    )
    return server, result


@dataclass
class ServerRow:
    name: str
    kind: str
    region: str
    server_class: str
    status: str
    orchestras: int
    size_bytes: int | None  # None: the server did not answer


def _sizes(server: DatabaseServer, names: list[str]) -> int | None:
    from stagesub.tenancy.backends import PostgresBackend, SQLiteBackend, backend_for

    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        total = 0
        for name in names:
            path = backend.path(name)
            for part in (path, Path(f"{path}-wal")):
                total += part.stat().st_size if part.exists() else 0
        return total
    assert isinstance(backend, PostgresBackend)
    try:
        with backend.connect_admin() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_database "
                "WHERE datname = ANY(%s)",
                [names],
            ).fetchone()
    except Exception:
        return None
    return int(row[0])


def server_rows() -> list[ServerRow]:
    rows = []
    for server in DatabaseServer.objects.all():
        names = list(
            Orchestra.objects.filter(server=server)
            .exclude(database_name=None)
            .values_list("database_name", flat=True)
        )
        rows.append(
            ServerRow(
                name=server.name,
                kind=server.kind,
                region=server.region,
                server_class="dedicated" if server.dedicated else "shared",
                status=server.status,
                orchestras=len(names),
                size_bytes=_sizes(server, names),
            )
        )
    return rows


def get(name: str) -> DatabaseServer:
    server = DatabaseServer.objects.filter(name=name).first()
    if server is None:
        raise ServerRefused(f"no database server named {name!r}")
    return server


@dataclass
class DrainOutcome:
    subdomain: str
    to: str = ""
    report: str = ""
    error: str = ""


def drain(
    name: str, *, keep_days: float | None = None, report: Callable[[DrainOutcome], None] = print
) -> list[DrainOutcome]:
    """Stop placing orchestras on the server, then move each one away (one at a time)."""
    from stagesub.tenancy import move, placement

    server = get(name)
    if server.status == DatabaseServer.Status.ACTIVE:
        DatabaseServer.objects.filter(pk=server.pk).update(status=DatabaseServer.Status.DRAINING)
        audit.record("server.draining", actor_label="stagesub", server=name)
    outcomes = []
    for orchestra in Orchestra.objects.filter(server=server).select_related(
        "server", "placement_server"
    ):
        outcome = DrainOutcome(orchestra.subdomain)
        try:
            target = placement.place_move(orchestra)
            outcome.to = target.name
            result = move.move_orchestra(orchestra, target, keep_days=keep_days)
            outcome.report = result.summary()
        except Exception as exc:
            outcome.error = str(exc) or type(exc).__name__
        report(outcome)
        outcomes.append(outcome)
    return outcomes


def remove(name: str, *, actor=None) -> None:
    """Unregister a server nothing lives on any more (no orchestra, no kept database)."""
    server = get(name)
    with transaction.atomic():
        users = list(
            Orchestra.objects.filter(server=server)
            .order_by("subdomain")
            .values_list("subdomain", flat=True)
        )
        if users:
            raise ServerRefused(
                f"server {name} still holds {len(users)} orchestra(s): {', '.join(users)}; "
                f"run `stagesub servers drain {name}` first"
            )
        kept = list(
            RetiredDatabase.objects.filter(server=server, dropped_at__isnull=True).values_list(
                "database_name", flat=True
            )
        )
        if kept:
            raise ServerRefused(
                f"server {name} still keeps {len(kept)} retired database(s) in their grace "
                f"period: {', '.join(sorted(kept))}"
            )
        # Dropped databases are history; their audit events stay.
        RetiredDatabase.objects.filter(server=server).delete()
        server.delete()
        audit.record("server.removed", actor=actor, server=name)


def assign(name: str, subdomain: str, *, actor=None) -> None:
    """Let the orchestra be placed on this dedicated server (it moves there with move_orchestra)."""
    server = get(name)
    if not server.dedicated:
        raise ServerRefused(f"server {name} is shared: any orchestra may be placed there")
    orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
    if orchestra is None:
        raise ServerRefused(f"no orchestra {subdomain!r}")
    Orchestra.objects.filter(pk=orchestra.pk).update(placement_server=server)
    audit.record("server.assigned", actor=actor, orchestra=orchestra, server=name)


def unassign(subdomain: str, *, actor=None) -> None:
    orchestra = Orchestra.objects.filter(subdomain=subdomain).first()
    if orchestra is None:
        raise ServerRefused(f"no orchestra {subdomain!r}")
    if orchestra.server_id and orchestra.server.dedicated:
        raise ServerRefused(
            f"{subdomain} lives on dedicated server {orchestra.server.name}: move it first"
        )
    Orchestra.objects.filter(pk=orchestra.pk).update(placement_server=None)
    audit.record("server.unassigned", actor=actor, orchestra=orchestra)
