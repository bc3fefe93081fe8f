"""Reminders, timeouts and the per-orchestra next-due time, on a clock the tests control."""

from __future__ import annotations

import datetime
import time

import pytest

from stagesub.messaging.models import Message
from stagesub.offers import scheduler, services
from stagesub.offers.models import Offer, OfferEvent
from stagesub.orchestra.models import OrchestraSettings
from stagesub.tenancy import connections, use_orchestra
from stagesub.tenancy.models import Orchestra
from tests.offers.test_flow import T0, make_need

HOUR = datetime.timedelta(hours=1)


def kinds(offer) -> list[str]:
    return list(Message.objects.filter(offer=offer).order_by("pk").values_list("kind", flat=True))


def test_one_reminder_at_the_reminder_share_then_a_timeout_and_the_next_musician(goteborg):
    need = make_need(goteborg)  # sequential, 48 hours to answer
    with use_orchestra(goteborg):
        first = services.send(need, now=T0).created[0]
    scheduler.run_due(now=T0)  # the request is delivered: its response window starts
    scheduler.run_due(now=T0 + 35 * HOUR)
    with use_orchestra(goteborg):
        assert kinds(first) == ["request"]  # 75 % of 48 h is 36 h: not yet
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0 + 36 * HOUR
    scheduler.run_due(now=T0 + 36 * HOUR)
    scheduler.run_due(now=T0 + 40 * HOUR)
    with use_orchestra(goteborg):
        assert kinds(first) == ["request", "reminder"]  # exactly one
        assert Offer.objects.get(pk=first.pk).reminder_sent_at == T0 + 36 * HOUR
        reminder = Message.objects.get(kind="reminder")
        request = Message.objects.get(kind="request")
        # the reminder carries the same personal link as the request
        assert request.body.split("/r/")[1].split()[0] in reminder.body
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0 + 48 * HOUR
    report = scheduler.run_due(now=T0 + 48 * HOUR)
    assert report.orchestras[goteborg.subdomain].timeouts == 1
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=first.pk).status == "timed_out"
        second = Offer.objects.get(status="pending")
        assert second.sent_at == T0 + 48 * HOUR and second.musician_id != first.musician_id
        assert list(first.events.values_list("kind", flat=True)) == [
            "sent",
            "reminded",
            "timed_out",
        ]
    # the new offer's reminder is the next thing due
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0 + 84 * HOUR


