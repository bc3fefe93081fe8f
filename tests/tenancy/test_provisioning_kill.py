"""`stagesub create_orchestra` killed with SIGKILL at every step of provisioning, for real.

The command runs as a subprocess on the backend under test (same STAGESUB_* environment, the
test's control database). Its progress lines come one per step as the step begins, and each
step's heartbeat is committed before its line is printed; the test kills the process a random
few milliseconds after the line of step N, so the kill lands inside step N. Then:
verify_isolation and the monitor must not see a violation (the orchestra is provisioning),
the sweep must remove everything, and the subdomain must be usable again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from stagesub.tenancy import schema
from stagesub.tenancy.backends import PostgresBackend, backend_for, default_server
from stagesub.tenancy.isolation import monitor_isolation, verify_isolation
from stagesub.tenancy.models import AuditEvent, IsolationIncident, Orchestra
from stagesub.tenancy.provisioning import PROVISION_STEPS, remove_orchestra
from tests.conftest import BACKEND, PASSWORD

SUBDOMAIN = "killed"
STAGESUB = str(Path(sys.executable).with_name("stagesub"))


def _control_url() -> str:
    """The URL of the test's own control database, for the subprocess."""
    name = connection.settings_dict["NAME"]
    if BACKEND == "sqlite":
        return f"sqlite:///{name}"
    return os.environ["STAGESUB_DATABASE_URL"].replace("/stagesub_control?", f"/{name}?")


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "STAGESUB_DATABASE_URL": _control_url(),
        "STAGESUB_ADMIN_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


def _command(*args: str) -> list[str]:
    return [
        STAGESUB,
        "create_orchestra",
        "--subdomain",
        SUBDOMAIN,
        "--name",
        "Killed Orchestra",
        "--admin-email",
        "admin@killed.example.org",
        *args,
    ]


def _kill_during_step(step_number: int, delay: float) -> int | None:
    """Run create_orchestra; SIGKILL it `delay` s after it announces step `step_number` (1-based).

    Returns the exit status if it finished before the kill, None when it was killed.
    """
    process = subprocess.Popen(
        _command(), env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    announced = 0
    try:
        for line in process.stdout:
            if line.startswith("  ") and line.rstrip().endswith("…"):
                announced += 1
                if announced == step_number:
                    time.sleep(delay)
                    process.send_signal(signal.SIGKILL)
                    break
        return None if process.wait(timeout=60) == -signal.SIGKILL else process.returncode
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def _leftovers(server) -> list[str]:
    """Databases, roles and files on the server whose names carry the test's subdomain."""
    prefix = f"stagesub_{SUBDOMAIN}_"
    backend = backend_for(server)
    if isinstance(backend, PostgresBackend):
        with backend.connect_admin() as conn:
            databases = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]
            ).fetchall()
            roles = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [prefix + "%"]
            ).fetchall()
        return [f"database {r[0]}" for r in databases] + [f"role {r[0]}" for r in roles]
    return sorted(f"file {p.name}" for p in backend.directory.glob(prefix + "*"))


@pytest.mark.django_db(transaction=True)
def test_create_orchestra_killed_at_every_step_is_swept_and_the_subdomain_reusable(settings):
    settings.PROVISIONING_STALE_AFTER = 0  # every provisioning left behind counts as stale
    server = default_server()
    # Build the schema template first: killing its build is not what this test is about.
    if isinstance(backend_for(server), PostgresBackend):
        schema.pg_template(backend_for(server))
    else:
        schema.sqlite_template(backend_for(server))
    steps = [key for key, _label in PROVISION_STEPS]
    # Every step once, a few milliseconds in; then creating the database again, later into it
    # (mid CREATE DATABASE / file copy, between the role and the database).
    kills = [(step, random.uniform(0, 0.03)) for step in steps]
    kills += [("create_database", random.uniform(0.01, 0.2)) for _ in range(3)]
    killed_with_row = 0
    for step, delay in kills:
        status = _kill_during_step(steps.index(step) + 1, delay)
        row = Orchestra.objects.filter(subdomain=SUBDOMAIN).first()
        if status is not None or (row is not None and row.status == Orchestra.Status.ACTIVE):
            # The last step can complete before the kill lands: a whole orchestra, not debris.
            assert row is not None and row.status == Orchestra.Status.ACTIVE, (step, status)
            assert verify_isolation().exit_code == 0
            remove_orchestra(row)
            continue
        if row is not None:
            killed_with_row += 1
            assert row.status == Orchestra.Status.PROVISIONING, step
            # What the kill left is never an isolation violation, nor an unreachable database.
            report = verify_isolation()
            assert report.exit_code == 0, (step, report.as_dict())
            assert [c.skipped for c in report.checks] == ["provisioning"]
            monitor_isolation()
            assert not IsolationIncident.objects.exists(), step
        call_command("sweep_provisioning", "--stale-after", "0")
        assert not Orchestra.objects.filter(subdomain=SUBDOMAIN).exists(), step
        assert _leftovers(server) == [], step
        assert verify_isolation().exit_code == 0
        assert not IsolationIncident.objects.exists()
        if row is not None:
            assert AuditEvent.objects.filter(
                action="orchestra.provisioning_swept", orchestra_label=SUBDOMAIN
            ).exists(), step
    # Kills after "reserve" committed the row land inside provisioning proper.
    assert killed_with_row >= len(kills) - 3
    assert (
        AuditEvent.objects.filter(action="orchestra.provisioning_swept").count() == killed_with_row
    )

    finished = subprocess.run(
        _command(), env=_environment(), capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert Orchestra.objects.get(subdomain=SUBDOMAIN).status == Orchestra.Status.ACTIVE
    assert verify_isolation().exit_code == 0
    assert not IsolationIncident.objects.exists()
