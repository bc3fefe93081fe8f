"""Ranking-list pages: the overview and one list (add, remove, reorder, clear, delete)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stagesub.accounts.roles import admin_required_for_actions, staff_required
from stagesub.rankings import services
from stagesub.rankings.filters import PositionFilter
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Position
from stagesub.validation import parse_id, require_id, require_ids, single_line
from stagesub.web.paging import page_of


@staff_required
def overview(request):
    """Positions (filtered and paginated in the database) with their A/B/C lists."""
    filters = PositionFilter(
        request.GET,
        queryset=Position.objects.select_related("instrument").filter(
            instrument__is_archived=False
        ),
    )
    page, keep = page_of(request, filters.qs)
    lists: dict[int, dict[str, RankingList]] = {}
    for ranking_list in RankingList.objects.filter(position__in=page.object_list).annotate(
        members=Count("entries")
    ):
        lists.setdefault(ranking_list.position_id, {})[ranking_list.list_type] = ranking_list
    # Each cell's label translated once per type here, not once per cell in the template
    # (three cells for each of the page's positions).
    labels = {
        t: (_("%(type)s list") % {"type": t}, _("Create %(type)s list") % {"type": t})
        for t in RankingList.ListType.values
    }
    groups: list[tuple] = []  # consecutive positions of one instrument share a card
    for position in page.object_list:
        row = (
            position,
            [(t, lists.get(position.pk, {}).get(t), *labels[t]) for t in labels],
        )
        if groups and groups[-1][0] == position.instrument:
            groups[-1][1].append(row)
        else:
            groups.append((position.instrument, [row]))
    return render(
        request,
        "rankings/overview.html",
        {"groups": groups, "filters": filters, "page": page, "keep": keep},
    )


@staff_required
@require_POST
def create(request):
    position = get_object_or_404(Position, pk=require_id(request.POST.get("position")))
    description = request.POST.get("description", "")
    try:
        single_line(description)
        ranking_list = services.create_list(
            position, request.POST.get("list_type", ""), description
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("rankings:overview")
    return redirect("rankings:list", ranking_list_id=ranking_list.ranking_list_id)


def _list(ranking_list_id: str) -> RankingList:
    return get_object_or_404(
        RankingList.objects.select_related("position__instrument"),
        ranking_list_id=ranking_list_id.upper(),
    )


@staff_required
def detail(request, ranking_list_id):
    ranking_list = _list(ranking_list_id)
    entries = ranking_list.entries.select_related("musician")
    return render(
        request,
        "rankings/list.html",
        {
            "list": ranking_list,
            "entries": entries,
            "candidates": services.candidates(ranking_list),
            "confirm_word": services.CONFIRM_WORD,
            "default_description": services.default_description(
                ranking_list.position, ranking_list.list_type
            ),
        },
    )


@admin_required_for_actions("clear", "delete")
@require_POST
def action(request, ranking_list_id):
    ranking_list = _list(ranking_list_id)
    kind = request.POST.get("action", "")
    try:
        if kind == "add":
            ids = require_ids(request.POST.getlist("musicians"))
            if not ids:
                raise ValidationError(_("Choose at least one musician to add."))
            added = services.add_musicians(ranking_list, ids)
            messages.success(request, _("%(n)s added to the list.") % {"n": len(added)})
        elif kind == "remove":
            services.remove_entry(
                ranking_list, require_id(request.POST.get("entry")), version=_version(request)
            )
        elif kind == "describe":
            description = request.POST.get("description", "")
            single_line(description)
            services.update_description(ranking_list, description)
        elif kind == "clear":
            services.clear_list(ranking_list, confirm=request.POST.get("confirm", ""))
            messages.success(request, _("The list was cleared."))
        elif kind == "delete":
            services.delete_list(ranking_list, confirm=request.POST.get("confirm", ""))
            messages.success(request, _("The list was deleted."))
            return redirect("rankings:overview")
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("rankings:list", ranking_list_id=ranking_list.ranking_list_id)


def _version(request) -> int:
    # The version the page showed: without it a change would skip the "someone else changed
    # the list" check, so a missing or malformed one is a bad request.
    return require_id(request.POST.get("version"))


def reorder_response(request, ranking_list) -> JsonResponse:
    """Apply a dragged order sent as `order` (entry ids) with the list `version` it was based on."""
    ids = request.POST.getlist("order")
    version = parse_id(request.POST.get("version"))
    if version is None or not ids or None in (ids := [parse_id(x) for x in ids]):
        return JsonResponse({"error": _("Invalid order.")}, status=400)
    try:
        ranking_list = services.reorder(ranking_list, ids, version=version)
    except services.ListChanged as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=409)
    return JsonResponse({"ok": True, "version": ranking_list.version})


@staff_required
@require_POST
def reorder(request, ranking_list_id):
    return reorder_response(request, _list(ranking_list_id))
