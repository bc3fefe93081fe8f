"""A hung orchestra database host (a PostgreSQL server that accepts and never answers) costs
the scheduler's pass only its connect timeout: the other orchestras' work is done in it."""

from __future__ import annotations

import threading
import time

import pytest
from django import db

from stagesub.offers import scheduler
from stagesub.offers.models import Offer
from stagesub.tenancy import connections, use_orchestra
from stagesub.tenancy.models import DatabaseServer, Orchestra
from tests.offers.test_scheduler import HOUR, T0, _due_at, _malmo_with_a_timeout_due_at_t0


@pytest.mark.django_db(transaction=True)  # the pass runs in a thread (a guard against a hang)
def test_a_hung_orchestra_database_does_not_stop_the_others(goteborg, malmo, settings):
    from tests.mailserver import SilentServer

    settings.SCHEDULER_ORCHESTRA_BUDGET = 3.0
    connect_timeout = int(getattr(settings, "DB_CONNECT_TIMEOUT", 0) or 2)
    offer = _malmo_with_a_timeout_due_at_t0(malmo)
    with use_orchestra(malmo):
        asked = Offer.objects.count()
    hung = SilentServer().start()  # accepts the connection, never answers
    try:
        server = DatabaseServer(name="hung", kind=DatabaseServer.Kind.POSTGRESQL)
        server.set_url(
            f"postgresql://stagesub:pw@127.0.0.1:{hung.port}/postgres"
            f"?connect_timeout={connect_timeout}"
        )
        server.save()
        Orchestra.objects.filter(pk=goteborg.pk).update(server=server)
        _due_at(goteborg, T0 - 20 * HOUR)  # first in line
        connections.unregister_all()  # forget Göteborg's old connection settings
        outcome = {}

        def run() -> None:
            try:
                outcome["report"] = scheduler.run_due(now=T0)
            finally:
                db.connections.close_all()  # this thread's own connections

        runner = threading.Thread(target=run)
        started = time.monotonic()
        runner.start()
        runner.join(timeout=60)
        elapsed = time.monotonic() - started
        assert not runner.is_alive(), "the pass hung with Göteborg's database"
        report = outcome["report"]
        assert "goteborg" in report.broken and hung.connections
        assert report.orchestras["malmo"].timeouts == 1 and report.orchestras["malmo"].sent == 1
        assert elapsed < 3 * settings.SCHEDULER_ORCHESTRA_BUDGET, elapsed
        with use_orchestra(malmo):
            assert Offer.objects.get(pk=offer.pk).status == "timed_out"
            assert Offer.objects.count() == asked + 1  # the next musician is asked
    finally:
        hung.stop()
