"""Roster pages. Thin: forms in, services do the work, templates out."""

from __future__ import annotations

import json
import secrets
import time

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.accounts.roles import admin_required, admin_required_for_actions, staff_required
from stagesub.orchestra.storage import storage_root
from stagesub.roster import services, spreadsheets
from stagesub.roster.filters import MusicianFilter
from stagesub.roster.forms import (
    ImportForm,
    MusicianForm,
    NameForm,
    grouped_positions,
)
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.roster.profile import sections_for
from stagesub.web.paging import page_of

LIST_FIELDS = (
    "musician_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "status",
    "local_residence",
)


def _attach_qualification_names(musicians: list[Musician]) -> None:
    """m.qualification_names ("Violin: Tutti violin 1, ...") for the list, in one query with
    no model instances: a prefetch would build a manager, a position and an instrument per row."""
    names: dict[int, list[str]] = {}
    rows = (
        Qualification.objects.filter(musician__in=[m.pk for m in musicians])
        .order_by(*(f"position__{key}" for key in Position._meta.ordering))
        .values_list("musician_id", "position__instrument__name", "position__name")
    )
    for musician_id, instrument, position in rows:
        names.setdefault(musician_id, []).append(f"{instrument}: {position}")
    for m in musicians:
        m.qualification_names = ", ".join(names.get(m.pk, ()))


def _musician(musician_id: str) -> Musician:
    return get_object_or_404(Musician, musician_id=musician_id.upper())


@staff_required
def musician_list(request):
    filters = MusicianFilter(request.GET, queryset=Musician.objects.only(*LIST_FIELDS))
    page, keep = page_of(request, filters.qs)  # filtered, sorted and cut in the database
    musicians = list(page.object_list)
    _attach_qualification_names(musicians)  # only the rows shown
    counts = Musician.objects.aggregate(
        total=Count("pk", filter=~Q(status="archived")),
        active=Count("pk", filter=Q(status="active")),
        inactive=Count("pk", filter=Q(status="inactive")),
        archived=Count("pk", filter=Q(status="archived")),
        local=Count("pk", filter=Q(local_residence=True) & ~Q(status="archived")),
    )
    context = {
        "form": filters.form,
        "musicians": musicians,
        "page": page,
        "keep": keep,
        "counts": counts,
    }
    if request.headers.get("HX-Request"):
        return render(request, "roster/_musician_rows.html", context)
    return render(request, "roster/musician_list.html", context)


@staff_required
def musician_create(request):
    form = MusicianForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            musician = services.create_musician(
                form.to_data(), max_musicians=request.orchestra.max_musicians
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                _("%(name)s was added as %(id)s.")
                % {"name": musician.full_name, "id": musician.musician_id},
            )
            return redirect("roster:musician", musician_id=musician.musician_id)
    return render(request, "roster/musician_form.html", {"form": form, "creating": True})


@staff_required
def musician_edit(request, musician_id):
    musician = _musician(musician_id)
    form = MusicianForm(request.POST or None, musician=musician)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.update_musician(musician, form.to_data())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _("Changes saved."))
            for note in change.messages:
                messages.info(request, note)
            return redirect("roster:musician", musician_id=musician.musician_id)
    return render(request, "roster/musician_form.html", {"form": form, "musician": musician})


@staff_required
def musician_detail(request, musician_id):
    musician = _musician(musician_id)
    qualifications = sorted(
        musician.qualifications.select_related("instrument"),
        key=lambda p: (p.instrument.display_order, p.hierarchy_level),
    )
    return render(
        request,
        "roster/musician_detail.html",
        {
            "musician": musician,
            "qualifications": qualifications,
            "sections": sections_for(musician),
        },
    )


STATUS_ACTIONS = {
    "activate": (Musician.Status.ACTIVE, _("%(name)s is active again.")),
    "deactivate": (Musician.Status.INACTIVE, _("%(name)s is inactive: kept in lists, not asked.")),
    "archive": (Musician.Status.ARCHIVED, _("%(name)s was archived.")),
    "restore": (Musician.Status.ACTIVE, _("%(name)s was restored.")),
}


@staff_required
@require_POST
def musician_status(request, musician_id):
    musician = _musician(musician_id)
    action = STATUS_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest(_("Unknown action."))
    services.set_musician_status(musician, action[0])
    messages.success(request, action[1] % {"name": musician.full_name})
    return redirect("roster:musician", musician_id=musician.musician_id)


# --- import / export --------------------------------------------------------------------------

IMPORT_TTL = 24 * 3600


def _imports_dir():
    folder = storage_root() / "imports"
    folder.mkdir(exist_ok=True)
    now = time.time()
    for old in folder.iterdir():
        if now - old.stat().st_mtime > IMPORT_TTL:
            old.unlink(missing_ok=True)
    return folder


