"""Fleet migrations: recorded state, parallel runs, one broken orchestra."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections as django_connections

from stagesub.tenancy import use_orchestra
from stagesub.tenancy.fleet import migrate_orchestras
from stagesub.tenancy.models import MigrationState, Orchestra


def _unapply_stamp_migration(orchestra):
    """Roll one orchestra back to its first migration so it has something pending."""
    from django.db.migrations.executor import MigrationExecutor

    with use_orchestra(orchestra):
        from stagesub.tenancy.context import current_binding

        alias = current_binding().alias
        executor = MigrationExecutor(django_connections[alias])
        executor.migrate([("orchestra", "0001_initial")])
    MigrationState.objects.filter(orchestra=orchestra).update(applied_fingerprint="old")


def test_nothing_pending_consults_recorded_state_only(goteborg, malmo):
    outcomes = migrate_orchestras()
    assert {o.status for o in outcomes} == {"skipped"}


def test_pending_migration_applied_and_recorded(goteborg, malmo):
    _unapply_stamp_migration(malmo)
    outcomes = {o.orchestra.subdomain: o for o in migrate_orchestras(parallel=2)}
    assert outcomes["goteborg"].status == "skipped"
    assert outcomes["malmo"].status == "migrated"
    assert outcomes["malmo"].applied == [
        "orchestra.0002_id_sequences",
        "orchestra.0003_orchestrasettings",
        "orchestra.0004_readable_id_sequence_for_offers",
    ]
    state = MigrationState.objects.get(orchestra=malmo)
    assert state.status == "ok" and state.applied_fingerprint != "old"


def test_one_broken_orchestra_does_not_stop_the_rest(make_orchestra, capsys):
    first, broken, last = make_orchestra("aaa"), make_orchestra("bbb"), make_orchestra("ccc")
    _unapply_stamp_migration(first)
    _unapply_stamp_migration(last)
    Orchestra.objects.filter(pk=broken.pk).update(database_name="missing-dir/nope.sqlite3")
    MigrationState.objects.filter(orchestra=broken).update(applied_fingerprint="old")
    with pytest.raises(CommandError, match="migrations failed for: bbb"):
        call_command("migrate_orchestras", "--parallel", "3")
    out = capsys.readouterr().out
    assert "bbb: FAILED" in out
    states = {s.orchestra.subdomain: s for s in MigrationState.objects.select_related("orchestra")}
    assert states["aaa"].status == states["ccc"].status == "ok"
    assert states["bbb"].status == "failed" and states["bbb"].last_error


def test_named_orchestras_only(goteborg, malmo):
    _unapply_stamp_migration(goteborg)
    _unapply_stamp_migration(malmo)
    call_command("migrate_orchestras", "goteborg")
    assert MigrationState.objects.get(orchestra=goteborg).applied_fingerprint != "old"
    assert MigrationState.objects.get(orchestra=malmo).applied_fingerprint == "old"
    with pytest.raises(CommandError, match="nowhere"):
        call_command("migrate_orchestras", "nowhere")
