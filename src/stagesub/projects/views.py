"""Project pages: list, create/edit, detail with needs and the project's own lists."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stagesub.accounts.roles import admin_required, admin_required_for_actions, staff_required
from stagesub.projects import calendar, files, services
from stagesub.projects.filters import ProjectFilter
from stagesub.projects.forms import FileForm, NeedForm, ProjectForm, today
from stagesub.projects.models import Need, Project, ProjectFile, ProjectList
from stagesub.projects.sections import sections_for
from stagesub.projects.shortcuts import need_or_404, project_or_404
from stagesub.rankings import services as list_services
from stagesub.rankings.models import RankingList
from stagesub.rankings.views import reorder_response
from stagesub.roster.models import Position
from stagesub.validation import (
    has_control_characters,
    parse_id,
    require_id,
    require_ids,
    single_line,
)
from stagesub.web.paging import page_of


def _errors(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@staff_required
def project_list(request):
    """Search, filter, sort and paginate in the database; the page's rows carry their
    staffing (with_staffing), so the page costs the same few queries for 20 or 20,000."""
    now = today()
    filters = ProjectFilter(
        request.GET, queryset=services.with_staffing(Project.objects.all()), today=now
    )
    page, keep = page_of(request, filters.qs)
    staffing = {
        p.pk: services.staffing_row(p.staffing_needed, p.staffing_accepted, p.staffing_sent)
        for p in page.object_list
    }
    return render(
        request,
        "projects/project_list.html",
        {
            "filters": filters,
            "projects": page,
            "page": page,
            "keep": keep,
            "staffing": staffing,
            "feed_url": request.build_absolute_uri(f"/calendar/{calendar.feed_token()}.ics"),
            "today": now,
            "limit": services.project_limit_reached(request.orchestra.max_projects),
        },
    )


@staff_required
def project_create(request):
    limit = services.project_limit_reached(request.orchestra.max_projects)
    if limit:  # said before the form is filled in, not after
        return render(request, "projects/project_form.html", {"creating": True, "limit": limit})
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(
                form.to_data(), max_projects=request.orchestra.max_projects
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(name)s was created as %(id)s.")
                % {"name": project.name, "id": project.project_id},
            )
            return redirect("projects:project", project_id=project.project_id)
    return render(
        request,
        "projects/project_form.html",
        {"form": form, "creating": True, "error_forms": [form] if form.errors else []},
    )


@staff_required
def project_edit(request, project_id):
    project = project_or_404(project_id)
    form = ProjectForm(request.POST or None, initial=ProjectForm.initial_for(project))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_project(project, form.to_data())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("projects:project", project_id=project.project_id)
    return render(
        request,
        "projects/project_form.html",
        {"form": form, "project": project, "error_forms": [form] if form.errors else []},
    )


def _list_choices(project: Project, position_id: int | None) -> list[tuple[str, str]]:
    """The lists a need may use: the position's A/B/C lists and this project's own list for
    it; every list while no position is chosen (a page without scripts)."""
    ranking = RankingList.objects.select_related("position__instrument")
    own = project.lists.select_related("position__instrument")
    if position_id is not None:
        ranking, own = ranking.filter(position_id=position_id), own.filter(position_id=position_id)
    lists = [(f"rank:{rl.pk}", str(rl)) for rl in ranking]
    lists += [
        (
            f"project:{pl.pk}",
            _("%(name)s (this project's list), %(position)s")
            % {"name": pl.name, "position": pl.position},
        )
        for pl in own
    ]
    return lists


def _chosen_position(data, initial) -> int | None:
    return parse_id(str((data or {}).get("position") or (initial or {}).get("position") or ""))


def _need_form(project, data=None, initial=None) -> NeedForm:
    positions = list(
        Position.objects.select_related("instrument").filter(instrument__is_archived=False)
    )
    lists = _list_choices(project, _chosen_position(data, initial))
    return NeedForm(
        data,
        initial=initial,
        positions=positions,
        lists=lists,
        lists_url=reverse("projects:need_lists", args=[project.project_id]),
    )


@staff_required
@require_GET
def need_lists(request, project_id):
    """The need form's list select for the chosen position (htmx swaps it in on change)."""
    project = project_or_404(project_id)
    form = _need_form(project, initial={"position": request.GET.get("position", "")})
    return HttpResponse(form["chosen_list"].as_widget())


