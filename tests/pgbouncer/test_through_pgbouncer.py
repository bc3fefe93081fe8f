"""Through a running PgBouncer (collected only when the suite runs with STAGESUB_TEST_PGBOUNCER=1):
orchestra traffic really goes through the pool, and no session goes around it."""

from __future__ import annotations

import psycopg
from django.db import connections as django_connections
from django.db import transaction

from stagesub.tenancy import connections, use_orchestra
from tests.conftest import login
from tests.postgres.test_pgbouncer import _admin_console, _direct_url


def test_a_request_reaches_the_orchestra_database_through_pgbouncer(goteborg):
    def transactions() -> int:
        stats = _admin_console("SHOW STATS")
        return sum(s["total_xact_count"] for s in stats if s["database"] == goteborg.database_name)

    before = transactions()
    client = login(goteborg, "goteborg-admin")
    assert client.get("/musicians/").status_code == 200
    assert transactions() > before


def test_every_server_session_of_an_orchestra_role_is_a_pgbouncer_connection(goteborg):
    alias = connections.alias_for(goteborg.id)
    with use_orchestra(goteborg), transaction.atomic(using=alias):
        with django_connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend_pid,) = cursor.fetchone()
        # While our transaction runs, PgBouncer has linked one of its server connections to us.
        servers = {
            s["remote_pid"]
            for s in _admin_console("SHOW SERVERS")
            if (s["user"], s["database"]) == (goteborg.database_user, goteborg.database_name)
        }
        with psycopg.connect(_direct_url(), autocommit=True) as conn:
            sessions = {
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE usename = %s",
                    [goteborg.database_user],
                ).fetchall()
            }
    assert backend_pid in servers
    assert sessions <= servers  # no orchestra session went around the pool
