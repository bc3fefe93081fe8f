"""Creating an orchestra: its own database, role, schema, stamp, seed and first administrator.

`create_orchestra` is all or nothing. Each step registers how to undo itself; any failure runs
the undo list backwards, so a failed provisioning leaves no orchestra row, no database file or
PostgreSQL database, no role and no user behind.
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
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stagesub.tenancy import audit, connections, schema
from stagesub.tenancy.backends import (
    PostgresBackend,
    ProvisioningError,
    SQLiteBackend,
    backend_for,
    default_server,
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
from stagesub.tenancy.seeding import run_seed_steps
from stagesub.urlconfig import InvalidURL, database_settings

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
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "IOl0o1")


_hasher_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stagesub-hash")


class ProvisioningRefused(Exception):
    """The request cannot be carried out as asked (exit status 1); the message says why."""


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
    if holder is not None:
        raise ProvisioningRefused(f"subdomain {subdomain!r} is already taken by {holder.name}")
    if not req.name.strip():
        raise ProvisioningRefused("the orchestra needs a name")
    if "@" not in req.admin_email:
        raise ProvisioningRefused(f"invalid admin e-mail address {req.admin_email!r}")
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
    return default_server()


def _server_for_adoption(url: str) -> tuple[DatabaseServer, str, dict]:
    """The server a --database-url lives on (registered if new), the database name, settings."""
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
    server = DatabaseServer(name=f"adopted-{uuid.uuid4().hex[:8]}", kind=kind, region="adopted")
    server.set_url(server_url)
    server.save()
    return server, name, settings


def create_orchestra(
    req: ProvisionRequest, *, progress: Progress | None = None, actor=None
) -> ProvisionResult:
    """Provision a complete orchestra, or refuse/fail leaving nothing behind."""
    notify = progress or (lambda step: None)
    steps: list[str] = []

    def step(key: str) -> None:
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
            orchestra = Orchestra.objects.create(
                subdomain=req.subdomain,
                name=req.name.strip(),
                contact_name=req.contact_name.strip(),
                contact_email=req.admin_email.strip(),
                plan=req.plan,
                status=Orchestra.Status.PROVISIONING,
            )
        except IntegrityError:
            raise ProvisioningRefused(
                f"subdomain {req.subdomain!r} was taken a moment ago"
            ) from None
        undo.append(("orchestra row", lambda: Orchestra.objects.filter(pk=orchestra.pk).delete()))

        step("create_database")
        if req.database_url:
            _adopt_database(orchestra, req.database_url)
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
        step("activate")
        with transaction.atomic():
            user = get_user_model().objects.create(
                username=username,
                email=req.admin_email.strip(),
                password=hashing.result(),
                role="admin",
                orchestra=orchestra,
            )
            orchestra.status = Orchestra.Status.ACTIVE
            orchestra.save(update_fields=["status", "updated_at"])
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


def _create_database(orchestra: Orchestra, server: DatabaseServer, undo) -> None:
    backend = backend_for(server)
    if isinstance(backend, SQLiteBackend):
        name = backend.file_name(orchestra.subdomain)
        template = schema.sqlite_template(backend)
        undo.append(("database file", lambda: backend.drop(name)))
        backend.create_from_template(name, template)
        orchestra.database_user = ""
    else:
        assert isinstance(backend, PostgresBackend)
        name = new_database_name(orchestra.subdomain)
        role = name
        password = generate_password()
        template = schema.pg_template(backend)
        undo.append(("database and role", lambda: backend.drop(name, role)))
        backend.create_from_template(name, template, role, password)
        from stagesub.crypto import encrypt_secret

        orchestra.database_user = role
        orchestra.database_password_encrypted = encrypt_secret(password)
    orchestra.server = server
    orchestra.database_name = name
    orchestra.save(
        update_fields=["server", "database_name", "database_user", "database_password_encrypted"]
    )


def _adopt_database(orchestra: Orchestra, url: str) -> None:
    server, name, settings = _server_for_adoption(url)
    holder = (
        Orchestra.objects.filter(server=server, database_name=name).exclude(pk=orchestra.pk).first()
    )
    if holder is not None:
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
    "ProvisioningError",
    "ProvisioningRefused",
    "create_orchestra",
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
