"""PostgreSQL behind PgBouncer (transaction pooling): orchestra traffic through the pool, admin
work straight to the server, and nothing that lives in a server session.

The tests that look at a running PgBouncer need STAGESUB_TEST_PGBOUNCER=1 (scripts/test's third
pass); the others run on every PostgreSQL pass.
"""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.db import connections as django_connections

from stagesub.tenancy import connections, use_orchestra
from stagesub.tenancy.backends import PostgresBackend, ProvisioningError
from stagesub.tenancy.models import DatabaseServer
from tests.conftest import BACKEND

# tests/postgres is not collected on SQLite; this also holds when the file is named explicitly.
pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only")
PGBOUNCER_ADMIN_URL = os.environ.get("STAGESUB_TEST_PGBOUNCER_ADMIN_URL", "")


def _server(url: str) -> DatabaseServer:
    server = DatabaseServer(name="pooled", kind=DatabaseServer.Kind.POSTGRESQL)
    server.set_url(url)
    return server


def _direct_url() -> str:
    """The test server's admin URL without any pool parameters."""
    parts = urlsplit(django_settings.TENANT_SERVER_URL)
    query = [(k, v) for k, v in parse_qsl(parts.query) if not k.startswith("pool_")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _admin_console(sql: str) -> list[dict]:
    with psycopg.connect(PGBOUNCER_ADMIN_URL, autocommit=True) as conn:
        cursor = conn.execute(sql)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _role_settings(role: str) -> dict[str, str]:
    with psycopg.connect(_direct_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT unnest(setconfig) FROM pg_db_role_setting s JOIN pg_roles r "
            "ON r.oid = s.setrole WHERE r.rolname = %s AND s.setdatabase = 0",
            [role],
        ).fetchall()
    return dict(row[0].split("=", 1) for row in rows)


def test_a_pool_address_in_the_server_url_takes_orchestra_connections_only(db, goteborg):
    backend = PostgresBackend(_server(_direct_url() + "&pool_host=127.0.0.1&pool_port=6544"))
    # Admin work goes straight to the server: psycopg never sees the pool parameters (it would
    # refuse them as unknown options) and the pool's port (where nothing listens) is not used.
    with backend.connect_admin() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert backend.admin_settings_for("x")["OPTIONS"].keys().isdisjoint({"pool_host", "pool_port"})
    orchestra = backend.database_settings(goteborg)
    assert (orchestra["HOST"], orchestra["PORT"]) == ("127.0.0.1", "6544")
    assert "options" not in orchestra["OPTIONS"]  # PgBouncer refuses this startup parameter
    assert orchestra["OPTIONS"]["prepare_threshold"] is None
    assert orchestra["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert orchestra["OPTIONS"]["connect_timeout"] == django_settings.DB_CONNECT_TIMEOUT
    # Without a pool, orchestra connections carry the statement timeout themselves.
    direct = PostgresBackend(_server(_direct_url())).database_settings(goteborg)
    assert "statement_timeout" in direct["OPTIONS"]["options"]
    assert "DISABLE_SERVER_SIDE_CURSORS" not in direct


@pytest.mark.parametrize(
    ("query", "message"),
    [("pool_port=6432", "pool_port without pool_host"), ("pool_host=h&pool_port=x", "a number")],
)
def test_a_malformed_pool_address_is_refused_clearly(db, query, message):
    with pytest.raises(ProvisioningError, match=message):
        PostgresBackend(_server(f"{_direct_url()}&{query}"))


def test_orchestra_roles_carry_statement_timeout_and_utc(make_orchestra, settings):
    settings.DB_STATEMENT_TIMEOUT = 1
    orchestra = make_orchestra()
    # On the role, so they hold on pooled connections too, which may not send `options`; with
    # the role's time zone UTC, Django sends no SET TIME ZONE of its own.
    assert _role_settings(orchestra.database_user) == {
        "TimeZone": "UTC",
        "statement_timeout": "1000ms",
    }
    alias = connections.alias_for(orchestra.id)
    with use_orchestra(orchestra), django_connections[alias].cursor() as cursor:
        cursor.execute("SHOW TimeZone")
        assert cursor.fetchone() == ("UTC",)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            cursor.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 4
