"""SMS copies in the outbox, delivered to a local 46elks, then answered by reply."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from stagesub.messaging import delivery as email_delivery
from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.sms import delivery, links
from stagesub.sms.models import SmsSettings
from stagesub.sms.replies import code_of
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login
from tests.offers.test_flow import link_path, make_need
from tests.smsprovider import ElksServer

SHORT = re.compile(r"https?://\S+/s/[\w-]+/")
PHONES = ["+46701110001", "+46701110002", "+46701110003"]


@pytest.fixture
def elks(settings):
    server = ElksServer().start()
    settings.SMS_API_URL = server.url
    yield server
    server.stop()


def _enable(orchestra, elks, **choices) -> str:
    with use_orchestra(orchestra):
        sms = SmsSettings(
            enabled=True, api_username=elks.username, sender="+46766861004", **choices
        )
        sms.set_api_password(elks.password)
        sms.save()
        return sms.webhook_secret


def _need_with_phones(orchestra, quantity=1, strategy="sequential", phones=PHONES):
    need = make_need(orchestra, strategy, quantity, count=3)
    with use_orchestra(orchestra):
        for entry, phone in zip(need.ranking_list.entries.order_by("rank"), phones, strict=False):
            entry.musician.phone = phone
            entry.musician.save(update_fields=["phone"])
    return need


def test_a_request_goes_by_sms_too_and_the_reply_answers_it(goteborg, elks):
    secret = _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        sms = Message.objects.get(offer=offer, channel="sms")
        assert (sms.kind, sms.to_phone, sms.status) == ("request", PHONES[0], "queued")
        assert f"YES {code_of(offer)}" in sms.body and "/r/" not in sms.body
        report = delivery.deliver_due()
        assert report.sent == 1
        assert Message.objects.get(pk=sms.pk).status == "sent"
        # the e-mail is still the e-mail outbox's: untouched by the SMS pass
        assert Message.objects.get(offer=offer, channel="email").status == "queued"
    [sent] = elks.sent
    assert (sent["to"], sent["from"], sent["message"]) == (PHONES[0], "+46766861004", sms.body)
    reply = host_client(goteborg).post(
        f"/sms/inbound/{secret}/",
        {"id": "in1", "from": PHONES[0], "to": "+46766861004", "message": f"Ja {code_of(offer)}"},
    )
    assert "booked" in reply.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "accepted"
        # confirmations are not chosen for SMS by default: e-mail only
        assert not Message.objects.filter(kind="confirmation", channel="sms").exists()


def test_kinds_not_chosen_and_sms_switched_off_queue_no_sms(goteborg, elks):
    _enable(goteborg, elks, send_request=False)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        services.send(need)
        assert not Message.objects.filter(channel="sms").exists()
        SmsSettings.objects.update(enabled=False, send_request=True)
        services.send(need)  # nothing new to ask, but make sure: still no SMS
        assert not Message.objects.filter(channel="sms").exists()


def test_a_musician_without_a_phone_gets_the_email_and_the_sms_is_recorded_as_not_sent(
    goteborg, elks
):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg, phones=[])
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        sms = Message.objects.get(offer=offer, channel="sms")
        assert sms.status == "cancelled" and "no phone number" in sms.last_error
        assert Message.objects.get(offer=offer, channel="email").status == "queued"
        assert delivery.deliver_due().sent == 0
    assert elks.sent == []


def test_a_stored_number_that_is_not_e164_able_is_recorded_with_the_reason(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        first = need.ranking_list.entries.get(rank=1).musician
        # written past the form's check, as an old import might have
        type(first).objects.filter(pk=first.pk).update(phone="12")
        [offer] = services.send(need).created
        sms = Message.objects.get(offer=offer, channel="sms")
        assert sms.status == "cancelled" and "not a valid phone number" in sms.last_error


def test_429_waits_the_retry_after_and_defers_the_rest(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg, quantity=3, strategy="parallel")
    elks.fail_next(429, retry_after="120")
    now = timezone.now()
    with use_orchestra(goteborg):
        services.send(need, now=now)
        report = delivery.deliver_due(now=now)
        assert (report.sent, report.failed, report.deferred) == (0, 1, 2)
        queued = Message.objects.filter(channel="sms").order_by("pk")
        assert all(m.status == "queued" for m in queued)
        first = queued[0]
        assert "429" in first.last_error and first.attempts == 1
        assert first.next_attempt_at - now >= datetime.timedelta(seconds=120)
        assert delivery.deliver_due(now=now).sent == 0  # not before the provider said
        later = now + datetime.timedelta(seconds=121)
        assert delivery.deliver_due(now=later).sent == 3
    assert len(elks.sent) == 3  # nothing lost, nothing twice


def test_500_backs_off_like_email_and_then_goes(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    elks.fail_next(500)
    now = timezone.now()
    with use_orchestra(goteborg):
        services.send(need, now=now)
        assert delivery.deliver_due(now=now).failed == 1
        sms = Message.objects.get(channel="sms")
        assert sms.status == "queued" and sms.next_attempt_at >= now + datetime.timedelta(
            seconds=30
        )
        assert delivery.deliver_due(now=now + datetime.timedelta(minutes=1)).sent == 1
    assert len(elks.sent) == 1


def test_a_number_the_provider_refuses_fails_that_sms_only(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg, quantity=2, strategy="parallel")
    with use_orchestra(goteborg):
        services.send(need)
        first = Message.objects.filter(channel="sms").order_by("pk").first()
        # (a number the provider does not take, past our own check)
        Message.objects.filter(pk=first.pk).update(to_phone="0701")
        report = delivery.deliver_due()
        assert (report.sent, report.failed) == (1, 1)
        assert Message.objects.get(pk=first.pk).status == "failed"


def test_an_sms_for_a_request_answered_meanwhile_is_not_sent(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        services.answer(offer, accepted=False)
        assert delivery.deliver_due().skipped >= 1
        sms = Message.objects.get(offer=offer, channel="sms", kind="request")
        assert sms.status == "cancelled"


def test_the_mailbox_shows_sms_with_the_number(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        services.send(need)
    page = login(goteborg, "goteborg-admin").get("/mailbox/").content.decode()
    assert f"{PHONES[0]} (SMS)" in page and "SMS: Request" in page


def _short_path(body: str) -> str:
    url = SHORT.search(body).group(0)
    return "/" + url.split("/", 3)[3]


def test_the_short_link_leads_to_the_answer_page_on_its_own_host_only(goteborg, malmo, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        sms = Message.objects.get(offer=offer, channel="sms")
        email = Message.objects.get(offer=offer, channel="email")
    path = _short_path(sms.body)
    assert len(path) <= 20  # one SMS, not a line of hex
    response = host_client(goteborg).get(path)
    assert response.status_code == 302
    assert response["Location"] == link_path(email)  # the e-mail's own answer link
    assert host_client(goteborg).get(response["Location"]).status_code == 200
    assert host_client(malmo).get(path).status_code == 404  # another orchestra's host
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    assert host_client(goteborg).get(tampered).status_code == 404
    assert host_client(goteborg).get("/s/zz-tooshort/").status_code == 404


def test_short_tokens_whose_mac_holds_a_dash_still_parse():
    assert links.offer_pk_from("1z-ab-d_fghijkl") == int("1z", 36)
    assert links.offer_pk_from("1z-short") is None


def test_the_email_pass_sends_the_email_and_leaves_the_sms_to_the_sms_pass(
    goteborg, elks, mail_server
):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        report = email_delivery.deliver_due(orchestra_name=goteborg.name)
        assert (report.sent, report.failed) == (1, 0)
        assert Message.objects.get(offer=offer, channel="sms").status == "queued"
        assert Message.objects.get(offer=offer, channel="email").status == "sent"
    assert len(mail_server.to(offer.musician.email)) == 1 and elks.sent == []


def test_a_late_sms_request_keeps_its_sms_text(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    sent_at = timezone.now() - datetime.timedelta(hours=2)  # an outage held it back
    with use_orchestra(goteborg):
        [offer] = services.send(need, now=sent_at).created
        before = Message.objects.get(offer=offer, channel="sms").body
        assert delivery.deliver_due().sent == 1
        sms = Message.objects.get(offer=offer, channel="sms")
        assert sms.body == before and sms.subject.startswith("SMS")
        # the response window started when the request reached the musician, as for e-mail
        assert Offer.objects.get(pk=offer.pk).sent_at > sent_at
    assert elks.sent[0]["message"] == before


def test_a_reminder_goes_by_sms_when_chosen_and_not_otherwise(goteborg, elks):
    _enable(goteborg, elks)
    need = _need_with_phones(goteborg)
    with use_orchestra(goteborg):
        [offer] = services.send(need).created
        assert services.remind(offer.pk, now=timezone.now())
        reminder = Message.objects.get(offer=offer, channel="sms", kind="reminder")
        assert f"YES {code_of(offer)}" in reminder.body and "/s/" in reminder.body
        SmsSettings.objects.update(send_reminder=False)
        Offer.objects.filter(pk=offer.pk).update(reminder_sent_at=None)
        assert services.remind(offer.pk, now=timezone.now())
        assert Message.objects.filter(offer=offer, channel="sms", kind="reminder").count() == 1
        assert Message.objects.filter(offer=offer, channel="email", kind="reminder").count() == 2