def _load_upload(token: str):
    if not token or not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
        return None
    folder = storage_root() / "imports"
    meta, data = folder / f"{token}.json", folder / f"{token}.bin"
    if not meta.exists() or not data.exists():
        return None
    return json.loads(meta.read_text())["name"], data.read_bytes(), (meta, data)


@admin_required
def musician_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and "token" in request.POST:
        loaded = _load_upload(request.POST["token"])
        if loaded is None:
            messages.error(request, _("The uploaded file has expired. Upload it again."))
            return redirect("roster:import")
        name, content, paths = loaded
        try:
            preview = spreadsheets.apply_import(
                spreadsheets.read_table(name, content),
                max_musicians=request.orchestra.max_musicians,
            )
        except (spreadsheets.ImportFileError, ValidationError) as error:
            messages.error(request, "; ".join(getattr(error, "messages", [str(error)])))
            return redirect("roster:import")
        for path in paths:
            path.unlink(missing_ok=True)
        messages.success(
            request,
            _("Import done: %(c)s created, %(u)s updated, %(r)s rows skipped.")
            % {"c": len(preview.creates), "u": len(preview.updates), "r": len(preview.rejects)},
        )
        return redirect("roster:musicians")
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read(spreadsheets.MAX_IMPORT_BYTES + 1)
        try:
            preview = spreadsheets.preview_import(spreadsheets.read_table(upload.name, content))
        except spreadsheets.ImportFileError as error:
            form.add_error("file", str(error))
        else:
            token = secrets.token_urlsafe(16)
            folder = _imports_dir()
            (folder / f"{token}.bin").write_bytes(content)
            (folder / f"{token}.json").write_text(json.dumps({"name": upload.name}))
            return render(
                request, "roster/import_preview.html", {"preview": preview, "token": token}
            )
    return render(request, "roster/import.html", {"form": form})


@staff_required
def musician_export(request, fmt):
    stamp = time.strftime("%Y-%m-%d")
    if fmt == "csv":
        response = HttpResponse(spreadsheets.export_csv(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(
            spreadsheets.export_xlsx(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404
    response["Content-Disposition"] = (
        f'attachment; filename="musiker-{request.orchestra.subdomain}-{stamp}.{fmt}"'
    )
    return response


# --- instruments and positions --------------------------------------------------------------


@staff_required
def instrument_list(request):
    show_archived = request.GET.get("archived") == "1"
    counts = dict(
        Position.objects.annotate(
            n=Count("musicians", filter=Q(musicians__status="active"))
        ).values_list("pk", "n")
    )
    groups = [
        (instrument, [(p, counts.get(p.pk, 0)) for p in positions])
        for instrument, positions in grouped_positions(include_archived_instruments=show_archived)
    ]
    return render(
        request,
        "roster/instrument_list.html",
        {
            "groups": groups,
            "show_archived": show_archived,
            "form": NameForm(),
        },
    )


def _report(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@admin_required_for_actions("delete")
@require_POST
def instrument_action(request, pk=None):
    action = request.POST.get("action", "")
    instrument = get_object_or_404(Instrument, pk=pk) if pk else None
    name = request.POST.get("name", "")
    try:
        if action == "create":
            created = services.create_instrument(name)
            messages.success(request, _("%(name)s was added.") % {"name": created.name})
        elif instrument is None:
            return HttpResponseBadRequest(_("Unknown action."))
        elif action == "rename":
            services.rename_instrument(instrument, name)
        elif action in ("archive", "restore"):
            services.set_instrument_archived(instrument, action == "archive")
        elif action == "delete":
            services.delete_instrument(instrument)
            messages.success(request, _("%(name)s was deleted.") % {"name": instrument.name})
        elif action == "add_position":
            services.add_position(instrument, name)
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _report(request, error)
    return redirect("roster:instruments")


@admin_required_for_actions("delete")
@require_POST
def position_action(request, pk):
    position = get_object_or_404(Position, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "rename":
            services.rename_position(position, request.POST.get("name", ""))
        elif action == "delete":
            services.delete_position(position)
            messages.success(request, _("%(name)s was deleted.") % {"name": str(position)})
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        _report(request, error)
    return redirect("roster:instruments")


def _ids(request) -> list[int] | None:
    try:
        ids = [int(x) for x in request.POST.getlist("order")]
    except ValueError:
        return None
    return ids or None


@staff_required
@require_POST
def instrument_reorder(request):
    ids = _ids(request)
    if ids is None:
        return JsonResponse({"error": _("Invalid order.")}, status=400)
    try:
        services.reorder_instruments(ids)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=409)
    return JsonResponse({"ok": True})


@staff_required
@require_POST
def position_reorder(request, pk):
    instrument = get_object_or_404(Instrument, pk=pk)
    ids = _ids(request)
    if ids is None:
        return JsonResponse({"error": _("Invalid order.")}, status=400)
    try:
        services.reorder_positions(instrument, ids)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=409)
    return JsonResponse({"ok": True})
