"""Outbox delivery against real mail servers on loopback: hung, refusing, down and back."""

from __future__ import annotations

import datetime
import logging
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import formats, timezone, translation

from stagesub.messaging.models import Message
from stagesub.offers import scheduler, services
from stagesub.offers.models import Offer
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
from tests.conftest import host_client, login
from tests.offers.test_flow import T0, link_path, make_need

SECOND = datetime.timedelta(seconds=1)
HOUR = datetime.timedelta(hours=1)


def next_due(orchestra) -> datetime.datetime:
    return Orchestra.objects.get(pk=orchestra.pk).next_due_at


def test_a_hung_mail_server_costs_one_timeout_per_pass_not_one_per_message(
    goteborg, malmo, silent_mail
):
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            services.send(make_need(orchestra, "first_come", 2, count=6), now=T0)
    started = time.monotonic()
    report = scheduler.run_due(now=T0)
    elapsed = time.monotonic() - started
    # Twelve messages in two orchestras: one connection, one 1-second timeout, and the rest
    # deferred without being tried (before: two timeouts per message, 27 s each in production).
    assert len(silent_mail.connections) == 1
    assert elapsed < 3, elapsed
    assert (report.total("sent"), report.total("failed"), report.total("deferred")) == (0, 1, 11)
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            assert Message.objects.filter(status="queued").count() == 6
        assert next_due(orchestra) <= T0 + 20 * SECOND  # 15 s after the failed attempt


def test_a_refused_recipient_fails_only_that_message(goteborg, mail_server):
    need = make_need(goteborg, "first_come", 2, count=4)
    mail_server.refuse = {"m01@example.se"}
    with use_orchestra(goteborg):
        services.send(need, now=T0)
    result = scheduler.run_due(now=T0).orchestras["goteborg"]
    assert (result.sent, result.failed, result.deferred) == (3, 1, 0)
    assert mail_server.sessions == 1  # the batch went on in the same session
    with use_orchestra(goteborg):
        refused = Message.objects.get(to_email="m01@example.se")
        assert refused.status == "failed" and "550" in refused.last_error
    # a permanent refusal is not tried again
    scheduler.run_due(now=T0 + 2 * HOUR)
    assert len(mail_server.received) == 3 and not mail_server.to("m01@example.se")


def test_a_recipient_busy_for_now_is_retried_later_and_the_batch_goes_on(goteborg, mail_server):
    with use_orchestra(goteborg):
        services.send(make_need(goteborg, "first_come", 2, count=4), now=T0)
    mail_server.busy = {"m00@example.se"}
    result = scheduler.run_due(now=T0).orchestras["goteborg"]
    assert (result.sent, result.failed, result.deferred) == (3, 1, 0)
    assert mail_server.sessions == 1
    with use_orchestra(goteborg):
        busy = Message.objects.get(to_email="m00@example.se")
        assert busy.status == "queued" and "450" in busy.last_error
        retry = busy.next_attempt_at
    assert T0 + 30 * SECOND <= retry < T0 + 31 * SECOND  # the message's own backoff
    mail_server.busy = set()
    scheduler.run_due(now=retry)
    assert len(mail_server.to("m00@example.se")) == 1


def test_after_an_outage_the_queue_drains_in_the_first_pass_after_the_server_is_back(
    goteborg, malmo, mail_server, settings
):
    with use_orchestra(goteborg):
        services.send(make_need(goteborg, "first_come", 2, count=6), now=T0)
    malmo_need = make_need(malmo)
    mail_server.stop()
    now = T0
    for attempt in range(10):  # ten failed passes, each when mail is next due
        if attempt == 5:  # Malmö's request is written mid-outage
            with use_orchestra(malmo):
                services.send(malmo_need, now=now)
        report = scheduler.run_due(now=now)
        assert report.total("failed") == 1 and report.total("sent") == 0  # one try per pass
        retry = min(t for t in (next_due(goteborg), next_due(malmo)) if t is not None)
        # backing off, but never further than the outage cap (before: doubling to an hour)
        assert now < retry <= now + datetime.timedelta(seconds=settings.MAIL_OUTAGE_RETRY_MAX + 1)
        now = retry
    assert now - T0 > 5 * datetime.timedelta(seconds=settings.MAIL_OUTAGE_RETRY_MAX)
    # every orchestra's deferred mail waits for the same retry time of the mail server
    assert next_due(goteborg) == next_due(malmo) == now
    mail_server.start()
    report = scheduler.run_due(now=now)
    assert (report.orchestras["goteborg"].sent, report.orchestras["malmo"].sent) == (6, 1)
    assert len({m["Message-ID"] for m in mail_server.received}) == len(mail_server.received) == 7