def test_the_reminder_share_is_the_orchestras_setting(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        OrchestraSettings.objects.update_or_create(pk=1, defaults={"reminder_percentage": 50})
        offer = services.send(need, now=T0).created[0]
    scheduler.run_due(now=T0)
    scheduler.run_due(now=T0 + 24 * HOUR)
    with use_orchestra(goteborg):
        assert kinds(offer) == ["request", "reminder"]


def test_an_answered_offer_gets_no_reminder_and_no_timeout(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        services.answer(offer, accepted=True, now=T0 + HOUR)
    scheduler.run_due(now=T0 + 100 * HOUR)
    with use_orchestra(goteborg):
        assert kinds(offer) == ["request", "confirmation"]
        assert Offer.objects.get(pk=offer.pk).status == "accepted"
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at is None


def test_a_paused_need_times_out_but_asks_nobody_new(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        need.status = "paused"
        need.save(update_fields=["status"])
    scheduler.run_due(now=T0)
    scheduler.run_due(now=T0 + 48 * HOUR)
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "timed_out"
        assert not Offer.objects.filter(status="pending").exists()


def test_a_pass_with_nothing_due_opens_no_orchestra_database(goteborg, malmo):
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            services.send(make_need(orchestra), now=T0)
    scheduler.run_due(now=T0)  # deliver the requests; now only reminders are ahead
    connections.unregister_all()
    report = scheduler.run_due(now=T0 + HOUR)
    assert report.orchestras == {}
    assert connections.registered_aliases() == []


def test_a_broken_orchestra_does_not_stop_the_others(goteborg, malmo, monkeypatch):
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            services.send(make_need(orchestra), now=T0)
    scheduler.run_due(now=T0)
    real = scheduler.run_orchestra

    def run(name, now, deadline):
        if name == goteborg.name:
            raise ConnectionError("database server unreachable")
        return real(name, now, deadline)

    monkeypatch.setattr(scheduler, "run_orchestra", run)
    report = scheduler.run_due(now=T0 + 48 * HOUR)
    assert "goteborg" in report.broken and report.orchestras["malmo"].timeouts == 1
    # the broken one is looked at again a minute later, not every pass
    assert (
        Orchestra.objects.get(pk=goteborg.pk).next_due_at
        == T0 + 48 * HOUR + scheduler.RETRY_BROKEN_AFTER
    )


@pytest.mark.django_db(transaction=True)
def test_worker_once_runs_the_scheduler(goteborg, mail_server, settings):
    from django.core.management import call_command

    with use_orchestra(goteborg):
        offer = services.send(make_need(goteborg), now=datetime.datetime.now(datetime.UTC)).created[
            0
        ]
    call_command("worker", "--once")
    assert len(mail_server.to(offer.musician.email)) == 1


def test_no_reminder_for_an_offer_answered_meanwhile(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        services.answer(offer, accepted=False, now=T0 + 36 * HOUR)
        assert services.remind(offer.pk, now=T0 + 36 * HOUR) is False
        assert not OfferEvent.objects.filter(offer=offer, kind="reminded").exists()


# --- one orchestra never holds up the others -----------------------------------------------


def _due_at(orchestra, when) -> None:
    Orchestra.objects.filter(pk=orchestra.pk).update(next_due_at=when)


def _malmo_with_a_timeout_due_at_t0(malmo) -> Offer:
    """Malmö: an offer delivered 49 hours before T0 (48 h to answer): at T0 it times out and
    the next musician's request goes out."""
    with use_orchestra(malmo):
        offer = services.send(make_need(malmo), now=T0 - 49 * HOUR).created[0]
    scheduler.run_due(now=T0 - 49 * HOUR)
    return offer


def test_an_orchestra_with_a_long_batch_yields_to_the_next_at_its_budget(goteborg, malmo, settings):
    from tests.mailserver import MailServer

    slow = MailServer(delay=0.25)  # a quarter of a second per message
    slow.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", slow.port, 5
    settings.SCHEDULER_ORCHESTRA_BUDGET = 1.0
    try:
        _malmo_with_a_timeout_due_at_t0(malmo)
        with use_orchestra(goteborg):
            services.send(make_need(goteborg, "first_come", 2, count=12), now=T0)
        _due_at(goteborg, T0 - 20 * HOUR)  # Göteborg has waited longest: it goes first
        started = time.monotonic()
        report = scheduler.run_due(now=T0)
        elapsed = time.monotonic() - started
        big, other = report.orchestras["goteborg"], report.orchestras["malmo"]
        assert big.unfinished and 1 <= big.sent < 12
        assert (other.timeouts, other.sent) == (1, 1)  # served in the same pass
        assert elapsed < 3 * settings.SCHEDULER_ORCHESTRA_BUDGET, elapsed
        # the rest of Göteborg's batch is still due, and goes on in the next passes
        assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0
        for second in range(1, 6):
            scheduler.run_due(now=T0 + second * datetime.timedelta(seconds=1))
        with use_orchestra(goteborg):
            assert Message.objects.filter(status="sent").count() == 12
    finally:
        slow.stop()


def test_a_pass_past_its_budget_leaves_the_rest_first_in_line_for_the_next(
    goteborg, malmo, settings
):
    settings.SCHEDULER_PASS_BUDGET = 0  # every pass serves one orchestra: the longest waiting
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            services.send(make_need(orchestra), now=T0)
    _due_at(malmo, T0 - HOUR)
    first = scheduler.run_due(now=T0)
    assert list(first.orchestras) == ["malmo"] and first.postponed == ["goteborg"]
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0  # untouched
    second = scheduler.run_due(now=T0)
    assert list(second.orchestras) == ["goteborg"] and second.postponed == []
