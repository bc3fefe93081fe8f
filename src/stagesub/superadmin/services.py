"""Running a provisioning job: the console's side of tenancy.provisioning.create_orchestra."""

from __future__ import annotations

import logging

from django.utils import timezone

from stagesub.crypto import encrypt_secret
from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy.provisioning import ProvisioningRefused, ProvisionRequest, create_orchestra

logger = logging.getLogger("stagesub.superadmin")


def run_job(job_id) -> ProvisioningJob | None:
    """Run a queued job; return it when run here, None when another worker had claimed it."""
    # One conditional UPDATE claims the job: of two workers that picked up the same job (a task
    # delivered twice, or run by hand meanwhile), exactly one sees a row change and runs it.
    claimed = ProvisioningJob.objects.filter(
        pk=job_id, status=ProvisioningJob.Status.QUEUED
    ).update(status=ProvisioningJob.Status.RUNNING)
    if not claimed:
        return None
    job = ProvisioningJob.objects.get(pk=job_id)

    def progress(step: str) -> None:
        if job.current_step:
            job.steps_done = [*job.steps_done, job.current_step]
        job.current_step = step
        job.save(update_fields=["current_step", "steps_done"])

    try:
        result = create_orchestra(
            ProvisionRequest(
                subdomain=job.subdomain,
                name=job.name,
                admin_email=job.contact_email,
                admin_username=job.admin_username or None,
                contact_name=job.contact_name,
                plan=job.plan,
            ),
            progress=progress,
            actor=job.created_by,
        )
    except ProvisioningRefused as exc:
        job.status, job.error = ProvisioningJob.Status.FAILED, str(exc)
    except Exception as exc:
        logger.exception("provisioning job %s failed", job.pk)
        job.status, job.error = ProvisioningJob.Status.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        job.status = ProvisioningJob.Status.SUCCEEDED
        job.steps_done = [*job.steps_done, job.current_step]
        job.current_step = ""
        job.orchestra = result.orchestra
        job.admin_username = result.admin_username
        job.admin_password_encrypted = encrypt_secret(result.admin_password)
    job.finished_at = timezone.now()
    job.save()
    return job
