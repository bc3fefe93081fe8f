"""Fleet operation primitives: one operation at a time, the maintenance page, switching databases
with the previous one kept, and dropping retired databases after their grace period."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connections as django_connections
from django.utils import timezone

from stagesub.tenancy import operations
from stagesub.tenancy.backends import backend_for, generate_password
from stagesub.tenancy.models import AuditEvent, DatabaseServer, Orchestra, RetiredDatabase
from stagesub.tenancy.operations import Location, OperationRefused
from stagesub.tenancy.schema import pg_template, sqlite_template
from tests.conftest import host_client


def test_a_second_operation_is_refused_while_the_first_runs(goteborg):
    with (
        operations.exclusive_operation(goteborg, "restore"),
        pytest.raises(OperationRefused, match="restore is running"),
        operations.exclusive_operation(goteborg, "move"),
    ):
        pass
    with operations.exclusive_operation(goteborg, "move") as claimed:
        assert claimed.operation == "move"
    assert Orchestra.objects.get(pk=goteborg.pk).operation == ""


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_let_exactly_one_operation_run(make_orchestra):
    orchestra = make_orchestra()
    barrier = threading.Barrier(6)
    won, refused = [], []
    release = threading.Event()

    def claim(n):
        try:
            barrier.wait()
            with operations.exclusive_operation(orchestra, f"op{n}"):
                won.append(n)
                release.wait(5)
        except OperationRefused:
            refused.append(n)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    while len(won) + len(refused) < 6 and any(t.is_alive() for t in threads):
        if len(refused) == 5:
            break
        threading.Event().wait(0.05)
    release.set()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 5


def test_an_operation_whose_process_died_is_taken_over(goteborg):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    owner = f"{operations.socket.gethostname()}:{dead}"
    Orchestra.objects.filter(pk=goteborg.pk).update(
        operation="restore",
        operation_owner=owner,
        operation_started_at=timezone.now(),
        maintenance_reason="restore",
    )
    assert operations.clear_stale_operations() == ["goteborg"]
    row = Orchestra.objects.get(pk=goteborg.pk)
    assert (row.operation, row.maintenance_reason) == ("", "")
    assert AuditEvent.objects.filter(action="fleet.operation_abandoned").exists()
    # a live owner on this host is never taken over
    Orchestra.objects.filter(pk=goteborg.pk).update(
        operation="move", operation_owner=operations._owner(), operation_started_at=timezone.now()
    )
    assert operations.clear_stale_operations() == []


def test_the_host_answers_the_maintenance_page_during_maintenance(goteborg):
    client = host_client(goteborg)
    with operations.maintenance(goteborg, "restore", settle=False):
        response = client.get("/login/")
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert "being moved or restored" in response.content.decode()
    assert client.get("/login/").status_code == 200


def _scratch_database(orchestra: Orchestra, name: str) -> Location:
    """A real, empty-schema database on the orchestra's server (for switching and dropping)."""
    server = orchestra.server
    backend = backend_for(server)
    if server.kind == DatabaseServer.Kind.SQLITE:
        backend.create_from_template(name, sqlite_template(backend))
        return Location(server=server, database_name=name)
    from stagesub.crypto import encrypt_secret

    password = generate_password()
    backend.create_from_template(name, pg_template(backend), name, password)
    return Location(
        server=server,
        database_name=name,
        database_user=name,
        database_password_encrypted=encrypt_secret(password),
    )


def _exists(location_server: DatabaseServer, name: str) -> bool:
    return backend_for(location_server).exists(name)


def test_switch_keeps_the_previous_database_and_rollback_returns_to_it(goteborg):
    before = Location.of(goteborg)
    target = _scratch_database(goteborg, "stagesub_goteborg_switch1")
    retired = operations.switch_database(goteborg, target, reason="restore", keep_days=7)
    row = Orchestra.objects.get(pk=goteborg.pk)
    assert row.database_name == target.database_name
    assert retired.database_name == before.database_name
    assert retired.drop_after > timezone.now() + datetime.timedelta(days=6)
    operations.rollback_switch(row, keep_days=7)
    row = Orchestra.objects.get(pk=goteborg.pk)
    assert row.database_name == before.database_name
    assert row.database_user == before.database_user
    kept = RetiredDatabase.objects.get()
    assert kept.database_name == target.database_name and kept.reason == "rollback"
    operations.drop_retired(kept)  # the server is shared by the whole test session
    assert not _exists(goteborg.server, target.database_name)


def test_no_rollback_without_a_kept_database(goteborg):
    with pytest.raises(OperationRefused, match="no earlier database"):
        operations.rollback_switch(goteborg, keep_days=7)


def test_retired_databases_are_dropped_after_their_grace_period(goteborg):
    target = _scratch_database(goteborg, "stagesub_goteborg_old1")
    retired = RetiredDatabase.objects.create(
        orchestra=goteborg,
        orchestra_label=goteborg.subdomain,
        server=goteborg.server,
        database_name=target.database_name,
        database_user=target.database_user,
        reason="move",
        drop_after=timezone.now() + datetime.timedelta(days=1),
    )
    assert operations.drop_due_retired() == []  # still in its grace period
    assert _exists(goteborg.server, target.database_name)
    later = timezone.now() + datetime.timedelta(days=2)
    assert operations.drop_due_retired(later) == [target.database_name]
    assert not _exists(goteborg.server, target.database_name)
    assert RetiredDatabase.objects.get(pk=retired.pk).dropped_at is not None
    if goteborg.server.kind == DatabaseServer.Kind.SQLITE:
        assert not (Path(goteborg.server.url) / target.database_name).exists()
    else:
        assert not backend_for(goteborg.server).role_exists(target.database_user)
    assert operations.drop_due_retired(later) == []  # idempotent


def test_the_scheduler_leaves_an_orchestra_in_maintenance_alone(goteborg):
    from stagesub.tenancy.due import due_orchestras

    Orchestra.objects.filter(pk=goteborg.pk).update(next_due_at=timezone.now())
    assert list(due_orchestras(timezone.now())) == [goteborg]
    Orchestra.objects.filter(pk=goteborg.pk).update(maintenance_reason="move")
    assert list(due_orchestras(timezone.now())) == []