def test_a_request_whose_offer_closed_while_it_waited_is_not_sent(goteborg, mail_server):
    need = make_need(goteborg, "parallel", 2, count=4)
    with use_orchestra(goteborg):
        first, second = services.send(need, now=T0).created
    mail_server.stop()
    scheduler.run_due(now=T0)
    with use_orchestra(goteborg):
        services.withdraw(first, now=T0 + HOUR, by="goteborg-admin")
        services.answer(second, accepted=False, now=T0 + HOUR, by="goteborg-admin")  # by phone
    mail_server.start()
    result = scheduler.run_due(now=T0 + 2 * HOUR).orchestras["goteborg"]
    reached = {m["Message-ID"] for m in mail_server.received}
    with use_orchestra(goteborg):
        cancelled = Message.objects.filter(status="cancelled")
        assert not reached & {f"<{m.uid}@stagesub>" for m in cancelled}
        assert {(m.offer_id, m.kind) for m in cancelled} == {
            (first.pk, "request"),
            (first.pk, "withdrawn"),  # nothing to take back: the request never arrived
            (second.pk, "request"),
        }
        reason = cancelled.get(offer=first, kind="request").last_error
        assert "no longer open" in reason and "Withdrawn" in reason
        # the two offers made in their place do get their requests
        sent = Message.objects.filter(kind="request", status="sent")
        assert {f"<{m.uid}@stagesub>" for m in sent} == reached
        assert {m.offer_id for m in sent}.isdisjoint({first.pk, second.pk}) and len(sent) == 2
    assert result.skipped == 3 and result.sent == 2
    page = login(goteborg, "goteborg-admin").get("/mailbox/?status=cancelled").content.decode()
    assert page.count("not sent") == 3 and "no longer open" in page


def test_the_response_window_starts_when_the_request_is_delivered(goteborg, mail_server):
    need = make_need(goteborg)  # sequential, 48 hours to answer
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        email = offer.musician.email
        promised = formats.date_format(timezone.localtime(offer.expires_at), "DATETIME_FORMAT")
    mail_server.stop()
    for hours in (0, 36, 48, 49):  # the reminder's time and the deadline pass during the outage
        scheduler.run_due(now=T0 + hours * HOUR)
    with use_orchestra(goteborg):
        offer.refresh_from_db()
        assert offer.status == "pending" and offer.reminder_sent_at is None
        assert list(Message.objects.values_list("kind", flat=True)) == ["request"]
    mail_server.start()
    back = T0 + 50 * HOUR
    scheduler.run_due(now=back)
    with use_orchestra(goteborg):
        offer.refresh_from_db()
        assert back <= offer.sent_at < back + SECOND
        assert back + 48 * HOUR <= offer.expires_at < back + 48 * HOUR + SECOND
        assert back + 36 * HOUR <= offer.reminder_due_at < back + 36 * HOUR + SECOND
        with translation.override("en"):
            deadline = formats.date_format(timezone.localtime(offer.expires_at), "DATETIME_FORMAT")
    (mail,) = mail_server.to(email)
    text = mail_server.text(mail)
    assert deadline in text and promised not in text  # the e-mail states the new deadline
    assert "Yes, I can" in host_client(goteborg).get(link_path(text)).content.decode()
    assert next_due(goteborg) == offer.reminder_due_at
    scheduler.run_due(now=offer.reminder_due_at)
    assert len(mail_server.to(email)) == 2  # the reminder, on the new clock
    report = scheduler.run_due(now=offer.expires_at)
    assert report.orchestras["goteborg"].timeouts == 1


def test_a_message_left_sending_is_tried_again_only_after_the_stale_time(
    goteborg, mail_server, settings
):
    settings.MAIL_SENDING_STALE = 300
    with use_orchestra(goteborg):
        services.send(make_need(goteborg), now=T0)
        # what a worker killed during the SMTP call leaves behind
        Message.objects.update(status="sending", last_attempt_at=T0, attempts=1)
    scheduler.run_due(now=T0 + 10 * SECOND)
    assert mail_server.received == []  # it may still be in flight in another worker
    assert next_due(goteborg) == T0 + 300 * SECOND
    scheduler.run_due(now=T0 + 301 * SECOND)
    assert len(mail_server.received) == 1
    with use_orchestra(goteborg):
        message = Message.objects.get()
        assert message.status == "sent" and message.attempts == 2
        assert "Interrupted" in message.last_error


@pytest.mark.django_db(transaction=True)
def test_the_worker_reports_failed_and_deferred_mail_per_orchestra(goteborg, mail_server, caplog):
    with use_orchestra(goteborg):
        services.send(make_need(goteborg, "first_come", 2, count=3), now=timezone.now())
    mail_server.stop()
    out = StringIO()
    with caplog.at_level(logging.INFO, logger="stagesub"):
        call_command("worker", "--once", stdout=out)
    printed = out.getvalue()
    assert "0 sent, 1 failed, 2 deferred" in printed
    assert "goteborg: 0 sent, 1 failed, 2 deferred, 0 skipped" in printed
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("goteborg" in e and "mail server unreachable" in e for e in errors), errors


def test_the_smtp_timeout_is_a_setting():
    import subprocess
    import sys

    code = "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_TIMEOUT)"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "stagesub.settings",
            "STAGESUB_EMAIL_URL": "smtp://127.0.0.1:2525",
            "STAGESUB_EMAIL_TIMEOUT": "4.5",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "4.5"


def test_a_mail_offer_that_is_no_longer_pending_gets_no_reminder_either(goteborg, mail_server):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
    scheduler.run_due(now=T0)
    mail_server.stop()
    scheduler.run_due(now=T0 + 36 * HOUR)  # the reminder is queued, the server is down
    with use_orchestra(goteborg):
        services.answer(Offer.objects.get(pk=offer.pk), accepted=True, now=T0 + 37 * HOUR)
    mail_server.start()
    scheduler.run_due(now=T0 + 38 * HOUR)
    kinds = sorted(
        "reminder" if "Reminder" in m["Subject"] else m["Subject"].split()[0]
        for m in mail_server.to(offer.musician.email)
    )
    assert "reminder" not in kinds and len(kinds) == 2  # the request and the confirmation
    with use_orchestra(goteborg):
        assert Message.objects.get(kind="reminder").status == "cancelled"
