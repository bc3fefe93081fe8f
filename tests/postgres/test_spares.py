"""Warm spare databases: made by the worker, taken by provisioning, never handed out stale."""

import pytest
from psycopg import sql

from stagesub.orchestra.models import DatabaseStamp
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.backends import backend_for, default_server
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra
from stagesub.tenancy.spares import _prefix, _spares, ensure_spares
from tests.conftest import PASSWORD


@pytest.fixture
def backend(db):
    backend = backend_for(default_server())
    yield backend
    with backend.connect_admin() as conn:
        for name in _spares(conn, "stagesub_spare_"):
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _spare_names(backend):
    with backend.connect_admin() as conn:
        return _spares(conn, "stagesub_spare_")


def test_spares_are_made_locked_and_taken(backend):
    assert ensure_spares(backend, 2) == 2
    assert ensure_spares(backend, 2) == 0
    spares = _spare_names(backend)
    with backend.connect_admin() as conn:
        acl = conn.execute(
            "SELECT datacl::text FROM pg_database WHERE datname = %s", [spares[0]]
        ).fetchone()[0]
    assert "=c" not in (acl or "").split("/")[0]  # PUBLIC may not connect
    orchestra = create_orchestra(
        ProvisionRequest(
            subdomain="spare1", name="S", admin_email="s@example.org", admin_password=PASSWORD
        )
    ).orchestra
    assert len(_spare_names(backend)) == 1
    with use_orchestra(orchestra):
        assert DatabaseStamp.objects.get().orchestra_id == orchestra.id


def test_stale_spares_are_dropped_not_used(backend):
    with backend.connect_admin() as conn:
        conn.execute("CREATE DATABASE stagesub_spare_0000000000000000_old")
    ensure_spares(backend, 1)
    names = _spare_names(backend)
    assert names and all(n.startswith(_prefix()) for n in names)


def test_failed_provisioning_drops_the_taken_spare(backend):
    ensure_spares(backend, 1)

    def progress(step):
        if step == "seed":
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        create_orchestra(
            ProvisionRequest(
                subdomain="spare2", name="S", admin_email="s@example.org", admin_password=PASSWORD
            ),
            progress=progress,
        )
    assert not Orchestra.objects.filter(subdomain="spare2").exists()
    with backend.connect_admin() as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'stagesub\\_spare2%%'"
        ).fetchone()[0]
    assert left == 0 and _spare_names(backend) == []
