"""List pages filter, sort and paginate in the database (both backends): the right rows in
the right order, a clear empty state, and queries that neither grow with the rows nor read
more than one page of them."""

from __future__ import annotations

import datetime

from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import services as offers
from stagesub.projects import services as projects
from stagesub.projects.models import Need, Project
from stagesub.projects.services import NeedData, ProjectData
from stagesub.roster import services as roster
from stagesub.roster.collation import swedish_key
from stagesub.roster.models import Instrument, Musician
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import listed_musicians, login


def names(response) -> list[str]:
    assert response.status_code == 200
    return [p.name for p in response.context["page"].object_list]


def test_project_list_filters_and_sorts_in_the_database(goteborg):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    with use_orchestra(goteborg):
        seat, _musicians, a_list = listed_musicians(4)

        def make(name, start, seats=0, accept=0):
            project = projects.create_project(
                ProjectData(name=name, start_date=start), max_projects=100
            )
            if seats:
                need = projects.create_need(
                    project,
                    NeedData(
                        position_id=seat.pk,
                        quantity=seats,
                        strategy="parallel" if seats > 1 else "sequential",
                        response_time_hours=48,
                        ranking_list_id=a_list.pk,
                    ),
                )
                if accept:
                    for offer in offers.send(need).created[:accept]:
                        offers.answer(offer, accepted=True)
            return project

        zeta = make("Zeta", today + 3 * day, seats=2, accept=1)  # 50 %
        make("Åsa", today + 10 * day, seats=1, accept=1)  # 100 %
        make("Émile", today - 30 * day)  # no needs
        make("Alfa", today - 60 * day, seats=1)  # not started: 0 %
        projects.set_project_archived(make("Arkiv", today + 20 * day), True)
    client = login(goteborg, "goteborg-admin")

    assert names(client.get("/projects/")) == ["Zeta", "Åsa"]  # upcoming, soonest first
    assert names(client.get("/projects/?show=past")) == ["Émile", "Alfa"]  # latest first
    assert names(client.get("/projects/?show=archived")) == ["Arkiv"]
    # Swedish order: É files as E, Å comes after Z.
    by_name = client.get("/projects/?show=all&sort=name")
    assert names(by_name) == ["Alfa", "Arkiv", "Émile", "Zeta", "Åsa"]
    # Best staffed first, projects without needs last.
    staffed = client.get("/projects/?show=all&sort=staffing")
    assert names(staffed) == ["Åsa", "Zeta", "Alfa", "Émile", "Arkiv"]
    assert staffed.context["staffing"][zeta.pk]["percent"] == 50
    assert names(client.get("/projects/?show=all&sort=date")) == [
        "Zeta",
        "Åsa",
        "Arkiv",
        "Émile",
        "Alfa",
    ]
    assert names(client.get(f"/projects/?show=all&q={zeta.project_id.lower()}")) == ["Zeta"]
    assert names(client.get("/projects/?q=ZET")) == ["Zeta"]
    # Unknown choices fall back to the defaults instead of listing everything.
    assert names(client.get("/projects/?show=bogus&sort=bogus")) == ["Zeta", "Åsa"]
    empty = client.get("/projects/?q=Beethoven")
    assert names(empty) == []
    assert 'data-testid="no-results"' in empty.content.decode()
    assert "No projects match" in empty.content.decode()


def _bulk_projects(count: int) -> None:
    """`count` projects, each with a need, written in bulk (only the list is under test)."""
    seat, _musicians, a_list = listed_musicians(2)
    start = timezone.localdate() + datetime.timedelta(days=3)
    made = Project.objects.bulk_create(
        Project(
            project_id=f"PROJ{9000 + i}",
            name=f"P{i:04d}",
            start_date=start + datetime.timedelta(days=i % 40),
            end_date=start + datetime.timedelta(days=i % 40 + 2),
        )
        for i in range(count)
    )
    Need.objects.bulk_create(
        Need(
            need_id=f"NEED{9000 + i}",
            project=project,
            position=seat,
            quantity=1 + i % 3,
            strategy="sequential",
            ranking_list=a_list,
        )
        for i, project in enumerate(made)
    )


