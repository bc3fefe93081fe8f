"""GET /healthz and /readyz for load balancers: every host, JSON, no login, no secrets."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from stagesub.tenancy.models import IsolationIncident, Orchestra, PeriodicRun
from stagesub.web.health import HEARTBEAT, record_worker_heartbeat
from tests.conftest import BACKEND, host_client

HOSTS = ["localhost", "goteborg.localhost", "nosuchorchestra.localhost", "10.1.2.3"]


def _get(path, host, **extra):
    response = Client(HTTP_HOST=host).get(path, **extra)
    return response, json.loads(response.content)


@pytest.mark.parametrize("host", HOSTS)
def test_healthz_answers_on_every_host_without_a_database(host):
    # No `db` fixture: any database access in this test would raise.
    response, body = _get("/healthz", host)
    assert response.status_code == 200 and body == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


def test_healthz_answers_over_http_when_https_is_enforced(settings):
    settings.SECURE_SSL_REDIRECT = True
    response, body = _get("/healthz", "localhost")
    assert response.status_code == 200 and body["status"] == "ok"
    assert host_client().get("/").status_code == 301  # the rest is redirected to https


@pytest.mark.parametrize("host", HOSTS)
def test_readyz_ready_on_every_host(db, goteborg, host):
    record_worker_heartbeat("w1")
    response, body = _get("/readyz", host)
    assert response.status_code == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "worker": "ok", "isolation": "ok"},
    }


def test_readyz_needs_a_worker_heartbeat_and_a_fresh_one(db, settings):
    response, body = _get("/readyz", "localhost")
    assert response.status_code == 503 and body["checks"]["worker"] == "no_heartbeat"
    record_worker_heartbeat()
    assert _get("/readyz", "localhost")[0].status_code == 200
    settings.WORKER_HEARTBEAT_STALE = 60
    PeriodicRun.objects.filter(name=HEARTBEAT).update(
        last_run_at=timezone.now() - timedelta(seconds=61)
    )
    response, body = _get("/readyz", "localhost")
    assert response.status_code == 503 and body["status"] == "unavailable"
    assert body["checks"]["worker"] == "stale"


@pytest.mark.django_db(transaction=True)
def test_a_worker_pass_writes_the_heartbeat():
    assert _get("/readyz", "localhost")[0].status_code == 503
    call_command("worker", "--once")
    assert _get("/readyz", "localhost")[0].status_code == 200


def test_readyz_not_ready_while_an_isolation_incident_is_open(db):
    record_worker_heartbeat()
    IsolationIncident.objects.create(kind="unreachable", summary="one database down")
    assert _get("/readyz", "localhost")[0].status_code == 200  # not an isolation incident
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    response, body = _get("/readyz", "goteborg.localhost")
    assert response.status_code == 503 and body["checks"]["isolation"] == "incident_open"
    assert "shared database" not in response.content.decode()
    incident.resolved_at = timezone.now()
    incident.save()
    assert _get("/readyz", "localhost")[0].status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_503_when_the_control_database_is_unreachable(tmp_path):
    record_worker_heartbeat()
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    nowhere = str(tmp_path / "no-such-directory")
    connection.close()
    if BACKEND == "sqlite":
        connection.settings_dict["NAME"] = f"{nowhere}/control.sqlite3"
    else:
        connection.settings_dict["HOST"] = nowhere  # a socket directory with no server
    try:
        response, body = _get("/readyz", "localhost")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert body["checks"]["database"] == "unreachable"
    assert "no-such-directory" not in response.content.decode()
    assert Orchestra.objects.count() == 0  # the real database is back


def test_probes_only_answer_get(db):
    response = Client(HTTP_HOST="localhost").post("/readyz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
