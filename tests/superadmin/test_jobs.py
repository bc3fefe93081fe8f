"""Console jobs: claimed by exactly one worker; progress announces a step only once it is done."""

from django.contrib.auth import get_user_model

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.services import run_job
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra


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
