"""Moving an orchestra's database to another server, behind a short maintenance window.

PostgreSQL, when the source can do logical replication (wal_level=logical, superuser):

1. a new role and an empty database owned by it on the target; the schema copied into it
   (pg_dump --schema-only | pg_restore, as the new role);
2. a publication FOR ALL TABLES in the source database, a subscription in the target one
   (copy_data): the engine copies the tables while the orchestra keeps serving, then streams
   every later change; wait until every table is in state "r" (ready);
3. maintenance page on (settled: no process writes any more); wait until the subscriber has
   confirmed the source's current WAL position; copy the sequences (logical replication does
   not carry them); drop subscription, replication slot and publication; compare the stamp and
   every table's row count; switch the routing (the old database is kept retired for the
   grace period, then dropped by the worker); maintenance page off.

Only step 3 is the window, and it does not grow with the size of the database. Where the source
cannot replicate logically, the whole database is copied inside the window (pg_dump |
pg_restore); the result says which method was used and why. SQLite: the file is copied with
the backup API while the source is held under its write lock (BEGIN IMMEDIATE).

Nothing is left behind when a move fails or is killed: before anything is created, the target
database is journalled as a RetiredDatabase row (reason "move-unfinished", no orchestra, so no
rollback can ever switch to it) whose name also names the publication, the subscription and the
replication slot. A failing move removes them at once; a killed one is cleaned up by the next
move of the orchestra or by the worker (`sweep_unfinished_moves`, every minute). The journal row
is deleted in the same transaction that switches the routing.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stagesub.tenancy import audit, operations
from stagesub.tenancy.backends import (
    PostgresBackend,
    SQLiteBackend,
    backend_for,
    generate_password,
    new_database_name,
)
from stagesub.tenancy.models import DatabaseServer, Orchestra, RetiredDatabase
from stagesub.tenancy.operations import Location, OperationRefused
from stagesub.tenancy.scheduler import periodic_job

logger = logging.getLogger("stagesub.fleet")

UNFINISHED = "move-unfinished"
LOGICAL = "logical replication"
DUMP = "dump and restore"
SQLITE_COPY = "SQLite backup under the write lock"

MOVE_STEPS: list[tuple[str, str]] = [
    ("prepare", "Checking and journalling the target"),
    ("create_database", "Creating the database and role on the target"),
    ("copy_schema", "Copying the schema"),
    ("publish", "Publishing the source's tables"),
    ("subscribe", "Subscribing on the target (the initial copy starts)"),
    ("sync", "Waiting for the initial copy"),
    ("maintenance", "Maintenance page on (waiting for every process to see it)"),
    ("catch_up", "Waiting for the last changes"),
    ("copy", "Copying the database"),
    ("verify", "Comparing stamp and row counts"),
    ("switch", "Switching the routing"),
]

Step = Callable[[str], None]


class MoveRefused(OperationRefused):
    """The move cannot start as asked (target draining, unreachable, wrong class, ...)."""


class MoveFailed(RuntimeError):
    """The move stopped part-way; everything it created was removed, the source still serves."""


@dataclass
class MoveResult:
    subdomain: str
    source: str
    target: str
    method: str
    fallback_reason: str = ""
    # Seconds the host answered the maintenance page; `settle_seconds` of it was waiting for
    # every process's routing cache, the rest (`paused_seconds`) the copy/catch-up and switch.
    window_seconds: float = 0.0
    settle_seconds: float = 0.0
    total_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def paused_seconds(self) -> float:
        return self.window_seconds - self.settle_seconds

    def summary(self) -> str:
        why = f" ({self.fallback_reason})" if self.fallback_reason else ""
        return (
            f"{self.subdomain}: {self.source} -> {self.target} by {self.method}{why}; "
            f"maintenance window {self.window_seconds:.2f} s (routing caches "
            f"{self.settle_seconds:.2f} s, writes paused for copy and switch "
            f"{self.paused_seconds:.2f} s), {sum(self.rows.values())} rows, "
            f"{self.total_seconds:.1f} s in all"
        )


def check_target(orchestra: Orchestra, target: DatabaseServer) -> None:
    """Refuse a move that cannot work or must not happen, before anything is created."""
    from stagesub.tenancy.servers import ServerRefused, probe

    if not orchestra.has_database or orchestra.status not in (
        Orchestra.Status.ACTIVE,
        Orchestra.Status.SUSPENDED,
    ):
        raise MoveRefused(f"{orchestra.subdomain} is {orchestra.status}: nothing to move")
    if orchestra.server_id == target.pk:
        raise MoveRefused(f"{orchestra.subdomain} is already on server {target.name}")
    if target.status != DatabaseServer.Status.ACTIVE:
        raise MoveRefused(f"server {target.name} is {target.status}: it takes no orchestras")
    if target.dedicated and orchestra.placement_server_id != target.pk:
        raise MoveRefused(
            f"server {target.name} is dedicated to other orchestras (wrong class); "
            f"assign it first: stagesub servers assign {target.name} {orchestra.subdomain}"
        )
    if target.kind != orchestra.server.kind:
        raise MoveRefused(
            f"server {target.name} is {target.get_kind_display()}, {orchestra.subdomain} is on "
            f"{orchestra.server.get_kind_display()}: moves stay within one kind"
        )
    try:
        probe(target)
    except ServerRefused as exc:
        raise MoveRefused(str(exc)) from None


def move_orchestra(
    orchestra: Orchestra,
    target: DatabaseServer,
    *,
    keep_days: float | None = None,
    force_dump: bool = False,
    step: Step | None = None,
) -> MoveResult:
    """Move the orchestra's database to `target`; refused or failed moves leave nothing."""
    keep_days = settings.MOVE_KEEP_DAYS if keep_days is None else keep_days
    notify = step or (lambda key: None)
    started = time.monotonic()
    notify("prepare")
    # The caller's object may be older than the last move or restore: decide on the row.
    orchestra = Orchestra.objects.select_related("server").get(pk=orchestra.pk)
    target = DatabaseServer.objects.get(pk=target.pk)
    check_target(orchestra, target)
    with operations.exclusive_operation(orchestra, "move") as current:
        check_target(current, target)
        clean_up_unfinished(current.subdomain)
        journal = _journal(current, target)
        try:
            if target.kind == DatabaseServer.Kind.SQLITE:
                result = _move_sqlite(current, journal, keep_days, notify)
            else:
                result = _move_postgres(current, journal, keep_days, force_dump, notify)
        except BaseException:
            try:
                # Only while the journal row exists: once it is gone, the switch committed
                # and the target is the orchestra's live database.
                if RetiredDatabase.objects.filter(pk=journal.pk).exists():
                    _discard(journal)
            except Exception:
                logger.exception(
                    "could not remove the unfinished move of %s yet; the worker retries",
                    current.subdomain,
                )
            raise
    result.total_seconds = time.monotonic() - started
    audit.record(
        "fleet.moved",
        orchestra=current,
        actor_label="stagesub",
        source=result.source,
        target=result.target,
        method=result.method,
        fallback_reason=result.fallback_reason,
        window_seconds=round(result.window_seconds, 3),
        settle_seconds=round(result.settle_seconds, 3),
    )
    return result


