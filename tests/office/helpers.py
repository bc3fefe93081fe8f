"""Building projects with requests out, as the staff would, for the office tests."""

from __future__ import annotations

import datetime

from django.utils import timezone

from stagesub.projects import services as projects
from stagesub.projects.models import Need, Project
from stagesub.projects.services import NeedData, ProjectData
from stagesub.rankings import services as rankings
from stagesub.rankings.models import RankingList
from stagesub.roster import services as roster
from stagesub.roster.models import Position
from stagesub.roster.services import MusicianData


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def project(name: str, days: int = 21) -> Project:
    """In the bound orchestra: a project starting `days` from today."""
    return projects.create_project(
        ProjectData(name=name, start_date=in_days(days)), max_projects=1000
    )


def need(project_: Project, a_list, *, strategy="sequential", quantity=1, **kw) -> Need:
    return projects.create_need(
        project_,
        NeedData(
            position_id=a_list.position_id,
            quantity=quantity,
            strategy=strategy,
            response_time_hours=48,
            ranking_list_id=a_list.pk,
            **kw,
        ),
    )


def violins(count: int, name: str = "V{:02d}", *, list_type: str = "A"):
    """`count` new violinists on the Tutti violin 1 list of `list_type` (made when missing):
    (position, musicians, list). Each list type is a separate pool of musicians to ask."""
    seat = Position.objects.get(name="Tutti violin 1", instrument__name="Violin")
    musicians = [
        roster.create_musician(
            MusicianData(
                first_name=name.format(i),
                last_name="F",
                email=f"{name.format(i).lower()}@example.se",
                position_ids=[seat.pk],
            ),
            max_musicians=1000,
        )
        for i in range(count)
    ]
    chosen = RankingList.objects.filter(position=seat, list_type=list_type).first()
    chosen = chosen or rankings.create_list(seat, list_type)
    rankings.add_musicians(chosen, [m.pk for m in musicians])
    return seat, musicians, chosen
