"""What a superadmin can do to one orchestra from its console page.

Changes made on the spot (details, plan, suspend, reactivate) run inside the orchestra's
exclusive operation, so they are refused while a migration, backup, restore, move or
decommissioning holds it. Work that takes time runs as a console job; at most one unfinished
job per orchestra and kind exists (a partial unique constraint decides between two
simultaneous clicks), and the ones that change the database take the exclusive operation when
they run.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.tasks import run_provisioning_job
from stagesub.tenancy import audit, operations
from stagesub.tenancy.models import Orchestra

UNFINISHED = (ProvisioningJob.Status.QUEUED, ProvisioningJob.Status.RUNNING)


class ActionRefused(RuntimeError):
    """Shown to the superadmin as it is: why the action did not happen."""


def _refused_by_operation(exc: operations.OperationRefused) -> ActionRefused:
    return ActionRefused(
        _("Another action is running on this orchestra; try again when it has finished (%(e)s).")
        % {"e": exc}
    )


def update_details(orchestra: Orchestra, values: dict, *, actor) -> None:
    """Name and contact; refused while another operation holds the orchestra."""
    try:
        with operations.exclusive_operation(orchestra, "console.edit") as current:
            changed = {k: v for k, v in values.items() if getattr(current, k) != v}
            for field, value in changed.items():
                setattr(current, field, value)
            current.save(update_fields=[*changed, "updated_at"])
            if changed:
                audit.record("orchestra.edited", actor=actor, orchestra=current, **changed)
    except operations.OperationRefused as exc:
        raise _refused_by_operation(exc) from exc


def change_plan(orchestra: Orchestra, plan: str, overrides: dict, *, actor) -> None:
    from stagesub.tenancy.plans import change_plan as plans_change_plan

    try:
        with operations.exclusive_operation(orchestra, "console.plan") as current:
            plans_change_plan(current, plan, overrides, actor=actor)
    except operations.OperationRefused as exc:
        raise _refused_by_operation(exc) from exc


def set_suspended(orchestra: Orchestra, suspended: bool, reason: str, *, actor) -> None:
    """Suspend an active orchestra or reactivate a suspended one, with the reason audited.

    Its host shows the suspended page (with the platform's contact) within one routing-cache
    period in every process, at once in this one.
    """
    before, after = (
        (Orchestra.Status.ACTIVE, Orchestra.Status.SUSPENDED)
        if suspended
        else (Orchestra.Status.SUSPENDED, Orchestra.Status.ACTIVE)
    )
    try:
        with operations.exclusive_operation(orchestra, "console.status") as current:
            if current.status != before:
                raise ActionRefused(
                    _("%(name)s is %(status)s, not %(expected)s.")
                    % {
                        "name": current.name,
                        "status": current.get_status_display(),
                        "expected": Orchestra.Status(before).label,
                    }
                )
            with transaction.atomic():
                Orchestra.objects.filter(pk=current.pk, status=before).update(
                    status=after, updated_at=timezone.now()
                )
                audit.record(
                    "orchestra.suspended" if suspended else "orchestra.reactivated",
                    actor=actor,
                    orchestra=current,
                    reason=reason,
                )
    except operations.OperationRefused as exc:
        raise _refused_by_operation(exc) from exc
    # Every web process, not only this one: the routing generation is bumped (within one poll).
    operations.forget_route(orchestra)


def _abandon_stale_jobs(orchestra: Orchestra, kind: str) -> None:
    """A job whose worker died stays "running": after the fleet's stale limit it is failed."""
    limit = timezone.now() - datetime.timedelta(seconds=settings.FLEET_OPERATION_STALE_AFTER)
    ProvisioningJob.objects.filter(
        orchestra=orchestra, kind=kind, status__in=UNFINISHED, created_at__lt=limit
    ).update(
        status=ProvisioningJob.Status.FAILED,
        error="abandoned: no worker finished it",
        finished_at=timezone.now(),
    )


def start_job(orchestra: Orchestra, kind: str, *, actor, **params) -> ProvisioningJob:
    """Queue a console job on the orchestra; refused while one of that kind is unfinished."""
    if orchestra.operation and kind in (
        ProvisioningJob.Kind.MIGRATE,
        ProvisioningJob.Kind.DECOMMISSION,
    ):
        raise ActionRefused(
            _("%(operation)s is running on this orchestra; try again when it has finished.")
            % {"operation": orchestra.operation}
        )
    _abandon_stale_jobs(orchestra, kind)
    try:
        with transaction.atomic():
            job = ProvisioningJob.objects.create(
                kind=kind,
                orchestra=orchestra,
                subdomain=orchestra.subdomain,
                name=orchestra.name,
                plan=orchestra.plan,
                created_by=actor,
                params=params,
            )
    except IntegrityError:
        raise ActionRefused(
            _("A %(kind)s of this orchestra is already queued or running.")
            % {"kind": ProvisioningJob.Kind(kind).label}
        ) from None
    audit.record(f"console.job.{kind}", actor=actor, orchestra=orchestra, job=str(job.pk))
    run_provisioning_job.enqueue(str(job.pk))
    return job