def _journal(orchestra: Orchestra, target: DatabaseServer) -> RetiredDatabase:
    from stagesub.crypto import encrypt_secret

    if target.kind == DatabaseServer.Kind.SQLITE:
        name, user, password = SQLiteBackend(target).file_name(orchestra.subdomain), "", ""
    else:
        name = new_database_name(orchestra.subdomain)
        user, password = name, encrypt_secret(generate_password())
    stale = datetime.timedelta(seconds=settings.FLEET_OPERATION_STALE_AFTER)
    return RetiredDatabase.objects.create(
        orchestra=None,
        orchestra_label=orchestra.subdomain,
        server=target,
        database_name=name,
        database_user=user,
        database_password_encrypted=password,
        reason=UNFINISHED,
        # Normally removed long before (by the move itself or sweep_unfinished_moves); the
        # worker's drop of due retired databases is only the last resort.
        drop_after=timezone.now() + stale,
    )


@dataclass
class _Window:
    """Times the maintenance window: from the flag on to the flag off."""

    start: float = 0.0
    settled: float = 0.0
    end: float = 0.0


class _timed_maintenance:
    def __init__(self, orchestra: Orchestra, window: _Window):
        self.orchestra, self.window = orchestra, window

    def __enter__(self):
        self.window.start = time.monotonic()
        self.context = operations.maintenance(self.orchestra, "move")
        self.context.__enter__()
        self.window.settled = time.monotonic()

    def __exit__(self, *exc):
        try:
            return self.context.__exit__(*exc)
        finally:
            self.window.end = time.monotonic()


