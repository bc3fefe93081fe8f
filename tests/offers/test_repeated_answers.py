"""A musician's double click: the second identical answer is a repeat, not a "late answer"."""

from __future__ import annotations

import threading

import pytest
from django.db import connections as django_connections

from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.offers.models import Offer, OfferEvent
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login
from tests.offers.test_flow import link_path, make_need


def _sent(orchestra, quantity=1, strategy="sequential"):
    need = make_need(orchestra, strategy, quantity, count=3)
    with use_orchestra(orchestra):
        offer = services.send(need).created[0]
        path = link_path(Message.objects.get(offer=offer, kind="request"))
    return need, offer, path


def _kinds(orchestra, offer) -> list[str]:
    with use_orchestra(orchestra):
        return list(
            OfferEvent.objects.filter(offer=offer).order_by("pk").values_list("kind", flat=True)
        )


@pytest.mark.parametrize("answer,status", [("yes", "accepted"), ("no", "declined")])
def test_a_second_identical_answer_on_the_link_writes_nothing(goteborg, answer, status):
    # quantity 1: after the yes the need is filled, the case that logged "late answer"
    _need, offer, path = _sent(goteborg)
    client = host_client(goteborg)
    first = client.post(path, {"answer": answer}, follow=True)
    assert first.status_code == 200
    with use_orchestra(goteborg):
        mail_after_first = Message.objects.count()
    again = client.post(path, {"answer": answer}, follow=True)
    assert again.status_code == 200
    assert f"You have already answered {answer}." in again.content.decode()
    assert _kinds(goteborg, offer) == ["sent", status]
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == status
        assert Message.objects.count() == mail_after_first  # no second confirmation either


def test_a_repeated_yes_through_the_service_is_refused_as_a_repeat(goteborg):
    _need, offer, _path = _sent(goteborg)
    with use_orchestra(goteborg):
        assert not services.answer(offer, accepted=True).refused
        again = services.answer(offer, accepted=True)
        assert again.refused == "repeated"
        assert not again.created
    assert _kinds(goteborg, offer) == ["sent", "accepted"]


def test_staff_recording_the_same_answer_twice_is_told_it_stands(goteborg):
    _need, offer, _path = _sent(goteborg)
    client = login(goteborg, f"{goteborg.subdomain}-admin")
    url = f"/offers/{offer.offer_id}/"
    client.post(url, {"action": "record_yes"})
    page = client.post(url, {"action": "record_yes"}, follow=True).content.decode()
    assert "This answer was already recorded." in page
    assert _kinds(goteborg, offer) == ["sent", "accepted"]


def test_a_late_yes_from_someone_else_is_still_logged(goteborg):
    # the repeat rule is about one's own answer: a yes after the seats went elsewhere still is
    # the "late answer" it was (see test_flow for the first-come case)
    need = make_need(goteborg, "first_come", 1, count=3)
    with use_orchestra(goteborg):
        first, second, _ = services.send(need).created
        services.answer(first, accepted=True)
        services.answer(second, accepted=True)
    assert _kinds(goteborg, second)[-1] == "late_answer"
    assert "late_answer" not in _kinds(goteborg, first)


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_click_records_one_yes(goteborg):
    _need, offer, path = _sent(goteborg)
    clicks = 4
    barrier = threading.Barrier(clicks)
    statuses, errors = [], []

    def click():
        try:
            barrier.wait()
            response = host_client(goteborg).post(path, {"answer": "yes"})
            statuses.append(response.status_code)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and statuses == [302] * clicks
    assert _kinds(goteborg, offer) == ["sent", "accepted"]
    with use_orchestra(goteborg):
        assert Message.objects.filter(offer=offer, kind="confirmation").count() == 1
