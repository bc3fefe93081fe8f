"""The staff dashboard: upcoming projects and their staffing, answers waiting, the latest
answers, needs out of people to ask, usage against the plan, in a bounded number of queries."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stagesub.offers import services as offers
from stagesub.offers.models import Offer
from stagesub.office import dashboard
from stagesub.projects import services as projects
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import PASSWORD, host_client, login
from tests.office.helpers import need, project, violins


def staff(orchestra):
    return login(orchestra, f"{orchestra.subdomain}-admin")


def test_upcoming_projects_show_the_project_pages_own_staffing(goteborg):
    with use_orchestra(goteborg):
        _seat, _musicians, a_list = violins(6)
        mahler = project("Mahler 2", days=10)
        parallel = need(mahler, a_list, strategy="parallel", quantity=3)
        sent = offers.send(parallel).created
        offers.answer(sent[0], accepted=True)
        offers.answer(sent[1], accepted=False)
        project("Past", days=-30)
        archived = project("Archived", days=40)
        projects.set_project_archived(archived, True)
        expected = projects.staffing(mahler)
    client = staff(goteborg)
    page = client.get("/").content.decode()
    upcoming = section(page, "upcoming")
    assert "Mahler 2" in upcoming and "Past" not in upcoming and "Archived" not in upcoming
    assert expected["accepted"] == 1 and expected["needed"] == 3
    assert "1 of 3 seats filled" in upcoming
    # The project page's refreshing panel says the same.
    project_page = client.get(f"/projects/{mahler.project_id}/").content.decode()
    assert "1 of 3 seats filled" in project_page
    assert f"/projects/{mahler.project_id}/booked/" in upcoming


def test_answers_waiting_show_their_due_times_first_due_first_and_latest_answers(goteborg):
    with use_orchestra(goteborg):
        _seat, _musicians, a_list = violins(4, name="W{:02d}")
        first = project("Early", days=10)
        second = project("Later", days=20)
        now = timezone.now()
        early = offers.send(need(first, a_list), now=now).created[0]
        late = offers.send(
            need(second, a_list, strategy="first_come", quantity=1, max_recipients=2),
            now=now - datetime.timedelta(hours=10),
        ).created
        offers.answer(late[0], accepted=False, now=now)
        # Sent later but due sooner: the one due first comes first.
        Offer.objects.filter(pk=early.pk).update(expires_at=now + datetime.timedelta(hours=30))
        Offer.objects.filter(pk=late[1].pk).update(expires_at=now + datetime.timedelta(hours=5))
        waiting = list(dashboard.waiting_answers())
    assert [o.pk for o in waiting] == [late[1].pk, early.pk]
    client = staff(goteborg)
    page = client.get("/").content.decode()
    box = section(page, "waiting")
    assert box.index(late[1].musician.full_name) < box.index(early.musician.full_name)
    latest = section(page, "latest")
    assert late[0].musician.full_name in latest and "Answered no" in latest


def section(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}".*?</section>', page, re.S)
    assert match, f"no section {testid}"
    return match.group(0)


def stalled_setup(orchestra, name="Brahms"):
    """A need of 2 seats whose 2 listed musicians answered (one yes, one no): out of people.
    Beside it: a need still waiting, a filled one, a paused one and one never sent."""
    with use_orchestra(orchestra):
        _seat, _musicians, a_list = violins(2, name=f"{name[0]}S{{:02d}}")
        stalled_project = project(name, days=14)
        stalled = need(stalled_project, a_list, quantity=2)
        first = offers.send(stalled).created[0]
        second = offers.answer(first, accepted=False).created[0]
        offers.answer(second, accepted=True)
        _seat, _musicians, other_list = violins(6, name=f"{name[0]}O{{:02d}}", list_type="B")
        others = project(f"{name} others", days=15)
        waiting = need(others, other_list)
        offers.send(waiting)
        return stalled, waiting


def test_needs_out_of_people_to_ask_are_listed_and_nothing_else(goteborg):
    stalled, waiting = stalled_setup(goteborg)
    with use_orchestra(goteborg):
        _seat, _m, a_list = violins(3, name="X{:02d}", list_type="C")
        quiet = project("Quiet", days=30)
        never_sent = need(quiet, a_list)
        paused = need(quiet, a_list, quantity=2, strategy="parallel")
        asked = offers.send(paused).created
        projects.set_need_paused(paused, True)
        for offer in asked:
            offers.answer(offer, accepted=False)
        found = list(dashboard.stalled_needs(timezone.localdate()))
        assert [n.pk for n in found] == [stalled.pk]
        assert waiting.pk != never_sent.pk
    page = staff(goteborg).get("/").content.decode()
    box = section(page, "stalled-needs")
    assert "Brahms" in box and "1 of 2 seats filled" in box and "Quiet" not in box


def test_a_stalled_need_of_an_archived_or_past_project_is_not_listed(goteborg):
    stalled, _waiting = stalled_setup(goteborg)
    today = timezone.localdate()
    with use_orchestra(goteborg):
        assert list(dashboard.stalled_needs(today)) == [stalled]
        projects.set_project_archived(stalled.project, True)
        assert list(dashboard.stalled_needs(today)) == []
        projects.set_project_archived(stalled.project, False)
        # Three weeks on, the project's week is over: nothing to act on any more.
        assert list(dashboard.stalled_needs(today + datetime.timedelta(days=21))) == []


@pytest.mark.parametrize(
    ("musicians", "level", "text"),
    [(7, "ok", ""), (8, "warn", "80 % used."), (9, "alert", "90 % used: the limit is close.")],
)
def test_usage_warns_at_80_and_90_percent_of_the_plans_limit(goteborg, musicians, level, text):
    goteborg.musicians_limit = 10
    goteborg.save(update_fields=["musicians_limit"])
    with use_orchestra(goteborg):
        violins(musicians)
    page = staff(goteborg).get("/").content.decode()
    row = re.search(r'<tr class="usage-(\w+)" data-testid="usage-musicians">.*?</tr>', page, re.S)
    assert row.group(1) == level
    assert f"{musicians} / 10" in row.group(0)
    if text:
        assert text in row.group(0)


def test_dashboard_is_for_the_orchestras_staff(goteborg, malmo):
    user_model = get_user_model()
    user_model.objects.create_user(
        "goteborg-member", password=PASSWORD, role="member", orchestra=goteborg
    )
    assert login(goteborg, "goteborg-member").get("/").status_code == 200
    anonymous = host_client(goteborg).get("/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # Malmö's admin on Göteborg's host is refused before the view (membership middleware).
    assert login(malmo, "malmo-admin").get("/", HTTP_HOST=f"goteborg.{host()}").status_code in (
        302,
        403,
    )


def host() -> str:
    from django.conf import settings

    return settings.BASE_DOMAIN


def fill(orchestra, projects_count: int) -> None:
    """`projects_count` upcoming projects, each with a stalled need, a waiting request and
    answers; more than the dashboard shows of each, so only its limits bound the rows."""
    with use_orchestra(orchestra):
        _seat, _musicians, a_list = violins(3 * projects_count + 3)
        for i in range(projects_count):
            p = project(f"P{i}", days=7 + i)
            stalled = need(p, a_list, quantity=4, strategy="first_come", max_recipients=4)
            for offer in offers.send(stalled).created:
                offers.answer(offer, accepted=False)
            offers.send(need(p, a_list))


def dashboard_queries(orchestra) -> tuple[int, int]:
    client = staff(orchestra)
    assert client.get("/").status_code == 200  # warm-up (session, caches)
    with use_orchestra(orchestra):
        alias = current_binding().alias
    with (
        CaptureQueriesContext(connections[alias]) as tenant,
        CaptureQueriesContext(connections["default"]) as control,
    ):
        response = client.get("/")
    assert response.status_code == 200
    return len(tenant.captured_queries), len(control.captured_queries)


def test_dashboard_queries_do_not_grow_with_the_number_of_projects(make_orchestra, settings):
    # The routing generation is polled on a clock (at most every 0.2 s): a poll landing in one
    # measurement and not the other says nothing about the page, so none falls inside.
    settings.ROUTING_POLL_SECONDS = 3600
    small, large = make_orchestra(), make_orchestra()
    fill(small, 2)
    fill(large, 25)
    (small_tenant, small_control), (large_tenant, large_control) = (
        dashboard_queries(small),
        dashboard_queries(large),
    )
    assert small_tenant == large_tenant, (small_tenant, large_tenant)
    assert small_tenant <= 9
    assert small_control == large_control


def test_a_project_running_several_weeks_stays_upcoming_until_its_last_day(goteborg):
    today = timezone.localdate()
    with use_orchestra(goteborg):
        long_run = project("Ring-cykeln", days=1)
        long_run.end_date = today + datetime.timedelta(days=30)
        long_run.save()
        two_weeks_on = today + datetime.timedelta(days=14)
        assert long_run.is_upcoming(two_weeks_on)
        assert long_run in [row.project for row in dashboard.upcoming_projects(two_weeks_on)]
        after = today + datetime.timedelta(days=31)
        assert long_run not in [row.project for row in dashboard.upcoming_projects(after)]
