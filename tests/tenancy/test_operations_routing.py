"""The maintenance page reaches every web process at once: the routing generation.

A fleet operation used to wait the host cache's TTL (5 s) so that every process's cache had
expired before it touched the database. Now it bumps a generation number in the control
database that every process polls at most every STAGESUB_ROUTING_POLL_SECONDS (and reads with
every cache miss anyway), so the wait is that short interval, and a cached route costs no
query between polls.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import subprocess
import sys
import time

from django.db import connections
from django.test.utils import CaptureQueriesContext

from stagesub.tenancy import operations
from stagesub.tenancy.binding import HostDirectory, announce_route_change
from stagesub.tenancy.models import Orchestra
from tests.web.test_restore_under_gunicorn import Browser, _env, _stagesub
from tests.web.test_serve import _free_port, _wait_for


def directory_ttl() -> float:
    from stagesub.tenancy.binding import directory

    return directory.ttl


def _line_starting(process: subprocess.Popen, word: str) -> str:
    # `stagesub shell` may print its own lines (the models it imported) first.
    for line in process.stdout:
        if line.startswith(word):
            return line
    raise AssertionError(f"the operation ended before printing {word}")


def test_a_cached_route_costs_no_query_between_polls_and_a_miss_one(goteborg):
    directory = HostDirectory(ttl=60.0, poll=60.0)
    with CaptureQueriesContext(connections["default"]) as miss:
        orchestra, binding = directory.lookup("goteborg")
    assert orchestra.pk == goteborg.pk and binding is not None
    assert len(miss.captured_queries) == 1  # the generation comes with the route
    with CaptureQueriesContext(connections["default"]) as hits:
        for _ in range(100):
            directory.lookup("goteborg")
    assert len(hits.captured_queries) == 0


def test_an_announced_change_is_seen_at_the_next_poll_and_not_before(goteborg):
    poll = 2.0  # long enough that the steps below fit inside one poll on a loaded machine
    directory = HostDirectory(ttl=60.0, poll=poll)
    assert directory.lookup("goteborg")[0].maintenance_reason == ""
    # Another process's operation: the flag and the bump, never this directory's forget().
    Orchestra.objects.filter(pk=goteborg.pk).update(maintenance_reason="move")
    announce_route_change()
    assert directory.lookup("goteborg")[0].maintenance_reason == ""  # within the poll
    time.sleep(poll)
    with CaptureQueriesContext(connections["default"]) as refresh:
        assert directory.lookup("goteborg")[0].maintenance_reason == "move"
    assert len(refresh.captured_queries) == 2  # the generation, then the route
    with CaptureQueriesContext(connections["default"]) as unchanged:
        time.sleep(poll)
        directory.lookup("goteborg")
    assert len(unchanged.captured_queries) == 1  # the generation only


def test_the_maintenance_settle_is_the_poll_interval_not_the_cache_ttl(goteborg, settings):
    settings.ROUTING_POLL_SECONDS = 0.3
    started = time.monotonic()
    with operations.maintenance(goteborg, "move"):
        settled = time.monotonic() - started
    # Not the cache's TTL (5 s), which the settle used to wait; the bound leaves room for a
    # loaded machine.
    assert 0.3 <= settled < directory_ttl()


def test_every_gunicorn_process_shows_the_maintenance_page_once_settled(tmp_path):
    """Three processes × four threads, each with the orchestra's route cached: once
    `maintenance()` has settled (under a second), none of them serves the orchestra; once it
    has ended, all of them serve it again within one poll."""
    env = _env(tmp_path)
    env["STAGESUB_WEB_WORKERS"] = "3"
    poll = 0.2
    env["STAGESUB_ROUTING_POLL_SECONDS"] = str(poll)
    _stagesub(env, "migrate", "--noinput")
    _stagesub(
        env,
        "create_orchestra",
        "--subdomain",
        "goteborg",
        "--name",
        "Göteborg",
        "--admin-email",
        "admin@goteborg.example.org",
    )
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "stagesub.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    operation = None
    try:
        _wait_for(
            lambda: server.poll() is not None or Browser(port, "localhost").request("GET", "/")[0]
        )
        assert server.poll() is None, log.read_text()
        browser = Browser(port, "goteborg.localhost")

        def statuses(count: int) -> list[int]:
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                return list(pool.map(lambda _: browser.request("GET", "/login/")[0], range(count)))

        assert set(statuses(60)) == {200}  # every process has the route cached
        # The operation runs in its own process, as `stagesub move_orchestra` would.
        operation = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stagesub.cli",
                "shell",
                "-c",
                "import sys, time\n"
                "from stagesub.tenancy import operations\n"
                "from stagesub.tenancy.models import Orchestra\n"
                "o = Orchestra.objects.get(subdomain='goteborg')\n"
                "started = time.monotonic()\n"
                "with operations.maintenance(o, 'move'):\n"
                "    print('SETTLED', time.monotonic() - started, flush=True)\n"
                "    sys.stdin.readline()\n"
                "print('CLEARED', flush=True)\n",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        settled = float(_line_starting(operation, "SETTLED").split()[1])
        assert poll <= settled < directory_ttl()
        assert set(statuses(60)) == {503}
        operation.stdin.write("\n")
        operation.stdin.flush()
        _line_starting(operation, "CLEARED")
        time.sleep(poll)
        assert set(statuses(60)) == {200}
    finally:
        with contextlib.suppress(Exception):
            if operation is not None:
                operation.kill()
        with contextlib.suppress(Exception):
            server.terminate()
            server.wait(timeout=40)
