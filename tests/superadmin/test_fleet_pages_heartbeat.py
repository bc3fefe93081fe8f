"""The worker's heartbeat stays fresh during a long pass (so /readyz does not take every web
process out of a load balancer while a backup runs), and stops when a pass hangs."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connections

from stagesub.tenancy import scheduler
from tests.conftest import host_client

pytestmark = pytest.mark.django_db(transaction=True)


def _readyz() -> tuple[int, dict]:
    response = host_client().get("/readyz")
    return response.status_code, json.loads(response.content)


def _during_a_slow_pass(seconds_in: float, job_seconds: float) -> tuple[int, dict]:
    """/readyz as seen `seconds_in` after a periodic job taking `job_seconds` has started."""
    started = threading.Event()

    def slow() -> str:
        started.set()
        time.sleep(job_seconds)
        return "slow job done"

    scheduler.periodic_job("zz.test_slow_job", interval=lambda: 3600.0)(slow)

    def run_worker() -> None:
        try:
            call_command("worker", "--once")
        finally:
            connections.close_all()

    worker = threading.Thread(target=run_worker)
    try:
        worker.start()
        assert started.wait(60)
        time.sleep(seconds_in)
        return _readyz()
    finally:
        worker.join()
        scheduler._jobs.pop("zz.test_slow_job", None)


def test_a_pass_longer_than_the_stale_window_keeps_readyz_ready(settings):
    settings.WORKER_HEARTBEAT_STALE = 1
    status, body = _during_a_slow_pass(seconds_in=2.0, job_seconds=3.0)
    assert status == 200, body
    assert body["checks"]["worker"] == "ok"


def test_a_pass_stuck_beyond_the_maximum_turns_stale(settings):
    settings.WORKER_HEARTBEAT_STALE = 1
    settings.WORKER_MAX_PASS = 0.5
    status, body = _during_a_slow_pass(seconds_in=2.5, job_seconds=3.0)
    assert status == 503 and body["checks"]["worker"] == "stale"
