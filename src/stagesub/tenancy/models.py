"""Control-plane models: the orchestra registry and what the platform knows about each database."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SUBDOMAIN_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
# Names that must never become an orchestra's subdomain: they are, or may become, the platform's.
RESERVED_SUBDOMAINS = frozenset(
    {
        "www",
        "admin",
        "superadmin",
        "api",
        "app",
        "static",
        "media",
        "mail",
        "smtp",
        "login",
        "dashboard",
        "demo",
        "test",
        "status",
        "help",
        "support",
        "docs",
        "stagesub",
        "template",
    }
)
subdomain_validator = RegexValidator(
    SUBDOMAIN_PATTERN,
    _("Use 1–40 lower-case letters a–z, digits and hyphens, not starting or ending with a hyphen."),
)


class DatabaseServer(models.Model):
    """A place orchestra databases live: a PostgreSQL server, or the embedded SQLite data directory."""

    class Kind(models.TextChoices):
        SQLITE = "sqlite", "SQLite"
        POSTGRESQL = "postgresql", "PostgreSQL"

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DRAINING = "draining", _("draining (no new orchestras)")
        OFFLINE = "offline", _("offline")

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Connection URL without a database name (PostgreSQL), or the data directory (SQLite).
    # Encrypted because PostgreSQL URLs carry the administrator password.
    url_encrypted = models.TextField()
    region = models.CharField(max_length=40, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # A dedicated server takes only the orchestras assigned to it (Orchestra.placement_server);
    # a shared one takes any orchestra placement chooses for it (tenancy.placement).
    dedicated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def url(self) -> str:
        from stagesub.crypto import decrypt_secret

        return decrypt_secret(self.url_encrypted)

    def set_url(self, url: str) -> None:
        from stagesub.crypto import encrypt_secret

        self.url_encrypted = encrypt_secret(url)


class Orchestra(models.Model):
    class Status(models.TextChoices):
        PROVISIONING = "provisioning", _("provisioning")
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")
        ARCHIVED = "archived", _("archived")
        FAILED = "failed", _("failed")

    class Plan(models.TextChoices):
        SMALL = "small", _("Small")
        MEDIUM = "medium", _("Medium")
        ENTERPRISE = "enterprise", _("Enterprise")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subdomain = models.CharField(max_length=40, unique=True, validators=[subdomain_validator])
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROVISIONING)
    contact_name = models.CharField(max_length=200, blank=True, default="")
    contact_email = models.EmailField(blank=True, default="")
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.MEDIUM)
    # Per-orchestra limits that override the plan's (tenancy.plans); NULL: the plan's limit.
    musicians_limit = models.PositiveIntegerField(null=True, blank=True)
    projects_limit = models.PositiveIntegerField(null=True, blank=True)
    staff_users_limit = models.PositiveIntegerField(null=True, blank=True)
    storage_mb_limit = models.PositiveIntegerField(null=True, blank=True)

    # Where the database lives: a server plus a name on it (PostgreSQL database name, or the
    # SQLite file name inside the data directory). Unique together across all orchestras.
    server = models.ForeignKey(DatabaseServer, on_delete=models.PROTECT, null=True, blank=True)
    # The dedicated server this orchestra may be placed on (hybrid tenancy: an orchestra with a
    # server of its own). NULL: shared servers only. Set by `servers assign` or `--server`.
    placement_server = models.ForeignKey(
        DatabaseServer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_orchestras",
    )
    # NULL (not "") while provisioning, so rows without a location never collide in the unique
    # constraint below.
    database_name = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # PostgreSQL only: the orchestra's own role, which alone may connect to its database.
    database_user = models.CharField(max_length=100, blank=True, default="")
    database_password_encrypted = models.TextField(blank=True, default="")
    # Physical identity seen when the database was provisioned or adopted (system identifier +
    # OID, or device + inode); isolation checks compare live identities, not URL strings.
    physical_identity = models.CharField(max_length=100, blank=True, default="")
    adopted = models.BooleanField(default=False)
    # When the scheduler next has work in this orchestra's database (a reminder, a timeout, a
    # message to deliver). Kept here so a pass over many orchestras opens only the due ones.
    # NULL: nothing scheduled. Lowered by tenancy.due.note_due, recomputed after each pass.
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # While provisioning: the step reached and when the provisioning process last showed it was
    # alive (committed at every step). A row whose heartbeat is older than
    # PROVISIONING_STALE_AFTER belongs to a dead process and is swept (tenancy.provisioning).
    provisioning_step = models.CharField(max_length=40, blank=True, default="")
    provisioning_heartbeat_at = models.DateTimeField(null=True, blank=True)

    # Maintenance: while set, the orchestra's host answers the maintenance page (503 with
    # Retry-After) and the worker leaves its database alone (a restore or a move is switching
    # it, or a migration has not finished). Set and cleared by tenancy.operations.
    maintenance_reason = models.CharField(max_length=200, blank=True, default="")
    # The fleet operation (backup, restore, move, decommission, ...) running on this orchestra
    # now, claimed with a conditional UPDATE so a second one is refused while it runs.
    operation = models.CharField(max_length=40, blank=True, default="")
    operation_started_at = models.DateTimeField(null=True, blank=True)
    # "<host>:<pid>" of the process running it, so a killed operation can be told from a live one.
    operation_owner = models.CharField(max_length=120, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "database_name"], name="orchestra_database_location_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.subdomain})"

    @property
    def limits(self):
        from stagesub.tenancy.plans import limits_for

        return limits_for(self)

    @property
    def max_musicians(self) -> int:
        return self.limits.musicians

    @property
    def max_projects(self) -> int:
        return self.limits.projects

    @property
    def has_database(self) -> bool:
        return self.server_id is not None and bool(self.database_name)

    @property
    def is_servable(self) -> bool:
        return self.status == self.Status.ACTIVE and not self.maintenance_reason

    def url(self, base_domain: str | None = None, scheme: str = "http", port: str = "") -> str:
        domain = base_domain or settings.BASE_DOMAIN
        return f"{scheme}://{self.subdomain}.{domain}{port}/"

    def public_url(self) -> str:
        """The orchestra's address as links in e-mails give it (no request to copy it from)."""
        port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
        return self.url(scheme=settings.PUBLIC_SCHEME, port=port)


