"""Two workers picking up one console job at the same moment: exactly one runs it (row locks)."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.db import connections as django_connections

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.services import run_job
from stagesub.tenancy.models import Orchestra
from tests.superadmin.test_jobs import _job


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Statistics are a snapshot per transaction: drop it to see the workers arrive.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_workers_picking_up_one_job_at_once_run_it_once():
    job = _job()
    ran, errors = [], []

    def worker():
        try:
            ran.append(run_job(job.pk))
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            django_connections.close_all()

    # Hold the job row locked until both workers are waiting on it, so both have read it
    # before either can write: the worst interleaving, every time.
    with transaction.atomic():
        ProvisioningJob.objects.select_for_update().get(pk=job.pk)
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < 2:
            assert time.monotonic() < deadline, "the workers never reached the job row"
            time.sleep(0.02)
    for t in threads:
        t.join()
    assert not errors
    assert len([j for j in ran if j is not None]) == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and not job.error
    assert Orchestra.objects.filter(subdomain="uppsala").count() == 1