def _switch(orchestra: Orchestra, journal: RetiredDatabase, identity: str, keep_days: float):
    location = Location(
        server=journal.server,
        database_name=journal.database_name,
        database_user=journal.database_user,
        database_password_encrypted=journal.database_password_encrypted,
        physical_identity=identity,
    )
    with transaction.atomic():
        # The journal and the switch commit together: never a routed database still journalled
        # as unfinished, never a finished move without its routing.
        RetiredDatabase.objects.filter(pk=journal.pk).delete()
        operations.switch_database(orchestra, location, reason="move", keep_days=keep_days)


def _compare(orchestra: Orchestra, source: dict[str, int], target: dict[str, int], stamp: str):
    if stamp != orchestra.id.hex:
        raise MoveFailed(
            f"the copy carries the stamp {stamp or '(none)'}, not {orchestra.id.hex}; not switched"
        )
    different = sorted(
        f"{table}: {source.get(table)} on the source, {target.get(table)} on the target"
        for table in set(source) | set(target)
        if source.get(table) != target.get(table)
    )
    if different:
        raise MoveFailed("row counts differ, not switched: " + "; ".join(different))


# --- SQLite ------------------------------------------------------------------------------------


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _stamp_table() -> str:
    from stagesub.orchestra.models import DatabaseStamp

    return DatabaseStamp._meta.db_table


def _move_sqlite(orchestra: Orchestra, journal: RetiredDatabase, keep_days: float, step: Step):
    source_path = SQLiteBackend(orchestra.server).path(orchestra.database_name)
    backend = SQLiteBackend(journal.server)
    target_path = backend.path(journal.database_name)
    partial = target_path.with_suffix(".partial")
    window = _Window()
    result = MoveResult(
        orchestra.subdomain, orchestra.server.name, journal.server.name, SQLITE_COPY
    )
    step("maintenance")
    with _timed_maintenance(orchestra, window):
        step("copy")
        # The write lock, held on a connection of its own (SQLite's backup cannot read through
        # a connection in a write transaction): a straggler that has not seen the maintenance
        # flag waits instead of writing into a database already copied. WAL lets the copy read.
        lock = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True, timeout=30)
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
        try:
            lock.execute("BEGIN IMMEDIATE")
            copy = sqlite3.connect(partial)
            try:
                # No rollback journal beside the partial file: a move killed mid-copy leaves
                # only the `.partial` file, which dropping the journalled target removes.
                copy.execute("PRAGMA journal_mode=MEMORY")
                source.backup(copy)
            finally:
                copy.close()
            os.replace(partial, target_path)
            step("verify")
            target = sqlite3.connect(f"file:{target_path}?mode=ro", uri=True)
            try:
                result.rows = _sqlite_counts(target)
                row = target.execute(f'SELECT orchestra_id FROM "{_stamp_table()}"').fetchone()
            finally:
                target.close()
            _compare(orchestra, _sqlite_counts(source), result.rows, _hex(row[0] if row else ""))
            stat = target_path.stat()
            step("switch")
            _switch(orchestra, journal, f"sqlite:{stat.st_dev}:{stat.st_ino}", keep_days)
        finally:
            source.close()
            lock.close()
    result.window_seconds = window.end - window.start
    result.settle_seconds = window.settled - window.start
    return result


def _hex(value) -> str:
    return str(value).replace("-", "") if value else ""


# --- PostgreSQL --------------------------------------------------------------------------------


def client_binary(name: str) -> str:
    """pg_dump/pg_restore of the server's version (pgserver's), else the one on PATH."""
    try:
        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise MoveFailed(f"{name} not found (install the PostgreSQL client binaries)")
    return found


def _conninfo(backend: PostgresBackend, dbname: str, *, user: str = "", password=None) -> str:
    s = backend.admin_settings
    params = {
        "dbname": dbname,
        "user": user or s["USER"],
        "host": s["HOST"],
        "port": s["PORT"],
        "password": s["PASSWORD"] if password is None else password,
        **{k: v for k, v in s.get("OPTIONS", {}).items() if k.startswith("ssl")},
    }

    def quote(value) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={quote(v)}" for k, v in params.items() if v not in ("", None))


def _run_pipe(dump: list[str], dump_env: dict, restore: list[str], restore_env: dict) -> None:
    with subprocess.Popen(
        dump, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dump_env
    ) as producer:
        consumer = subprocess.run(
            restore, stdin=producer.stdout, capture_output=True, env=restore_env, check=False
        )
        producer.stdout.close()
        dump_error = producer.stderr.read().decode(errors="replace")
        producer.wait()
    if producer.returncode != 0:
        raise MoveFailed(f"pg_dump failed: {dump_error.strip()[-2000:]}")
    if consumer.returncode != 0:
        raise MoveFailed(f"pg_restore failed: {consumer.stderr.decode(errors='replace')[-2000:]}")


