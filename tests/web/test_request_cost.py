"""What every request pays before its page: connections kept, no check done twice (issue 10).

Requests go through Django's WSGI handler as gunicorn calls it, so request_started and
request_finished fire and Django closes or keeps connections as it does in production (the
test client skips that). The control database was connected anew for every request
(CONN_MAX_AGE 0), and a kept orchestra connection was checked twice: its stamp read, then
Django's health check (SELECT 1) before the first query.
"""

from __future__ import annotations

import io
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections as django_connections
from django.db.backends.signals import connection_created

from stagesub.tenancy import connections
from stagesub.tenancy.binding import binding_for
from tests.conftest import host_for, login

PAGES = ["/musicians/", "/rankings/", "/musicians/"]


def wsgi_get(handler: WSGIHandler, host: str, path: str, cookie: str) -> str:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "HTTP_COOKIE": cookie,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    status = []
    response = handler(environ, lambda s, headers, *exc: status.append(s))
    b"".join(response)
    response.close()  # what the server does after sending it: request_finished
    return status[0]


@pytest.fixture
def staff(transactional_db, goteborg):
    """(host, Cookie header) of Göteborg's admin, logged in."""
    client = login(goteborg, "goteborg-admin")
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    return host_for(goteborg), cookie


def test_requests_keep_the_control_database_connection(staff):
    host, cookie = staff
    handler = WSGIHandler()
    assert wsgi_get(handler, host, "/musicians/", cookie).startswith("200")
    opened = []

    def record(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(record, weak=False)
    try:
        for path in PAGES:
            assert wsgi_get(handler, host, path, cookie).startswith("200")
    finally:
        connection_created.disconnect(record)
    assert "default" not in opened
    assert django_connections["default"].connection is not None


def test_a_kept_orchestra_connection_is_checked_once_per_request(staff, goteborg, monkeypatch):
    host, cookie = staff
    handler = WSGIHandler()
    assert wsgi_get(handler, host, "/musicians/", cookie).startswith("200")
    wrapper = django_connections[binding_for(goteborg).alias]
    assert wrapper.connection is not None  # kept for the next request
    stamp_reads, health_checks = [], []
    read_stamp, is_usable = connections.read_stamp, wrapper.is_usable

    def counted_read_stamp(*args, **kwargs):
        stamp_reads.append(1)
        return read_stamp(*args, **kwargs)

    def counted_is_usable():
        health_checks.append(1)
        return is_usable()

    monkeypatch.setattr(connections, "read_stamp", counted_read_stamp)
    monkeypatch.setattr(wrapper, "is_usable", counted_is_usable)
    for path in PAGES:
        assert wsgi_get(handler, host, path, cookie).startswith("200")
    # the stamp is read on every reuse (isolation), and that read is the only check
    assert len(stamp_reads) == len(PAGES)
    assert health_checks == []
