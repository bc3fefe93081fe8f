"""Running a provisioning job: the console's side of tenancy.provisioning.create_orchestra."""

from __future__ import annotations

import logging

from django.utils import timezone

from stagesub.crypto import encrypt_secret
from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy.provisioning import ProvisioningRefused, ProvisionRequest, create_orchestra

logger = logging.getLogger("stagesub.superadmin")


def run_job(job_id) -> ProvisioningJob:
    job = ProvisioningJob.objects.get(pk=job_id)
    if job.status != ProvisioningJob.Status.QUEUED:
        return job  # already run (a task delivered twice does not provision twice)
    job.status = ProvisioningJob.Status.RUNNING
    job.save(update_fields=["status"])

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
