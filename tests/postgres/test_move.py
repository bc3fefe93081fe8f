# ruff: noqa: F811 (the shared server fixtures are imported by name, then used as parameters)
"""Moving an orchestra with PostgreSQL's logical replication, between real servers started by
the suite (the extra ones run at wal_level=logical): data, sequences, a writer answering offers
during the copy, the target server going down mid-way, the command killed at every step, and
the rights `servers add` checks."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path

import pytest
from django.db import connections as django_connections

from stagesub.offers.models import Offer
from stagesub.projects import services as projects
from stagesub.projects.models import Project
from stagesub.projects.services import ProjectData
from stagesub.tenancy import move, operations, servers, use_orchestra
from stagesub.tenancy.backends import PostgresBackend, default_server
from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import DatabaseServer, Orchestra, RetiredDatabase
from stagesub.tenancy.move import MOVE_STEPS
from tests.conftest import host_client
from tests.fleet_servers import (  # noqa: F401
    pending_offer_links,
    second_server,
    second_server_url,
    third_server,
    third_server_url,
)
from tests.tenancy.test_servers import kill_move_at, leftovers


def _row(orchestra) -> Orchestra:
    return Orchestra.objects.select_related("server").get(pk=orchestra.pk)


def _replication_objects(*server_list) -> list[str]:
    """Every publication, subscription and replication slot on the servers."""
    found = []
    for server in server_list:
        backend = PostgresBackend(server)
        with backend.connect_admin() as conn:
            found += [
                f"{server.name}: slot {r[0]}"
                for r in conn.execute("SELECT slot_name FROM pg_replication_slots")
            ]
            found += [
                f"{server.name}: subscription {r[0]}"
                for r in conn.execute("SELECT subname FROM pg_subscription")
            ]
            databases = [
                r[0]
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
                )
            ]
        for database in databases:
            with backend.connect_admin(database) as conn:
                found += [
                    f"{server.name}/{database}: publication {r[0]}"
                    for r in conn.execute("SELECT pubname FROM pg_publication")
                ]
    return found


def test_a_logical_move_copies_data_and_sequences_and_leaves_no_replication(
    make_orchestra, second_server
):
    orchestra = make_orchestra("logisk", server_name="second")
    links = pending_offer_links(orchestra, 3)
    result = move.move_orchestra(orchestra, default_server())
    assert (result.method, result.fallback_reason) == (move.LOGICAL, "")
    assert _row(orchestra).server == default_server()
    # sequences came along: new rows get fresh ids instead of colliding with copied ones
    with use_orchestra("logisk"):
        projects.create_project(
            ProjectData(name="Efter flytten", start_date=datetime.date(2027, 5, 1)),
            max_projects=20,
        )
        assert Project.objects.count() == 2
        assert Offer.objects.count() == 3
    client = host_client(orchestra)
    assert client.post(links[1], {"answer": "yes"})["Location"].endswith("?answered=1")
    with use_orchestra("logisk"):
        assert Offer.objects.filter(status="accepted").count() == 1
    assert _replication_objects(second_server, default_server()) == []
    assert verify_isolation().exit_code == 0
    old = RetiredDatabase.objects.get(orchestra=orchestra)
    assert (old.server, old.reason) == (second_server, "move")


def test_dump_and_restore_can_be_asked_for(make_orchestra, second_server):
    orchestra = make_orchestra("dumpen", server_name="second")
    result = move.move_orchestra(orchestra, default_server(), force_dump=True)
    assert (result.method, result.fallback_reason) == (move.DUMP, "dump and restore was asked for")
    assert host_client(orchestra).get("/login/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_writer_answering_offers_during_the_copy_loses_nothing(make_orchestra, second_server):
    orchestra = make_orchestra("skrivare", server_name="second")
    links = pending_offer_links(orchestra, 60)
    acknowledged: list[str] = []
    during: dict[str, int] = {}
    stop = threading.Event()

    def writer():
        client = host_client(orchestra)
        try:
            for path in links:
                while not stop.is_set():
                    response = client.post(path, {"answer": "no"})
                    if response.status_code == 302:
                        assert response["Location"].endswith("?answered=1")
                        acknowledged.append(path)
                        break
                    # the maintenance page: come back later, as a browser would
                    assert response.status_code == 503, response.status_code
                    time.sleep(0.05)
                time.sleep(0.03)
        finally:
            django_connections.close_all()

    def step(key):
        during[key] = len(acknowledged)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = move.move_orchestra(orchestra, default_server(), step=step)
    finally:
        thread.join(120)
        stop.set()
    assert result.method == move.LOGICAL
    # answers were taken while the engine copied and streamed
    assert during["maintenance"] > during["subscribe"], during
    assert len(acknowledged) == len(links)
    with use_orchestra("skrivare"):
        assert Offer.objects.filter(status="declined").count() == len(links)
    assert _row(orchestra).server == default_server()


def _handle(url: str):
    from stagesub.devtools import localpg

    return next(s for s in localpg._servers if s.get_uri() == url)


def _stop(handle) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=handle.pgdata, user=handle.system_user)


def _start(handle) -> None:
    with handle._lock:
        handle.ensure_postgres_running()


@pytest.mark.django_db(transaction=True)
def test_the_target_server_going_down_mid_way_leaves_the_source_serving_and_clean(
    make_orchestra, second_server, third_server, third_server_url
):
    orchestra = make_orchestra("nere", server_name="second")
    pending_offer_links(orchestra, 3)
    handle = _handle(third_server_url)

    def step(key):
        if key == "sync":
            _stop(handle)

    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the dead server's error is
            move.move_orchestra(orchestra, third_server, step=step)
        row = _row(orchestra)
        assert row.server == second_server and row.operation == "" and not row.maintenance_reason
        assert host_client(orchestra).get("/login/").status_code == 200
        # the source's slot and publication are gone at once: no WAL held back
        assert _replication_objects(second_server) == []
        # the target's leftovers wait, journalled, until the server is back
        assert move.unfinished("nere").count() == 1
    finally:
        _start(handle)
    assert move.sweep_unfinished_moves()
    assert leftovers("nere", second_server, third_server) == []
    assert _replication_objects(second_server, third_server) == []
    assert verify_isolation().exit_code == 0
    result = move.move_orchestra(orchestra, third_server)
    assert result.method == move.LOGICAL and _row(orchestra).server == third_server


LOGICAL_STEPS = [
    "create_database",
    "copy_schema",
    "publish",
    "subscribe",
    "sync",
    "maintenance",
    "catch_up",
    "verify",
    "switch",
]


@pytest.mark.django_db(transaction=True)
def test_a_logical_move_killed_at_every_step_leaves_nothing_behind(make_orchestra, second_server):
    orchestra = make_orchestra("dodad", server_name="second")
    pending_offer_links(orchestra, 3)
    primary = default_server()
    assert set(LOGICAL_STEPS) <= {key for key, _ in MOVE_STEPS}
    for step in LOGICAL_STEPS:
        source = _row(orchestra)
        kill_move_at(orchestra.subdomain, primary.name, step, 0.0)
        operations.clear_stale_operations()
        row = _row(orchestra)
        if row.server != source.server:
            # the kill landed after the switch had committed: the move is complete
            assert step == "switch"
            assert not move.unfinished("dodad").exists()
            move.move_orchestra(row, source.server)
            continue
        assert row.database_name == source.database_name, step
        assert host_client(orchestra).get("/login/").status_code == 200, step
        move.sweep_unfinished_moves()
        assert not move.unfinished("dodad").exists(), step
        assert leftovers("dodad", second_server, primary) == [], step
        assert _replication_objects(second_server, primary) == [], step
        assert verify_isolation().exit_code == 0, step
    result = move.move_orchestra(_row(orchestra), primary)
    assert result.method == move.LOGICAL


def test_servers_add_names_the_missing_rights(db, second_server_url):
    probe_server = DatabaseServer(name="probe", kind="postgresql")
    probe_server.set_url(second_server_url)
    admin = PostgresBackend(probe_server)
    socket = second_server_url.split("host=", 1)[1]
    with admin.connect_admin() as conn:
        conn.execute("DROP ROLE IF EXISTS stagesub_limited")
        conn.execute("DROP ROLE IF EXISTS stagesub_halfway")
        conn.execute("DROP ROLE IF EXISTS stagesub_creator")
        conn.execute("CREATE ROLE stagesub_limited LOGIN PASSWORD 'pw-limited'")
        conn.execute("CREATE ROLE stagesub_halfway LOGIN CREATEDB PASSWORD 'pw-halfway'")
        conn.execute("CREATE ROLE stagesub_creator LOGIN CREATEDB CREATEROLE PASSWORD 'pw-c'")
    try:
        url = "postgresql://{}:{}@/postgres?host=" + socket
        with pytest.raises(servers.ServerRefused, match="lacks CREATEDB and CREATEROLE"):
            servers.add_server("limited", url.format("stagesub_limited", "pw-limited"), region="x")
        with pytest.raises(servers.ServerRefused, match="lacks CREATEROLE"):
            servers.add_server("halfway", url.format("stagesub_halfway", "pw-halfway"), region="x")
        with pytest.raises(servers.ServerRefused, match=r"unreachable.*password"):
            servers.add_server("wrongpw", url.format("stagesub_creator", "nope"), region="x")
        assert not DatabaseServer.objects.filter(
            name__in=["limited", "halfway", "wrongpw"]
        ).exists()
        _server, probe = servers.add_server(
            "creator", url.format("stagesub_creator", "pw-c"), region="x"
        )
        assert not probe.logical_replication
        assert any("dump and restore" in note for note in probe.notes)
    finally:
        with admin.connect_admin() as conn:
            for role in ("stagesub_limited", "stagesub_halfway", "stagesub_creator"):
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_the_second_server_really_is_another_cluster(second_server):
    # the moves above cross a real server boundary, not two names for one cluster
    identities = set()
    for server in (second_server, default_server()):
        with PostgresBackend(server).connect_admin() as conn:
            identities.add(
                conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0]
            )
    assert len(identities) == 2
    assert Path(second_server.url.split("host=", 1)[1]).exists()


def test_a_failing_initial_copy_stops_the_move_at_once_and_cleans_up(make_orchestra, second_server):
    orchestra = make_orchestra("krock", server_name="second")
    primary = default_server()

    def step(key):
        if key == "subscribe":
            # a row already in the copy's way: the engine's table copy fails on its key
            journal = move.unfinished("krock").get()
            with PostgresBackend(primary).connect_admin(journal.database_name) as conn:
                conn.execute(
                    "INSERT INTO orchestra_databasestamp (id, orchestra_id, subdomain, stamped_at) "
                    "VALUES (1, gen_random_uuid(), 'intruder', now())"
                )

    started = time.monotonic()
    with pytest.raises(move.MoveFailed, match="errors during the initial copy"):
        move.move_orchestra(orchestra, primary, step=step)
    assert time.monotonic() - started < 60
    assert _row(orchestra).server == second_server
    assert not move.unfinished("krock").exists()
    assert leftovers("krock", second_server, primary) == []
    assert _replication_objects(second_server, primary) == []
    assert host_client(orchestra).get("/login/").status_code == 200