def _detail_page(request, project: Project, need_form: NeedForm, status: int = 200, file_form=None):
    # Read once: the table, the file form's choices and the states all show the same needs.
    needs = list(
        project.needs.select_related(
            "position__instrument", "ranking_list__position__instrument", "project_list"
        )
    )
    file_form = file_form or FileForm(needs=needs)
    return render(
        request,
        "projects/project_detail.html",
        {
            "project": project,
            "needs": needs,
            "need_form": need_form,
            "sections": sections_for(project),
            "file_form": file_form,
            "error_forms": [f for f in (need_form, file_form) if f.errors],
            "files": project.files.select_related("stored", "need"),
            # One of the two applies: any need asking can be paused, else any paused resumed.
            "can_pause": any(n.status == Need.Status.ACTIVE for n in needs),
            "can_resume": any(n.status == Need.Status.PAUSED for n in needs),
            "accepted": services.accepted_by_position(project),
            "need_states": services.need_states(project, needs),
            "today": today(),
            "lists": project.lists.select_related("position__instrument"),
            "positions": Position.objects.select_related("instrument").filter(
                instrument__is_archived=False
            ),
            "templates": services.templates_for(),
            "ranking_lists": RankingList.objects.select_related("position__instrument"),
            "other_lists": ProjectList.objects.exclude(project=project).select_related(
                "position__instrument"
            )[:200],
        },
        status=status,
    )


@staff_required
def project_detail(request, project_id):
    project = project_or_404(project_id)
    return _detail_page(request, project, _need_form(project))


@admin_required_for_actions("delete")
@require_POST
def project_action(request, project_id):
    project = project_or_404(project_id)
    action = request.POST.get("action", "")
    try:
        if action in ("archive", "restore"):
            services.set_project_archived(project, action == "archive")
            archived = _(
                "%(name)s was archived: no requests can be sent for it. Restore it to undo."
            )
            restored = _("%(name)s was restored.")
            text = archived if action == "archive" else restored
            messages.success(request, text % {"name": project.name})
        elif action in ("pause", "resume"):
            count = services.set_project_paused(project, action == "pause")
            messages.success(request, _("%(n)s needs changed.") % {"n": count})
        elif action == "delete":
            list_services.require_confirmation(request.POST.get("confirm", ""))
            services.delete_project(project)
            messages.success(request, _("The project was deleted."))
            return redirect("projects:projects")
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _errors(request, error)
    return redirect("projects:project", project_id=project.project_id)


@staff_required
@require_http_methods(["GET", "POST"])
def need_create(request, project_id):
    """POST adds a need; GET (a reload of the address a failed POST left) shows the project."""
    project = project_or_404(project_id)
    if request.method == "GET":
        return redirect("projects:project", project_id=project.project_id)
    form = _need_form(project, request.POST)
    if form.is_valid():
        try:
            need = services.create_need(project, form.to_data())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _("The need %(id)s was added.") % {"id": need.need_id})
            return redirect("projects:project", project_id=project.project_id)
    return _detail_page(request, project, form, status=400)


@staff_required
def need_edit(request, project_id, need_id):
    project = project_or_404(project_id)
    need = need_or_404(project, need_id)
    form = _need_form(project, request.POST or None, initial=NeedForm.initial_for(need))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.update_need(need, form.to_data())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("projects:project", project_id=project.project_id)
    return render(
        request,
        "projects/need_form.html",
        {
            "project": project,
            "need": need,
            "form": form,
            "error_forms": [form] if form.errors else [],
        },
        status=status,
    )


