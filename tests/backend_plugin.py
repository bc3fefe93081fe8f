"""Pytest plugin (loaded with -p, before Django starts): choose and start the database backend.

STAGESUB_TEST_BACKEND=sqlite (default): control database and orchestra databases are SQLite.
STAGESUB_TEST_BACKEND=postgresql: a real PostgreSQL 16 server is started from the `pgserver`
wheel in a temporary directory (no root, no system service), with password authentication for
every role except the bootstrap superuser; the control database and every orchestra database
live there. The server is stopped and deleted when the session ends.
STAGESUB_TEST_PGBOUNCER=1 (with postgresql): orchestra connections go through a real PgBouncer
in transaction pooling mode (Debian's `pgbouncer` package) started in front of that server;
admin work and the control database stay direct. STAGESUB_TEST_PGBOUNCER_ADMIN_URL then names
its admin console for tests that look at its pools.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

BACKEND = os.environ.get("STAGESUB_TEST_BACKEND", "sqlite").strip().lower()
PGBOUNCER = os.environ.get("STAGESUB_TEST_PGBOUNCER", "") == "1"


def start_postgres(root: Path) -> str:
    from stagesub.devtools.localpg import start_server

    return start_server(root / "pg")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if BACKEND not in ("sqlite", "postgresql"):
        raise pytest.UsageError(
            f"STAGESUB_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}"
        )
    if PGBOUNCER and BACKEND != "postgresql":
        raise pytest.UsageError("STAGESUB_TEST_PGBOUNCER=1 needs STAGESUB_TEST_BACKEND=postgresql")
    root = Path(tempfile.mkdtemp(prefix="stagesub-test-"))
    os.environ["STAGESUB_DATA_DIR"] = str(root / "data")
    os.environ["STAGESUB_SECRET_KEY"] = "test-only-secret-key-not-for-production-0123456789abcdef"
    os.environ["STAGESUB_SSL_REDIRECT"] = "0"
    # Nothing collects static files in the suite: pages link to the source files (finders).
    # tests/web/test_serve.py collects them itself and runs the manifest storage for real.
    os.environ["STAGESUB_STATIC_MANIFEST"] = "0"
    os.environ.setdefault("STAGESUB_BASE_DOMAIN", "stagesub.test")
    # Concurrency tests run a dozen threads against one orchestra in one process; a web
    # process has its threads' worth (tests of the budget itself set their own).
    os.environ.setdefault("STAGESUB_MAX_ORCHESTRA_CONNECTIONS", "64")
    os.environ.pop("STAGESUB_EMAIL_URL", None)
    os.environ.pop("STAGESUB_ADMIN_PASSWORD", None)
    if BACKEND == "postgresql":
        server_url = start_postgres(root)
        os.environ["STAGESUB_DATABASE_URL"] = server_url.replace("/postgres?", "/stagesub_control?")
        os.environ["STAGESUB_TENANT_SERVER_URL"] = server_url
        os.environ.pop("STAGESUB_TEST_PGBOUNCER_ADMIN_URL", None)
        if PGBOUNCER:
            bouncer = start_pgbouncer(server_url, root / "pgbouncer")
            os.environ["STAGESUB_TENANT_SERVER_URL"] = (
                f"{server_url}&pool_host={bouncer.host}&pool_port={bouncer.port}"
            )
            os.environ["STAGESUB_TEST_PGBOUNCER_ADMIN_URL"] = bouncer.admin_url
    else:
        os.environ.pop("STAGESUB_DATABASE_URL", None)
        os.environ.pop("STAGESUB_TENANT_SERVER_URL", None)


def start_pgbouncer(server_url: str, directory: Path):
    from stagesub.devtools.localpg import PGBOUNCER as binary
    from stagesub.devtools.localpg import start_pgbouncer

    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(
            f"STAGESUB_TEST_PGBOUNCER=1 needs PgBouncer at {binary}: apt-get install pgbouncer"
        )
    bouncer = start_pgbouncer(server_url, directory)
    _bouncers.append(bouncer)
    return bouncer


_bouncers: list = []


def pytest_unconfigure(config):
    # Before the PostgreSQL server stops (at exit), so PgBouncer does not log it going away.
    while _bouncers:
        _bouncers.pop().stop()


def pytest_report_header(config):
    return f"stagesub backend: {BACKEND}" + (" through PgBouncer" if PGBOUNCER else "")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Every test starts with no orchestra aliases registered: Django's test case wraps the
    # aliases it knows at set-up, and orchestra aliases are added on first use only.
    from stagesub.tenancy import connections
    from stagesub.tenancy.binding import directory

    connections.unregister_all()
    directory.forget()


def pytest_configure(config):
    _allow_orchestra_aliases_in_django_test_cases()


def _allow_orchestra_aliases_in_django_test_cases() -> None:
    """Let Django's test cases open orchestra connections registered during a test.

    Django refuses connections to aliases a test case did not declare; orchestra aliases only
    come into being when an orchestra is bound, so no test could declare them in advance.
    Access to them is governed by the tenancy layer itself (binding, stamp check, SQL guard),
    which is exactly what the tests exercise.
    """
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test import testcases

    from stagesub.tenancy.connections import is_orchestra_alias

    django_patch = testcases.SimpleTestCase.ensure_connection_patch_method.__func__

    def ensure_connection_patch_method(cls):
        refuse_undeclared = django_patch(cls)
        real = BaseDatabaseWrapper.ensure_connection

        def ensure_connection(self, *args, **kwargs):
            if is_orchestra_alias(self.alias):
                return real(self, *args, **kwargs)
            return refuse_undeclared(self, *args, **kwargs)

        return ensure_connection

    testcases.SimpleTestCase.ensure_connection_patch_method = classmethod(
        ensure_connection_patch_method
    )
