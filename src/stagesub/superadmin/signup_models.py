"""A self-service signup, from the applicant's form until its orchestra exists (control side)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class SignupRequest(models.Model):
    class Status(models.TextChoices):
        # Waiting for the applicant to confirm the e-mail address (removed when it expires).
        PENDING = "pending", _("awaiting e-mail confirmation")
        CONFIRMED = "confirmed", _("confirmed: provisioning")
        PROVISIONED = "provisioned", _("orchestra created")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Until when the confirmation link works; the worker removes pending rows after it.
    expires_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    orchestra_name = models.CharField(max_length=200)
    subdomain = models.CharField(max_length=40)
    contact_name = models.CharField(max_length=200)
    email = models.EmailField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    job = models.OneToOneField(
        "superadmin.ProvisioningJob", on_delete=models.SET_NULL, null=True, blank=True
    )
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.subdomain} <{self.email}>: {self.status}"
