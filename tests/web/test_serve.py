"""`stagesub serve`: gunicorn sized from the machine, static files hashed, compressed and cached
for a long time, access log lines with the request id, graceful reload on HUP, clean stop."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError

from stagesub.web.management.commands.serve import check_bind
from stagesub.web.server import default_workers, gunicorn_options, sizing_line


@pytest.mark.parametrize(("cpus", "workers"), [(1, 2), (2, 3), (4, 5), (7, 8), (64, 8)])
def test_workers_follow_the_cpus_within_bounds(cpus, workers):
    assert default_workers(cpus) == workers
    options = gunicorn_options("127.0.0.1:8000", {}, cpus)
    assert options["workers"] == workers
    assert options["threads"] == 4
    assert options["worker_class"] == "gthread"


def test_environment_overrides_the_rule():
    env = {"STAGESUB_WEB_WORKERS": "3", "STAGESUB_WEB_THREADS": "16", "STAGESUB_WEB_TIMEOUT": "90"}
    options = gunicorn_options("127.0.0.1:8000", env, 2)
    assert (options["workers"], options["threads"], options["timeout"]) == (3, 16, 90)
    assert options["max_requests"] > 0 and options["max_requests_jitter"] > 0


def test_the_server_states_its_connection_ceiling_and_warns_below_its_threads():
    options = gunicorn_options("127.0.0.1:8000", {"STAGESUB_WEB_WORKERS": "3"}, 2)
    line = sizing_line(options, {"STAGESUB_MAX_ORCHESTRA_CONNECTIONS": "8"})
    assert "3 processes x 4 threads" in line and "at most 24 orchestra connections" in line
    assert "warning" not in line
    assert "warning" in sizing_line(options, {"STAGESUB_MAX_ORCHESTRA_CONNECTIONS": "2"})


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_a_bad_worker_count_is_refused_with_its_name(value):
    with pytest.raises(SystemExit, match="STAGESUB_WEB_WORKERS"):
        gunicorn_options("127.0.0.1:8000", {"STAGESUB_WEB_WORKERS": value}, 2)


@pytest.mark.parametrize("bind", ["127.0.0.1:8000", "0.0.0.0:80", "[::1]:8443", "unix:/run/s.sock"])
def test_bind_addresses_accepted(bind):
    assert check_bind(bind) == bind


@pytest.mark.parametrize("bind", ["8000", "localhost", "127.0.0.1:0", "127.0.0.1:70000", "a b:80"])
def test_bind_addresses_refused(bind):
    with pytest.raises(CommandError, match="ADDRESS:PORT"):
        check_bind(bind)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, **headers) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": f"localhost:{port}", **headers})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


@contextlib.contextmanager
def _serve(tmp_path, **extra_env):
    """`stagesub serve` on a free loopback port with production static files, as a real process."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STAGESUB_", "DJANGO_"))},
        "STAGESUB_DATA_DIR": str(tmp_path / "data"),
        "STAGESUB_SECRET_KEY": "serve-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "STAGESUB_BASE_DOMAIN": "localhost",
        "STAGESUB_WEB_WORKERS": "2",
        "STAGESUB_WEB_THREADS": "2",
        **extra_env,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stagesub.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: process.poll() is not None or _get(port, "/")[0].status)
        assert process.poll() is None, log.read_text()
        yield process, port, log
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=40)


@pytest.fixture
def served(tmp_path):
    with _serve(tmp_path) as running:
        yield running


def test_serve_answers_with_hashed_compressed_long_cached_static_files(served):
    _process, port, log = served
    response, body = _get(port, "/", **{"X-Request-ID": "serve-test-1"})
    assert response.status == 200
    assert response.getheader("X-Request-ID") == "serve-test-1"
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    stylesheet = re.search(r'href="(/static/stagesub/app\.[0-9a-f]{12}\.css)"', body.decode())
    assert stylesheet, body.decode()[:500]
    script = re.search(r'src="(/static/stagesub/app\.[0-9a-f]{12}\.js)"', body.decode())
    assert script

    response, body = _get(port, stylesheet.group(1), **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert b".container" in gzip.decompress(body)
    cache = response.getheader("Cache-Control")
    assert "max-age=315360000" in cache and "immutable" in cache

    # then the access log has a line for the page, with its request id
    _wait_for(lambda: "request_id=serve-test-1" in log.read_text())


def test_errors_show_the_friendly_404(served):
    _process, port, _log = served
    response, body = _get(port, "/no-such-page/")
    assert response.status == 404
    assert "Sidan hittades inte" in body.decode()


def test_hup_reloads_gracefully_and_term_stops_cleanly(served):
    process, port, log = served

    def booted() -> int:
        return log.read_text().count("Booting worker")

    _wait_for(lambda: booted() >= 2)
    process.send_signal(signal.SIGHUP)
    _wait_for(lambda: booted() >= 4)
    assert "collecting static files before the new workers start" in log.read_text()
    assert _get(port, "/")[0].status == 200
    process.terminate()
    assert process.wait(timeout=40) == 0


def test_json_lines_from_the_server_and_the_application(tmp_path):
    with _serve(tmp_path, STAGESUB_LOG_FORMAT="json") as (process, port, log):
        _get(port, "/no-such-page/", **{"X-Request-ID": "serve-json-1"})
        process.terminate()
        assert process.wait(timeout=40) == 0
    lines = log.read_text().splitlines()
    assert lines[0].startswith("Static files collected")
    records = [json.loads(line) for line in lines[1:] if line.strip()]
    mine = [r for r in records if r.get("request_id") == "serve-json-1"]
    assert {r["logger"] for r in mine} == {"django.request", "gunicorn.access"}
    access = next(r for r in mine if r["logger"] == "gunicorn.access")
    assert access["status_code"] == "404" and access["path"] == "/no-such-page/"
