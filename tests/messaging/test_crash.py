"""A worker killed in the middle of a batch: at most the one message in flight arrives twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import PeriodicRun
from tests.mailserver import MailServer
from tests.offers.test_flow import make_need

MESSAGES = 12
KILLS = 4


def _control_database_url() -> str:
    name = settings.DATABASES["default"]["NAME"]  # the test database, while tests run
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{name}"
    url = os.environ["STAGESUB_DATABASE_URL"]
    return url.replace("/stagesub_control?", f"/{name}?")


def _worker(mail_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "STAGESUB_DATABASE_URL": _control_database_url(),
        "STAGESUB_EMAIL_URL": f"smtp://127.0.0.1:{mail_port}",
        "STAGESUB_MAIL_SENDING_STALE": "1",
        "STAGESUB_SPARE_DATABASES": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "stagesub.cli", "worker", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _states(orchestra) -> dict[str, str]:
    """Message-ID → state; "interrupted" for one queued again after an interrupted attempt."""
    with use_orchestra(orchestra):
        return {
            f"<{m.uid}@stagesub>": (
                "interrupted"
                if m.status == "queued" and "Interrupted" in m.last_error
                else m.status
            )
            for m in Message.objects.all()
        }


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_repeats_at_most_the_message_in_flight(goteborg):
    # The server holds each message 0.3 s between taking it and saying "250": a kill in that
    # window is a message the server has but the worker never heard about.
    server = MailServer(delay=0.3)
    server.start()
    try:
        with use_orchestra(goteborg):
            services.send(make_need(goteborg, "first_come", 2, count=MESSAGES), now=timezone.now())
        # the other periodic jobs (isolation monitor, spare databases) are not what is tested
        for job in ("isolation.monitor", "tenancy.spare_databases"):
            PeriodicRun.objects.create(name=job, last_run_at=timezone.now(), last_result="")
        rng = random.Random(10)
        kills = 0
        for _ in range(KILLS):
            before = len(server.received)
            worker = _worker(server.port)
            # kill it once it is delivering, at a random moment of a message's hand-over
            if not _wait_for(lambda: len(server.received) > before, 60):  # noqa: B023
                worker.kill()
                pytest.fail(worker.stderr.read().decode()[-3000:])
            time.sleep(rng.uniform(0.0, 0.6))
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                kills += 1
            worker.wait()
            time.sleep(0.4)  # the server finishes the hand-over it was in
            states = _states(goteborg)
            # Everything the server has is recorded as sent, as being sent, or as queued again
            # after an interrupted attempt; never plainly "queued", which a later worker would
            # send again with no trace of the first copy.
            arrived = {states[m["Message-ID"]] for m in server.received}
            assert arrived <= {"sent", "sending", "interrupted"}, arrived
            assert list(states.values()).count("sending") <= 1
            time.sleep(1.1)  # past STAGESUB_MAIL_SENDING_STALE: the next worker retries it
        final = _worker(server.port)
        assert final.wait(timeout=120) == 0, final.stderr.read().decode()[-3000:]
        ids = [m["Message-ID"] for m in server.received]
        duplicates = len(ids) - len(set(ids))
        assert kills >= 2  # the test killed workers mid-batch
        assert set(_states(goteborg).values()) == {"sent"}
        assert len(set(ids)) == MESSAGES
        assert duplicates <= kills, (duplicates, kills)
    finally:
        server.stop()
