"""Running console jobs: claimed by one worker, dispatched by kind, progress and log recorded.

Each kind has a runner `runner(job, step, log)`: `step(name)` announces the step now running
(the one before it is done), `log(line)` appends to the job's log. A runner refuses by raising
JobRefused (an expected "no", shown as the job's error); anything else fails the job with its
type and message. Runners that change an orchestra run inside its exclusive operation, so a
second console action on the same orchestra is refused while the first runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.mail import EmailMessage, get_connection
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.crypto import encrypt_secret
from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy.provisioning import ProvisioningRefused, ProvisionRequest, create_orchestra

logger = logging.getLogger("stagesub.superadmin")


class JobRefused(RuntimeError):
    """The job could not do its work for a reason the operator should read (not a bug)."""


Step = Callable[[str], None]
Log = Callable[[str], None]
Runner = Callable[[ProvisioningJob, Step, Log], None]

RUNNERS: dict[str, Runner] = {}


def runner(kind: str):
    def decorator(function: Runner) -> Runner:
        RUNNERS[kind] = function
        return function

    return decorator


def run_job(job_id) -> ProvisioningJob | None:
    """Run a queued job; return it when run here, None when another worker had claimed it."""
    # One conditional UPDATE claims the job: of two workers that picked up the same job (a task
    # delivered twice, or run by hand meanwhile), exactly one sees a row change and runs it.
    claimed = ProvisioningJob.objects.filter(
        pk=job_id, status=ProvisioningJob.Status.QUEUED
    ).update(status=ProvisioningJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    job = ProvisioningJob.objects.get(pk=job_id)

    def step(name: str) -> None:
        if job.current_step:
            job.steps_done = [*job.steps_done, job.current_step]
        job.current_step = name
        job.save(update_fields=["current_step", "steps_done"])

    def log(line: str) -> None:
        job.log += f"{timezone.now():%H:%M:%S} {line}\n"
        job.save(update_fields=["log"])

    try:
        RUNNERS[job.kind](job, step, log)
    except (JobRefused, ProvisioningRefused) as exc:
        job.status, job.error = ProvisioningJob.Status.FAILED, str(exc)
    except Exception as exc:
        logger.exception("console job %s (%s) failed", job.pk, job.kind)
        job.status, job.error = ProvisioningJob.Status.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        job.status = ProvisioningJob.Status.SUCCEEDED
        if job.current_step:
            job.steps_done = [*job.steps_done, job.current_step]
        job.current_step = ""
    if job.error:
        job.log += f"{timezone.now():%H:%M:%S} {job.error}\n"
    job.finished_at = timezone.now()
    job.save()
    return job


@runner(ProvisioningJob.Kind.PROVISION)
def _provision(job: ProvisioningJob, step: Step, log: Log) -> None:
    result = create_orchestra(
        ProvisionRequest(
            subdomain=job.subdomain,
            name=job.name,
            admin_email=job.contact_email,
            admin_username=job.admin_username or None,
            contact_name=job.contact_name,
            plan=job.plan,
        ),
        progress=step,
        actor=job.created_by,
    )
    job.orchestra = result.orchestra
    job.admin_username = result.admin_username
    job.admin_password_encrypted = encrypt_secret(result.admin_password)


def _orchestra_of(job: ProvisioningJob):
    from stagesub.tenancy.models import Orchestra

    if job.orchestra_id is None:
        raise JobRefused(_("The orchestra no longer exists."))
    return Orchestra.objects.select_related("server", "migration").get(pk=job.orchestra_id)


@runner(ProvisioningJob.Kind.CHECK_DATABASE)
def _check_database(job: ProvisioningJob, step: Step, log: Log) -> None:
    from dataclasses import asdict

    from stagesub.superadmin.stats import refresh_snapshot
    from stagesub.tenancy.isolation import check_orchestra

    orchestra = _orchestra_of(job)
    step("check")
    check = check_orchestra(orchestra, with_migrations=True)
    job.result = asdict(check)
    log(
        f"reachable={check.reachable} stamp_ok={check.stamp_ok} "
        f"pending={len(check.pending_migrations or [])} {check.error}".strip()
    )
    # The page's numbers follow the check at once rather than at the next pass.
    step("snapshot")
    refresh_snapshot(orchestra)
    if not check.reachable:
        raise JobRefused(_("The database could not be checked: %(e)s") % {"e": check.error})
    if not check.stamp_ok:
        raise JobRefused(_("The database does not carry this orchestra's identity stamp."))


@runner(ProvisioningJob.Kind.MIGRATE)
def _migrate(job: ProvisioningJob, step: Step, log: Log) -> None:
    from stagesub.superadmin.stats import refresh_snapshot
    from stagesub.tenancy import fleet, operations

    orchestra = _orchestra_of(job)
    step("migrate")
    try:
        with (
            operations.exclusive_operation(orchestra, "migration"),
            operations.maintenance(orchestra, "migration"),
        ):
            outcomes = fleet.migrate_orchestras([orchestra.subdomain], check_all=True)
    except operations.OperationRefused as exc:
        raise JobRefused(str(exc)) from exc
    for outcome in outcomes:
        log(f"{outcome.status}: {', '.join(outcome.applied) or '-'} {outcome.error}".strip())
        if outcome.status == "failed":
            raise JobRefused(outcome.error)
    step("snapshot")
    refresh_snapshot(orchestra)


@runner(ProvisioningJob.Kind.TEST_EMAIL)
def _test_email(job: ProvisioningJob, step: Step, log: Log) -> None:
    from stagesub.messaging.delivery import origin_of
    from stagesub.tenancy.binding import binding_for
    from stagesub.tenancy.context import bind

    orchestra = _orchestra_of(job)
    step("send")
    # The orchestra's own sender name and reply-to, as every message of the orchestra carries them.
    with bind(binding_for(orchestra)):
        origin = origin_of(orchestra.name)
    sender = origin.sender
    EmailMessage(
        subject=_("Test e-mail from %(name)s") % {"name": orchestra.name},
        body=_("This test e-mail was sent from the StageSub console with the sender of %(name)s.")
        % {"name": orchestra.name},
        from_email=sender,
        reply_to=origin.reply_to,
        to=[job.params["to"]],
        connection=get_connection(fail_silently=False),
    ).send()
    log(f"sent to {job.params['to']} as {sender}")


@runner(ProvisioningJob.Kind.DECOMMISSION)
def _decommission(job: ProvisioningJob, step: Step, log: Log) -> None:
    from stagesub.tenancy import operations
    from stagesub.tenancy.decommission import decommission

    orchestra = _orchestra_of(job)
    try:
        result = decommission(orchestra, actor=job.created_by, progress=step)
    except operations.OperationRefused as exc:
        raise JobRefused(str(exc)) from exc
    log(f"archived; database kept until {result.drop_after:%Y-%m-%d}")
