"""No double-booking across projects: a musician booked or asked in a project whose days
overlap is not asked, the preview and the project page say where, and two such projects
sending at the same moment never book one musician twice (both backends)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections as django_connections

from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from tests.conftest import listed_musicians, login

MONDAY = datetime.date(2027, 3, 8)


def project_with_need(seat, a_list, name, start, end=None, quantity=1, strategy="sequential"):
    project = projects.create_project(
        ProjectData(name=name, start_date=start, end_date=end), max_projects=100
    )
    need = projects.create_need(
        project,
        NeedData(
            position_id=seat.pk,
            quantity=quantity,
            strategy=strategy,
            response_time_hours=48,
            ranking_list_id=a_list.pk,
        ),
    )
    return project, need


def test_a_musician_booked_in_an_overlapping_project_is_not_asked_and_told_why(goteborg):
    with use_orchestra(goteborg):
        seat, (anna, bo, cia), a_list = listed_musicians(3)
        verdi, verdi_need = project_with_need(seat, a_list, "Verdi Requiem", MONDAY)
        services.answer(services.send(verdi_need).created[0], accepted=True)  # Anna: yes
        services.send(verdi_need)  # nothing more to ask: one seat
        # Mahler starts on Verdi's last day; Bach starts the day after it.
        mahler, mahler_need = project_with_need(
            seat, a_list, "Mahler 2", MONDAY + datetime.timedelta(days=6), quantity=1
        )
        bach, bach_need = project_with_need(
            seat, a_list, "Bach", MONDAY + datetime.timedelta(days=7), MONDAY.replace(day=16)
        )
        assert mahler.end_date == datetime.date(2027, 3, 14)  # the Sunday of its start week
    client = login(goteborg, "goteborg-admin")
    page = client.get(f"/projects/{mahler.project_id}/needs/{mahler_need.need_id}/send/")
    text = page.content.decode()
    assert f"Already booked in {verdi.project_id} Verdi Requiem" in text
    assert "(Accepted)" in text
    detail = client.get(f"/projects/{mahler.project_id}/").content.decode()
    assert 'data-testid="busy-elsewhere"' in detail and anna.full_name in detail
    assert "simple rule" in detail
    with use_orchestra(goteborg):
        asked = [o.musician_id for o in services.send(mahler_need).created]
        assert asked == [bo.pk]  # Anna is busy on the 14th
        # Bach does not overlap Verdi; Bo's pending Mahler request covers only the 14th.
        assert [o.musician_id for o in services.send(bach_need).created] == [anna.pk]
        # Anna now holds a pending request in Bach; a project over both weeks asks Cia.
        _fest, fest_need = project_with_need(
            seat, a_list, "Festival", MONDAY, MONDAY + datetime.timedelta(days=13)
        )
        assert [o.musician_id for o in services.send(fest_need).created] == [cia.pk]
    bach_page = client.get(f"/projects/{bach.project_id}/").content.decode()
    assert 'data-testid="busy-elsewhere"' in bach_page  # Bo and Cia are busy, Anna is not


def test_declined_withdrawn_and_archived_bookings_do_not_block(goteborg):
    with use_orchestra(goteborg):
        seat, (anna, bo), a_list = listed_musicians(2)
        _first, first_need = project_with_need(
            seat, a_list, "Först", MONDAY, quantity=2, strategy="parallel"
        )
        anna_offer, bo_offer = services.send(first_need).created
        services.answer(anna_offer, accepted=False)
        services.withdraw(bo_offer)
        _second, second_need = project_with_need(
            seat, a_list, "Sedan", MONDAY, quantity=2, strategy="parallel"
        )
        created = services.send(second_need).created
        assert [o.musician_id for o in created] == [anna.pk, bo.pk]
        services.answer(created[0], accepted=True)
        projects.set_project_archived(second_need.project, True)
        _third, third_need = project_with_need(seat, a_list, "Tredje", MONDAY)
        assert [o.musician_id for o in services.send(third_need).created] == [anna.pk]


@pytest.mark.django_db(transaction=True)
def test_overlapping_projects_sending_at_once_never_book_one_musician_twice(goteborg):
    # Six projects on overlapping days ask from the same list at the same instant: each
    # musician ends up with at most one live request among them.
    with use_orchestra(goteborg):
        seat, _musicians, a_list = listed_musicians(20)
        needs = [
            project_with_need(
                seat,
                a_list,
                f"P{i}",
                MONDAY + datetime.timedelta(days=i),
                MONDAY + datetime.timedelta(days=i + 6),
                quantity=3,
                strategy="parallel",
            )[1]
            for i in range(6)
        ]
    barrier = threading.Barrier(len(needs))
    errors = []

    def run(need):
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                services.send(need)
        except Exception as exc:
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in needs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with use_orchestra(goteborg):
        asked = list(Offer.objects.values_list("musician_id", flat=True))
        assert len(asked) == len(set(asked)) == 18  # 6 projects × 3 seats, 18 people
        for need in needs:
            assert Offer.objects.filter(need=need, status="pending").count() == 3
