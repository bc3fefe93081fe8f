"""Console jobs: work started from the console, run by the worker, watched by the page.

One model for every kind (provisioning, database checks, migrations, test e-mails,
decommissioning, and later backups/restores/moves): the jobs list shows them all alike. It keeps
its first name, ProvisioningJob, because provisioning was its only kind at first.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProvisioningJob(models.Model):
    class Kind(models.TextChoices):
        PROVISION = "provision", _("provisioning")
        CHECK_DATABASE = "check_database", _("database check")
        MIGRATE = "migrate", _("migration")
        TEST_EMAIL = "test_email", _("test e-mail")
        DECOMMISSION = "decommission", _("decommissioning")
        # Every orchestra at once (no orchestra): the evidence that resolving an incident needs.
        ISOLATION_CHECK = "isolation_check", _("isolation check")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.PROVISION)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    subdomain = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200, blank=True, default="")
    contact_email = models.EmailField(blank=True, default="")
    admin_username = models.CharField(max_length=150, blank=True, default="")
    plan = models.CharField(max_length=20, default="medium")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    current_step = models.CharField(max_length=40, blank=True, default="")
    steps_done = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    orchestra = models.ForeignKey(
        "tenancy.Orchestra", on_delete=models.SET_NULL, null=True, blank=True
    )
    # The generated admin password, encrypted, until the page has shown it once.
    admin_password_encrypted = models.TextField(blank=True, default="")
    password_shown = models.BooleanField(default=False)
    # What the job was asked to do beyond the fields above (e.g. the test e-mail's recipient).
    params = models.JSONField(default=dict, blank=True)
    # What it found (e.g. the database check's report), for the page that shows the job.
    result = models.JSONField(default=dict, blank=True)
    # Human-readable lines, appended while it runs (the jobs page shows them).
    log = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["orchestra", "-created_at"], name="job_orchestra_recent")]
        constraints = [
            # One unfinished job per orchestra and kind: of two clicks at once, one is refused.
            models.UniqueConstraint(
                fields=["orchestra", "kind"],
                condition=models.Q(status__in=["queued", "running"], orchestra__isnull=False),
                name="one_unfinished_job_per_orchestra_and_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subdomain}: {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class StatsSnapshot(models.Model):
    """What the worker last read from one orchestra's database, kept in the control database.

    The dashboard lists 1,000 orchestras from these rows and never opens their databases. It
    lives here rather than in tenancy because only the console reads it; the orchestra's own
    state (status, plan, server) stays on Orchestra and is joined live. Refreshed by
    superadmin.stats (periodically and soon after activity); older than STATS_INTERVAL: stale.
    """

    orchestra = models.OneToOneField(
        "tenancy.Orchestra", on_delete=models.CASCADE, related_name="stats"
    )
    taken_at = models.DateTimeField(db_index=True)
    # Orchestra.next_due_at as it was when this was taken: activity (a request sent, answered,
    # a message queued) moves it, which tells the refresh pass to come back soon.
    next_due_seen = models.DateTimeField(null=True, blank=True)
    reachable = models.BooleanField(default=False)
    latency_ms = models.FloatField(null=True, blank=True)
    stamp_ok = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    pending_migrations = models.IntegerField(null=True, blank=True)
    database_bytes = models.BigIntegerField(null=True, blank=True)
    last_backup_at = models.DateTimeField(null=True, blank=True)
    last_backup_bytes = models.BigIntegerField(null=True, blank=True)
    musicians = models.IntegerField(default=0)
    projects = models.IntegerField(default=0)
    staff_users = models.IntegerField(default=0)
    open_requests = models.IntegerField(default=0)
    sent_30d = models.IntegerField(default=0)
    answered_30d = models.IntegerField(default=0)
    median_answer_seconds = models.IntegerField(null=True, blank=True)
    # Requests sent per week, oldest first, the current week last (STATS_WEEKS weeks).
    requests_per_week = models.JSONField(default=list, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Something an operator should look at: unreachable, wrong stamp, migrations pending.
    problem = models.BooleanField(default=False, db_index=True)

    def __str__(self) -> str:
        return f"{self.orchestra_id} @ {self.taken_at:%Y-%m-%d %H:%M}"


# Self-service signups live in their own module; imported here so Django finds the model.
from stagesub.superadmin.signup_models import SignupRequest  # noqa: E402, F401
