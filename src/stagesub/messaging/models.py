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
    GROUP = "group", _("Group e-mail")
    PORTAL_LINK = "portal_link", _("Personal page link")


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


class TemplateChange(models.Model):
    """One saved edit (or reset) of a template: who, when, and the text before and after."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    language = models.CharField(max_length=2, choices=Musician.Language.choices)
    old_subject = models.CharField(max_length=200)
    old_body = models.TextField()
    new_subject = models.CharField(max_length=200)
    new_body = models.TextField()
    reset = models.BooleanField(default=False)  # back to the built-in default
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["kind", "language", "changed_at"], name="template_history")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language}) by {self.changed_by}"


class SenderSettings(models.Model):
    """How the orchestra's e-mail is signed and answered (one row, id = 1; defaults when absent)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    # Shown as the sender; blank means the orchestra's name. The address stays the platform's.
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True, default="")
    reply_to = models.EmailField(_("reply-to address"), max_length=254, blank=True, default="")
    signature = models.TextField(_("signature"), max_length=1000, blank=True, default="")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="single_sender_row")]

    def __str__(self) -> str:
        return "sender settings"

    @classmethod
    def current(cls) -> SenderSettings:
        # Read without creating: every message reads it, and a GET must not write.
        return cls.objects.filter(pk=1).first() or cls()


class GroupEmail(models.Model):
    """One group e-mail as the staff sent it; each recipient's copy is a Message of the outbox."""

    subject = models.CharField(max_length=200)
    body = models.TextField()
    # The recipient filters as chosen, in words (shown in the history).
    audience = models.CharField(max_length=500)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attachment_ids = models.JSONField(default=list, blank=True)
    recipient_count = models.PositiveIntegerField()
    sent_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject


class GroupOptOut(models.Model):
    """A musician who asked (by the link in a group e-mail) to get no more group e-mails.

    Requests for work, reminders and confirmations still go out."""

    musician = models.OneToOneField(
        Musician, on_delete=models.CASCADE, related_name="group_opt_out"
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.musician_id} opted out"


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

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

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
    group_email = models.ForeignKey(
        GroupEmail, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    to_email = models.EmailField(max_length=254)
    # An SMS goes to `to_phone` (E.164) and is delivered by stagesub.sms; blank for e-mail.
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    to_phone = models.CharField(max_length=20, blank=True, default="")
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
