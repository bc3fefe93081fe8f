"""Needs out of people to ask are e-mailed to the staff once per need, even with two workers."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.utils import timezone

from stagesub.messaging import delivery
from stagesub.messaging.models import Message
from stagesub.office import alerts
from stagesub.office.models import NeedAlert
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.scheduler import registered_jobs
from tests.conftest import PASSWORD
from tests.office.test_dashboard import stalled_setup


def add_staff(orchestra):
    users = get_user_model().objects
    users.create_user(
        f"{orchestra.subdomain}-member",
        email=f"member@{orchestra.subdomain}.example.org",
        password=PASSWORD,
        role="member",
        orchestra=orchestra,
    )
    users.create_user(
        f"{orchestra.subdomain}-gone",
        email=f"gone@{orchestra.subdomain}.example.org",
        password=PASSWORD,
        role="member",
        orchestra=orchestra,
        is_active=False,
    )
    return [f"admin@{orchestra.subdomain}.example.org", f"member@{orchestra.subdomain}.example.org"]


def test_a_stalled_need_is_mailed_to_the_active_staff_once(goteborg, mail_server):
    staff = add_staff(goteborg)
    stalled, _waiting = stalled_setup(goteborg)
    with use_orchestra(goteborg):
        assert alerts.alert_stalled_needs(goteborg) == 1
        assert alerts.alert_stalled_needs(goteborg) == 0  # once per need, however often run
        alert = NeedAlert.objects.get()
        assert alert.need_id == stalled.pk and alert.recipients == staff
        queued = Message.objects.filter(kind=alerts.KIND)
        assert sorted(queued.values_list("to_email", flat=True)) == staff
        delivery.deliver_due(orchestra_name=goteborg.name)
        assert set(queued.values_list("status", flat=True)) == {"sent"}
    to_staff = [m for m in mail_server.received if m["To"] in staff]
    assert sorted(m["To"] for m in to_staff) == staff
    mail = to_staff[0]
    # Swedish, the orchestra's language for its staff; names the need and links the project.
    assert "Brahms" in mail["Subject"] and "Ingen kvar att fråga" in mail["Subject"]
    assert f"/projects/{stalled.project.project_id}/" in mail.get_content()


def test_the_worker_job_mails_every_orchestra_about_its_own_needs(goteborg, malmo):
    stalled_setup(goteborg, "Brahms")
    stalled_setup(malmo, "Sibelius")
    job = {j.name: j for j in registered_jobs()}["office.stalled_needs"]
    assert job.function().startswith("2 needs")
    for orchestra, name in ((goteborg, "Brahms"), (malmo, "Sibelius")):
        with use_orchestra(orchestra):
            (mail,) = Message.objects.filter(kind=alerts.KIND)
            assert name in mail.subject
            assert mail.to_email == f"admin@{orchestra.subdomain}.example.org"
    assert job.function().startswith("0 needs")


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_mail_each_need_exactly_once(goteborg):
    stalled_setup(goteborg)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                results.append(alerts.alert_stalled_needs(goteborg))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    for _round in range(3):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert sum(results) == 1
    with use_orchestra(goteborg):
        assert NeedAlert.objects.count() == 1
        assert Message.objects.filter(kind=alerts.KIND).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_loses_the_claim_sends_nothing(goteborg):
    """The other worker has found the same need and inserted its claim, not yet committed,
    when this one reads: this one sees the need as not yet alerted, waits on the claim and,
    when it commits, sends nothing."""
    stalled, _waiting = stalled_setup(goteborg)
    claimed, release, outcome = threading.Event(), threading.Event(), []

    def other_worker():
        try:
            # (the binding is entered first, so the alias below is the orchestra's)
            with use_orchestra(goteborg), transaction.atomic(using=current_binding().alias):
                NeedAlert.objects.create(need_id=stalled.pk, found_at=timezone.now())
                claimed.set()
                release.wait(10)
        finally:
            connections.close_all()

    def this_worker():
        try:
            with use_orchestra(goteborg):
                outcome.append(alerts.alert_stalled_needs(goteborg))
        finally:
            connections.close_all()

    other = threading.Thread(target=other_worker)
    other.start()
    assert claimed.wait(10)
    this = threading.Thread(target=this_worker)
    this.start()
    time.sleep(1.0)  # this worker has read the needs and waits for the claim's lock
    assert this.is_alive(), "the second worker should be waiting on the first one's claim"
    release.set()
    other.join()
    this.join(20)
    assert outcome == [0]
    with use_orchestra(goteborg):
        assert NeedAlert.objects.count() == 1
        assert not Message.objects.filter(kind=alerts.KIND).exists()
