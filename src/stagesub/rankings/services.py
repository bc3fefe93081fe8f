"""Ranking-list rules: create on demand, append, remove, reorder (optimistic), clear, delete."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F, Max
from django.utils.translation import gettext as _

from stagesub.orchestra.ids import next_readable_id
from stagesub.rankings import usage
from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.roster.models import Musician, Position
from stagesub.tenancy.context import orchestra_atomic

CONFIRM_WORD = "RADERA"


class ListChanged(ValidationError):
    """The list was changed by someone else since the page was loaded."""


def default_description(position: Position, list_type: str) -> str:
    return _("%(type)s list for %(position)s (%(instrument)s)") % {
        "type": list_type,
        "position": position.name,
        "instrument": position.instrument.name,
    }


def create_list(position: Position, list_type: str, description: str = "") -> RankingList:
    if list_type not in RankingList.ListType.values:
        raise ValidationError({"list_type": _("Choose list A, B or C.")})
    with orchestra_atomic():
        if RankingList.objects.filter(position=position, list_type=list_type).exists():
            raise ValidationError(
                _("%(position)s already has a %(type)s list.")
                % {"position": position, "type": list_type}
            )
        return RankingList.objects.create(
            ranking_list_id=next_readable_id("RANK"),
            position=position,
            list_type=list_type,
            description=description.strip(),
        )


# The functions below work on any ordered list of musicians: a standard RankingList or a
# project's own list (projects.ProjectList). Such a list has `entries` (rank, musician), a
# `version`, and says who may join it through `candidate_musicians()`.


def candidates(ranking_list):
    """Musicians who may be added: the list's candidates who are not on it yet."""
    return (
        ranking_list.candidate_musicians()
        .exclude(pk__in=ranking_list.entries.values("musician_id"))
        .order_by("last_name", "first_name")
    )


def _locked(ranking_list, version: int | None):
    current = type(ranking_list).objects.select_for_update().get(pk=ranking_list.pk)
    if version is not None and current.version != version:
        raise ListChanged(_("The list was changed by someone else. Reload the page and try again."))
    return current


def _bump(ranking_list) -> None:
    type(ranking_list).objects.filter(pk=ranking_list.pk).update(version=F("version") + 1)
    ranking_list.refresh_from_db(fields=["version"])


def add_musicians(ranking_list, musician_ids: list[int]) -> list:
    """Append the musicians, in the given order, at the end of the list, in one transaction."""
    with orchestra_atomic():
        ranking_list = _locked(ranking_list, None)
        wanted = list(dict.fromkeys(musician_ids))
        allowed = set(candidates(ranking_list).filter(pk__in=wanted).values_list("pk", flat=True))
        refused = [pk for pk in wanted if pk not in allowed]
        if refused:
            names = ", ".join(m.full_name for m in Musician.objects.filter(pk__in=refused))
            raise ValidationError(
                _(
                    "Cannot add %(names)s: only qualified, non-archived musicians who are not already "
                    "on the list can be added."
                )
                % {"names": names or refused}
            )
        last = ranking_list.entries.aggregate(m=Max("rank"))["m"] or 0
        entry_model, list_field = ranking_list.entries.model, ranking_list.entries.field.name
        entries = entry_model.objects.bulk_create(
            entry_model(**{list_field: ranking_list}, musician_id=pk, rank=last + i)
            for i, pk in enumerate(wanted, start=1)
        )
        _bump(ranking_list)
    return entries


def _renumber(ranking_list, ordered_entry_ids: list[int]) -> None:
    # Two phases so the unique (list, rank) constraint never sees two rows on one rank: first
    # move everyone out of the way (above the current maximum), then into place.
    offset = (ranking_list.entries.aggregate(m=Max("rank"))["m"] or 0) + len(ordered_entry_ids) + 1
    ranking_list.entries.update(rank=F("rank") + offset)
    for rank, pk in enumerate(ordered_entry_ids, start=1):
        ranking_list.entries.filter(pk=pk).update(rank=rank)


def remove_entry(ranking_list, entry_id: int, *, version: int | None = None) -> None:
    with orchestra_atomic():
        ranking_list = _locked(ranking_list, version)
        deleted, _count = ranking_list.entries.filter(pk=entry_id).delete()
        if not deleted:
            raise ListChanged(_("That musician is no longer on the list. Reload the page."))
        _renumber(
            ranking_list, list(ranking_list.entries.order_by("rank").values_list("pk", flat=True))
        )
        _bump(ranking_list)


def reorder(
    ranking_list: RankingList, ordered_entry_ids: list[int], *, version: int
) -> RankingList:
    """Apply a complete new order atomically; refuse if the list changed since `version`."""
    with orchestra_atomic():
        ranking_list = _locked(ranking_list, version)
        current = set(ranking_list.entries.values_list("pk", flat=True))
        if len(ordered_entry_ids) != len(current) or set(ordered_entry_ids) != current:
            raise ListChanged(
                _("The list was changed by someone else. Reload the page and try again.")
            )
        _renumber(ranking_list, ordered_entry_ids)
        _bump(ranking_list)
    return ranking_list


def require_confirmation(word: str) -> None:
    """Destructive actions need the confirmation word typed exactly."""
    if (word or "").strip() != CONFIRM_WORD:
        raise ValidationError({"confirm": _("Type %(word)s to confirm.") % {"word": CONFIRM_WORD}})


def clear_list(ranking_list, *, confirm: str) -> None:
    require_confirmation(confirm)
    with orchestra_atomic():
        ranking_list = _locked(ranking_list, None)
        ranking_list.entries.all().delete()
        _bump(ranking_list)


def delete_list(ranking_list, *, confirm: str) -> None:
    require_confirmation(confirm)
    with orchestra_atomic():
        ranking_list = _locked(ranking_list, None)
        if ranking_list.entries.exists():
            raise ValidationError(_("Only an empty list can be deleted. Clear it first."))
        reasons = usage.list_usage(ranking_list)
        if reasons:
            raise ValidationError(reasons)
        ranking_list.delete()


def update_description(ranking_list: RankingList, description: str) -> RankingList:
    ranking_list.description = description.strip()[:300]
    ranking_list.save(update_fields=["description"])
    return ranking_list


def remove_musician_from_positions(musician: Musician, position_ids: list[int]) -> list[str]:
    """Take the musician off the lists of positions they no longer hold; say which lists."""
    messages = []
    entries = RankingEntry.objects.filter(
        musician=musician, ranking_list__position_id__in=position_ids
    ).select_related("ranking_list__position__instrument")
    for entry in list(entries):
        ranking_list = entry.ranking_list
        remove_entry(ranking_list, entry.pk)
        messages.append(
            _("%(name)s was removed from the %(type)s list of %(position)s.")
            % {
                "name": musician.full_name,
                "type": ranking_list.list_type,
                "position": ranking_list.position,
            }
        )
    return messages
