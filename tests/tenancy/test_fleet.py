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


def _schema(orchestra) -> dict[str, list[str]]:
    from stagesub.tenancy.context import current_binding

    with use_orchestra(orchestra):
        connection = django_connections[current_binding().alias]
        with connection.cursor() as cursor:
            tables = sorted(connection.introspection.table_names(cursor))
            shape = {
                t: sorted(c.name for c in connection.introspection.get_table_description(cursor, t))
                for t in tables
            }
            cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
            shape["(recorded)"] = [f"{app}.{name}" for app, name in cursor.fetchall()]
        return shape


def test_the_plan_is_built_once_per_state_and_leaves_the_schema_django_would(make_orchestra):
    from django.db.migrations.executor import MigrationExecutor

    from stagesub.tenancy.fleet import Planner, _migrate_one

    reference = make_orchestra("reference")
    behind = [make_orchestra(f"behind{i}") for i in range(3)]
    for orchestra in behind:
        _unapply_stamp_migration(orchestra)
    # Up to the last migration that is SQL only (the newest one runs Python, which the planner
    # rightly leaves to Django's executor: see the next test); the reference is migrated to the
    # same target by Django itself.
    sql_only = ("orchestra", "0003_orchestrasettings")
    with use_orchestra(reference):
        from stagesub.tenancy.context import current_binding

        MigrationExecutor(django_connections[current_binding().alias]).migrate([sql_only])
    planner = Planner()
    planner.targets = [sql_only if t[0] == "orchestra" else t for t in planner.targets]
    outcomes = [_migrate_one(o, planner) for o in behind]
    assert [o.status for o in outcomes] == ["migrated"] * 3
    # One plan (with its SQL) for the three databases at the same state.
    assert len(planner._plans) == 1
    [plan] = planner._plans.values()
    assert plan.statements is not None and any(plan.statements)
    for orchestra in behind:
        # Same tables, columns and django_migrations rows as a database Django migrated.
        assert _schema(orchestra) == _schema(reference)


def test_a_plan_with_python_code_is_left_to_djangos_executor(goteborg):
    from django.db import migrations
    from django.db.migrations.recorder import MigrationRecorder

    from stagesub.tenancy.context import current_binding
    from stagesub.tenancy.fleet import Planner

    planner = Planner()
    # A new leaf with Python code in it, as a deploy could bring.
    python = migrations.Migration("0999_python", "orchestra")
    python.operations = [migrations.RunPython(migrations.RunPython.noop)]
    key = ("orchestra", "0999_python")
    parent = next(t for t in planner.targets if t[0] == "orchestra")
    planner.loader.graph.add_node(key, python)
    planner.loader.graph.add_dependency(python, key, parent)
    planner.targets = [key if t == parent else t for t in planner.targets]
    with use_orchestra(goteborg):
        connection = django_connections[current_binding().alias]
        applied = frozenset(MigrationRecorder(connection).applied_migrations())
        plan = planner._build(connection, applied)
    assert [m.name for m in plan.migrations] == ["0999_python"]
    assert plan.statements is None  # not collected as SQL: applied by the executor


def test_the_fingerprint_names_the_migrations_djangos_loader_finds(db):
    from django.db.migrations.loader import MigrationLoader

    from stagesub.tenancy import schema
    from stagesub.tenancy.sides import is_orchestra_app

    loader = MigrationLoader(None, ignore_no_migrations=True)
    expected = tuple(sorted(k for k in loader.disk_migrations if is_orchestra_app(k[0])))
    assert schema.orchestra_migrations_on_disk() == expected and expected
