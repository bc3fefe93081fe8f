# ruff: noqa: F811 (the shared server fixtures are imported by name, then used as parameters)
"""Servers (add, list, drain, remove) and moving an orchestra between two real servers, on both
backends: SQLite moves between two data folders, PostgreSQL between the suite's server and a
second pgserver (the suite's runs at wal_level=replica, so this is the dump and restore path;
logical replication is in tests/postgres/test_move.py)."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from stagesub.offers.models import Offer
from stagesub.tenancy import move, operations, servers, use_orchestra
from stagesub.tenancy.backends import default_server
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import AuditEvent, DatabaseServer, Orchestra, RetiredDatabase
from stagesub.tenancy.move import MOVE_STEPS, MoveRefused
from stagesub.tenancy.servers import ServerRefused
from tests.conftest import BACKEND, PASSWORD, host_client
from tests.fleet_servers import (  # noqa: F401
    database_exists,
    pending_offer_links,
    second_server,
    second_server_url,
)

STAGESUB = str(Path(sys.executable).with_name("stagesub"))


def _row(orchestra) -> Orchestra:
    return Orchestra.objects.select_related("server").get(pk=orchestra.pk)


def test_a_move_keeps_data_answer_links_and_the_host_working(goteborg, second_server):
    links = pending_offer_links(goteborg, 3)
    source = _row(goteborg)
    with use_orchestra(goteborg):
        offers_before = sorted(Offer.objects.values_list("pk", "status"))
    result = move.move_orchestra(goteborg, second_server)
    assert result.method == (move.SQLITE_COPY if BACKEND == "sqlite" else move.DUMP)
    if BACKEND == "postgresql":
        assert "wal_level is replica" in result.fallback_reason
    assert result.settle_seconds <= result.window_seconds
    moved = _row(goteborg)
    assert moved.server == second_server
    assert moved.database_name != source.database_name
    assert moved.physical_identity != source.physical_identity
    with use_orchestra("goteborg"):  # routed afresh, to the new database
        assert sorted(Offer.objects.values_list("pk", "status")) == offers_before
    client = host_client(goteborg)
    assert (
        client.post("/login/", {"username": "goteborg-admin", "password": PASSWORD}).status_code
        == 302
    )
    page = client.get(links[0])
    assert page.status_code == 200 and "Sibelius 2" in page.content.decode()
    answered = client.post(links[0], {"answer": "yes"})
    assert answered.status_code == 302, answered.content.decode()[:3000]
    assert answered["Location"].endswith("?answered=1"), answered["Location"]
    with use_orchestra("goteborg"):
        assert Offer.objects.filter(status="accepted").count() == 1
    assert verify_isolation().exit_code == 0
    # the old database is kept for the grace period, then dropped
    retired = RetiredDatabase.objects.get(orchestra=goteborg)
    assert (retired.reason, retired.database_name) == ("move", source.database_name)
    assert retired.drop_after > timezone.now() + datetime.timedelta(days=6)
    assert database_exists(source.server, source.database_name)
    operations.drop_due_retired(now=timezone.now() + datetime.timedelta(days=8))
    assert not database_exists(source.server, source.database_name)
    assert AuditEvent.objects.filter(action="fleet.moved", orchestra=goteborg).exists()


def test_a_move_back_and_forth_reuses_no_name(goteborg, second_server):
    first = _row(goteborg).database_name
    move.move_orchestra(goteborg, second_server)
    move.move_orchestra(goteborg, default_server())
    back = _row(goteborg)
    assert back.server == default_server() and back.database_name != first
    assert host_client(goteborg).get("/login/").status_code == 200
    assert verify_isolation().exit_code == 0


def test_moves_to_a_draining_offline_or_unreachable_server_are_refused(goteborg, second_server):
    for status in ("draining", "offline"):
        DatabaseServer.objects.filter(pk=second_server.pk).update(status=status)
        with pytest.raises(MoveRefused, match=f"is {status}"):
            move.move_orchestra(goteborg, DatabaseServer.objects.get(pk=second_server.pk))
    gone = DatabaseServer(name="gone", kind=second_server.kind, region="eu-north")
    gone.set_url(
        "/nonexistent/stagesub-gone"
        if BACKEND == "sqlite"
        else "postgresql://postgres:@/postgres?host=/nonexistent/socket"
    )
    gone.save()
    with pytest.raises(MoveRefused, match="gone"):
        move.move_orchestra(goteborg, gone)
    with pytest.raises(MoveRefused, match="already on server"):
        move.move_orchestra(goteborg, _row(goteborg).server)
    assert _row(goteborg).server == default_server()
    assert not RetiredDatabase.objects.exists()


def test_a_dedicated_server_takes_only_its_own_orchestras(goteborg, malmo, second_server):
    DatabaseServer.objects.filter(pk=second_server.pk).update(dedicated=True)
    second_server.refresh_from_db()
    with pytest.raises(MoveRefused, match="wrong class"):
        move.move_orchestra(goteborg, second_server)
    servers.assign("second", "goteborg")
    move.move_orchestra(_row(goteborg), second_server)
    assert _row(goteborg).server == second_server
    with pytest.raises(MoveRefused, match="wrong class"):
        move.move_orchestra(malmo, second_server)


def test_a_move_is_refused_while_another_operation_runs(goteborg, second_server):
    with (
        operations.exclusive_operation(goteborg, "backup"),
        pytest.raises(operations.OperationRefused, match="backup is running"),
    ):
        move.move_orchestra(goteborg, second_server)
    assert _row(goteborg).server == default_server()
    assert not RetiredDatabase.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_move_running_in_another_process_refuses_a_second_one(make_orchestra, second_server):
    orchestra = make_orchestra("tvaan")
    # A settle long enough for the second command to start while the first one runs.
    process = _start_move(orchestra.subdomain, "second", settle_seconds=30)
    try:
        _wait_for_step(process, "maintenance")
        second = subprocess.run(
            [STAGESUB, "move_orchestra", orchestra.subdomain, "--to", "second"],
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1
        assert "move is running" in second.stderr
    finally:
        out = process.communicate(timeout=120)[0]
    assert process.returncode == 0, out
    assert _row(orchestra).server.name == "second"


def test_add_checks_the_server_and_leaves_no_row_when_refused(db, second_server_url, tmp_path):
    bad = (
        str(tmp_path / "missing")
        if BACKEND == "sqlite"
        else "postgresql://postgres:@/postgres?host=/nonexistent/socket"
    )
    with pytest.raises(ServerRefused, match=r"no directory|unreachable"):
        servers.add_server("far", bad, region="eu-north")
    assert not DatabaseServer.objects.filter(name="far").exists()
    with pytest.raises(ServerRefused, match="region"):
        servers.add_server("far", second_server_url, region=" ")
    with pytest.raises(ServerRefused, match="invalid server name"):
        servers.add_server("Far Away", second_server_url, region="eu-north")
    server, _probe = servers.add_server("far", second_server_url, region="eu-north")
    with pytest.raises(ServerRefused, match="already registered"):
        servers.add_server("far2", second_server_url, region="eu-north")
    assert server.status == "active" and not server.dedicated
    with pytest.raises(CommandError, match=r"refused: .*already registered"):
        call_command("servers", "add", "far", second_server_url, "--region", "x")


def test_servers_list_shows_orchestras_size_status_region_and_class(
    goteborg, malmo, second_server, capsys
):
    move.move_orchestra(malmo, second_server)
    DatabaseServer.objects.filter(pk=second_server.pk).update(dedicated=False, status="draining")
    call_command("servers", "list")
    out = capsys.readouterr().out
    header, *lines = out.strip().splitlines()
    assert header.split() == ["NAME", "KIND", "REGION", "CLASS", "STATUS", "ORCHESTRAS", "SIZE"]
    second = next(line for line in lines if line.startswith("second"))
    assert second.split()[2:6] == ["eu-north", "shared", "draining", "1"]
    assert second.split()[-1] in ("kB", "MB")


def test_drain_moves_every_orchestra_away_then_remove_unregisters(
    make_orchestra, second_server, capsys
):
    a = make_orchestra("drain-a", server_name="second")
    b = make_orchestra("drain-b", server_name="second")
    with pytest.raises(ServerRefused, match="drain-a, drain-b"):
        servers.remove("second")
    # the suite's own server is in another region: give it the drained server's region
    DatabaseServer.objects.filter(pk=default_server().pk).update(region="eu-north")
    call_command("servers", "drain", "second")
    out = capsys.readouterr().out
    assert "drain-a: second -> " in out and "drain-b: second -> " in out
    assert DatabaseServer.objects.get(pk=second_server.pk).status == "draining"
    assert {_row(a).server.name, _row(b).server.name} == {default_server().name}
    for orchestra in (a, b):
        assert host_client(orchestra).get("/login/").status_code == 200
    with pytest.raises(ServerRefused, match="retired database"):
        servers.remove("second")
    operations.drop_due_retired(now=timezone.now() + datetime.timedelta(days=8))
    call_command("servers", "remove", "second")
    assert not DatabaseServer.objects.filter(name="second").exists()
    assert verify_isolation().exit_code == 0


def test_drain_reports_an_orchestra_it_cannot_place(make_orchestra, second_server, capsys):
    make_orchestra("stuck", server_name="second")
    default_server()  # registered, but in another region: nowhere to go
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("servers", "drain", "second")
    assert "stuck: not moved: no active database server in region 'eu-north'" in (
        capsys.readouterr().out
    )
    assert _row(Orchestra.objects.get(subdomain="stuck")).server == second_server


# --- killed for real -----------------------------------------------------------------------------


def _control_url() -> str:
    name = connection.settings_dict["NAME"]
    if BACKEND == "sqlite":
        return f"sqlite:///{name}"
    return os.environ["STAGESUB_DATABASE_URL"].replace("/stagesub_control?", f"/{name}?")


def _environment() -> dict[str, str]:
    return {**os.environ, "STAGESUB_DATABASE_URL": _control_url(), "PYTHONUNBUFFERED": "1"}


def _start_move(
    subdomain: str, target: str, *extra: str, settle_seconds: float | None = None
) -> subprocess.Popen:
    env = _environment()
    if settle_seconds is not None:
        # The maintenance page's settle is one poll of the routing generation (or the host
        # cache's TTL, 5 s, if that is shorter).
        env["STAGESUB_ROUTING_POLL_SECONDS"] = str(settle_seconds)
    return subprocess.Popen(
        [STAGESUB, "move_orchestra", subdomain, "--to", target, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


LABELS = {label: key for key, label in MOVE_STEPS}


def _wait_for_step(process: subprocess.Popen, step: str) -> list[str]:
    seen = []
    for line in process.stdout:
        key = LABELS.get(line.strip().rstrip("…"))
        if key:
            seen.append(key)
            if key == step:
                return seen
    raise AssertionError(f"the move ended before step {step}: {seen}")


def kill_move_at(subdomain: str, target: str, step: str, delay: float, *extra: str) -> bool:
    """Run the real command; SIGKILL it `delay` s after it announces `step`. True if killed."""
    process = _start_move(subdomain, target, *extra)
    try:
        try:
            _wait_for_step(process, step)
        except AssertionError:
            process.wait(120)
            return False
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        return process.wait(60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def leftovers(subdomain: str, *server_list: DatabaseServer) -> list[str]:
    """Databases, roles, files, publications, subscriptions and slots a move could leave."""
    from stagesub.tenancy.backends import PostgresBackend, backend_for

    found = []
    prefix = f"stagesub_{subdomain.replace('-', '_')}_"
    used = set(
        Orchestra.objects.filter(subdomain=subdomain).values_list("database_name", flat=True)
    ) | set(
        RetiredDatabase.objects.exclude(reason=move.UNFINISHED).values_list(
            "database_name", flat=True
        )
    )
    for server in server_list:
        backend = backend_for(server)
        if isinstance(backend, PostgresBackend):
            with backend.connect_admin() as conn:
                for kind, query in (
                    ("database", "SELECT datname FROM pg_database"),
                    ("role", "SELECT rolname FROM pg_roles"),
                    ("slot", "SELECT slot_name FROM pg_replication_slots"),
                    ("subscription", "SELECT subname FROM pg_subscription"),
                ):
                    for (name,) in conn.execute(query).fetchall():
                        if name.startswith(prefix) and (
                            kind in ("slot", "subscription") or name not in used
                        ):
                            found.append(f"{server.name}: {kind} {name}")
            for database in used:
                if backend.exists(database):
                    with backend.connect_admin(database) as conn:
                        found += [
                            f"{server.name}: publication {r[0]}"
                            for r in conn.execute("SELECT pubname FROM pg_publication").fetchall()
                        ]
        else:
            found += [
                f"{server.name}: file {p.name}"
                for p in backend.directory.glob(prefix + "*")
                if p.name not in used and not p.name.endswith(("-wal", "-shm"))
            ]
    return sorted(found)


@pytest.mark.django_db(transaction=True)
def test_a_move_killed_at_every_step_leaves_the_orchestra_serving_and_nothing_behind(
    make_orchestra, second_server
):
    orchestra = make_orchestra("killmove")
    pending_offer_links(orchestra, 2)
    steps = [key for key, _ in MOVE_STEPS if key in _steps_of_this_backend()]
    kills = [(step, 0.0) for step in steps] + [("copy", 0.05), ("switch", 0.01)]
    for step, delay in kills:
        source = _row(orchestra)
        killed = kill_move_at(orchestra.subdomain, "second", step, delay)
        row = _row(orchestra)
        if row.server == second_server:
            # the kill landed after the switch had committed: the move is complete
            operations.clear_stale_operations()
            assert not move.unfinished(orchestra.subdomain).exists(), step
            assert host_client(orchestra).get("/login/").status_code == 200, step
            assert verify_isolation().exit_code == 0, step
            move.move_orchestra(row, source.server)  # back, for the next kill
            continue
        assert killed, step
        # the orchestra still serves from its source database
        assert (row.server, row.database_name) == (source.server, source.database_name), step
        operations.clear_stale_operations()  # the worker's housekeeping: the dead claim
        row = _row(orchestra)
        assert row.operation == "" and row.maintenance_reason == "", step
        assert host_client(orchestra).get("/login/").status_code == 200, step
        move.sweep_unfinished_moves()  # the worker's sweep of unfinished moves
        assert not move.unfinished(orchestra.subdomain).exists(), step
        assert leftovers(orchestra.subdomain, source.server, second_server) == [], step
        assert verify_isolation().exit_code == 0, step
    # and the move can be run again
    result = move.move_orchestra(_row(orchestra), second_server)
    assert _row(orchestra).server == second_server, result
    assert host_client(orchestra).get("/login/").status_code == 200
    assert verify_isolation().exit_code == 0


def _steps_of_this_backend() -> set[str]:
    if BACKEND == "sqlite":
        return {"prepare", "maintenance", "copy", "verify", "switch"}
    return {"prepare", "create_database", "maintenance", "copy", "verify", "switch"}


@pytest.mark.skipif(
    BACKEND != "postgresql", reason="SQLite's copy takes the write lock: it waits for writers"
)
@pytest.mark.django_db(transaction=True)
def test_transactions_open_when_the_window_starts_finish_first_or_are_ended(
    make_orchestra, second_server, settings
):
    """Two requests already running when the maintenance page goes up: one commits during the
    window's first second and is in the moved database; one still open after the drain period
    is ended, so its commit fails (never acknowledged) instead of landing in the old database
    after the copy."""
    import threading

    import psycopg

    from stagesub.tenancy.backends import backend_for

    settings.MOVE_DRAIN_SECONDS = 3.0
    orchestra = make_orchestra("drain")
    source = _row(orchestra)
    backend = backend_for(source.server)
    with backend.connect_admin(source.database_name) as conn:
        rows = conn.execute("SELECT id FROM roster_instrument ORDER BY id LIMIT 2").fetchall()
    first, second = (row[0] for row in rows)
    quick = backend.connect_admin(source.database_name)
    slow = backend.connect_admin(source.database_name)
    quick.autocommit = slow.autocommit = False
    quick.execute("UPDATE roster_instrument SET name = 'Kvick' WHERE id = %s", [first])
    slow.execute("UPDATE roster_instrument SET name = 'Långsam' WHERE id = %s", [second])
    committed = threading.Timer(1.0, quick.commit)  # after the settle: inside the window
    committed.start()
    try:
        move.move_orchestra(orchestra, second_server)
    finally:
        committed.join()
    with pytest.raises(psycopg.OperationalError):
        slow.commit()
    quick.close()
    slow.close()
    with use_orchestra("drain"):
        from stagesub.roster.models import Instrument

        names = dict(Instrument.objects.filter(pk__in=[first, second]).values_list("pk", "name"))
    assert names[first] == "Kvick"
    assert names[second] != "Långsam"
    assert verify_isolation().exit_code == 0
