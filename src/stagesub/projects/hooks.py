"""Projects plug into the roster and rankings: nothing a need uses can disappear under it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from stagesub.projects.models import Need, ProjectListEntry
from stagesub.projects.services import describe_need, needs_using
from stagesub.rankings import usage as list_usage
from stagesub.rankings.services import remove_entry
from stagesub.roster import usage as roster_usage
from stagesub.tenancy.seeding import demo_step


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


@demo_step("projects.season", order=30)
def demo_season(orchestra) -> None:
    """About twenty projects over the coming season, with needs (some paused) and own lists."""
    import datetime
    import random

    from django.utils import timezone

    from stagesub.projects import services
    from stagesub.projects.models import Project
    from stagesub.rankings.models import RankingList

    if Project.objects.exists():
        return
    rng = random.Random(f"{orchestra.subdomain}-season")
    works = [
        "Beethoven 5",
        "Mahler 2",
        "Brahms 4",
        "Sibelius 2",
        "Nielsen 4",
        "Stenhammar 2",
        "Bruckner 7",
        "Dvořák 9",
        "Tjajkovskij 6",
        "Shostakovich 5",
        "Mozart Requiem",
        "Bach Juloratoriet",
        "Peterson-Berger Arnljot",
        "Alfvén Midsommarvaka",
        "Ravel Boléro",
        "Strauss Alpsymfonin",
        "Verdi Requiem",
        "Berlioz Symphonie fantastique",
        "Sibelius 5",
        "Nyårskonsert",
    ]
    monday = timezone.localdate() - datetime.timedelta(days=timezone.localdate().weekday())
    lists = [rl for rl in RankingList.objects.select_related("position") if rl.entries.count() >= 3]
    for i, work in enumerate(works):
        project = services.create_project(
            services.ProjectData(
                name=work,
                start_date=monday + datetime.timedelta(weeks=i * 2 - 3),
                rehearsal_schedule="Mån–ons 10.00–13.00, tors 10.00–12.30 generalrepetition",
                concert_info="Torsdag 19.30 och fredag 18.00, Stora salen",
            ),
            max_projects=10_000,
        )
        for ranking_list in rng.sample(lists, k=min(len(lists), rng.randint(0, 4))):
            try:
                need = services.create_need(
                    project,
                    services.NeedData(
                        position_id=ranking_list.position_id,
                        quantity=rng.choice([1, 1, 2, 3]),
                        strategy=rng.choice(["sequential", "parallel", "first_come"]),
                        response_time_hours=48,
                        ranking_list_id=ranking_list.pk,
                    ),
                )
            except ValidationError:
                continue  # e.g. parallel for one seat: the demo simply skips what the rules refuse
            if rng.random() < 0.2:
                services.set_need_paused(need, True)
