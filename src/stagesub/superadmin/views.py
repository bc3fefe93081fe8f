from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.crypto import decrypt_secret
from stagesub.superadmin import actions, dashboard, orchestra_page
from stagesub.superadmin.dashboard import DashboardFilters, dashboard_rows
from stagesub.superadmin.forms import (
    DecommissionForm,
    DetailsForm,
    OrchestraCreateForm,
    PlanForm,
    ReasonForm,
    TestEmailForm,
)
from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.tasks import run_provisioning_job
from stagesub.tenancy.models import IsolationIncident, Orchestra
from stagesub.tenancy.provisioning import PROVISION_STEPS
from stagesub.web.paging import page_of


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
    return render(request, "landing.html", {"signup_enabled": settings.SIGNUP_ENABLED})


def _port_suffix(request) -> str:
    port = request.get_port()
    return "" if port in ("80", "443") else f":{port}"


@superadmin_required
def orchestra_list(request):
    """The fleet dashboard: one row per orchestra from its snapshot (no orchestra database)."""
    now = timezone.now()
    filters = DashboardFilters(request.GET or None)
    wanted = filters.cleaned_data if filters.is_valid() else {}
    page, keep = page_of(request, dashboard_rows(wanted, now))
    stale = dashboard.stale_before(now)
    rows = [
        (o, getattr(o, "stats", None), o.url(port=_port_suffix(request), scheme=request.scheme))
        for o in page
    ]
    totals = dashboard.fleet_totals(now)
    return render(
        request,
        "superadmin/orchestras.html",
        {
            "filters": filters,
            "page": page,
            "keep": keep,
            "rows": rows,
            "stale_before": stale,
            "totals": totals,
            "median_label": dashboard.duration_label(totals.median_answer_seconds),
            "bars": dashboard.chart_bars(totals.per_week),
            "chart": {
                "width": dashboard.CHART_WIDTH,
                "height": dashboard.CHART_HEIGHT,
                "bar": dashboard.BAR_WIDTH,
            },
            "incident": IsolationIncident.open_incidents().first(),
            "jobs": ProvisioningJob.objects.filter(kind=ProvisioningJob.Kind.PROVISION).exclude(
                status=ProvisioningJob.Status.SUCCEEDED
            )[:10],
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
    if job.kind != ProvisioningJob.Kind.PROVISION:
        # Other kinds name their steps as they go (superadmin.services runners).
        failed = job.status == ProvisioningJob.Status.FAILED
        current = (
            [(job.current_step, "failed" if failed else "current")] if job.current_step else []
        )
        return [(step, "done") for step in job.steps_done] + current
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


def _orchestra(subdomain: str) -> Orchestra:
    return get_object_or_404(
        Orchestra.objects.select_related("server", "migration", "stats"), subdomain=subdomain
    )


def _page(request, orchestra: Orchestra, *, status: int = 200, refused: str = "", **forms):
    """The orchestra's page, with any bound forms (their errors) put in place of the blank ones."""
    blank = {
        "details_form": DetailsForm(
            initial={
                "name": orchestra.name,
                "contact_name": orchestra.contact_name,
                "contact_email": orchestra.contact_email,
            }
        ),
        "plan_form": PlanForm(orchestra=orchestra),
        "reason_form": ReasonForm(),
        "decommission_form": DecommissionForm(orchestra=orchestra),
        "test_email_form": TestEmailForm(
            initial={"to": request.user.email or orchestra.contact_email}
        ),
    }
    blank.update(forms)
    context = {
        **blank,
        **orchestra_page.details(orchestra, timezone.now()),
        # Not "orchestra": base.html reads that name as the host's orchestra (navigation).
        "subject": orchestra,
        "url": orchestra.url(port=_port_suffix(request), scheme=request.scheme),
        "refused": refused,
        "error_forms": [f for f in forms.values() if f.errors],
    }
    return render(request, "superadmin/orchestra.html", context, status=status)


@superadmin_required
def orchestra_detail(request, subdomain):
    return _page(request, _orchestra(subdomain))


@superadmin_required
def orchestra_jobs(request, subdomain):
    """The page's job list, polled while a job is unfinished (htmx)."""
    orchestra = _orchestra(subdomain)
    return render(
        request,
        "superadmin/_orchestra_jobs.html",
        {"subject": orchestra, **orchestra_page.jobs(orchestra)},
    )


def _done(request, orchestra: Orchestra, message: str):
    messages.success(request, message)
    return redirect("superadmin:orchestra", subdomain=orchestra.subdomain)


@superadmin_required
@require_POST
def orchestra_edit(request, subdomain):
    orchestra = _orchestra(subdomain)
    form = DetailsForm(request.POST)
    if not form.is_valid():
        return _page(request, orchestra, status=400, details_form=form)
    try:
        actions.update_details(orchestra, form.cleaned_data, actor=request.user)
    except actions.ActionRefused as exc:
        return _page(request, orchestra, status=409, refused=str(exc))
    return _done(request, orchestra, _("The details of %(name)s were saved.") % form.cleaned_data)


@superadmin_required
def orchestra_plan(request, subdomain):
    orchestra = _orchestra(subdomain)
    if request.method != "POST":
        return redirect("superadmin:orchestra", subdomain=orchestra.subdomain)
    form = PlanForm(request.POST, orchestra=orchestra)
    if form.is_valid():
        try:
            actions.change_plan(
                orchestra, form.cleaned_data["plan"], form.overrides(), actor=request.user
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        except actions.ActionRefused as exc:
            return _page(request, orchestra, status=409, refused=str(exc))
        else:
            return _done(
                request,
                orchestra,
                _("The plan of %(name)s was changed.") % {"name": orchestra.name},
            )
    return _page(request, orchestra, status=400, plan_form=form)


@superadmin_required
@require_POST
def orchestra_status(request, subdomain, change):
    orchestra = _orchestra(subdomain)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _page(request, orchestra, status=400, reason_form=form)
    suspend = change == "suspend"
    try:
        actions.set_suspended(orchestra, suspend, form.cleaned_data["reason"], actor=request.user)
    except actions.ActionRefused as exc:
        return _page(request, orchestra, status=409, refused=str(exc))
    message = _("%(name)s is suspended.") if suspend else _("%(name)s is active again.")
    return _done(request, orchestra, message % {"name": orchestra.name})


@superadmin_required
@require_POST
def orchestra_action(request, subdomain, kind):
    """Start a console job on the orchestra: check its database, migrate it, a test e-mail."""
    orchestra = _orchestra(subdomain)
    params = {}
    if kind == ProvisioningJob.Kind.TEST_EMAIL:
        form = TestEmailForm(request.POST)
        if not form.is_valid():
            return _page(request, orchestra, status=400, test_email_form=form)
        params["to"] = form.cleaned_data["to"]
    elif kind == ProvisioningJob.Kind.DECOMMISSION:
        form = DecommissionForm(request.POST, orchestra=orchestra)
        if not form.is_valid():
            return _page(request, orchestra, status=400, decommission_form=form)
    try:
        actions.start_job(orchestra, kind, actor=request.user, **params)
    except actions.ActionRefused as exc:
        return _page(request, orchestra, status=409, refused=str(exc))
    return _done(
        request,
        orchestra,
        _("%(kind)s started: the result appears below.")
        % {"kind": ProvisioningJob.Kind(kind).label.capitalize()},
    )
