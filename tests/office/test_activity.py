"""The activity feed: what happened, from the rows the apps keep, filtered and paged in SQL."""

from __future__ import annotations

import datetime
import re

from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stagesub.offers import services as offers
from stagesub.offers.models import OfferEvent
from stagesub.office import activity, alerts
from stagesub.projects import services as projects
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import login
from tests.office.helpers import need, project, violins
from tests.office.test_dashboard import stalled_setup


def staff(orchestra):
    return login(orchestra, f"{orchestra.subdomain}-admin")


def kinds(page: str) -> list[str]:
    return re.findall(r'<tr data-kind="(\w+)">', page)


def test_the_feed_tells_what_happened_newest_first(goteborg):
    stalled_setup(goteborg)  # sent, no, sent, yes; and a waiting request
    with use_orchestra(goteborg):
        _seat, _m, c_list = violins(1, name="T{:02d}", list_type="C")
        quick = project("Quick", days=20)
        filled = need(quick, c_list)
        offers.answer(offers.send(filled).created[0], accepted=True)
        projects.set_project_archived(project("Gone", days=50), True)
        alerts.alert_stalled_needs(goteborg)
    client = staff(goteborg)
    # Settings changed through the page, by this user.
    assert (
        client.post("/settings/", {"reminder_percentage": 50, "conflict_rule": "smart"}).status_code
        == 302
    )
    page = client.get("/activity/").content.decode()
    seen = kinds(page)
    for kind in (
        "sent",
        "accepted",
        "declined",
        "need_filled",
        "need_exhausted",
        "project_created",
        "project_archived",
        "musician_added",
        "settings_changed",
    ):
        assert kind in seen, kind
    assert seen[0] == "settings_changed"  # the newest
    assert "by goteborg-admin" in page
    assert "Ran out of people to ask" in page and "Need filled" in page


def test_filters_by_kind_project_musician_and_dates(goteborg):
    _stalled, waiting = stalled_setup(goteborg)
    with use_orchestra(goteborg):
        answered = OfferEvent.objects.filter(kind="accepted").select_related("offer__musician")
        musician = answered.get().offer.musician
        other = waiting.project
        # One musician added long ago, for the date range.
        old = violins(1, name="Old{:02d}", list_type="C")[1][0]
        type(old).objects.filter(pk=old.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=400)
        )
    client = staff(goteborg)
    by_kind = client.get("/activity/", {"kind": "declined"}).content.decode()
    assert set(kinds(by_kind)) == {"declined"}
    by_project = kinds(client.get("/activity/", {"project": other.project_id}).content.decode())
    assert set(by_project) == {"sent", "project_created"}
    # The id as typed: any case, stray spaces.
    by_musician = kinds(
        client.get("/activity/", {"musician": f" {musician.musician_id.lower()}"}).content.decode()
    )
    assert sorted(by_musician) == ["accepted", "musician_added", "sent"]
    last_year = (timezone.localdate() - datetime.timedelta(days=400)).isoformat()
    ranged = client.get("/activity/", {"since": last_year, "until": last_year}).content.decode()
    assert kinds(ranged) == ["musician_added"] and "Old00" in ranged


def test_a_bad_filter_is_refused_with_a_message_next_to_the_field(goteborg):
    client = staff(goteborg)
    response = client.get("/activity/", {"musician": "MUS999", "since": "yesterday"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-summary"' in page
    assert "No musician has that id." in page and "Enter a valid date" in page


def test_malformed_filter_values_are_refused_not_a_server_error(goteborg):
    client = staff(goteborg)
    for field in ("kind", "project", "musician", "since", "until"):
        for bad in ("a\x00b", "\x00", "9" * 30, "MUS 001", "²"):
            response = client.get("/activity/", {field: bad})
            assert response.status_code == 400, (field, bad, response.status_code)


def test_the_feed_is_paged_in_the_database_keeping_the_filters(goteborg):
    with use_orchestra(goteborg):
        violins(120, name="P{:03d}")
        alias = current_binding().alias
    client = staff(goteborg)
    first = client.get("/activity/", {"kind": "musician_added"}).content.decode()
    assert len(kinds(first)) == 50
    assert "Page 1 of 3 (120 in all)" in first
    assert "?kind=musician_added&amp;page=2" in first
    with CaptureQueriesContext(connections[alias]) as queries:
        third = client.get("/activity/", {"kind": "musician_added", "page": 3}).content.decode()
    assert len(kinds(third)) == 20
    feed_sql = [q["sql"] for q in queries.captured_queries if "UNION" in q["sql"].upper()]
    # Two statements over the union (the count and the last page: rows 101-120 only).
    assert len(feed_sql) == 2
    assert any("LIMIT 20 OFFSET 100" in sql.upper() for sql in feed_sql), feed_sql


def test_each_orchestra_sees_only_its_own_activity(goteborg, malmo):
    stalled_setup(goteborg, "Brahms")
    stalled_setup(malmo, "Sibelius")
    page = staff(goteborg).get("/activity/").content.decode()
    assert "Brahms" in page and "Sibelius" not in page


def test_every_kind_has_a_label():
    for kind in activity.KINDS:
        assert activity.label(kind) and activity.label(kind) != kind