def _page_queries(orchestra, client, path: str) -> list[str]:
    assert client.get(path).status_code == 200  # warm-up
    with use_orchestra(orchestra):
        alias = current_binding().alias
    with CaptureQueriesContext(connections[alias]) as captured:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_list_pages_read_one_page_in_a_fixed_number_of_queries(make_orchestra):
    small, large = make_orchestra(), make_orchestra()
    for orchestra, count in ((small, 3), (large, 130)):
        with use_orchestra(orchestra):
            _bulk_projects(count)
            roster_size = Musician.objects.count()
            for i in range(count):
                roster.create_musician(
                    MusicianData(first_name=f"N{i}", last_name="B", email=f"n{i}@ex.se"),
                    max_musicians=roster_size + count,
                )
    clients = {o.pk: login(o, f"{o.subdomain}-admin") for o in (small, large)}
    for path in (
        "/projects/",
        "/projects/?show=all&sort=staffing",
        "/projects/?show=all&sort=name&page=2",
        "/musicians/?sort=last",
        "/musicians/?q=B&status=all&page=2",
        "/rankings/",
        "/mailbox/",
    ):
        small_sql, large_sql = (_page_queries(o, clients[o.pk], path) for o in (small, large))
        assert len(small_sql) == len(large_sql), (path, small_sql, large_sql)
        # The rows come a page at a time: the big orchestra's rows query is cut in SQL.
        if path.startswith(("/projects/", "/musicians/")):
            assert any("LIMIT 50" in sql for sql in large_sql), (path, large_sql)


def test_musicians_sort_in_swedish_order_in_the_database(goteborg):
    first_names = ["Örjan", "Åke", "Ärla", "Zara", "Émile", "anna", "Bo", "Øyvind", "Ülla", "Eva"]
    with use_orchestra(goteborg):
        for i, name in enumerate(first_names):
            roster.create_musician(
                MusicianData(first_name=name, last_name=f"L{i}", email=f"m{i}@ex.se"),
                max_musicians=100,
            )
    client = login(goteborg, "goteborg-admin")
    listed = client.get("/musicians/?sort=first&status=all").context["musicians"]
    assert [m.first_name for m in listed] == sorted(first_names, key=swedish_key)
    by_last = client.get("/musicians/?sort=last&status=all").context["musicians"]
    assert [m.last_name for m in by_last] == [f"L{i}" for i in range(len(first_names))]
    empty = client.get("/musicians/?q=Xerxes")
    assert empty.context["musicians"] == []
    assert "No musicians match." in empty.content.decode()


def test_mailbox_and_ranking_lists_filter_in_the_database(goteborg):
    now = timezone.now()
    with use_orchestra(goteborg):
        Message.objects.bulk_create(
            Message(
                kind=kind,
                to_email=f"{kind}@ex.se",
                language="sv",
                subject=f"Om {kind}",
                body="...",
                status=status,
                next_attempt_at=now,
                created_at=now,
            )
            for kind, status in (("request", "sent"), ("reminder", "sent"), ("request", "queued"))
        )
        violin = Instrument.objects.get(name="Violin")
        violin_positions = set(violin.positions.values_list("name", flat=True))
    client = login(goteborg, "goteborg-admin")
    reminders = client.get("/mailbox/?kind=reminder")
    assert [m.to_email for m in reminders.context["page"]] == ["reminder@ex.se"]
    queued = client.get("/mailbox/?q=request&status=queued")
    assert [m.status for m in queued.context["page"]] == ["queued"]
    nothing = client.get("/mailbox/?q=nobody")
    assert "No e-mail matches these filters." in nothing.content.decode()

    violins = client.get(f"/rankings/?instrument={violin.pk}")
    shown = {p.name for _instrument, rows in violins.context["groups"] for p, _lists in rows}
    assert shown == violin_positions
    missing = client.get("/rankings/?q=Theremin")
    assert (
        missing.context["groups"] == [] and 'data-testid="no-results"' in missing.content.decode()
    )