def _copy_database(
    source: PostgresBackend, source_db: str, target: PostgresBackend, journal, *, schema_only
) -> None:
    from stagesub.crypto import decrypt_secret

    dump = [
        client_binary("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--no-publications",
        "--no-subscriptions",
        *(["--schema-only"] if schema_only else []),
        "--dbname",
        _conninfo(source, source_db, password=""),
    ]
    restore = [
        client_binary("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        _conninfo(target, journal.database_name, user=journal.database_user, password=""),
    ]
    # Passwords through the environment, not the command line (ps shows that to everyone).
    base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    _run_pipe(
        dump,
        {**base, "PGPASSWORD": source.admin_settings["PASSWORD"] or ""},
        restore,
        {**base, "PGPASSWORD": decrypt_secret(journal.database_password_encrypted)},
    )


def _create_empty_database(backend: PostgresBackend, journal: RetiredDatabase) -> None:
    """A new role and an empty database it owns, with the settings provisioning gives roles."""
    from psycopg import sql

    from stagesub.crypto import decrypt_secret

    role = sql.Identifier(journal.database_user)
    db = sql.Identifier(journal.database_name)
    password = decrypt_secret(journal.database_password_encrypted)
    with backend.connect_admin() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password))
        )
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(db, role))
        conn.execute(
            sql.SQL(
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC;"
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role};"
                "ALTER ROLE {role} SET timezone = 'UTC'"
            ).format(db=db, role=role)
        )
        if settings.DB_STATEMENT_TIMEOUT:
            conn.execute(
                sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                    role, sql.Literal(f"{int(settings.DB_STATEMENT_TIMEOUT * 1000)}ms")
                )
            )


def _grant_identity_reading(backend: PostgresBackend, journal: RetiredDatabase) -> None:
    from psycopg import sql

    with backend.connect_admin(journal.database_name) as conn:
        # Isolation checks read the server identity as the orchestra's own role.
        conn.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION pg_control_system() TO {}").format(
                sql.Identifier(journal.database_user)
            )
        )


def logical_replication_unavailable(source: PostgresBackend, target: PostgresBackend) -> str:
    """Why the move cannot use logical replication ("" when it can)."""
    for label, backend in (("source", source), ("target", target)):
        with backend.connect_admin() as conn:
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
            superuser = conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()[0]
        if label == "source" and wal_level != "logical":
            return f"the source server's wal_level is {wal_level}, not logical"
        if not superuser:
            return f"the {label} server's user is not a superuser"
    return ""


def _pg_counts(conn) -> dict[str, int]:
    from psycopg import sql

    tables = [
        r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in tables
    }


