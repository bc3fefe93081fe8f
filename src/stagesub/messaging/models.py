"""Message templates and the outbox, kept in each orchestra's own database."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from stagesub.roster.models import Musician


class Kind(models.TextChoices):
    REQUEST = "request", _("Request")
    REMINDER = "reminder", _("Reminder")
    CONFIRMATION = "confirmation", _("Confirmation")
    POSITION_FILLED = "position_filled", _("Position filled")
    WITHDRAWN = "withdrawn", _("Request withdrawn")


class MessageTemplate(models.Model):
    """One template per kind and language; the defaults are seeded for every orchestra."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    language = models.CharField(max_length=2, choices=Musician.Language.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="one_template_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language})"


class Message(models.Model):
    """One e-mail in the transactional outbox.

    Written in the same transaction as the state change that causes it (an offer, an answer,
    a reminder), so a message exists exactly when its cause does. The worker delivers queued
    messages (messaging.delivery); a failed attempt is retried with backoff, and the row is
    never deleted, so an outage delays mail but does not lose it.

    An attempt is committed as `sending` before the SMTP call, so a worker killed mid-call can
    repeat at most that one message (after `STAGESUB_MAIL_SENDING_STALE` seconds).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        # Not sent, on purpose: the offer it was about is no longer open (reason in last_error).
        CANCELLED = "cancelled", _("Not sent")
        # The mail server refused this message for good (a 5xx answer about it).
        FAILED = "failed", _("Refused")

    # The Message-ID header: stable across retries, so a receiving server that did get an
    # attempt whose acknowledgement was lost can recognise the copy.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    offer = models.ForeignKey(
        "offers.Offer", on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    musician = models.ForeignKey(
        Musician, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    to_email = models.EmailField(max_length=254)
    language = models.CharField(max_length=2)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # ProjectFile ids to attach; read when the message is delivered.
    attachment_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True, default="")
    # When the latest attempt started (committed before the SMTP call).
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.status})"