@admin_required_for_actions("delete")
@require_POST
def need_action(request, project_id, need_id):
    project = project_or_404(project_id)
    need = need_or_404(project, need_id)
    action = request.POST.get("action", "")
    try:
        if action in ("pause", "resume"):
            services.set_need_paused(need, action == "pause")
        elif action == "delete":
            outcome = services.delete_need(need)
            messages.success(
                request,
                _("The need was archived because requests were sent for it.")
                if outcome == "archived"
                else _("The need was deleted."),
            )
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _errors(request, error)
    return redirect("projects:project", project_id=project.project_id)


# --- the project's own lists ---------------------------------------------------------------


@staff_required
@require_POST
def plist_create(request, project_id):
    project = project_or_404(project_id)
    position = get_object_or_404(Position, pk=require_id(request.POST.get("position")))
    source = None
    copy_from = request.POST.get("copy_from", "")
    if copy_from:  # "rank:<pk>", "project:<pk>" or "template:<pk>"; empty for an empty list
        kind, _sep, pk = copy_from.partition(":")
        models = {"rank": RankingList, "project": ProjectList, "template": ProjectList}
        if kind not in models:
            raise BadRequest("Unknown list kind.")
        source = get_object_or_404(models[kind], pk=require_id(pk))
    try:
        project_list = services.create_project_list(project, position, copy_from=source)
    except ValidationError as error:
        _errors(request, error)
        return redirect("projects:project", project_id=project.project_id)
    return redirect("projects:plist", project_id=project.project_id, list_id=project_list.list_id)


def _plist(project_id: str, list_id: str) -> ProjectList:
    return get_object_or_404(
        ProjectList.objects.select_related("project", "position__instrument"),
        project__project_id=project_id.upper(),
        list_id=list_id.upper(),
    )


@staff_required
def plist_detail(request, project_id, list_id):
    project_list = _plist(project_id, list_id)
    q = request.GET.get("q", "").strip()
    candidates = list_services.candidates(project_list)
    if q:
        candidates = [
            m for m in candidates if q.lower() in f"{m.first_name} {m.last_name} {m.email}".lower()
        ]
    memberships = {}
    for entry in RankingList.objects.filter(position=project_list.position).prefetch_related(
        "entries"
    ):
        for e in entry.entries.all():
            memberships.setdefault(e.musician_id, []).append(entry.list_type)
    return render(
        request,
        "projects/plist.html",
        {
            "list": project_list,
            "project": project_list.project,
            "q": q,
            "entries": project_list.entries.select_related("musician"),
            "candidates": [(m, "/".join(sorted(memberships.get(m.pk, [])))) for m in candidates],
            "sources": services.copy_sources(project_list.project, project_list.position),
            "confirm_word": list_services.CONFIRM_WORD,
        },
    )


@admin_required_for_actions("delete")
@require_POST
def plist_action(request, project_id, list_id):
    project_list = _plist(project_id, list_id)
    action = request.POST.get("action", "")
    try:
        if action == "add":
            ids = require_ids(request.POST.getlist("musicians"))
            if not ids:
                raise ValidationError(_("Choose at least one musician to add."))
            list_services.add_musicians(project_list, ids)
        elif action == "remove":
            list_services.remove_entry(
                project_list,
                require_id(request.POST.get("entry")),
                version=require_id(request.POST.get("version")),
            )
        elif action == "template":
            template_name = request.POST.get("template_name", "")
            single_line(template_name)
            services.save_as_template(project_list, template_name)
            messages.success(request, _("Saved as a template."))
        elif action == "delete":
            list_services.require_confirmation(request.POST.get("confirm", ""))
            services.delete_project_list(project_list)
            messages.success(request, _("The list was deleted."))
            return redirect("projects:project", project_id=project_id)
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _errors(request, error)
    return redirect("projects:plist", project_id=project_id, list_id=project_list.list_id)


