"""The fleet dashboard: one row per orchestra from snapshots only, search, filters, sort, pages,
totals and the weekly chart; stale snapshots shown as stale; superadmins only."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stagesub.superadmin.dashboard import fleet_totals, weighted_median
from stagesub.superadmin.models import StatsSnapshot
from stagesub.superadmin.stats import WEEKS, refresh_due
from stagesub.tenancy import connections
from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.web.paging import PAGE_SIZE
from tests.conftest import PASSWORD, host_client, login


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def _fleet_row(subdomain, *, status="active", plan="medium", server=None, **stats):
    """An orchestra row with a snapshot, no database: what the dashboard reads is all it has."""
    orchestra = Orchestra.objects.create(
        subdomain=subdomain, name=f"Orkester {subdomain}", status=status, plan=plan, server=server
    )
    values = {"taken_at": timezone.now(), "reachable": True, "stamp_ok": True}
    values.update(stats)
    StatsSnapshot.objects.create(orchestra=orchestra, **values)
    return orchestra


def _listed(page: str) -> list[str]:
    return [
        s for s in re.findall(r'href="/superadmin/orchestras/([a-z0-9-]+)/"', page) if s != "new"
    ]


def test_dashboard_reads_snapshots_and_never_opens_an_orchestra_database(console, make_orchestra):
    one, two = make_orchestra("ett"), make_orchestra("tva")
    refresh_due(budget=60)
    connections.forget_alias(connections.alias_for(one.id))
    connections.forget_alias(connections.alias_for(two.id))
    assert connections.open_orchestra_connections() == []
    with CaptureQueriesContext(connection) as few:
        page = console.get("/superadmin/").content.decode()
    assert _listed(page) == ["ett", "tva"]
    assert connections.open_orchestra_connections() == []  # nothing opened for the page

    for i in range(40):
        _fleet_row(f"extra{i:02d}", musicians=i)
    with CaptureQueriesContext(connection) as many:
        console.get("/superadmin/")
    # The cost does not grow with the number of orchestras.
    assert len(many.captured_queries) == len(few.captured_queries)


def test_search_filters_and_problems_only(console):
    fast = DatabaseServer.objects.create(name="pg-north", kind="postgresql", url_encrypted="x")
    _fleet_row("goteborg", plan="enterprise", server=fast)
    _fleet_row("malmo", plan="small")
    _fleet_row("lund", status="suspended")
    _fleet_row("umea", reachable=False, problem=True, error="OperationalError: timeout")
    _fleet_row("kiruna").stats.__class__.objects.filter(orchestra__subdomain="kiruna").update(
        taken_at=timezone.now() - datetime.timedelta(days=1)
    )
    Orchestra.objects.filter(subdomain="malmo").update(contact_email="kansli@malmo.example")

    def listed(query=""):
        return sorted(_listed(console.get(f"/superadmin/?{query}").content.decode()))

    assert listed("q=malmo.example") == ["malmo"]
    assert listed("q=GOTE") == ["goteborg"]
    assert listed("status=suspended") == ["lund"]
    assert listed("plan=enterprise") == ["goteborg"]
    assert listed("server=pg-north") == ["goteborg"]
    # Problems: a flagged snapshot, and an active orchestra whose snapshot is stale.
    assert listed("problems=on") == ["kiruna", "umea"]
    assert listed("status=active&problems=on&q=umea") == ["umea"]
    # An unknown choice is not an error page: the filters are ignored, everything listed.
    assert console.get("/superadmin/?status=nonsense").status_code == 200


def test_sort_and_pages(console):
    for i in range(PAGE_SIZE + 5):
        _fleet_row(f"o{i:03d}", musicians=i, open_requests=PAGE_SIZE + 5 - i)
    first = _listed(console.get("/superadmin/?sort=-musicians").content.decode())
    assert first[0] == f"o{PAGE_SIZE + 4:03d}" and len(first) == PAGE_SIZE
    second = _listed(console.get("/superadmin/?sort=-musicians&page=2").content.decode())
    assert len(second) == 5 and second[-1] == "o000"
    by_open = _listed(console.get("/superadmin/?sort=-open").content.decode())
    assert by_open[0] == "o000"
    page = console.get("/superadmin/?sort=-musicians").content.decode()
    assert "sort=-musicians&amp;page=2" in page  # the pager keeps the sort


def test_stale_snapshots_are_shown_as_stale(console, settings):
    _fleet_row("fresh")
    _fleet_row(
        "old", taken_at=timezone.now() - datetime.timedelta(seconds=settings.STATS_INTERVAL + 5)
    )
    Orchestra.objects.create(subdomain="never", name="Orkester never", status="active")
    page = console.get("/superadmin/").content.decode()
    rows = {sub: row for sub, row in re.findall(r'orchestras/([a-z]+)/"(.*?)</tr>', page, re.S)}
    assert "stale" not in rows["fresh"]
    assert "stale" in rows["old"] and "stale" in rows["never"]


def test_totals_answer_rate_median_and_weekly_chart(console):
    now = timezone.now()
    weekly = [0] * (WEEKS - 1) + [7]
    _fleet_row(
        "a",
        musicians=10,
        projects=2,
        sent_30d=10,
        answered_30d=8,
        median_answer_seconds=3600,
        requests_per_week=weekly,
    )
    # Taken a week ago: its last bucket is last week's, not this week's.
    _fleet_row(
        "b",
        musicians=5,
        projects=1,
        sent_30d=10,
        answered_30d=2,
        median_answer_seconds=60,
        requests_per_week=weekly,
        taken_at=now - datetime.timedelta(weeks=1),
    )
    _fleet_row("c", status="archived", musicians=1000, sent_30d=1000)
    totals = fleet_totals(now)
    assert (totals.musicians, totals.projects) == (15, 3)  # archived left out
    assert (totals.sent_30d, totals.answered_30d, totals.answer_rate) == (20, 10, 50)
    assert totals.median_answer_seconds == 3600  # 8 answers at 1 h outweigh 2 at 1 min
    assert [n for _, n in totals.per_week][-2:] == [7, 7]
    assert dict(totals.by_status) == {"active": 2, "archived": 1}
    page = console.get("/superadmin/").content.decode()
    assert (
        "<svg" in page
        and page.count("<rect") == WEEKS
        and not re.search(r"<script(?![^>]*src=)", page)
    )
    assert "50 %" in page


def test_weighted_median():
    assert weighted_median([]) is None
    assert weighted_median([(10, 1), (20, 1), (30, 1)]) == 20
    assert weighted_median([(10, 5), (1000, 1)]) == 10
    assert weighted_median([(None, 3), (5, 0)]) is None


@pytest.mark.parametrize("path", ["/superadmin/", "/superadmin/orchestras/goteborg/"])
def test_nobody_but_a_superadmin_gets_the_console(goteborg, path):
    assert host_client().get(path).status_code == 302  # anonymous: to the login page
    admin = login(goteborg, "goteborg-admin")
    assert admin.get(path).status_code == 404  # not on an orchestra's host
    assert (
        admin.post(path.replace("/goteborg/", "/goteborg/suspend/"), {"reason": "x"}).status_code
        == 404
    )
    platform = host_client()
    platform.cookies = admin.cookies  # an orchestra admin's session, brought to the platform
    assert platform.get(path).status_code == 403
    goteborg.refresh_from_db()
    assert goteborg.status == "active"
