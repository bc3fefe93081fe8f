from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from stagesub.crypto import decrypt_secret
from stagesub.superadmin.forms import OrchestraCreateForm, PlanForm
from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.tasks import run_provisioning_job
from stagesub.tenancy.isolation import location_label
from stagesub.tenancy.models import IsolationIncident, Orchestra
from stagesub.tenancy.plans import change_plan, usage_report
from stagesub.tenancy.provisioning import PROVISION_STEPS


def superadmin_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_superadmin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def landing(request):
    return render(request, "landing.html")


def _port_suffix(request) -> str:
    port = request.get_port()
    return "" if port in ("80", "443") else f":{port}"


@superadmin_required
def orchestra_list(request):
    orchestras = [
        (
            o,
            location_label(o),
            f"{request.scheme}://{o.subdomain}.{settings.BASE_DOMAIN}{_port_suffix(request)}/",
        )
        for o in Orchestra.objects.select_related("server").order_by("name")
    ]
    return render(
        request,
        "superadmin/orchestras.html",
        {
            "orchestras": orchestras,
            "incident": IsolationIncident.open_incidents().first(),
            "jobs": ProvisioningJob.objects.exclude(status=ProvisioningJob.Status.SUCCEEDED)[:10],
        },
    )


@superadmin_required
def orchestra_create(request):
    form = OrchestraCreateForm(request.POST or None, base_domain=settings.BASE_DOMAIN)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        job = ProvisioningJob.objects.create(
            created_by=request.user,
            subdomain=d["subdomain"],
            name=d["name"],
            contact_name=d["contact_name"],
            contact_email=d["contact_email"],
            admin_username=d["admin_username"],
            plan=d["plan"],
        )
        run_provisioning_job.enqueue(str(job.pk))
        return redirect("superadmin:job", job_id=job.pk)
    return render(request, "superadmin/orchestra_form.html", {"form": form})


def _steps(job: ProvisioningJob) -> list[tuple[str, str]]:
    out = []
    for key, label in PROVISION_STEPS:
        if key in job.steps_done:
            state = "done"
        elif key == job.current_step:
            state = "failed" if job.status == ProvisioningJob.Status.FAILED else "current"
        else:
            state = "todo"
        out.append((label, state))
    return out


def _job_context(request, job: ProvisioningJob) -> dict:
    password = None
    if (
        job.status == ProvisioningJob.Status.SUCCEEDED
        and job.admin_password_encrypted
        and not job.password_shown
    ):
        password = decrypt_secret(job.admin_password_encrypted)
        # Shown exactly once: forget it in the same request that shows it.
        job.admin_password_encrypted = ""
        job.password_shown = True
        job.save(update_fields=["admin_password_encrypted", "password_shown"])
    url = None
    if job.orchestra_id:
        url = f"{request.scheme}://{job.subdomain}.{settings.BASE_DOMAIN}{_port_suffix(request)}/"
    return {"job": job, "steps": _steps(job), "password": password, "url": url}


@superadmin_required
def job_detail(request, job_id):
    job = get_object_or_404(ProvisioningJob, pk=job_id)
    return render(request, "superadmin/job.html", _job_context(request, job))


@superadmin_required
def job_progress(request, job_id):
    job = get_object_or_404(ProvisioningJob, pk=job_id)
    return render(request, "superadmin/_job_progress.html", _job_context(request, job))


@superadmin_required
def orchestra_plan(request, subdomain):
    orchestra = get_object_or_404(Orchestra, subdomain=subdomain, status=Orchestra.Status.ACTIVE)
    form = PlanForm(request.POST or None, orchestra=orchestra)
    if request.method == "POST" and form.is_valid():
        try:
            change_plan(orchestra, form.cleaned_data["plan"], form.overrides(), actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(
                request, _("The plan of %(name)s was changed.") % {"name": orchestra.name}
            )
            return redirect("superadmin:orchestra_plan", subdomain=orchestra.subdomain)
    return render(
        request,
        "superadmin/orchestra_plan.html",
        {"orchestra": orchestra, "form": form, "usage": usage_report(orchestra)},
        status=400 if form.errors else 200,
    )
