"""Answers by reply through the inbound webhook: the web answer's own path, exactly once."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections as django_connections

from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.offers.models import Offer, OfferEvent
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.sms.models import InboundSms, SmsSettings
from stagesub.sms.replies import code_of, parse
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client
from tests.offers.test_flow import make_need

PHONE = "+46701234567"


def _enable(orchestra) -> str:
    with use_orchestra(orchestra):
        settings = SmsSettings(enabled=True, api_username="u", sender="+46766861004")
        settings.set_api_password("p")
        settings.save()
        return settings.webhook_secret


def _sent(orchestra, quantity=1, strategy="sequential", phone=PHONE):
    need = make_need(orchestra, strategy, quantity, count=3)
    with use_orchestra(orchestra):
        offers = services.send(need).created
        musician = offers[0].musician
        musician.phone = phone
        musician.save(update_fields=["phone"])
    return need, offers


def _post(orchestra, secret, message, *, sms_id="sf1", sender=PHONE, **extra):
    data = {"direction": "incoming", "id": sms_id, "from": sender, "to": "+46766861004"}
    data.update({"message": message, **extra})
    return host_client(orchestra).post(f"/sms/inbound/{secret}/", data)


def _events(orchestra, offer) -> list[str]:
    with use_orchestra(orchestra):
        return list(
            OfferEvent.objects.filter(offer=offer).order_by("pk").values_list("kind", flat=True)
        )


@pytest.mark.parametrize(
    "text, accepted, code",
    [
        ("JA 4821", True, 4821),
        ("nej 4821", False, 4821),
        ("Ja tack! 👍 4821", True, 4821),
        ("  YES", True, None),
        ("No, sorry 12", False, 12),
        ("NEJ🙁", False, None),
        ("kanske 4821", None, 4821),
        ("ja 0701234567890", True, None),  # a phone number is not a code
    ],
)
def test_parse_tolerates_case_extra_words_and_emoji(text, accepted, code):
    intent = parse(text)
    assert (intent.accepted, intent.code) == (accepted, code)


def test_ja_with_the_code_accepts_through_the_engine_and_confirms(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    response = _post(goteborg, secret, f"ja {code_of(offer)} 🎻")
    assert response.status_code == 200
    assert "booked for Mahler 2" in response.content.decode()
    assert _events(goteborg, offer) == ["sent", "accepted"]
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "accepted"
        assert Message.objects.filter(offer=offer, kind="confirmation").count() == 1
        inbound = InboundSms.objects.get()
        assert (inbound.outcome, inbound.offer_id) == ("answered", offer.pk)


def test_nej_cascades_to_the_next_musician_like_a_web_answer(goteborg):
    secret = _enable(goteborg)
    need, [offer] = _sent(goteborg)
    assert "declined" in _post(goteborg, secret, f"NEJ {code_of(offer)}").content.decode()
    with use_orchestra(goteborg):
        statuses = list(need.offers.order_by("pk").values_list("status", flat=True))
    assert statuses == ["declined", "pending"]  # the next one was asked, in the same path


def test_bare_ja_needs_exactly_one_open_request(goteborg):
    secret = _enable(goteborg)
    _need, offers = _sent(goteborg, quantity=2, strategy="parallel")
    with use_orchestra(goteborg):
        second = offers[1].musician
        second.phone = "+46709999999"
        second.save(update_fields=["phone"])
    assert "booked" in _post(goteborg, secret, "JA", sender="+46709999999").content.decode()
    assert _events(goteborg, offers[1]) == ["sent", "accepted"]
    # the same musician now has none open
    reply = _post(goteborg, secret, "ja", sms_id="sf2", sender="+46709999999")
    assert "no open request" in reply.content.decode()


def test_bare_ja_with_two_open_requests_asks_for_the_code(goteborg):
    secret = _enable(goteborg)
    need, [first] = _sent(goteborg)
    with use_orchestra(goteborg):
        # a second project asking the same musician from the same list
        other = projects.create_project(
            ProjectData(name="Brahms 4", start_date=datetime.date(2027, 4, 12)), max_projects=20
        )
        second = projects.create_need(
            other,
            NeedData(
                position_id=need.position_id,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=need.ranking_list_id,
            ),
        )
        services.send(second)
        assert Offer.objects.filter(musician=first.musician, status="pending").count() == 2
    reply = _post(goteborg, secret, "ja").content.decode()
    assert "several open requests" in reply
    assert _events(goteborg, first) == ["sent"]


def test_replay_of_the_same_provider_id_answers_nothing_again(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    assert "booked" in _post(goteborg, secret, f"JA {code_of(offer)}").content.decode()
    again = _post(goteborg, secret, f"NEJ {code_of(offer)}")  # a replay with another body
    assert again.status_code == 200 and again.content == b""
    assert _events(goteborg, offer) == ["sent", "accepted"]
    with use_orchestra(goteborg):
        assert InboundSms.objects.count() == 1


def test_a_second_sms_with_the_same_answer_is_told_it_stands(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    _post(goteborg, secret, f"JA {code_of(offer)}")
    reply = _post(goteborg, secret, f"ja {code_of(offer)}", sms_id="sf2").content.decode()
    assert "already answered" in reply
    assert _events(goteborg, offer) == ["sent", "accepted"]


def test_an_expired_request_is_explained(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    with use_orchestra(goteborg):
        Offer.objects.filter(pk=offer.pk).update(expires_at=offer.sent_at)
    reply = _post(goteborg, secret, f"JA {code_of(offer)}").content.decode()
    assert "time to answer" in reply
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "timed_out"


@pytest.mark.parametrize("secret", ["wrong", "", "x" * 32])
def test_a_bad_secret_is_404_and_records_nothing(goteborg, secret):
    real = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    response = host_client(goteborg).post(
        f"/sms/inbound/{secret or real[:-1]}/", {"id": "a", "from": PHONE, "message": "JA"}
    )
    assert response.status_code == 404
    assert _events(goteborg, offer) == ["sent"]
    with use_orchestra(goteborg):
        assert not InboundSms.objects.exists()


def test_sms_switched_off_refuses_even_the_right_secret(goteborg):
    secret = _enable(goteborg)
    with use_orchestra(goteborg):
        SmsSettings.objects.update(enabled=False)
    assert _post(goteborg, secret, "JA").status_code == 404


def test_get_is_not_allowed(goteborg):
    secret = _enable(goteborg)
    assert host_client(goteborg).get(f"/sms/inbound/{secret}/").status_code == 405


@pytest.mark.parametrize(
    "data",
    [{"from": PHONE, "message": "JA"}, {"id": "a", "message": "JA"}, {"id": "a", "from": PHONE}],
)
def test_a_body_that_is_not_what_46elks_sends_is_400(goteborg, data):
    secret = _enable(goteborg)
    response = host_client(goteborg).post(f"/sms/inbound/{secret}/", data)
    assert response.status_code == 400
    with use_orchestra(goteborg):
        assert not InboundSms.objects.exists()


def test_an_unknown_number_is_recorded_and_gets_no_reply(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    response = _post(goteborg, secret, f"JA {code_of(offer)}", sender="+46700000001")
    assert response.status_code == 200 and response.content == b""
    assert _events(goteborg, offer) == ["sent"]
    with use_orchestra(goteborg):
        assert InboundSms.objects.get().outcome == "unknown_number"


def test_a_reply_for_another_orchestras_offer_answers_nothing(goteborg, malmo):
    _enable(goteborg)
    malmo_secret = _enable(malmo)
    _need, [gbg_offer] = _sent(goteborg)
    # the same phone is a Malmö musician too, with an offer of its own
    _mneed, [malmo_offer] = _sent(malmo, phone=PHONE)
    with use_orchestra(malmo):
        Offer.objects.filter(pk=malmo_offer.pk).update(offer_id="REQ777")
    reply = _post(malmo, malmo_secret, f"JA {code_of(gbg_offer)}").content.decode()
    assert "no request of yours with code" in reply
    assert _events(goteborg, gbg_offer) == ["sent"]
    assert _events(malmo, malmo_offer) == ["sent"]
    # and Göteborg's secret does not open Malmö's webhook
    with use_orchestra(goteborg):
        gbg_secret = SmsSettings.objects.get().webhook_secret
    assert _post(malmo, gbg_secret, "JA", sms_id="x2").status_code == 404


def test_someone_elses_code_in_the_same_orchestra_answers_nothing(goteborg):
    secret = _enable(goteborg)
    _need, offers = _sent(goteborg, quantity=2, strategy="parallel")
    reply = _post(goteborg, secret, f"JA {code_of(offers[1])}").content.decode()
    assert "no request of yours" in reply
    assert _events(goteborg, offers[1]) == ["sent"]


def test_unclear_text_explains_how_to_answer(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    assert "YES 4821" in _post(goteborg, secret, "vad gäller det?").content.decode()
    assert _events(goteborg, offer) == ["sent"]


def test_the_reply_is_in_the_musicians_language(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    with use_orchestra(goteborg):
        offer.musician.preferred_language = "sv"
        offer.musician.save(update_fields=["preferred_language"])
    reply = _post(goteborg, secret, f"JA {code_of(offer)}").content.decode()
    assert "Tack" in reply


# Real commits: the copies run in threads with their own connections.
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_answer_once(goteborg):
    secret = _enable(goteborg)
    _need, [offer] = _sent(goteborg)
    copies = 4
    barrier = threading.Barrier(copies)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait()
            response = _post(goteborg, secret, f"JA {code_of(offer)}", sms_id="dup-1")
            results.append((response.status_code, response.content.decode()))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(s for s, _ in results) == [200] * copies
    assert sum("booked" in body for _, body in results) == 1
    assert _events(goteborg, offer) == ["sent", "accepted"]
    with use_orchestra(goteborg):
        assert InboundSms.objects.count() == 1
        assert Message.objects.filter(offer=offer, kind="confirmation").count() == 1