def _wait(what: str, timeout: float, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise MoveFailed(f"{what} did not finish within {timeout:.0f} s")
        time.sleep(0.02)


def _move_postgres(
    orchestra: Orchestra, journal: RetiredDatabase, keep_days: float, force_dump: bool, step: Step
) -> MoveResult:
    from psycopg import sql

    source = PostgresBackend(orchestra.server)
    target = PostgresBackend(journal.server)
    source_db, name = orchestra.database_name, journal.database_name
    step("create_database")
    _create_empty_database(target, journal)
    reason = (
        "dump and restore was asked for"
        if force_dump
        else logical_replication_unavailable(source, target)
    )
    result = MoveResult(
        orchestra.subdomain,
        orchestra.server.name,
        journal.server.name,
        DUMP if reason else LOGICAL,
        fallback_reason=reason,
    )
    window = _Window()
    if reason:
        step("maintenance")
        with _timed_maintenance(orchestra, window):
            _drain_transactions(source, source_db)
            step("copy")
            _copy_database(source, source_db, target, journal, schema_only=False)
            _grant_identity_reading(target, journal)
            result.rows = _verify_and_switch(orchestra, source, target, journal, keep_days, step)
    else:
        step("copy_schema")
        _copy_database(source, source_db, target, journal, schema_only=True)
        _grant_identity_reading(target, journal)
        ident = sql.Identifier(name)
        step("publish")
        with source.connect_admin(source_db) as conn:
            conn.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(ident))
        step("subscribe")
        with target.connect_admin(name) as conn:
            # synchronous_commit: the subscriber reports a change as applied once it is durable
            # here, so the confirmed position below means "safe to switch".
            conn.execute(
                sql.SQL(
                    "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} "
                    "WITH (copy_data = true, synchronous_commit = 'on')"
                ).format(ident, sql.Literal(_conninfo(source, source_db)), ident)
            )
        step("sync")
        with target.connect_admin(name) as conn:

            def synced() -> bool:
                # A failing table copy retries for ever: stop at the first error instead.
                errors = conn.execute(
                    "SELECT sync_error_count + apply_error_count FROM pg_stat_subscription_stats "
                    "WHERE subname = %s",
                    [name],
                ).fetchone()
                if errors and errors[0]:
                    raise MoveFailed(
                        "logical replication reported errors during the initial copy (see the "
                        "target server's log)"
                    )
                return conn.execute(
                    "SELECT count(*) > 0 AND bool_and(r.srsubstate = 'r') FROM pg_subscription_rel r "
                    "JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = %s",
                    [name],
                ).fetchone()[0]

            _wait("the initial copy", settings.MOVE_SYNC_TIMEOUT, synced)
        step("maintenance")
        with _timed_maintenance(orchestra, window):
            step("catch_up")
            _drain_transactions(source, source_db)
            with source.connect_admin(source_db) as conn:
                position = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
                _wait(
                    "catching up with the last changes",
                    settings.MOVE_CATCH_UP_TIMEOUT,
                    lambda: conn.execute(
                        "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
                        "WHERE slot_name = %s",
                        [position, name],
                    ).fetchone()[0],
                )
                sequences = conn.execute(
                    "SELECT schemaname, sequencename, last_value FROM pg_sequences "
                    "WHERE last_value IS NOT NULL"
                ).fetchall()
            with target.connect_admin(name) as conn:
                for schema_name, sequence, value in sequences:
                    conn.execute(
                        "SELECT setval(format('%%I.%%I', %s::text, %s::text)::regclass, %s, true)",
                        [schema_name, sequence, value],
                    )
            _end_replication(orchestra.server, source_db, journal)
            result.rows = _verify_and_switch(orchestra, source, target, journal, keep_days, step)
    result.window_seconds = window.end - window.start
    result.settle_seconds = window.settled - window.start
    return result


def _drain_transactions(source: PostgresBackend, database: str) -> int:
    """Let the transactions open on the source finish, then end those still open.

    The maintenance page stops new requests, but one already running may still commit on the
    source after the copy's snapshot or the last WAL position is read, and its answer would be
    acknowledged yet missing from the moved database. Each is given STAGESUB_MOVE_DRAIN_SECONDS;
    one still open then is terminated, so it fails (and is never acknowledged) instead.
    Returns how many were terminated.
    """
    open_transactions = (
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' AND xact_start IS NOT NULL"
    )
    deadline = time.monotonic() + settings.MOVE_DRAIN_SECONDS
    with source.connect_admin(database) as conn:
        while pids := [row[0] for row in conn.execute(open_transactions, [database])]:
            if time.monotonic() >= deadline:
                for pid in pids:
                    conn.execute("SELECT pg_terminate_backend(%s)", [pid])
                logger.warning(
                    "move: ended %d transaction(s) still open on %s after %.1f s",
                    len(pids),
                    database,
                    settings.MOVE_DRAIN_SECONDS,
                )
                return len(pids)
            time.sleep(0.02)
    return 0


def _verify_and_switch(orchestra, source, target, journal, keep_days, step) -> dict[str, int]:
    step("verify")
    with source.connect_admin(orchestra.database_name) as conn:
        source_counts = _pg_counts(conn)
    with target.connect_admin(journal.database_name) as conn:
        target_counts = _pg_counts(conn)
        row = conn.execute(f'SELECT orchestra_id FROM "{_stamp_table()}"').fetchone()
        system_identifier, oid = conn.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system()), oid "
            "FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    _compare(orchestra, source_counts, target_counts, _hex(row[0] if row else ""))
    step("switch")
    _switch(orchestra, journal, f"postgresql:{system_identifier}:{oid}", keep_days)
    return target_counts


# --- cleaning up -------------------------------------------------------------------------------


