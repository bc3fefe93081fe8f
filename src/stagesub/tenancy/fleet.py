"""Fleet migrations: bring every orchestra database to the current schema, in parallel.

The control database records which migration fingerprint each orchestra has; an orchestra
recorded at the current fingerprint is skipped without opening its database, so a run with
nothing pending costs one query. One orchestra's failure is recorded and does not stop the rest.

Applying is planned once per run, not once per database: the migration graph is loaded once,
and for each distinct set of applied migrations (normally one: every database at the previous
release) the plan and its SQL are built once, on the first database at that state, the way
`sqlmigrate` collects it. Every database then runs those statements in the same schema-editor
transaction per migration as Django's executor, and records each migration in its own
django_migrations. A plan holding an operation that is not plain SQL (RunPython) goes through
Django's executor per database, as before.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections as django_connections
from django.db import transaction
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.utils import timezone

from stagesub.tenancy import schema
from stagesub.tenancy.binding import use_orchestra
from stagesub.tenancy.models import MigrationState, Orchestra
from stagesub.tenancy.sides import is_orchestra_app

MIGRATABLE = (Orchestra.Status.ACTIVE, Orchestra.Status.SUSPENDED)


@dataclass
class MigrationOutcome:
    orchestra: Orchestra
    status: str  # "skipped" (recorded up to date), "migrated", "up-to-date", "failed"
    applied: list[str]
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class _Plan:
    migrations: tuple[Migration, ...]
    # SQL per migration, collected once; None: apply through Django's executor instead.
    statements: tuple[tuple[str, ...], ...] | None


class Planner:
    """The migration graph, loaded once; a plan (with its SQL) per applied state and vendor."""

    def __init__(self) -> None:
        self.loader = MigrationLoader(None, ignore_no_migrations=True)
        graph = self.loader.graph
        self.targets = [k for k in graph.leaf_nodes() if is_orchestra_app(k[0])]
        self._plans: dict[tuple[str, frozenset], _Plan] = {}
        self._lock = threading.Lock()
        self._building: dict[tuple[str, frozenset], threading.Lock] = {}

    def _forward(self, targets, applied: set) -> list[Migration]:
        # MigrationExecutor.migration_plan for leaf targets: forwards only.
        plan, seen = [], set(applied)
        for target in targets:
            for key in self.loader.graph.forwards_plan(target):
                if key not in seen:
                    plan.append(self.loader.graph.nodes[key])
                    seen.add(key)
        return plan

    def plan_for(self, connection) -> _Plan:
        applied = frozenset(MigrationRecorder(connection).applied_migrations())
        key = (connection.vendor, applied)
        with self._lock:
            if key in self._plans:
                return self._plans[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one database builds it; the others at that state wait and reuse it
            with self._lock:
                if key in self._plans:
                    return self._plans[key]
            plan = self._build(connection, applied)
            with self._lock:
                self._plans[key] = plan
            return plan

    def _build(self, connection, applied: frozenset) -> _Plan:
        migrations = tuple(self._forward(self.targets, set(applied)))
        plain_sql = all(op.reduces_to_sql for m in migrations for op in m.operations)
        if not migrations or not plain_sql or self.loader.replacements:
            return _Plan(migrations, None)
        # The state of this database (MigrationExecutor._create_project_state with the
        # applied migrations), then each migration's SQL as `sqlmigrate` collects it.
        state = ProjectState(real_apps=self.loader.unmigrated_apps)
        for migration in self._forward(self.loader.graph.leaf_nodes(), set()):
            if (migration.app_label, migration.name) in applied:
                migration.mutate_state(state, preserve=False)
        collected = []
        for migration in migrations:
            with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                state = migration.apply(state, editor, collect_sql=True)
            collected.append(tuple(editor.collected_sql))
        return _Plan(migrations, tuple(collected))

    def migrate(self, alias: str) -> list[str]:
        """Apply the pending orchestra migrations to the bound database behind `alias`."""
        connection = django_connections[alias]
        plan = self.plan_for(connection)
        if plan.statements is None:
            return schema.migrate(alias) if plan.migrations else []
        recorder = MigrationRecorder(connection)
        recorder.ensure_schema()
        for migration, statements in zip(plan.migrations, plan.statements, strict=True):
            # As MigrationExecutor.apply_migration: the migration's statements and its record
            # in one schema-editor block (one transaction where the migration is atomic).
            with connection.schema_editor(atomic=migration.atomic) as editor:
                for statement in statements:
                    editor.execute(statement, None)
                for app_label, name in migration.replaces or [
                    (migration.app_label, migration.name)
                ]:
                    recorder.record_applied(app_label, name)
        return [f"{m.app_label}.{m.name}" for m in plan.migrations]


def _migrate_one(orchestra: Orchestra, planner: Planner) -> MigrationOutcome:
    started = time.monotonic()
    try:
        with use_orchestra(orchestra) as bound:
            from stagesub.tenancy.context import current_binding

            applied = planner.migrate(current_binding().alias)
        status = "migrated" if applied else "up-to-date"
        return MigrationOutcome(bound, status, applied, seconds=time.monotonic() - started)
    except Exception as exc:
        return MigrationOutcome(
            orchestra,
            "failed",
            [],
            error=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - started,
        )
    finally:
        django_connections.close_all()


def _record(results: list[MigrationOutcome], fingerprint: str) -> None:
    """The outcomes in the control database: the successful ones in one UPDATE."""
    now = timezone.now()
    ok = [o.orchestra.pk for o in results if o.status != "failed"]
    with transaction.atomic():
        have = set(
            MigrationState.objects.filter(orchestra_id__in=ok).values_list(
                "orchestra_id", flat=True
            )
        )
        MigrationState.objects.bulk_create(
            MigrationState(orchestra_id=pk) for pk in ok if pk not in have
        )
        MigrationState.objects.filter(orchestra_id__in=ok).update(
            status=MigrationState.Status.OK,
            last_error="",
            last_attempt_at=now,
            applied_fingerprint=fingerprint,
            applied_at=now,
        )
    for outcome in results:
        if outcome.status == "failed":
            MigrationState.objects.update_or_create(
                orchestra=outcome.orchestra,
                defaults={
                    "status": MigrationState.Status.FAILED,
                    "last_error": outcome.error,
                    "last_attempt_at": now,
                },
            )


def migrate_orchestras(
    subdomains: list[str] | None = None, *, parallel: int = 4, check_all: bool = False
) -> list[MigrationOutcome]:
    fingerprint = schema.current_fingerprint()
    schema.orchestra_migrations_on_disk()  # load once, before the threads start
    query = Orchestra.objects.select_related("server", "migration").filter(
        status__in=MIGRATABLE, server__isnull=False
    )
    if subdomains:
        query = query.filter(subdomain__in=subdomains)
    outcomes: list[MigrationOutcome] = []
    todo: list[Orchestra] = []
    for orchestra in query.order_by("subdomain"):
        state = getattr(orchestra, "migration", None)
        recorded_ok = (
            state is not None
            and state.status == MigrationState.Status.OK
            and state.applied_fingerprint == fingerprint
        )
        if recorded_ok and not check_all:
            outcomes.append(MigrationOutcome(orchestra, "skipped", []))
        else:
            todo.append(orchestra)
    if todo:
        planner = Planner()
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            results = list(pool.map(lambda o: _migrate_one(o, planner), todo))
        _record(results, fingerprint)
        outcomes.extend(results)
    return sorted(outcomes, key=lambda o: o.orchestra.subdomain)
