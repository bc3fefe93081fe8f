"""The office pages: thin views over dashboard, activity and booked."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from stagesub.accounts.roles import staff_required
from stagesub.office import activity, booked, dashboard
from stagesub.projects.shortcuts import project_or_404
from stagesub.tenancy.plans import usage_report
from stagesub.web.paging import page_of


@staff_required
@require_safe
def home(request):
    today = timezone.localdate()
    waiting = dashboard.waiting_answers()
    usage = usage_report(request.orchestra)
    return render(
        request,
        "office/dashboard.html",
        {
            "upcoming": dashboard.upcoming_projects(today),
            "waiting": waiting[: dashboard.WAITING_SHOWN],
            "waiting_total": waiting.count(),
            "latest": dashboard.latest_answers(),
            "stalled": dashboard.stalled_needs(today)[: dashboard.STALLED_SHOWN],
            "usage": usage,
            "no_musicians": next(u.used for u in usage if u.name == "musicians") == 0,
            "platform_contact": settings.PLATFORM_CONTACT,
        },
    )


@staff_required
@require_safe
def activity_feed(request):
    filters, rows = activity.feed(request.GET)
    page, keep = page_of(request, rows if rows is not None else [])
    for row in page.object_list:
        row["label"] = activity.label(row["a_kind"])
        row["is_offer"] = activity.is_offer_event(row["a_kind"])
    return render(
        request,
        "office/activity.html",
        {
            "filters": filters,
            "page": page,
            "keep": keep,
            "error_forms": [filters.form] if filters.form.errors else [],
        },
        status=400 if rows is None else 200,
    )


@staff_required
@require_safe
def booked_musicians(request, project_id):
    project = project_or_404(project_id)
    groups = booked.booked(project)
    template = "office/booked_print.html" if request.GET.get("print") else "office/booked.html"
    return render(
        request,
        template,
        {"project": project, "groups": groups, "total": sum(len(g.musicians) for g in groups)},
    )


@staff_required
@require_safe
def booked_export(request, project_id, fmt):
    project = project_or_404(project_id)
    groups = booked.booked(project)
    name = f"{project.project_id}-{slugify(project.name) or 'project'}"
    if fmt == "csv":
        response = HttpResponse(booked.as_csv(groups), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            booked.as_xlsx(groups, str(project)),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