def _end_replication(source_server: DatabaseServer | None, source_db: str | None, journal) -> None:
    """Drop the subscription (target), the replication slot and the publication (source).

    Each exists or not depending on where a move stopped; each drop is idempotent. The
    subscription is detached from its slot first, so dropping it needs no source connection.
    """
    from psycopg import sql

    name = journal.database_name
    ident = sql.Identifier(name)
    target = PostgresBackend(journal.server)
    target_error = None
    try:
        if target.exists(name):
            with target.connect_admin(name) as conn:
                if conn.execute(
                    "SELECT 1 FROM pg_subscription WHERE subname = %s", [name]
                ).fetchone():
                    conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
                    conn.execute(
                        sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(ident)
                    )
                    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))
    except Exception as exc:
        # Target down: still free the source's slot now (it holds back the source's WAL).
        target_error = exc
    if source_server is not None and source_server.kind == DatabaseServer.Kind.POSTGRESQL:
        _drop_slot_and_publication(source_server, source_db, name)
    if target_error is not None:
        raise target_error


def _drop_slot_and_publication(source_server: DatabaseServer, source_db: str | None, name: str):
    from psycopg import sql

    ident = sql.Identifier(name)
    source = PostgresBackend(source_server)
    with source.connect_admin() as conn:
        slots = [name]
        if source_db:
            # The table-synchronisation slots a subscription makes during its initial copy
            # (pg_<subscription>_sync_<table>_<system>) are its workers' to remove; a move
            # stopped mid-copy can leave one behind in the source database.
            slots += [
                row[0]
                for row in conn.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE database = %s "
                    "AND slot_name LIKE 'pg\\_%%\\_sync\\_%%'",
                    [source_db],
                ).fetchall()
            ]
        for slot_name in slots:
            _drop_slot(conn, slot_name)
    if source_db and source.exists(source_db):
        with source.connect_admin(source_db) as conn:
            conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(ident))


def _drop_slot(conn, name: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        slot = conn.execute(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [name]
        ).fetchone()
        if slot is None:
            return
        if slot[0] is not None:
            # The walsender of the dropped subscription may not have noticed yet.
            conn.execute("SELECT pg_terminate_backend(%s)", [slot[0]])
        try:
            conn.execute("SELECT pg_drop_replication_slot(%s)", [name])
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _discard(journal: RetiredDatabase) -> None:
    """Remove everything an unfinished move created, then its journal row."""
    orchestra = (
        Orchestra.objects.select_related("server").filter(subdomain=journal.orchestra_label).first()
    )
    if Orchestra.objects.filter(
        server=journal.server, database_name=journal.database_name
    ).exists():
        # Fail closed: never drop a database some orchestra is routed to.
        RetiredDatabase.objects.filter(pk=journal.pk).delete()
        raise MoveFailed(f"{journal.database_name} is in use: journal entry removed, not dropped")
    backend = backend_for(journal.server)
    if isinstance(backend, PostgresBackend):
        # The source is the orchestra's current database: the journal row goes away in the
        # transaction that would have switched it.
        _end_replication(
            orchestra.server if orchestra else None,
            orchestra.database_name if orchestra else None,
            journal,
        )
        backend.drop(journal.database_name, journal.database_user)
    else:
        backend.drop(journal.database_name)
    RetiredDatabase.objects.filter(pk=journal.pk).delete()
    audit.record(
        "fleet.move_discarded",
        orchestra=orchestra,
        actor_label="stagesub",
        server=journal.server.name,
        database=journal.database_name,
    )


def unfinished(subdomain: str | None = None):
    rows = RetiredDatabase.objects.filter(reason=UNFINISHED, dropped_at__isnull=True)
    if subdomain is not None:
        rows = rows.filter(orchestra_label=subdomain)
    return rows.select_related("server")


def clean_up_unfinished(subdomain: str) -> int:
    """Remove what earlier, killed moves of this orchestra left (caller holds its operation)."""
    journals = list(unfinished(subdomain))
    for journal in journals:
        _discard(journal)
    return len(journals)


def sweep_unfinished_moves() -> list[str]:
    """Clean up killed moves of orchestras no operation is running on (a worker job)."""
    swept = []
    for journal in unfinished():
        busy = (
            Orchestra.objects.filter(subdomain=journal.orchestra_label)
            .exclude(operation="")
            .exists()
        )
        if busy:
            continue  # a move still running, or a dead one housekeeping has not released yet
        try:
            _discard(journal)
            swept.append(journal.database_name)
        except Exception:
            logger.exception("could not remove the unfinished move %s", journal.database_name)
    return swept


@periodic_job("tenancy.unfinished_moves", interval=lambda: 60.0)
def _sweep_job() -> str:
    return f"{len(sweep_unfinished_moves())} unfinished move(s) cleaned up"
