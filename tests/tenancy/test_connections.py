"""The connection budget is per process, and every use of a connection confirms its stamp.

Findings these tests come from (issue 10 and 13): each *thread* kept up to 32 orchestra
connections for 300 s, so gunicorn threads exhausted PostgreSQL; and the stamp was read only
when a connection opened, so a database restored in place under a live connection served
another orchestra's rows until the connection happened to be recycled.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connections as django_connections
from django.test import override_settings
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import scheduler, services
from stagesub.offers.models import Offer
from stagesub.orchestra.models import DatabaseStamp
from stagesub.roster.models import Musician
from stagesub.tenancy import connections, use_orchestra
from stagesub.tenancy.binding import directory
from stagesub.tenancy.connections import ConnectionBudgetExhausted
from stagesub.tenancy.context import StampMismatch
from stagesub.tenancy.models import IsolationIncident, Orchestra
from tests.conftest import host_client, login
from tests.inplace import pg_restore_in_place, sqlite_restore_in_place
from tests.offers.test_flow import link_path, make_need


def hold(orchestra, ready: threading.Event, go: threading.Event, errors: list) -> None:
    """In a thread: bind the orchestra, run a query, and keep the binding until `go`."""
    try:
        with use_orchestra(orchestra):
            DatabaseStamp.objects.count()
            ready.set()
            go.wait(10)
    except Exception as exc:
        errors.append(exc)
        ready.set()
    finally:
        django_connections.close_all()


@override_settings(MAX_ORCHESTRA_CONNECTIONS=3, ORCHESTRA_CONNECTION_WAIT=0.2)
def test_the_budget_is_per_process_across_threads(make_orchestra):
    orchestras = [make_orchestra() for _ in range(6)]
    go = threading.Event()
    errors: list = []
    threads = []
    for orchestra in orchestras:
        ready = threading.Event()
        thread = threading.Thread(target=hold, args=(orchestra, ready, go, errors))
        thread.start()
        ready.wait(10)
        threads.append(thread)
    try:
        # three threads hold a connection each; the other three were refused, not connected
        assert connections.leases_in_process() == 3
        assert len(errors) == 3
        assert all(isinstance(e, ConnectionBudgetExhausted) for e in errors)
    finally:
        go.set()
        for thread in threads:
            thread.join()


@override_settings(MAX_ORCHESTRA_CONNECTIONS=1, ORCHESTRA_CONNECTION_WAIT=0.2)
def test_an_idle_connection_of_another_thread_gives_way(make_orchestra):
    first, second = make_orchestra(), make_orchestra()
    done = threading.Event()

    def use_and_go_idle():
        with use_orchestra(first):
            DatabaseStamp.objects.count()
        done.set()

    thread = threading.Thread(target=use_and_go_idle)
    thread.start()
    done.wait(10)
    # the other thread's connection is idle (its thread is still alive): it is revoked
    with use_orchestra(second):
        assert DatabaseStamp.objects.get().orchestra_id == second.id
    thread.join()
    with use_orchestra(first):  # and the first orchestra reconnects when it is used again
        assert DatabaseStamp.objects.get().orchestra_id == first.id


@override_settings(ORCHESTRA_CONN_IDLE=0.2)
def test_idle_connections_are_released(make_orchestra):
    orchestra = make_orchestra()
    released = threading.Event()

    def use_once():
        with use_orchestra(orchestra):
            DatabaseStamp.objects.count()
        released.set()
        time.sleep(2)  # the thread stays alive and idle, as a gunicorn thread does

    thread = threading.Thread(target=use_once)
    thread.start()
    released.wait(10)
    deadline = time.monotonic() + 5
    while connections.leases_in_process() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections.leases_in_process() == 0
    thread.join()


@override_settings(MAX_ORCHESTRA_CONNECTIONS=1, ORCHESTRA_CONNECTION_WAIT=0.1)
def test_a_full_budget_answers_503_with_retry_after_and_records_nothing(goteborg, malmo):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=timezone.now()).created[0]
        path = link_path(Message.objects.get())
    go, ready, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=hold, args=(malmo, ready, go, errors))
    holder.start()
    ready.wait(10)
    try:
        response = host_client(goteborg).post(path, {"answer": "yes"})
    finally:
        go.set()
        holder.join()
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "Nothing you sent has been saved" in response.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "pending"
    # with the slot free again, the same answer goes through
    assert host_client(goteborg).post(path, {"answer": "yes"}).status_code == 302
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "accepted"


# --- the stamp on every use: a database restored in place under a live connection -------------


def restore_in_place(source: Orchestra, target: Orchestra) -> None:
    """What an operator's slip does: source's backup restored into target's database."""
    if source.server.kind == "sqlite":
        sqlite_restore_in_place(
            Path(source.server.url) / source.database_name,
            Path(target.server.url) / target.database_name,
        )
    else:
        pg_restore_in_place(
            django_settings.TENANT_SERVER_URL,
            source.database_name,
            target.database_name,
            target.database_user,
        )


