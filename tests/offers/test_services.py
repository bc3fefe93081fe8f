"""The engine on the database: sending, answering, and races for the last seat."""

import datetime
import threading

import pytest
from django.db import IntegrityError, transaction
from django.db import connections as django_connections

from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.projects import services as projects
from stagesub.projects.models import Need
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from tests.conftest import listed_musicians


@pytest.fixture
def need_factory(goteborg):
    with use_orchestra(goteborg):
        tutti, _musicians, a_list = listed_musicians(30)
        project = projects.create_project(
            ProjectData(name="Mahler 2", start_date=datetime.date(2027, 3, 8)), max_projects=20
        )

    def make(strategy="parallel", quantity=2, **kw):
        with use_orchestra(goteborg):
            return projects.create_need(
                project,
                NeedData(
                    position_id=tutti.pk,
                    quantity=quantity,
                    strategy=strategy,
                    response_time_hours=48,
                    ranking_list_id=a_list.pk,
                    **kw,
                ),
            )

    return make


def test_send_and_answer_in_rank_order(need_factory, goteborg):
    need = need_factory("parallel", 2)
    with use_orchestra(goteborg):
        out = services.send(need)
        assert [o.musician.first_name for o in out.created] == ["M00", "M01"]
        assert out.created[0].offer_id == "REQ001"
        services.answer(out.created[0], accepted=False)
        services.answer(out.created[1], accepted=True)
        pending = Offer.objects.filter(status="pending")
        assert [o.musician.first_name for o in pending] == ["M02"]
        services.answer(pending.get(), accepted=True)
        assert Need.objects.get(pk=need.pk).status == "completed"
        assert projects.staffing(need.project)["label"] == "full"


def test_one_live_offer_per_musician_and_project_is_a_database_rule(need_factory, goteborg):
    first, second = need_factory("sequential", 1), need_factory("sequential", 1)
    with use_orchestra(goteborg):
        offer = services.send(first).created[0]
        with pytest.raises(IntegrityError), transaction.atomic(using=current_binding().alias):
            Offer.objects.create(
                offer_id="REQ999",
                need=second,
                project=second.project,
                musician=offer.musician,
                sent_at=offer.sent_at,
                expires_at=offer.expires_at,
            )
        # the other need of the project skips the musician already asked
        assert services.send(second).created[0].musician_id != offer.musician_id


def _race(goteborg, offers, accepted):
    barrier = threading.Barrier(len(offers))
    results = []

    def run(offer):
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                results.append(services.answer(offer, accepted=accepted).decision)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=run, args=(o,)) for o in offers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_yeses_for_the_last_seats_never_overbook(need_factory, goteborg):
    need = need_factory("first_come", 2, max_recipients=12)
    with use_orchestra(goteborg):
        offers = services.send(need).created
    assert len(offers) == 12
    results = _race(goteborg, offers, accepted=True)
    with use_orchestra(goteborg):
        assert Offer.objects.filter(need=need, status="accepted").count() == 2
        assert Need.objects.get(pk=need.pk).status == "completed"
        assert not Offer.objects.filter(need=need, status="pending").exists()
    assert sum(1 for d in results if not d.refused) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_noes_never_ask_anyone_twice(need_factory, goteborg):
    need = need_factory("parallel", 8)
    with use_orchestra(goteborg):
        offers = services.send(need).created
    _race(goteborg, offers, accepted=False)
    with use_orchestra(goteborg):
        live = list(
            Offer.objects.filter(project=need.project).values_list("musician_id", flat=True)
        )
        assert len(live) == len(set(live)) == 16
        assert Offer.objects.filter(need=need, status="pending").count() == 8


@pytest.mark.django_db(transaction=True)
def test_two_needs_sharing_a_list_sending_at_once_never_ask_one_musician_twice(
    need_factory, goteborg
):
    # Two needs of one project ask from the same list at the same instant: each picks the
    # top of the list, the constraint refuses the second offer, and that need starts again.
    needs = [need_factory("parallel", 5) for _ in range(4)]
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
        assert len(asked) == len(set(asked)) == 20
        for need in needs:
            assert Offer.objects.filter(need=need, status="pending").count() == 5
