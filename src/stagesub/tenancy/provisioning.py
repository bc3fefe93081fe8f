"""Creating an orchestra: its own database, role, schema, stamp, seed and first administrator.

`create_orchestra` is all or nothing. Each step registers how to undo itself; any failure runs
the undo list backwards, so a failed provisioning leaves no orchestra row, no database file or
PostgreSQL database, no role and no user behind.

A process killed outright (SIGKILL, OOM, power) runs no undo list. For that case the orchestra
row is the journal: it is committed first, in status "provisioning", and records the database
name, role and server *before* they are created; at every step it gets a committed heartbeat.
`sweep_stale_provisionings` (run by the worker and by `stagesub sweep_provisioning`) takes over
a row whose heartbeat is older than PROVISIONING_STALE_AFTER: it drops the recorded database and
role (or removes the stamp from an adopted database), deletes the row so the subdomain is free
again, and writes an audit event. A provisioning process that is still alive after being swept
notices at its next step (its heartbeat no longer lands) and fails, rolling back.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.tenancy import audit, connections, schema
from stagesub.tenancy.backends import (
    PostgresBackend,
    ProvisioningError,
    SQLiteBackend,
    backend_for,
    generate_password,
    new_database_name,
)
from stagesub.tenancy.binding import binding_for
from stagesub.tenancy.context import bind
from stagesub.tenancy.identity import physical_identity
from stagesub.tenancy.models import (
    RESERVED_SUBDOMAINS,
    SUBDOMAIN_PATTERN,
    DatabaseServer,
    IsolationIncident,
    MigrationState,
    Orchestra,
)
from stagesub.tenancy.scheduler import periodic_job
from stagesub.tenancy.seeding import run_seed_steps
from stagesub.urlconfig import InvalidURL, database_settings
from stagesub.validation import control_characters, email_address

logger = logging.getLogger("stagesub.tenancy.provisioning")

PROVISION_STEPS: list[tuple[str, str]] = [
    ("validate", _("Checking the request")),
    ("reserve", _("Reserving the subdomain")),
    ("create_database", _("Creating the orchestra's own database")),
    ("migrate", _("Bringing the schema up to date")),
    ("stamp", _("Writing the identity stamp and checking isolation")),
    ("seed", _("Adding default data")),
    ("create_admin", _("Creating the orchestra administrator")),
    ("activate", _("Activating the orchestra")),
]

Progress = Callable[[str], None]
# provisioning_step of a row the sweep has taken over: the provisioning process must stop.
SWEPT_STEP = "swept"
# Servers registered for a --database-url; the sweep removes one no orchestra uses any more.
ADOPTED_SERVER_PREFIX = "adopted-"
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "IOl0o1")


_hasher_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stagesub-hash")


class ProvisioningRefused(Exception):
    """The request cannot be carried out as asked (exit status 1); the message says why."""


class ProvisioningAbandoned(ProvisioningError):
    """The sweep took this provisioning over (its heartbeat had gone stale): stop and roll back."""


@dataclass
class ProvisionRequest:
    subdomain: str
    name: str
    admin_email: str
    admin_username: str | None = None
    admin_password: str | None = None
    contact_name: str = ""
    plan: str = Orchestra.Plan.MEDIUM
    database_url: str | None = None
    server_name: str | None = None
    region: str | None = None


@dataclass
class ProvisionResult:
    orchestra: Orchestra
    admin_username: str
    admin_password: str
    password_generated: bool
    steps: list[str] = field(default_factory=list)


def generate_admin_password(length: int = 16) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def validate_request(req: ProvisionRequest) -> None:
    subdomain = req.subdomain.strip().lower()
    if not re.match(SUBDOMAIN_PATTERN, subdomain):
        raise ProvisioningRefused(
            f"invalid subdomain {req.subdomain!r}: use 1-40 lower-case letters a-z, digits and "
            "hyphens, not starting or ending with a hyphen"
        )
    if subdomain in RESERVED_SUBDOMAINS:
        raise ProvisioningRefused(f"subdomain {subdomain!r} is reserved for the platform")
    holder = Orchestra.objects.filter(subdomain=subdomain).first()
    if holder is not None and holder.status == Orchestra.Status.PROVISIONING:
        beat = holder.provisioning_heartbeat_at or holder.updated_at
        raise ProvisioningRefused(
            f"subdomain {subdomain!r} is being provisioned (step {holder.provisioning_step or '?'}, "
            f"last heartbeat {beat:%Y-%m-%d %H:%M:%S} UTC); if that process died, the worker "
            f"frees it {settings.PROVISIONING_STALE_AFTER} s after the last heartbeat, or run "
            "`stagesub sweep_provisioning`"
        )
    if holder is not None:
        raise ProvisioningRefused(f"subdomain {subdomain!r} is already taken by {holder.name}")
    if not req.name.strip():
        raise ProvisioningRefused("the orchestra needs a name")
    for label, text in (("orchestra name", req.name), ("contact name", req.contact_name)):
        if found := control_characters(text):
            raise ProvisioningRefused(
                f"the {label} contains line breaks or control characters ({', '.join(found)})"
            )
    try:
        email_address(req.admin_email)
    except ValidationError:
        raise ProvisioningRefused(f"invalid admin e-mail address {req.admin_email!r}") from None
    username = req.admin_username or f"{subdomain}-admin"
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise ProvisioningRefused(f"username {username!r} is already taken")
    incident = IsolationIncident.open_incidents().first()
    if incident is not None:
        raise ProvisioningRefused(
            f"new orchestras are blocked while isolation incident #{incident.pk} is open "
            f"({incident.summary}); fix it and run `stagesub resolve_incident {incident.pk}`"
        )


def _choose_server(req: ProvisionRequest) -> DatabaseServer:
    if req.server_name:
        server = DatabaseServer.objects.filter(name=req.server_name).first()
        if server is None:
            raise ProvisioningRefused(f"no database server named {req.server_name!r}")
        if server.status != DatabaseServer.Status.ACTIVE:
            raise ProvisioningRefused(f"database server {server.name!r} is {server.status}")
        return server
    from stagesub.tenancy import placement

    try:
        return placement.place_new(req.region)
    except placement.NoServerAvailable as exc:
        raise ProvisioningRefused(str(exc)) from None


def _server_for_adoption(url: str) -> tuple[DatabaseServer, str, dict]:
    """The server a --database-url lives on, the database name, settings.

    A server not yet registered comes back unsaved: the caller saves it together with the
    orchestra row that uses it, so a refusal or a crash leaves no server row (and no password)
    behind.
    """
    try:
        settings = database_settings(url)
    except InvalidURL as exc:
        raise ProvisioningRefused(str(exc)) from None
    if settings["ENGINE"].endswith("sqlite3"):
        path = Path(settings["NAME"]).resolve()
        if not path.exists():
            raise ProvisioningRefused(f"no SQLite database at {path}")
        kind, server_url, name = DatabaseServer.Kind.SQLITE, str(path.parent), path.name
    else:
        name = settings["NAME"]
        if not name:
            raise ProvisioningRefused("--database-url must name the database")
        kind, server_url = DatabaseServer.Kind.POSTGRESQL, url.split("?")[0].rsplit("/", 1)[0]
        query = url.split("?", 1)[1] if "?" in url else ""
        server_url = f"{server_url}/postgres" + (f"?{query}" if query else "")
    for server in DatabaseServer.objects.filter(kind=kind):
        if server.url == server_url:
            return server, name, settings
    server = DatabaseServer(
        name=f"{ADOPTED_SERVER_PREFIX}{uuid.uuid4().hex[:8]}", kind=kind, region="adopted"
    )
    server.set_url(server_url)
    return server, name, settings


def create_orchestra(
    req: ProvisionRequest, *, progress: Progress | None = None, actor=None
) -> ProvisionResult:
    """Provision a complete orchestra, or refuse/fail leaving nothing behind."""
    notify = progress or (lambda step: None)
    steps: list[str] = []
    orchestra: Orchestra | None = None

    def step(key: str) -> None:
        if orchestra is not None:
            heartbeat(orchestra, key)
        notify(key)
        steps.append(key)

    step("validate")
    req.subdomain = req.subdomain.strip().lower()
    validate_request(req)
    username = req.admin_username or f"{req.subdomain}-admin"
    password = req.admin_password or os.environ.get("STAGESUB_ADMIN_PASSWORD") or ""
    generated = not password
    password = password or generate_admin_password()
    # Argon2 is deliberately slow (about 0.1 s) and releases the GIL: hash while the database
    # is being created instead of after it.
    hashing = _hasher_pool.submit(make_password, password)

    undo: list[tuple[str, Callable[[], None]]] = []
    try:
        step("reserve")
        try:
            # Committed at once (not inside a transaction): it is the journal the sweep reads.
            orchestra = Orchestra.objects.create(
                subdomain=req.subdomain,
                name=req.name.strip(),
                contact_name=req.contact_name.strip(),
                contact_email=req.admin_email.strip(),
                plan=req.plan,
                status=Orchestra.Status.PROVISIONING,
                provisioning_step="reserve",
                provisioning_heartbeat_at=timezone.now(),
            )
        except IntegrityError:
            raise ProvisioningRefused(
                f"subdomain {req.subdomain!r} was taken a moment ago"
            ) from None
        undo.append(("orchestra row", lambda: Orchestra.objects.filter(pk=orchestra.pk).delete()))

        step("create_database")
        if req.database_url:
            _adopt_database(orchestra, req.database_url, undo)
        else:
            _create_database(orchestra, _choose_server(req), undo)

        binding = binding_for(orchestra, check_stamp=False)
        undo.append(("connection", lambda: connections.forget_in_this_thread(binding.alias)))
        with bind(binding):
            step("migrate")
            if orchestra.adopted:
                schema.migrate(binding.alias)
            # A copy of the template is already at the current fingerprint: nothing to apply.
            MigrationState.objects.create(
                orchestra=orchestra,
                applied_fingerprint=schema.current_fingerprint(),
                status=MigrationState.Status.OK,
                applied_at=timezone.now(),
                last_attempt_at=timezone.now(),
            )

            step("stamp")
            _stamp_and_check_identity(orchestra, binding.alias, undo)

            step("seed")
            run_seed_steps(orchestra)

        step("create_admin")
        with transaction.atomic():
            user = get_user_model().objects.create(
                username=username,
                email=req.admin_email.strip(),
                password=hashing.result(),
                role="admin",
                orchestra=orchestra,
            )
            # Announced only once the administrator exists: announcing a step marks the one
            # before as done. Inside the transaction, watchers see it when the user is committed.
            step("activate")
            _activate(orchestra)
            audit.record(
                "orchestra.created",
                actor=actor,
                orchestra=orchestra,
                admin=user.username,
                location=f"{orchestra.server.name}/{orchestra.database_name}",
                adopted=orchestra.adopted,
            )
        connections.forget_in_this_thread(binding.alias)
    except BaseException:
        _roll_back(undo)
        raise
    return ProvisionResult(orchestra, username, password, generated, steps)


def heartbeat(orchestra: Orchestra, step: str) -> None:
    """Commit "alive, at `step`" on a provisioning row; raise if the sweep has taken it over.

    Any code that keeps an orchestra in status "provisioning" (not only create_orchestra)
    must call this more often than PROVISIONING_STALE_AFTER, or its row will be swept.
    """
    alive = (
        Orchestra.objects.filter(pk=orchestra.pk, status=Orchestra.Status.PROVISIONING)
        .exclude(provisioning_step=SWEPT_STEP)
        .update(provisioning_step=step, provisioning_heartbeat_at=timezone.now())
    )
    if not alive:
        raise ProvisioningAbandoned(
            f"provisioning of {orchestra.subdomain!r} was swept as stale (no heartbeat for "
            f"{settings.PROVISIONING_STALE_AFTER} s); start it again"
        )


def _activate(orchestra: Orchestra) -> None:
    """Provisioning → active, unless the sweep took the row over meanwhile (then roll back)."""
    activated = (
        Orchestra.objects.filter(pk=orchestra.pk, status=Orchestra.Status.PROVISIONING)
        .exclude(provisioning_step=SWEPT_STEP)
        .update(
            status=Orchestra.Status.ACTIVE,
            provisioning_step="",
            provisioning_heartbeat_at=None,
            updated_at=timezone.now(),
        )
    )
    if not activated:
        raise ProvisioningAbandoned(
            f"provisioning of {orchestra.subdomain!r} was swept as stale before it finished"
        )
    orchestra.status = Orchestra.Status.ACTIVE
    orchestra.provisioning_step = ""
    orchestra.provisioning_heartbeat_at = None


def _create_database(orchestra: Orchestra, server: DatabaseServer, undo) -> None:
    from stagesub.crypto import encrypt_secret

    backend = backend_for(server)
    # Names first, committed on the row, then the objects: a crash in between leaves a row
    # that names everything the sweep has to drop.
    if isinstance(backend, SQLiteBackend):
        name = backend.file_name(orchestra.subdomain)
        orchestra.database_user = ""
    else:
        assert isinstance(backend, PostgresBackend)
        name = new_database_name(orchestra.subdomain)
        password = generate_password()
        orchestra.database_user = name
        orchestra.database_password_encrypted = encrypt_secret(password)
    orchestra.server = server
    orchestra.database_name = name
    if server.dedicated:
        # Put on a dedicated server by --server: it is this orchestra's own from now on.
        orchestra.placement_server = server
    orchestra.save(
        update_fields=[
            "server",
            "database_name",
            "database_user",
            "database_password_encrypted",
            "placement_server",
        ]
    )
    if isinstance(backend, SQLiteBackend):
        template = schema.sqlite_template(backend)
        undo.append(("database file", lambda: backend.drop(name)))
        backend.create_from_template(name, template)
    else:
        template = schema.pg_template(backend)
        undo.append(("database and role", lambda: backend.drop(name, name)))
        backend.create_from_template(name, template, name, password)


def _adopt_database(orchestra: Orchestra, url: str, undo) -> None:
    server, name, settings = _server_for_adoption(url)
    new_server = server.pk is None
    with transaction.atomic():
        if new_server:
            server.save()
        holder = (
            Orchestra.objects.filter(server=server, database_name=name)
            .exclude(pk=orchestra.pk)
            .first()
        )
        if holder is not None:
            # Leaving the atomic block by this exception also takes back the new server row.
            raise ProvisioningRefused(
                f"database {name!r} is already used by orchestra {holder.name} ({holder.subdomain})"
            )
        orchestra.server = server
        orchestra.database_name = name
        orchestra.adopted = True
        if not settings["ENGINE"].endswith("sqlite3") and settings["USER"]:
            # Keep the credentials given in the URL as this orchestra's own.
            from stagesub.crypto import encrypt_secret

            orchestra.database_user = settings["USER"]
            orchestra.database_password_encrypted = encrypt_secret(settings["PASSWORD"])
        orchestra.save(
            update_fields=[
                "server",
                "database_name",
                "adopted",
                "database_user",
                "database_password_encrypted",
            ]
        )
    if new_server:
        undo.append(("adopted server row", lambda: _forget_adopted_server(orchestra, server)))
    # Before migrating anything, look at the database: whose stamp does it carry?
    binding = binding_for(orchestra, check_stamp=False)
    try:
        with bind(binding):
            stamp = connections.read_stamp(_raw(binding.alias))
            identity = physical_identity(binding.alias)
    except ProvisioningRefused:
        raise
    except Exception as exc:
        raise ProvisioningRefused(f"cannot connect to the database to adopt: {exc}") from None
    finally:
        connections.forget_in_this_thread(binding.alias)
    if stamp is not None and stamp != orchestra.id.hex:
        owner = Orchestra.objects.filter(pk=uuid.UUID(stamp)).first()
        who = (
            f"{owner.name} ({owner.subdomain})"
            if owner
            else f"a removed orchestra ({uuid.UUID(stamp)})"
        )
        raise ProvisioningRefused(
            f"database {name!r} already belongs to orchestra {who} (identity stamp)"
        )
    _refuse_shared_identity(orchestra, identity)


def _raw(alias: str):
    from django.db import connections as django_connections

    connection = django_connections[alias]
    connection.ensure_connection()
    return connection.connection


def _refuse_shared_identity(orchestra: Orchestra, identity: str) -> None:
    holder = Orchestra.objects.filter(physical_identity=identity).exclude(pk=orchestra.pk).first()
    if holder is not None:
        raise ProvisioningRefused(
            f"that database is physically the same as the database of orchestra {holder.name} "
            f"({holder.subdomain}); every orchestra must have its own"
        )


def _stamp_and_check_identity(orchestra: Orchestra, alias: str, undo) -> None:
    from stagesub.orchestra.models import DatabaseStamp

    identity = physical_identity(alias)
    _refuse_shared_identity(orchestra, identity)
    DatabaseStamp.objects.update_or_create(
        id=1, defaults={"orchestra_id": orchestra.id, "subdomain": orchestra.subdomain}
    )
    if orchestra.adopted:
        undo.append(("stamp", lambda: _remove_stamp(orchestra)))
    orchestra.physical_identity = identity
    orchestra.save(update_fields=["physical_identity"])


def _remove_stamp(orchestra: Orchestra) -> None:
    from stagesub.orchestra.models import DatabaseStamp

    with bind(binding_for(orchestra, check_stamp=False)):
        DatabaseStamp.objects.filter(id=1).delete()


def _forget_adopted_server(orchestra: Orchestra, server: DatabaseServer) -> None:
    """Delete a server row registered for an adoption that did not happen (it holds the URL's
    password), unless another orchestra uses that server meanwhile."""
    Orchestra.objects.filter(pk=orchestra.pk).update(
        server=None, database_name=None, database_user="", database_password_encrypted=""
    )
    if not Orchestra.objects.filter(server=server).exists():
        DatabaseServer.objects.filter(pk=server.pk).delete()


def _roll_back(undo: list[tuple[str, Callable[[], None]]]) -> None:
    for what, action in reversed(undo):
        try:
            action()
        except Exception:
            # Keep undoing the rest; the leftover is named in the log for the operator.
            logger.exception("provisioning rollback could not remove the %s", what)


__all__ = [
    "PROVISION_STEPS",
    "ProvisionRequest",
    "ProvisionResult",
    "ProvisioningAbandoned",
    "ProvisioningError",
    "ProvisioningRefused",
    "create_orchestra",
    "sweep_stale_provisionings",
]


def remove_orchestra(orchestra: Orchestra, *, actor=None) -> None:
    """Delete an orchestra completely: its users, its database (and role), its control rows.

    Used by `stagesub demo --reset`; destructive by design, so never reachable from a web page.
    """
    server = orchestra.server
    database_name = orchestra.database_name
    role = orchestra.database_user
    connections.forget_in_this_thread(connections.alias_for(orchestra.id))
    with transaction.atomic():
        get_user_model().objects.filter(orchestra=orchestra).delete()
        audit.record("orchestra.removed", actor=actor, subdomain=orchestra.subdomain)
        orchestra.delete()
    if server is not None and database_name and not orchestra.adopted:
        backend = backend_for(server)
        if isinstance(backend, PostgresBackend):
            backend.drop(database_name, role)
        else:
            backend.drop(database_name)


@dataclass
class SweptProvisioning:
    """One stale provisioning the sweep took over: what it removed, or why it could not."""

    subdomain: str
    last_step: str
    removed: list[str]
    error: str = ""


def _stale(cutoff) -> Q:
    # Rows from before heartbeats existed have none: their last update is the best evidence.
    return Q(provisioning_heartbeat_at__lt=cutoff) | Q(
        provisioning_heartbeat_at__isnull=True, updated_at__lt=cutoff
    )


def sweep_stale_provisionings(
    *, stale_after: float | None = None, actor_label: str = "worker"
) -> list[SweptProvisioning]:
    """Undo every provisioning whose process stopped showing signs of life.

    Each row is first claimed with one conditional UPDATE (step "swept", fresh heartbeat), so
    two sweepers never work on one row and a provisioning process still alive stops at its next
    heartbeat. When removing the database fails (server down), the claimed row stays and is
    retried once it is stale again.
    """
    stale_after = settings.PROVISIONING_STALE_AFTER if stale_after is None else stale_after
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    swept = []
    stale = Orchestra.objects.select_related("server").filter(
        _stale(cutoff), status=Orchestra.Status.PROVISIONING
    )
    for orchestra in stale:
        claimed = Orchestra.objects.filter(
            _stale(cutoff), pk=orchestra.pk, status=Orchestra.Status.PROVISIONING
        ).update(provisioning_step=SWEPT_STEP, provisioning_heartbeat_at=now)
        if claimed:
            swept.append(_sweep_one(orchestra, actor_label))
    return swept


def _sweep_one(orchestra: Orchestra, actor_label: str) -> SweptProvisioning:
    # `orchestra` still holds the values read before the claim (last step, last heartbeat).
    result = SweptProvisioning(orchestra.subdomain, orchestra.provisioning_step, [])
    try:
        result.removed = _remove_leftovers(orchestra)
    except Exception as exc:
        logger.exception("sweeping the provisioning of %s failed", orchestra.subdomain)
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    beat = orchestra.provisioning_heartbeat_at
    with transaction.atomic():
        row = Orchestra.objects.select_for_update().filter(pk=orchestra.pk).first()
        audit.record(
            "orchestra.provisioning_swept",
            orchestra=row,
            actor_label=actor_label,
            subdomain=orchestra.subdomain,
            name=orchestra.name,
            last_step=orchestra.provisioning_step,
            started_at=orchestra.created_at.isoformat(),
            last_heartbeat_at=beat.isoformat() if beat else None,
            adopted=orchestra.adopted,
            removed=result.removed,
        )
        if row is not None:
            # The audit event keeps the subdomain in its label; its link to the row is nulled.
            row.delete()
    server = orchestra.server
    if (
        orchestra.adopted
        and server is not None
        and server.name.startswith(ADOPTED_SERVER_PREFIX)
        and not Orchestra.objects.filter(server=server).exists()
    ):
        server.delete()
        result.removed.append(f"server row {server.name}")
    logger.warning(
        "swept stale provisioning of %s (last step %s): removed %s",
        orchestra.subdomain,
        result.last_step or "?",
        ", ".join(result.removed) or "nothing",
    )
    return result


def _remove_leftovers(orchestra: Orchestra) -> list[str]:
    connections.forget_in_this_thread(connections.alias_for(orchestra.id))
    if not orchestra.has_database:
        if orchestra.provisioning_heartbeat_at is None:
            # Left by a version that created the database before recording its name.
            return _remove_by_naming_convention(orchestra.subdomain)
        return []  # killed before the database was named: nothing was created
    if orchestra.adopted:
        # Not ours to drop: only take back the stamp written into it.
        return [f"stamp in {orchestra.database_name}"] if _remove_own_stamp(orchestra) else []
    backend = backend_for(orchestra.server)
    name = orchestra.database_name
    if isinstance(backend, PostgresBackend):
        backend.drop(name, orchestra.database_user)
        return [f"database {name}", f"role {orchestra.database_user}"]
    backend.drop(name)
    return [f"file {name}"]


def _remove_own_stamp(orchestra: Orchestra) -> bool:
    from stagesub.orchestra.models import DatabaseStamp

    binding = binding_for(orchestra, check_stamp=False)
    try:
        with bind(binding):
            # _raw raises when the database cannot be reached: the sweep retries later.
            if connections.read_stamp(_raw(binding.alias)) != orchestra.id.hex:
                return False
            DatabaseStamp.objects.filter(id=1).delete()
            return True
    finally:
        connections.forget_in_this_thread(binding.alias)


def _remove_by_naming_convention(subdomain: str) -> list[str]:
    """Databases, roles and files named `stagesub_<subdomain>_<8 hex>` that no orchestra uses."""
    prefix = new_database_name(subdomain, suffix="-")[:-1]  # the name without its suffix
    pattern = re.compile(rf"^{re.escape(prefix)}[0-9a-f]{{8}}(\.sqlite3)?$")
    removed = []
    for server in DatabaseServer.objects.exclude(name__startswith=ADOPTED_SERVER_PREFIX):
        used = set(
            Orchestra.objects.filter(server=server).values_list("database_name", flat=True)
        ) | set(Orchestra.objects.exclude(database_user="").values_list("database_user", flat=True))
        backend = backend_for(server)
        if isinstance(backend, PostgresBackend):
            with backend.connect_admin() as conn:
                databases = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
                roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles")]
            for name in sorted(set(databases) | set(roles)):
                if pattern.match(name) and name not in used:
                    backend.drop(name, name)
                    removed.append(f"database and role {name}")
        elif backend.directory.is_dir():
            names = {p.name for p in backend.directory.glob("*.sqlite3")} | {
                p.with_suffix(".sqlite3").name for p in backend.directory.glob("*.partial")
            }
            for name in sorted(names):
                if pattern.match(name) and name not in used:
                    backend.drop(name)
                    removed.append(f"file {name}")
    return removed


@periodic_job("tenancy.provisioning_sweep", interval=lambda: 60)
def _sweep_stale_provisionings_job() -> str:
    swept = sweep_stale_provisionings()
    failed = [s for s in swept if s.error]
    if failed:
        return "; ".join(f"{s.subdomain}: could not sweep: {s.error}" for s in failed)
    return f"{len(swept)} stale provisioning(s) swept"
