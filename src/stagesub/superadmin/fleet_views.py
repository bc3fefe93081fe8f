"""The console's fleet pages: servers, isolation incidents, audit log, jobs and worker state."""

from __future__ import annotations

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.superadmin import fleet
from stagesub.superadmin.fleet_forms import AuditFilterForm, ResolveForm
from stagesub.superadmin.views import superadmin_required
from stagesub.tenancy.models import IsolationIncident
from stagesub.web.paging import page_of


@superadmin_required
def servers(request):
    return render(request, "superadmin/fleet/servers.html", {"servers": fleet.server_overview()})


@superadmin_required
def incidents(request):
    rows = IsolationIncident.objects.select_related("orchestra").order_by(
        "resolved_at", "-opened_at"
    )
    page, keep = page_of(request, rows)
    return render(
        request,
        "superadmin/fleet/incidents.html",
        {"page": page, "keep": keep, "check": fleet.latest_check()},
    )


@superadmin_required
@require_POST
def start_check(request):
    _job, queued = fleet.start_check(request.user)
    if queued:
        messages.success(
            request, _("The isolation check is queued; the worker runs it within seconds.")
        )
    else:
        messages.info(request, _("An isolation check is already waiting or running."))
    back = request.POST.get("incident", "")
    if back.isdigit():
        return redirect("superadmin:fleet_incident", incident_id=int(back))
    return redirect("superadmin:fleet_incidents")


@superadmin_required
def incident_detail(request, incident_id):
    incident = get_object_or_404(
        IsolationIncident.objects.select_related("orchestra"), pk=incident_id
    )
    form = ResolveForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                fleet.resolve_incident(
                    incident.pk, by=request.user.get_username(), note=form.cleaned_data["note"]
                )
            except fleet.ResolveRefused as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, _("Incident #%(id)s resolved.") % {"id": incident.pk})
                return redirect("superadmin:fleet_incident", incident_id=incident.pk)
        else:
            status = 400
    return render(
        request,
        "superadmin/fleet/incident.html",
        {
            "incident": incident,
            "timeline": fleet.incident_timeline(incident),
            "refusal": fleet.resolve_refusal(incident),
            "form": form,
            "error_forms": [form] if form.errors else [],
            "check": fleet.latest_check(),
        },
        status=status,
    )


def _audit_form(request) -> AuditFilterForm:
    return AuditFilterForm(request.GET or None, events=fleet.audit_event_names())


@superadmin_required
def audit_log(request):
    form = _audit_form(request)
    if form.is_bound and not form.is_valid():
        return render(
            request,
            "superadmin/fleet/audit.html",
            {"form": form, "error_forms": [form], "page": None},
            status=400,
        )
    rows = fleet.audit_events(form.audit_filter() if form.is_bound else fleet.AuditFilter())
    page, keep = page_of(request, rows.select_related(None))
    export = request.GET.copy()
    export.pop("page", None)
    return render(
        request,
        "superadmin/fleet/audit.html",
        {"form": form, "page": page, "keep": keep, "export_query": export.urlencode()},
    )


@superadmin_required
def audit_export(request):
    form = _audit_form(request)
    if form.is_bound and not form.is_valid():
        return render(
            request,
            "superadmin/fleet/audit.html",
            {"form": form, "error_forms": [form], "page": None},
            status=400,
        )
    rows = fleet.audit_events(form.audit_filter() if form.is_bound else fleet.AuditFilter())
    response = StreamingHttpResponse(fleet.audit_csv(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="stagesub-audit-{stamp}.csv"'
    return response


@superadmin_required
def jobs(request):
    return render(request, "superadmin/fleet/jobs.html", {"jobs": fleet.job_rows()})


@superadmin_required
def worker(request):
    return render(request, "superadmin/fleet/worker.html", {"state": fleet.worker_state()})
