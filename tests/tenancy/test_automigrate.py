"""Deploys migrate by themselves: an orchestra whose recorded schema is older than the code gets
the maintenance page until the worker has migrated it, never new code on an old schema.

"Code newer than the database" is made for real: the orchestra's latest migration is unapplied
in its database and its recorded fingerprint set to an older value, which is what a deploy with
one new migration looks like to the platform. A lock held by the test keeps the migration
waiting, so requests made while it runs can be checked.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import connections as django_connections
from django.db.migrations.executor import MigrationExecutor

from stagesub.tenancy import automigrate, operations
from stagesub.tenancy.backends import backend_for
from stagesub.tenancy.binding import directory, use_orchestra
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.due import due_orchestras
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import DatabaseServer, MigrationState, Orchestra
from stagesub.tenancy.scheduler import run_due_jobs
from tests.conftest import host_client

PREVIOUS = ("orchestra", "0002_id_sequences")
TABLE = "orchestra_orchestrasettings"


def _after(node: tuple[str, str]) -> list[str]:
    """The orchestra app's migrations after `node`, in order (what a deploy from there applies)."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    plan = [n for n in graph.forwards_plan(graph.leaf_nodes("orchestra")[0]) if n[0] == "orchestra"]
    return [".".join(n) for n in plan[plan.index(node) + 1 :]]


def _as_before_the_deploy(orchestra: Orchestra) -> None:
    """The orchestra's database lacks the newest migration and its record says an old schema."""
    with use_orchestra(orchestra):
        alias = current_binding().alias
        MigrationExecutor(django_connections[alias]).migrate([PREVIOUS])
        django_connections[alias].close()
    MigrationState.objects.filter(orchestra=orchestra).update(applied_fingerprint="0ld")
    directory.forget()


def _has_table(orchestra: Orchestra, table: str) -> bool:
    with use_orchestra(orchestra):
        connection = django_connections[current_binding().alias]
        return table in connection.introspection.table_names()


def _execute(orchestra: Orchestra, statement: str) -> None:
    with use_orchestra(orchestra):
        connection = django_connections[current_binding().alias]
        with connection.cursor() as cursor:
            cursor.execute(statement)
        connection.close()


class _WriteLock:
    """Holds the orchestra database's write lock (SQLite) or django_migrations (PostgreSQL)."""

    def __init__(self, orchestra: Orchestra):
        self.orchestra = orchestra

    def __enter__(self):
        server = self.orchestra.server
        if server.kind == DatabaseServer.Kind.SQLITE:
            path = backend_for(server).directory / self.orchestra.database_name
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn = backend_for(server).connect_admin(self.orchestra.database_name)
            self.conn.execute("BEGIN")
            self.conn.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc):
        if self.orchestra.server.kind == DatabaseServer.Kind.SQLITE:
            self.conn.execute("ROLLBACK")
        else:
            self.conn.rollback()
        self.conn.close()


@pytest.mark.django_db(transaction=True)
def test_requests_get_the_maintenance_page_until_the_worker_has_migrated(make_orchestra, settings):
    orchestra = make_orchestra()
    client = host_client(orchestra)
    assert client.get("/login/").status_code == 200
    _as_before_the_deploy(orchestra)
    response = client.get("/login/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert not _has_table(orchestra, TABLE)
    outcomes = []
    with _WriteLock(orchestra):
        worker = threading.Thread(
            target=lambda: (
                outcomes.extend(automigrate.migrate_behind(settle=False)),
                django_connections.close_all(),
            )
        )
        worker.start()
        deadline = time.monotonic() + 10
        while Orchestra.objects.get(pk=orchestra.pk).maintenance_reason != "migration":
            assert time.monotonic() < deadline, "the migration never started"
            time.sleep(0.02)
        time.sleep(0.3)  # the migration is now waiting for the test's lock
        assert worker.is_alive()
        response = client.get("/login/")
        assert response.status_code == 503 and response["Retry-After"] == "30"
    worker.join(30)
    assert [(o.orchestra.subdomain, o.status, o.applied) for o in outcomes] == [
        (orchestra.subdomain, "migrated", _after(PREVIOUS))
    ]
    state = MigrationState.objects.get(orchestra=orchestra)
    assert state.applied_fingerprint == automigrate.schema.current_fingerprint()
    assert Orchestra.objects.get(pk=orchestra.pk).maintenance_reason == ""
    assert _has_table(orchestra, TABLE)
    assert client.get("/login/").status_code == 200
    assert verify_isolation().exit_code == 0


def test_the_worker_job_migrates_and_can_be_turned_off(goteborg, settings):
    _as_before_the_deploy(goteborg)
    settings.AUTO_MIGRATE = False
    assert dict(run_due_jobs())["tenancy.auto_migrate"] == "off"
    assert automigrate.orchestras_behind() == [goteborg]
    assert host_client(goteborg).get("/login/").status_code == 503
    settings.AUTO_MIGRATE = True
    directory.ttl, ttl = 0.0, directory.ttl  # no settle wait in the test
    try:
        from stagesub.tenancy.models import PeriodicRun

        PeriodicRun.objects.filter(name="tenancy.auto_migrate").delete()
        assert dict(run_due_jobs())["tenancy.auto_migrate"] == "1 orchestra(s) migrated"
    finally:
        directory.ttl = ttl
    assert automigrate.orchestras_behind() == []
    assert host_client(goteborg).get("/login/").status_code == 200


def test_a_failed_migration_keeps_the_maintenance_page_and_is_retried(goteborg):
    _as_before_the_deploy(goteborg)
    # A table in the way makes the migration fail for real.
    _execute(goteborg, f"CREATE TABLE {TABLE} (x integer)")
    [outcome] = automigrate.migrate_behind(settle=False)
    assert outcome.status == "failed"
    state = MigrationState.objects.get(orchestra=goteborg)
    assert state.status == MigrationState.Status.FAILED and state.applied_fingerprint == "0ld"
    assert Orchestra.objects.get(pk=goteborg.pk).maintenance_reason == ""
    directory.forget()
    assert host_client(goteborg).get("/login/").status_code == 503  # still behind: never served
    _execute(goteborg, f"DROP TABLE {TABLE}")
    [outcome] = automigrate.migrate_behind(settle=False)
    assert outcome.status == "migrated"
    directory.forget()
    assert host_client(goteborg).get("/login/").status_code == 200


def test_an_orchestra_busy_with_another_operation_waits_for_the_next_pass(goteborg):
    _as_before_the_deploy(goteborg)
    with operations.exclusive_operation(goteborg, "backup"):
        assert automigrate.migrate_behind(settle=False) == []
    assert automigrate.orchestras_behind() == [goteborg]
    [outcome] = automigrate.migrate_behind(settle=False)
    assert outcome.status == "migrated"


def test_the_scheduler_leaves_an_orchestra_behind_the_code_alone(goteborg):
    from django.utils import timezone

    Orchestra.objects.filter(pk=goteborg.pk).update(next_due_at=timezone.now())
    assert list(due_orchestras(timezone.now())) == [goteborg]
    MigrationState.objects.filter(orchestra=goteborg).update(applied_fingerprint="0ld")
    assert list(due_orchestras(timezone.now())) == []
