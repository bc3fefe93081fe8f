"""A provisioning started from the console, run by the worker, watched by the page."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProvisioningJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    subdomain = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200, blank=True, default="")
    contact_email = models.EmailField()
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
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.subdomain}: {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


# Self-service signups live in their own module; imported here so Django finds the model.
from stagesub.superadmin.signup_models import SignupRequest  # noqa: E402, F401
