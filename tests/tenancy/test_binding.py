"""The binding, the router and the connection guard fail closed."""

import threading

import pytest
from django.db import connections as django_connections
from django.test import override_settings

from stagesub.orchestra.models import DatabaseStamp
from stagesub.tenancy import connections, use_orchestra
from stagesub.tenancy.binding import UnknownOrchestra
from stagesub.tenancy.context import (
    CrossOrchestraAccess,
    NoOrchestraBound,
    StampMismatch,
    binding_or_none,
)
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.router import OrchestraRouter
from tests.conftest import point_at_same_database


def test_orchestra_model_without_binding_raises(db):
    # given no orchestra bound / when orchestra data is read / then it refuses
    with pytest.raises(NoOrchestraBound):
        DatabaseStamp.objects.count()
    with pytest.raises(NoOrchestraBound):
        DatabaseStamp.objects.create(orchestra_id="00000000-0000-0000-0000-000000000000")


def test_router_never_sends_control_models_to_orchestras_or_the_reverse(goteborg):
    router = OrchestraRouter()
    with use_orchestra(goteborg):
        assert router.db_for_read(Orchestra) == "default"
        assert router.db_for_read(DatabaseStamp) == connections.alias_for(goteborg.id)
    assert router.allow_migrate("default", "orchestra") is False
    assert router.allow_migrate("default", "tenancy") is True
    assert router.allow_migrate(connections.alias_for(goteborg.id), "tenancy") is False
    assert router.allow_migrate(connections.alias_for(goteborg.id), "orchestra") is True
    assert router.allow_migrate("some_other_alias", "orchestra") is False


def test_use_orchestra_binds_its_own_database_and_restores(goteborg, malmo):
    assert binding_or_none() is None
    with use_orchestra("goteborg"):
        assert DatabaseStamp.objects.get().orchestra_id == goteborg.id
        with use_orchestra(malmo):
            assert DatabaseStamp.objects.get().orchestra_id == malmo.id
        assert DatabaseStamp.objects.get().orchestra_id == goteborg.id
    assert binding_or_none() is None


def test_use_orchestra_by_id_and_unknown(goteborg):
    with use_orchestra(str(goteborg.id)) as bound:
        assert bound.subdomain == "goteborg"
    with pytest.raises(UnknownOrchestra), use_orchestra("nowhere"):
        pass


def test_explicit_using_of_another_orchestra_is_refused_by_the_guard(goteborg, malmo):
    # The router is bypassed by .using(); the connection guard is the second barrier.
    with use_orchestra(malmo):
        pass  # registers malmo's alias
    with use_orchestra(goteborg), pytest.raises(CrossOrchestraAccess):
        list(DatabaseStamp.objects.using(connections.alias_for(malmo.id)).all())


def test_a_new_thread_starts_unbound(goteborg):
    errors = []

    def worker():
        try:
            DatabaseStamp.objects.count()
        except NoOrchestraBound as exc:
            errors.append(exc)
        finally:
            django_connections.close_all()

    with use_orchestra(goteborg):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert len(errors) == 1


def test_stamp_mismatch_refuses_the_connection(goteborg, malmo, tmp_path):
    # given malmo's row deliberately pointed at goteborg's database
    point_at_same_database(malmo, goteborg, tmp_path)
    malmo = Orchestra.objects.select_related("server").get(pk=malmo.pk)
    # when malmo is used / then the stamp check refuses before any query runs
    with pytest.raises(StampMismatch), use_orchestra(malmo):
        DatabaseStamp.objects.count()


@override_settings(MAX_ORCHESTRA_CONNECTIONS=3)
def test_open_connections_are_bounded(make_orchestra):
    orchestras = [make_orchestra() for _ in range(6)]
    for orchestra in orchestras:
        with use_orchestra(orchestra):
            DatabaseStamp.objects.count()
        assert len(connections.open_orchestra_connections()) <= 3
    # the most recently used are the ones kept open
    assert connections.alias_for(orchestras[-1].id) in connections.open_orchestra_connections()
    assert connections.alias_for(orchestras[0].id) not in connections.open_orchestra_connections()


def test_request_to_an_orchestra_whose_database_carries_another_stamp_gets_503(
    goteborg, malmo, tmp_path, caplog
):
    from stagesub.tenancy.binding import directory
    from tests.conftest import login

    client = login(malmo, "malmo-admin")
    point_at_same_database(malmo, goteborg, tmp_path)
    directory.forget()
    response = client.get("/")
    assert response.status_code == 503
    assert "tenancy refusal" in caplog.text
