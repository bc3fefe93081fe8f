"""Where orchestra databases live: the embedded SQLite directory or a PostgreSQL server.

Each backend creates a database from a migrated template, drops it again, builds Django
connection settings for it, and reads its physical identity from a live connection.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import uuid
from pathlib import Path

from django.conf import settings

from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.urlconfig import database_settings

SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
    "transaction_mode": "IMMEDIATE",
}
# Owner of the objects in PostgreSQL templates; each new database hands them to its own role.
PG_TEMPLATE_OWNER = "stagesub_template_owner"


class ProvisioningError(RuntimeError):
    """A database could not be created, adopted or dropped; the message says why."""


def backend_for(server: DatabaseServer) -> SQLiteBackend | PostgresBackend:
    if server.kind == DatabaseServer.Kind.SQLITE:
        return SQLiteBackend(server)
    if server.kind == DatabaseServer.Kind.POSTGRESQL:
        return PostgresBackend(server)
    raise ProvisioningError(f"unknown database server kind {server.kind!r}")


def database_settings_for(orchestra: Orchestra) -> dict:
    if not orchestra.has_database:
        raise ProvisioningError(f"orchestra {orchestra.subdomain!r} has no database")
    return backend_for(orchestra.server).database_settings(orchestra)


def new_database_name(subdomain: str, suffix: str | None = None) -> str:
    """A fresh, never-reused name that still shows whose database it is."""
    suffix = suffix or uuid.uuid4().hex[:8]
    return f"stagesub_{subdomain.replace('-', '_')}_{suffix}"


class SQLiteBackend:
    kind = DatabaseServer.Kind.SQLITE

    def __init__(self, server: DatabaseServer):
        self.server = server
        self.directory = Path(server.url)

    def path(self, database_name: str) -> Path:
        path = (self.directory / database_name).resolve()
        if path.parent != self.directory.resolve():
            raise ProvisioningError(f"database name {database_name!r} escapes the data directory")
        return path

    def file_name(self, subdomain: str) -> str:
        return new_database_name(subdomain) + ".sqlite3"

    def settings_for_path(self, path: Path, *, create: bool = False) -> dict:
        """Connection settings; an orchestra's file is opened read-write only, never created.

        `create` is for building a template, the one database that comes into being by
        connecting (see tenancy.rw_sqlite3 for why orchestra files must not).
        """
        return {
            "ENGINE": "django.db.backends.sqlite3" if create else "stagesub.tenancy.rw_sqlite3",
            "NAME": str(path),
            "OPTIONS": dict(SQLITE_OPTIONS),
        }

    def database_settings(self, orchestra: Orchestra) -> dict:
        return self.settings_for_path(self.path(orchestra.database_name))

    def exists(self, database_name: str) -> bool:
        return self.path(database_name).exists()

    def create_from_template(self, database_name: str, template: Path) -> None:
        target = self.path(database_name)
        if target.exists():
            raise ProvisioningError(f"database file {target.name} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".partial")
        shutil.copyfile(template, tmp)
        os.replace(tmp, target)

    def drop(self, database_name: str) -> None:
        path = self.path(database_name)
        for candidate in (
            path,
            Path(f"{path}-wal"),
            Path(f"{path}-shm"),
            path.with_suffix(".partial"),
        ):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()


# PgBouncer's default port, for a server URL that names a pool host but no port.
PGBOUNCER_PORT = 6432


class PostgresBackend:
    """A PostgreSQL server; orchestra connections optionally through a PgBouncer in front of it.

    The server URL may carry the pooler's address as `?pool_host=...&pool_port=...`. Admin work
    (databases, roles, spares, templates, advisory locks) always goes straight to the server;
    only orchestra connections go through the pool, in transaction pooling mode, so they use
    nothing that lives in a session (see `_settings` and docs/operations.md, PgBouncer).
    """

    kind = DatabaseServer.Kind.POSTGRESQL

    def __init__(self, server: DatabaseServer):
        self.server = server
        self.admin_settings = database_settings(server.url)
        # Popped here so they never reach psycopg, which would refuse them as unknown options.
        options = self.admin_settings["OPTIONS"]
        pool_host = options.pop("pool_host", "").strip()
        pool_port = options.pop("pool_port", "").strip()
        if pool_port and not pool_host:
            raise ProvisioningError(f"database server {server.name!r}: pool_port without pool_host")
        if pool_port and not pool_port.isdigit():
            raise ProvisioningError(
                f"database server {server.name!r}: pool_port must be a number, not {pool_port!r}"
            )
        self.pool: tuple[str, str] | None = (
            (pool_host, pool_port or str(PGBOUNCER_PORT)) if pool_host else None
        )

    def _settings(self, name: str, user: str, password: str) -> dict:
        settings_dict = {
            **self.admin_settings,
            "NAME": name,
            "USER": user,
            "PASSWORD": password,
            "OPTIONS": with_timeouts(self.admin_settings["OPTIONS"], pooled=self.pool is not None),
        }
        if self.pool is not None:
            settings_dict["HOST"], settings_dict["PORT"] = self.pool
            # Transaction pooling hands each transaction whichever server connection is free:
            # a statement prepared or a cursor declared on one is missing on the next.
            settings_dict["OPTIONS"]["prepare_threshold"] = None
            settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
        return settings_dict

    def database_settings(self, orchestra: Orchestra) -> dict:
        from stagesub.crypto import decrypt_secret

        if orchestra.database_user:
            return self._settings(
                orchestra.database_name,
                orchestra.database_user,
                decrypt_secret(orchestra.database_password_encrypted),
            )
        # An adopted database given with full credentials in --database-url.
        return self._settings(
            orchestra.database_name, self.admin_settings["USER"], self.admin_settings["PASSWORD"]
        )

    def admin_settings_for(self, database_name: str) -> dict:
        return {**self.admin_settings, "NAME": database_name}

    def connect_admin(self, database_name: str = "postgres"):
        import psycopg

        s = self.admin_settings
        return psycopg.connect(
            dbname=database_name,
            user=s["USER"] or None,
            password=s["PASSWORD"] or None,
            host=s["HOST"] or None,
            port=s["PORT"] or None,
            autocommit=True,
            **s.get("OPTIONS", {}),
        )

    def exists(self, database_name: str) -> bool:
        with self.connect_admin() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [database_name]
                ).fetchone()
                is not None
            )

    def create_from_template(
        self, database_name: str, template: str, role: str, password: str
    ) -> None:
        from psycopg import sql

        with self.connect_admin() as conn:
            self._create_role(conn, role, password)
            from stagesub.tenancy.spares import take_spare

            if not take_spare(conn, database_name):
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY WAL_LOG").format(
                        sql.Identifier(database_name), sql.Identifier(template)
                    )
                )
            self._hand_over(conn, database_name, role)
        with self.connect_admin(database_name) as conn:
            # Tables in the template belong to the template owner; hand them to this
            # orchestra's role, and let it read the server identity for isolation checks.
            conn.execute(
                sql.SQL(
                    "REASSIGN OWNED BY {owner} TO {role};"
                    "GRANT EXECUTE ON FUNCTION pg_control_system() TO {role}"
                ).format(owner=sql.Identifier(PG_TEMPLATE_OWNER), role=sql.Identifier(role))
            )

    def create_empty(self, database_name: str, role: str, password: str) -> None:
        """An empty database owned by a new role of its own (a restore fills it)."""
        from psycopg import sql

        with self.connect_admin() as conn:
            self._create_role(conn, role, password)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name)))
            self._hand_over(conn, database_name, role)
        with self.connect_admin(database_name) as conn:
            conn.execute(
                sql.SQL(
                    "ALTER SCHEMA public OWNER TO {role};"
                    "GRANT EXECUTE ON FUNCTION pg_control_system() TO {role}"
                ).format(role=sql.Identifier(role))
            )

    @staticmethod
    def _create_role(conn, role: str, password: str) -> None:
        from psycopg import sql

        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        # Session settings belong to the role, not to the connection: a pooled connection
        # may not send `options`, and Django skips its SET TIME ZONE when the server
        # already reports UTC.
        conn.execute(sql.SQL("ALTER ROLE {} SET timezone = 'UTC'").format(sql.Identifier(role)))
        if settings.DB_STATEMENT_TIMEOUT:
            conn.execute(
                sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                    sql.Identifier(role),
                    sql.Literal(f"{int(settings.DB_STATEMENT_TIMEOUT * 1000)}ms"),
                )
            )

    @staticmethod
    def _hand_over(conn, database_name: str, role: str) -> None:
        from psycopg import sql

        conn.execute(
            sql.SQL(
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC;"
                "ALTER DATABASE {db} OWNER TO {role};"
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}"
            ).format(db=sql.Identifier(database_name), role=sql.Identifier(role))
        )

    def drop(self, database_name: str, role: str = "") -> None:
        from psycopg import sql

        with self.connect_admin() as conn:
            self._stop_creators(conn, database_name)
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database_name)
                )
            )
            if role:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    @staticmethod
    def _stop_creators(conn, database_name: str, wait: float = 10.0) -> None:
        """End sessions still creating (or renaming a spare into) this database.

        A provisioning process killed during CREATE DATABASE leaves its server session running
        until the copy is done; dropping "if exists" before then finds nothing, and the database
        appears afterwards, orphaned. Terminating the session aborts the creation instead.
        """
        import time

        creating = (
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND (query ILIKE 'CREATE DATABASE%%' OR query ILIKE 'ALTER DATABASE%%') "
            "AND strpos(query, %s) > 0"
        )
        pids = [row[0] for row in conn.execute(creating, [database_name]).fetchall()]
        if not pids:
            return
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            alive = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
            ).fetchone()[0]
            if not alive:
                return
            time.sleep(0.05)

    def role_exists(self, role: str) -> bool:
        with self.connect_admin() as conn:
            return (
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
                is not None
            )


def with_timeouts(options: dict, *, pooled: bool = False) -> dict:
    """PostgreSQL connection options with the configured connect and statement timeouts.

    A hung server then costs a request at most the connect timeout, a runaway query at most
    the statement timeout (settings.DB_CONNECT_TIMEOUT / DB_STATEMENT_TIMEOUT), instead of
    stalling a thread (and, through it, every orchestra that thread would serve next).
    Through PgBouncer (`pooled`) the `options` startup parameter is refused; the statement
    timeout then comes from the role (set at provisioning, see create_from_template).
    """
    options = dict(options)
    options.setdefault("connect_timeout", settings.DB_CONNECT_TIMEOUT)
    if pooled:
        options.pop("options", None)
    elif settings.DB_STATEMENT_TIMEOUT and "options" not in options:
        options["options"] = f"-c statement_timeout={int(settings.DB_STATEMENT_TIMEOUT * 1000)}"
    return options


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def embedded_server() -> DatabaseServer:
    """The SQLite data directory, registered as a database server on first use."""
    directory = Path(settings.DATA_DIR) / "orchestras"
    server = DatabaseServer.objects.filter(name="embedded").first()
    if server is None:
        server = DatabaseServer(name="embedded", kind=DatabaseServer.Kind.SQLITE, region="local")
        server.set_url(str(directory))
        server.save()
    elif server.url != str(directory):
        # The data directory moved (another STAGESUB_DATA_DIR): follow it.
        server.set_url(str(directory))
        server.save(update_fields=["url_encrypted"])
    return server


def configured_tenant_server() -> DatabaseServer | None:
    """The PostgreSQL server named by STAGESUB_TENANT_SERVER_URL, registered on first use."""
    url = settings.TENANT_SERVER_URL
    if not url:
        return None
    for server in DatabaseServer.objects.filter(
        kind=DatabaseServer.Kind.POSTGRESQL, name="primary"
    ):
        if server.url == url:
            return server
        server.set_url(url)
        server.save(update_fields=["url_encrypted"])
        return server
    server = DatabaseServer(name="primary", kind=DatabaseServer.Kind.POSTGRESQL)
    server.set_url(url)
    server.save()
    return server


def default_server() -> DatabaseServer:
    return configured_tenant_server() or embedded_server()
