"""Isolation checks with databases that hang: each is reported unreachable within the limit.

PostgreSQL: the orchestras' database server is a TCP listener on 127.0.0.1 that accepts and
never answers (what a wedged host or a full SYN-accepting proxy looks like). SQLite: the
orchestras' files are held under an exclusive lock by another connection, so every read waits
for the busy timeout.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.urlconfig import database_settings

LIMIT = 2.0  # STAGESUB_CHECK_TIMEOUT for these tests
HANGING = 4  # checked one after the other, they would take HANGING × LIMIT at least


class SilentServer:
    """Accepts TCP connections and never sends a byte; drops each after `hold` seconds."""

    def __init__(self, hold: float = 30.0):
        self.hold = hold
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        held: list[tuple[float, socket.socket]] = []
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = self.sock.accept()
                self.accepted += 1
                held.append((time.monotonic(), conn))
            for since, conn in [h for h in held if time.monotonic() - h[0] > self.hold]:
                conn.close()
                held.remove((since, conn))
        for _, conn in held:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextlib.contextmanager
def hanging(orchestras: list[Orchestra], backend: str):
    """Make every orchestra's database hang for the duration of the block."""
    if backend == "postgresql":
        server = SilentServer()
        admin = database_settings(orchestras[0].server.url)
        silent = DatabaseServer(name="silent", kind=DatabaseServer.Kind.POSTGRESQL)
        silent.set_url(f"postgresql://{admin['USER']}@127.0.0.1:{server.port}/postgres")
        silent.save()
        Orchestra.objects.filter(pk__in=[o.pk for o in orchestras]).update(server=silent)
        try:
            yield
        finally:
            server.stop()
        # The checks really connected to the silent server (not refused somewhere else).
        assert server.accepted >= len(orchestras)
        return
    holders = []
    for orchestra in orchestras:
        path = Path(orchestra.server.url) / orchestra.database_name
        holder = sqlite3.connect(path, isolation_level=None)
        # In WAL mode only the exclusive locking mode keeps readers out.
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE orchestra_databasestamp SET subdomain = subdomain")
        holders.append(holder)
    try:
        yield
    finally:
        for holder in holders:
            holder.rollback()
            holder.close()


def _timed(command: str, *args: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        call_command(command, *args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, time.monotonic() - started


@pytest.fixture
def fleet(make_orchestra, settings):
    settings.CHECK_TIMEOUT = LIMIT
    healthy = [make_orchestra(f"healthy{i}") for i in range(2)]
    stuck = [make_orchestra(f"stuck{i}") for i in range(HANGING)]
    return healthy, stuck


def test_verify_isolation_reports_each_hanging_database_within_the_limit(fleet, backend, capsys):
    healthy, stuck = fleet
    with hanging(stuck, backend):
        code, elapsed = _timed("verify_isolation", "--json")
    assert code == 2
    assert elapsed < 3 * LIMIT, f"took {elapsed:.1f} s"
    checks = {c["subdomain"]: c for c in json.loads(capsys.readouterr().out)["orchestras"]}
    for orchestra in stuck:
        assert checks[orchestra.subdomain]["reachable"] is False
        # The database's own timeout fired (not only the caller's deadline).
        expected = "connection timeout" if backend == "postgresql" else "database is locked"
        assert expected in checks[orchestra.subdomain]["error"]
    for orchestra in healthy:
        check = checks[orchestra.subdomain]
        assert check["reachable"] and check["stamp_ok"], check


def test_monitor_isolation_is_bounded_too(fleet, backend, capsys):
    _, stuck = fleet
    with hanging(stuck, backend):
        code, elapsed = _timed("monitor_isolation")
    assert code == 2
    assert elapsed < 3 * LIMIT, f"took {elapsed:.1f} s"
    out = capsys.readouterr().out
    for orchestra in stuck:
        assert f"{orchestra.subdomain}: database unreachable" in out


def test_check_database_on_a_hanging_database(fleet, backend, capsys):
    _, stuck = fleet
    with hanging(stuck, backend):
        code, elapsed = _timed("check_database", stuck[0].subdomain)
    assert code == 1
    assert elapsed < 3 * LIMIT, f"took {elapsed:.1f} s"
    out = capsys.readouterr().out
    assert "reachable:  NO" in out and "PROBLEM: unreachable" in out
