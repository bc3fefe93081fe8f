"""How rankings plug into the roster: qualification changes and the musician profile."""

from __future__ import annotations

from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.rankings.services import remove_musician_from_positions
from stagesub.roster import usage
from stagesub.roster.models import Musician, Position
from stagesub.roster.profile import register_section
from stagesub.tenancy.seeding import demo_step


@usage.on_qualifications_removed
def _leave_lists_of_lost_positions(musician, position_ids):
    return remove_musician_from_positions(musician, position_ids)


def _rankings_section(musician):
    entries = list(
        RankingEntry.objects.filter(musician=musician)
        .select_related("ranking_list__position__instrument")
        .order_by(
            "ranking_list__position__instrument__display_order",
            "ranking_list__position__hierarchy_level",
            "ranking_list__list_type",
        )
    )
    return {"entries": entries}


register_section("rankings/profile_section.html", context=_rankings_section, order=20)


@demo_step("rankings.lists", order=20)
def demo_lists(orchestra) -> None:
    """An A list for every position with qualified musicians, a B list where there are many."""
    import random

    from stagesub.rankings.services import create_list

    if RankingList.objects.exists():
        return
    rng = random.Random(f"{orchestra.subdomain}-rankings")
    for position in Position.objects.select_related("instrument"):
        qualified = list(
            Musician.objects.filter(qualifications=position).exclude(
                status=Musician.Status.ARCHIVED
            )
        )
        if not qualified:
            continue
        rng.shuffle(qualified)
        a_list = create_list(position, "A")
        RankingEntry.objects.bulk_create(
            RankingEntry(ranking_list=a_list, musician=m, rank=i)
            for i, m in enumerate(qualified[:8], 1)
        )
        if len(qualified) > 8:
            b_list = create_list(position, "B")
            RankingEntry.objects.bulk_create(
                RankingEntry(ranking_list=b_list, musician=m, rank=i)
                for i, m in enumerate(qualified[8:16], 1)
            )