@staff_required
@require_POST
def plist_reorder(request, project_id, list_id):
    return reorder_response(request, _plist(project_id, list_id))


@staff_required
@require_POST
def apply_template(request, project_id):
    project = project_or_404(project_id)
    template = get_object_or_404(
        ProjectList, pk=require_id(request.POST.get("template")), is_template=True
    )
    try:
        project_list = services.apply_template(template, project)
    except ValidationError as error:
        _errors(request, error)
        return redirect("projects:project", project_id=project.project_id)
    messages.success(
        request, _("The template %(name)s was applied.") % {"name": template.template_name}
    )
    return redirect("projects:plist", project_id=project.project_id, list_id=project_list.list_id)


# --- files ---------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def file_upload(request, project_id):
    """POST uploads; GET (a reload of the address a failed POST left) shows the project."""
    project = project_or_404(project_id)
    if request.method == "GET":
        return redirect("projects:project", project_id=project.project_id)
    form = FileForm(request.POST, request.FILES, needs=project.needs.all())
    if form.is_valid():
        d = form.cleaned_data
        need = project.needs.filter(need_id=d["need"]).first() if d["need"] else None
        upload = d["file"]
        try:
            content = upload.read(settings.MAX_UPLOAD_BYTES + 1)
            project_file = files.upload(
                project,
                name=upload.name,
                content=content,
                display_name=d["display_name"],
                file_type=d["file_type"],
                send_timing=d["send_timing"],
                need=need,
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            messages.success(
                request, _("%(name)s was uploaded.") % {"name": project_file.display_name}
            )
            return redirect("projects:project", project_id=project.project_id)
    return _detail_page(request, project, _need_form(project), status=400, file_form=form)


def _file(project_id: str, file_id: str) -> ProjectFile:
    return get_object_or_404(
        ProjectFile.objects.select_related("stored", "project"),
        project__project_id=project_id.upper(),
        file_id=file_id.upper(),
    )


@staff_required
def file_download(request, project_id, file_id):
    return files.download(_file(project_id, file_id).stored)


@staff_required
@require_POST
def file_action(request, project_id, file_id):
    project_file = _file(project_id, file_id)
    action = request.POST.get("action", "")
    try:
        if action == "remove":
            files.remove(project_file)
        elif action == "reuse":
            need_id = request.POST.get("need", "")
            if has_control_characters(need_id):  # (PostgreSQL refuses NUL in a query)
                raise BadRequest("Malformed id.")
            need = get_object_or_404(Need, project=project_file.project, need_id=need_id.upper())
            send_timing = request.POST.get("send_timing", ProjectFile.SendTiming.ON_ACCEPT)
            if send_timing not in ProjectFile.SendTiming.values:
                return HttpResponseBadRequest(_("Unknown send timing."))
            files.reuse(project_file, need=need, send_timing=send_timing)
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _errors(request, error)
    return redirect("projects:project", project_id=project_id)


# --- calendar ------------------------------------------------------------------------------


@staff_required
def project_calendar(request, project_id):
    project = project_or_404(project_id)
    response = HttpResponse(
        calendar.project_ics(project, host=request.get_host().split(":")[0]),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{project.project_id}.ics"'
    return response


def calendar_feed(request, token):
    """Upcoming projects for calendar apps; the secret token stands in for a login."""
    if not constant_time_compare(token, calendar.feed_token()):
        raise Http404
    body = calendar.feed_ics(
        orchestra_name=request.orchestra.name, host=request.get_host().split(":")[0], today=today()
    )
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@admin_required
@require_POST
def calendar_renew(request):
    calendar.feed_token(renew=True)
    messages.success(request, _("The calendar link was renewed; the old one no longer works."))
    return redirect("projects:projects")
