"""Console jobs: claimed by exactly one worker; progress announces a step only once it is done."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db import connections as django_connections

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.services import run_job
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra
from tests.conftest import BACKEND


def _job(subdomain="uppsala") -> ProvisioningJob:
    return ProvisioningJob.objects.create(
        subdomain=subdomain, name="Uppsala Kammarorkester", contact_email="eva@example.org"
    )


def test_a_job_runs_once_and_a_second_worker_leaves_it_alone(db):
    job = _job()
    assert run_job(job.pk) is not None
    assert run_job(job.pk) is None  # delivered again: not run again
    job.refresh_from_db()
    assert job.status == "succeeded" and Orchestra.objects.filter(subdomain="uppsala").count() == 1


def test_a_running_job_is_not_started_by_another_worker(db):
    job = _job()
    ProvisioningJob.objects.filter(pk=job.pk).update(status="running")
    assert run_job(job.pk) is None
    assert not Orchestra.objects.filter(subdomain="uppsala").exists()


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Statistics are a snapshot per transaction: drop it to see the workers arrive.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks: PostgreSQL")
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


def test_create_admin_is_announced_done_only_once_the_admin_exists(db):
    users = get_user_model().objects
    seen = []

    def progress(step):
        # Announcing a step marks the one before as done.
        seen.append((step, users.filter(username="lund-admin").exists()))

    create_orchestra(
        ProvisionRequest(subdomain="lund", name="Lunds Orkester", admin_email="a@lund.example"),
        progress=progress,
    )
    steps = [s for s, _ in seen]
    assert steps.index("create_admin") + 1 == steps.index("activate")
    assert dict(seen)["create_admin"] is False
    assert dict(seen)["activate"] is True


def test_job_page_steps_follow_what_is_done(db):
    job = _job("lund")
    run_job(job.pk)
    job.refresh_from_db()
    assert job.steps_done[-2:] == ["create_admin", "activate"] and job.current_step == ""
