"""Staff pages make a fixed number of queries, whatever the number of rows (no N+1).

Each page is requested in two orchestras, one small and one ten times larger (musicians,
ranking lists, projects, needs, offers), and must issue exactly as many queries in both; a
budget per page catches a page that grows a constant number of extra queries.
"""

import datetime

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from stagesub.offers import services as offers
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.rankings import services as rankings
from stagesub.roster.models import Position
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import listed_musicians, login

# Queries on the orchestra's database per page (the control database adds the session and
# the user, checked separately below).
BUDGETS = {
    # the dashboard: upcoming projects (+2 for their staffing), answers waiting (rows, count),
    # latest answers, needs out of people to ask, and usage (musicians, projects)
    "/": 9,
    "/musicians/": 6,  # with the paginator's count: rows are filtered and cut in the database
    "/rankings/": 4,  # positions counted and paginated, their lists, the instrument filter
    "/projects/": 4,
    "project": 19,  # + the booking rules (who on its lists is busy elsewhere, the rule)
}


def fill(orchestra, size: int) -> str:
    """`size` musicians on an A list, `size` projects each with a sent need, one project with
    `size` // 5 + 1 needs (the page's rows); returns that project's readable id."""
    with use_orchestra(orchestra):
        seat, _musicians, a_list = listed_musicians(size)
        for other in Position.objects.exclude(pk=seat.pk).order_by("pk")[:size]:
            rankings.create_list(other, "A")  # more rows on /rankings/
        first = None
        for i in range(size):
            project = projects.create_project(
                ProjectData(name=f"P{i}", start_date=datetime.date(2031, 1, 6 + i % 20)),
                max_projects=1000,
            )
            first = first or project
            need = projects.create_need(
                project,
                NeedData(
                    position_id=seat.pk,
                    quantity=1,
                    strategy="first_come",
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                    max_recipients=2,
                ),
            )
            created = offers.send(need).created
            offers.answer(created[0], accepted=True)
        for _ in range(size // 5):
            projects.create_need(
                first,
                NeedData(
                    position_id=seat.pk,
                    quantity=1,
                    strategy="sequential",
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                ),
            )
        return first.project_id


def page_queries(orchestra, client, path: str) -> tuple[int, int]:
    """(orchestra queries, control queries) of one GET, after a warm-up request."""
    assert client.get(path).status_code == 200
    with use_orchestra(orchestra):
        alias = current_binding().alias
    with (
        CaptureQueriesContext(connections[alias]) as tenant,
        CaptureQueriesContext(connections["default"]) as control,
    ):
        response = client.get(path)
    assert response.status_code == 200, path
    return len(tenant.captured_queries), len(control.captured_queries)


@pytest.fixture
def small_and_large(make_orchestra):
    small, large = make_orchestra(), make_orchestra()
    return (small, fill(small, 5)), (large, fill(large, 50))


def test_staff_pages_query_count_does_not_grow_with_rows(small_and_large):
    (small, _), (large, _) = small_and_large
    clients = {o.pk: login(o, f"{o.subdomain}-admin") for o in (small, large)}
    for page, budget in BUDGETS.items():
        counts = []
        for orchestra, project_id in small_and_large:
            path = f"/projects/{project_id}/" if page == "project" else page
            counts.append(page_queries(orchestra, clients[orchestra.pk], path))
        (small_tenant, small_control), (large_tenant, large_control) = counts
        assert small_tenant == large_tenant, f"{page}: {small_tenant} vs {large_tenant} queries"
        assert small_tenant <= budget, f"{page}: {small_tenant} queries, budget {budget}"
        # Session and user, the plan's usage on some pages; and one routing query at most: the
        # host directory's poll of the routing generation (once per 0.2 s per process) or its
        # refresh of the entry.
        assert max(small_control, large_control) <= 4, f"{page}: control {counts}"