class MigrationState(models.Model):
    """The schema state the platform recorded for one orchestra database."""

    class Status(models.TextChoices):
        OK = "ok", _("up to date")
        FAILED = "failed", _("failed")
        PENDING = "pending", _("pending")

    orchestra = models.OneToOneField(Orchestra, on_delete=models.CASCADE, related_name="migration")
    # Hash of the orchestra apps' latest migrations that were applied (see tenancy.fleet).
    applied_fingerprint = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.orchestra.subdomain}: {self.status}"


class IsolationIncident(models.Model):
    """Something the isolation monitor found that a superadmin must look at.

    kind "isolation": orchestras sharing one physical database, or a wrong/missing stamp; blocks
    new orchestras until resolved. kind "unreachable": one orchestra's database could not be
    checked; it does not block anything and the monitor resolves it when the database answers.
    """

    class Kind(models.TextChoices):
        ISOLATION = "isolation", _("isolation violated")
        UNREACHABLE = "unreachable", _("database unreachable")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ISOLATION)
    # The orchestra whose database is unreachable (kind "unreachable" only).
    orchestra = models.ForeignKey(
        Orchestra, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    summary = models.TextField()
    details = models.JSONField(default=dict)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "OPEN"
        return f"#{self.pk} {state}: {self.summary}"

    @classmethod
    def open_incidents(cls):
        """Open isolation incidents: the ones that block new orchestras."""
        return cls.objects.filter(resolved_at__isnull=True, kind=cls.Kind.ISOLATION)

    @classmethod
    def open_unreachable(cls):
        return cls.objects.filter(resolved_at__isnull=True, kind=cls.Kind.UNREACHABLE)


class AuditEvent(models.Model):
    """Platform audit log: who did what to which orchestra, from where."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=60, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=150, blank=True, default="")
    orchestra = models.ForeignKey(Orchestra, on_delete=models.SET_NULL, null=True, blank=True)
    orchestra_label = models.CharField(max_length=40, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.orchestra_label}"


class PeriodicRun(models.Model):
    """When each periodic job of the worker last ran (so restarts do not re-run everything)."""

    name = models.CharField(max_length=100, unique=True)
    last_run_at = models.DateTimeField()
    last_result = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_run_at:%Y-%m-%d %H:%M}"


class RoutingGeneration(models.Model):
    """One row whose number goes up whenever an orchestra's routing changes (maintenance page on
    or off, database switched, operation released).

    Every web process reads it at most every STAGESUB_ROUTING_POLL_SECONDS (and with every
    routing lookup it makes anyway) and empties its host cache when it moved: a fleet operation
    reaches all processes within that short interval instead of the cache's TTL.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing generation {self.value}"


