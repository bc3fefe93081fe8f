"""Projects plug into the roster and rankings: nothing a need uses can disappear under it."""

from __future__ import annotations

from django.utils.translation import gettext as _

from stagesub.projects.models import Need, ProjectListEntry
from stagesub.projects.services import describe_need, needs_using
from stagesub.rankings import usage as list_usage
from stagesub.rankings.services import remove_entry
from stagesub.roster import usage as roster_usage


@list_usage.register_list_usage
def _needs_using_list(ranking_list) -> list[str]:
    return [
        _("Used by %(need)s.") % {"need": describe_need(n)}
        for n in needs_using(ranking_list=ranking_list)
    ]


@roster_usage.register_position_usage
def _needs_using_positions(position_ids: list[int]) -> list[str]:
    return [
        _("Used by %(need)s.") % {"need": describe_need(n)}
        for n in needs_using(position_ids=position_ids)
    ]


@roster_usage.register_qualification_removal_check
def _musician_on_a_list_a_need_uses(musician, position_ids: list[int]) -> list[str]:
    """Refuse to drop a qualification while a live need asks from a list the musician is on."""
    reasons = []
    for need in needs_using(position_ids=position_ids).exclude(status=Need.Status.COMPLETED):
        if need.chosen_list.entries.filter(musician=musician).exists():
            reasons.append(
                _("%(name)s is on the list %(need)s asks from; remove them from that list first.")
                % {"name": musician.full_name, "need": describe_need(need)}
            )
    return reasons


@roster_usage.on_qualifications_removed
def _leave_project_lists(musician, position_ids: list[int]) -> list[str]:
    messages = []
    for entry in ProjectListEntry.objects.filter(
        musician=musician, project_list__position_id__in=position_ids
    ).select_related("project_list"):
        remove_entry(entry.project_list, entry.pk)
        messages.append(
            _("%(name)s was removed from the project list %(list)s.")
            % {"name": musician.full_name, "list": entry.project_list.name}
        )
    return messages
