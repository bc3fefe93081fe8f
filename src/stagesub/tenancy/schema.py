"""Orchestra schema: migration fingerprint, applying migrations to one database, and templates.

New orchestra databases are copies of a template database migrated to the current fingerprint
(SQLite: a file copy; PostgreSQL: CREATE DATABASE ... TEMPLATE), so provisioning does not replay
every migration. The fingerprint names the set of orchestra migrations on disk; a template or an
orchestra recorded with the current fingerprint needs no migration.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pkgutil
from functools import lru_cache
from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.db import connections as django_connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from stagesub.tenancy import connections
from stagesub.tenancy.backends import PG_TEMPLATE_OWNER, PostgresBackend, SQLiteBackend
from stagesub.tenancy.context import Binding, bind
from stagesub.tenancy.sides import is_orchestra_app


@lru_cache(maxsize=1)
def orchestra_migrations_on_disk() -> tuple[tuple[str, str], ...]:
    """(app, migration name) of every orchestra migration file, found as MigrationLoader finds
    them (the modules of each app's migrations package) but without importing them: a run of
    `migrate_orchestras` with nothing pending needs only the names."""
    found = []
    for config in apps.get_app_configs():
        if not is_orchestra_app(config.label):
            continue
        module_name, _explicit = MigrationLoader.migrations_module(config.label)
        if module_name is None:
            continue
        try:
            package = import_module(module_name)
        except ModuleNotFoundError:
            continue
        if not hasattr(package, "__path__"):
            continue
        found.extend(
            (config.label, name)
            for _finder, name, is_package in pkgutil.iter_modules(package.__path__)
            if not is_package and name[0] not in "_~"
        )
    return tuple(sorted(found))


def current_fingerprint() -> str:
    digest = hashlib.sha256(repr(orchestra_migrations_on_disk()).encode()).hexdigest()
    return digest[:16]


def _targets(executor: MigrationExecutor) -> list[tuple[str, str]]:
    return [key for key in executor.loader.graph.leaf_nodes() if is_orchestra_app(key[0])]


def pending_migrations(alias: str) -> list[str]:
    """Orchestra migrations not yet applied to the (bound) database behind `alias`."""
    executor = MigrationExecutor(django_connections[alias])
    return [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(_targets(executor))]


def migrate(alias: str) -> list[str]:
    """Apply pending orchestra migrations to the bound database; returns what was applied."""
    executor = MigrationExecutor(django_connections[alias])
    targets = _targets(executor)
    plan = executor.migration_plan(targets)
    if plan:
        executor.migrate(targets, plan=plan)
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def _build(alias: str, database: dict) -> None:
    connections.register(alias, database)
    try:
        with bind(
            Binding(orchestra_id=None, subdomain="(template)", alias=alias, check_stamp=False)
        ):
            migrate(alias)
            if django_connections[alias].vendor == "sqlite":
                with django_connections[alias].cursor() as cursor:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            django_connections[alias].close()
    finally:
        with contextlib.suppress(KeyError):
            connections.forget_in_this_thread(alias)
            del django_connections.settings[alias]


def sqlite_template(backend: SQLiteBackend) -> Path:
    """Path of the migrated SQLite template for the current fingerprint (built on first need)."""
    fingerprint = current_fingerprint()
    folder = backend.directory / "templates"
    path = folder / f"orchestra-{fingerprint}.sqlite3"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time, across processes
        if path.exists():
            return path
        building = folder / f"orchestra-{fingerprint}.building"
        for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            stale.unlink(missing_ok=True)
        _build(
            f"{connections.ALIAS_PREFIX}template_{fingerprint}",
            backend.settings_for_path(building, create=True),
        )
        os.replace(building, path)
        for old in folder.glob("orchestra-*.sqlite3*"):
            if not old.name.startswith(f"orchestra-{fingerprint}"):
                old.unlink(missing_ok=True)
    return path


def pg_template(backend: PostgresBackend) -> str:
    """Name of the migrated PostgreSQL template database for the current fingerprint."""
    from psycopg import sql

    fingerprint = current_fingerprint()
    name = f"stagesub_template_{fingerprint}"
    with backend.connect_admin() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('stagesub_template'))")
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return name
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [PG_TEMPLATE_OWNER]
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(PG_TEMPLATE_OWNER))
                )
            building = f"{name}_building"
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(building))
            )
            with backend.connect_admin(building) as tconn:
                tconn.execute(
                    sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(
                        sql.Identifier(PG_TEMPLATE_OWNER)
                    )
                )
            # Migrate as the template owner, so every object can be handed to a new role later.
            settings = backend.admin_settings_for(building)
            settings["OPTIONS"] = {
                **settings.get("OPTIONS", {}),
                "options": f"-c role={PG_TEMPLATE_OWNER}",
            }
            _build(f"{connections.ALIAS_PREFIX}template_{fingerprint}", settings)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(name)
                )
            )
            old = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'stagesub\\_template\\_%%' AND datname <> %s",
                [name],
            ).fetchall()
            for (old_name,) in old:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(old_name)
                    )
                )
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('stagesub_template'))")