def add_musician(orchestra, name: str) -> None:
    from stagesub.roster import services as roster
    from stagesub.roster.services import MusicianData

    with use_orchestra(orchestra):
        roster.create_musician(
            MusicianData(first_name=name, last_name="X", email=f"{name.lower()}@example.se"),
            max_musicians=100,
        )


def test_in_place_restore_under_a_held_connection_is_refused_on_the_web(goteborg, malmo):
    add_musician(goteborg, "Gothenburgska")
    client = login(malmo, "malmo-admin")
    assert client.get("/musicians/").status_code == 200  # malmo's connection is now open, idle
    restore_in_place(goteborg, malmo)
    response = client.get("/musicians/")
    assert response.status_code == 503
    assert "Gothenburgska" not in response.content.decode()
    incident = IsolationIncident.open_incidents().get()
    assert "malmo" in incident.summary
    # refused on every later request too, and the incident is not opened twice
    assert client.get("/musicians/").status_code == 503
    assert IsolationIncident.open_incidents().count() == 1


def test_in_place_restore_under_a_held_connection_is_refused_by_the_worker(
    goteborg, malmo, mail_server
):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())  # goteborg's request waits in its outbox
    with use_orchestra(malmo):
        assert Musician.objects.count() == 0  # the worker's connection to malmo is open
    restore_in_place(goteborg, malmo)
    Orchestra.objects.filter(pk=malmo.pk).update(next_due_at=timezone.now())
    Orchestra.objects.filter(pk=goteborg.pk).update(next_due_at=None)
    report = scheduler.run_due()
    assert "malmo" in report.broken and "StampMismatch" in report.broken["malmo"]
    assert mail_server.received == []  # nothing of goteborg's was sent under malmo's name
    assert IsolationIncident.open_incidents().filter(summary__contains="malmo").exists()
    with pytest.raises(StampMismatch), use_orchestra(malmo):
        Message.objects.count()  # a fresh connection reads the stamp on open: refused again


# --- an unusable orchestra database: friendly 503, never a 500, never recreated ----------------


def test_a_missing_database_is_a_503_and_is_not_recreated(goteborg):
    client = login(goteborg, "goteborg-admin")
    connections.unregister_all()
    directory.forget()
    if goteborg.server.kind == "sqlite":
        path = Path(goteborg.server.url) / goteborg.database_name
        shutil.move(path, path.with_suffix(".moved"))
    else:
        from stagesub.tenancy.backends import backend_for

        with backend_for(goteborg.server).connect_admin() as admin:
            admin.execute(
                f'ALTER DATABASE "{goteborg.database_name}" RENAME TO "{goteborg.database_name}_x"'
            )
    response = client.get("/musicians/")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "cannot be used right now" in response.content.decode()
    if goteborg.server.kind == "sqlite":
        assert not path.exists()  # Django's SQLite would have made an empty file here


def test_mail_is_not_sent_from_a_database_whose_stamp_changed(goteborg, malmo):
    # The mailbox backend stands in for SMTP here: nothing may land there either.
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
    with use_orchestra(malmo):
        Musician.objects.count()
    restore_in_place(goteborg, malmo)
    with pytest.raises(StampMismatch), use_orchestra(malmo):
        Message.objects.count()
    assert mail.outbox == []