class RetiredDatabase(models.Model):
    """A database an orchestra no longer uses, kept for a grace period before it is dropped.

    A restore or a move switches the orchestra to a new database and keeps the previous one
    here (so `restore --rollback` can switch back); decommissioning keeps the last one. The
    worker drops each one after `drop_after` (tenancy.operations.drop_due_retired). While kept,
    its location stays reserved: no orchestra may be routed to it.
    """

    orchestra = models.ForeignKey(
        Orchestra, on_delete=models.SET_NULL, null=True, blank=True, related_name="retired"
    )
    orchestra_label = models.CharField(max_length=40)
    server = models.ForeignKey(DatabaseServer, on_delete=models.PROTECT)
    database_name = models.CharField(max_length=200)
    database_user = models.CharField(max_length=100, blank=True, default="")
    database_password_encrypted = models.TextField(blank=True, default="")
    physical_identity = models.CharField(max_length=100, blank=True, default="")
    reason = models.CharField(max_length=40)
    # The orchestra's stored files as they were when this database was retired (a restore puts
    # restored files in place and keeps the previous folder here, under DATA_DIR/files); removed
    # with the database. Empty: the files were not replaced.
    files_folder = models.CharField(max_length=200, blank=True, default="")
    retired_at = models.DateTimeField(auto_now_add=True)
    drop_after = models.DateTimeField(db_index=True)
    dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-retired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "database_name"], name="retired_database_location_unique"
            ),
        ]

    def __str__(self) -> str:
        state = "dropped" if self.dropped_at else f"kept until {self.drop_after:%Y-%m-%d}"
        return f"{self.orchestra_label}: {self.database_name} ({self.reason}, {state})"


class BackupRecord(models.Model):
    """One backup attempt of one orchestra: when, where to, how big, how long, how it ended.

    Written by tenancy.backup for every backup (nightly, by hand, before retirement); the nightly
    job keeps retention and alerting with it (a failure, or a missing backup, mails once:
    `alerted_at`). A "missing" row marks that the superadmins were told no backup succeeded.
    """

    class Kind(models.TextChoices):
        MANUAL = "manual", _("by hand")
        NIGHTLY = "nightly", _("nightly")
        FINAL = "final", _("final (retirement)")

    class Outcome(models.TextChoices):
        RUNNING = "running", _("running")
        OK = "ok", _("ok")
        FAILED = "failed", _("failed")
        MISSING = "missing", _("missing")

    orchestra = models.ForeignKey(
        Orchestra, on_delete=models.SET_NULL, null=True, blank=True, related_name="backups"
    )
    orchestra_label = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MANUAL)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    path = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    alerted_at = models.DateTimeField(null=True, blank=True)
    # Set when retention removed the archive file.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return (
            f"{self.orchestra_label} {self.kind} {self.started_at:%Y-%m-%d %H:%M}: {self.outcome}"
        )


class ScratchDatabase(models.Model):
    """A database (and files folder) a restore or a drill is building, recorded before it exists.

    Committed before the database is created, deleted in the transaction that switches to it
    (or once it is dropped): so a restore killed half-way leaves a row naming everything to
    remove, and `restore.sweep_scratch` (worker, and every restore/drill before it starts)
    removes it once its process is gone.
    """

    orchestra = models.ForeignKey(
        Orchestra, on_delete=models.CASCADE, null=True, blank=True, related_name="scratch"
    )
    purpose = models.CharField(max_length=20)
    server = models.ForeignKey(DatabaseServer, on_delete=models.PROTECT)
    database_name = models.CharField(max_length=200)
    database_user = models.CharField(max_length=100, blank=True, default="")
    # Under DATA_DIR/files: the restored files, and where the current ones go while switching.
    files_folder = models.CharField(max_length=200, blank=True, default="")
    previous_files_folder = models.CharField(max_length=200, blank=True, default="")
    owner = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["server", "database_name"], name="scratch_database_location_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.database_name} ({self.owner})"
